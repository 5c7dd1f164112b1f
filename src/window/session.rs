//! Session windows: a session lasts while items keep coming less than
//! `gap` apart. Sessions that an item bridges are merged, keeping every
//! value (so nothing is lost, whichever order items arrive in), and a
//! session closes once the watermark reaches its latest item plus `gap`.

use chrono::TimeDelta;

use super::Micros;

/// One open session and its values, each with its arrival number so a
/// merged session folds them in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub struct Session<V> {
    pub start: Micros,
    pub latest: Micros,
    pub values: Vec<(u64, V)>,
}

/// An item arrived too late: the session it would form has already closed.
#[derive(Debug, PartialEq, Eq)]
pub struct Late;

/// A key's open sessions, ordered by start; they never overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct Sessions<V> {
    pub sessions: Vec<Session<V>>,
}

impl<V> Default for Sessions<V> {
    fn default() -> Self {
        Sessions {
            sessions: Vec::new(),
        }
    }
}

/// Checks a session gap: it must be positive. Returns it in microseconds.
pub fn check_gap(gap: TimeDelta) -> Result<Micros, String> {
    if gap <= TimeDelta::zero() {
        return Err(format!("session gap must be positive; got {gap}"));
    }
    gap.num_microseconds()
        .ok_or_else(|| "session gap is too long".to_string())
}

impl<V> Sessions<V> {
    /// Adds `value` at time `t` (arrival number `seq`).
    ///
    /// ```
    /// use bytewax::window::session::{Late, Sessions};
    ///
    /// let t = |secs: i64| secs * 1_000_000;
    /// let gap = t(20);
    /// let wm = t(0);
    /// let mut s = Sessions::default();
    /// s.insert(gap, t(100), 0, "a", wm).unwrap();
    /// s.insert(gap, t(130), 1, "c", wm).unwrap();
    /// assert_eq!(s.sessions.len(), 2);
    /// // 125 is less than 20 s from 130 but not from 100: joins the second.
    /// s.insert(gap, t(125), 2, "b", wm).unwrap();
    /// assert_eq!(s.sessions.len(), 2);
    /// // 110 bridges them: one session holding every value, in arrival order.
    /// s.insert(gap, t(110), 3, "x", wm).unwrap();
    /// assert_eq!(s.sessions.len(), 1);
    /// assert_eq!((s.sessions[0].start, s.sessions[0].latest), (t(100), t(130)));
    /// let values: Vec<_> = s.sessions[0].values.iter().map(|(_, v)| *v).collect();
    /// assert_eq!(values, ["a", "c", "b", "x"]);
    /// // Closed at 150; an item whose own session would end by then is late.
    /// assert_eq!(s.next_close(gap), Some(t(150) - 1));
    /// assert_eq!(s.insert(gap, t(50), 4, "late", t(150)), Err(Late));
    /// assert_eq!(s.drain_closed(gap, t(150)).len(), 1);
    /// ```
    pub fn insert(
        &mut self,
        gap: Micros,
        t: Micros,
        seq: u64,
        value: V,
        watermark: Micros,
    ) -> Result<(), Late> {
        if t.saturating_add(gap) <= watermark {
            return Err(Late);
        }
        // Sessions within `gap` of `t` on either side merge with it; they
        // are contiguous in start order.
        let first = self
            .sessions
            .partition_point(|s| s.latest.saturating_add(gap) <= t);
        let mut last = first;
        while last < self.sessions.len() && self.sessions[last].start < t.saturating_add(gap) {
            last += 1;
        }
        let mut merged = Session {
            start: t,
            latest: t,
            values: vec![(seq, value)],
        };
        for s in self.sessions.drain(first..last) {
            merged.start = merged.start.min(s.start);
            merged.latest = merged.latest.max(s.latest);
            merged.values.extend(s.values);
        }
        merged.values.sort_by_key(|(seq, _)| *seq);
        self.sessions.insert(first, merged);
        Ok(())
    }

    /// Removes and returns the sessions closed at `watermark`, oldest first.
    pub fn drain_closed(&mut self, gap: Micros, watermark: Micros) -> Vec<Session<V>> {
        let closed = self
            .sessions
            .partition_point(|s| s.latest.saturating_add(gap) <= watermark);
        self.sessions.drain(..closed).collect()
    }

    /// The time the watermark must pass for the next session to close.
    pub fn next_close(&self, gap: Micros) -> Option<Micros> {
        self.sessions
            .first()
            .map(|s| s.latest.saturating_add(gap) - 1)
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}
