//! Sliding windows (tumbling ones are sliding windows whose offset equals
//! their length): window `i` covers `[align_to + i*offset, ... + length)`.
//! Times are whole microseconds and indices 64-bit, so an `align_to` far in
//! the past loses nothing.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{DateTime, TimeDelta, Utc};

use super::Micros;

/// A sliding windower's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sliding {
    length: Micros,
    offset: Micros,
    align: Micros,
}

impl Sliding {
    /// Checks the shape: `length` and `offset` must be positive.
    pub fn new(
        length: TimeDelta,
        offset: TimeDelta,
        align_to: DateTime<Utc>,
    ) -> Result<Sliding, String> {
        let length = length
            .num_microseconds()
            .ok_or("window length is too long")?;
        let offset = offset
            .num_microseconds()
            .ok_or("window offset is too long")?;
        if length <= 0 {
            return Err(format!("window length must be positive; got {length} µs"));
        }
        if offset <= 0 {
            return Err(format!("window offset must be positive; got {offset} µs"));
        }
        Ok(Sliding {
            length,
            offset,
            align: align_to.timestamp_micros(),
        })
    }

    /// Indices of the windows that contain `t`, ascending (empty when `t`
    /// falls in a gap between windows).
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use bytewax::window::sliding::Sliding;
    ///
    /// let s = |secs: i64| secs * 1_000_000;
    /// let t = |secs| Utc.timestamp_opt(secs, 0).unwrap();
    /// // 10 s windows every 5 s from 0: 12 s is in [5, 15) and [10, 20).
    /// let w = Sliding::new(TimeDelta::seconds(10), TimeDelta::seconds(5), t(0)).unwrap();
    /// assert_eq!(w.indices(s(12)), 1..=2);
    /// assert_eq!(w.bounds(1), (s(5), s(15)));
    /// // 5 s windows every 10 s: 7 s falls in the gap.
    /// let gaps = Sliding::new(TimeDelta::seconds(5), TimeDelta::seconds(10), t(0)).unwrap();
    /// assert!(gaps.indices(s(7)).is_empty());
    /// // Long before `align_to` works too (1_700_000_000 is 20 s past a
    /// // whole minute).
    /// let tumbling = Sliding::new(TimeDelta::seconds(60), TimeDelta::seconds(60), t(1_700_000_000)).unwrap();
    /// assert_eq!(tumbling.bounds(*tumbling.indices(s(59)).start()), (s(20), s(80)));
    /// ```
    pub fn indices(&self, t: Micros) -> RangeInclusive<i64> {
        let rel = t - self.align;
        let last = rel.div_euclid(self.offset);
        let first = (rel - self.length).div_euclid(self.offset) + 1;
        first..=last
    }

    /// `(open, close)` of window `i`.
    pub fn bounds(&self, i: i64) -> (Micros, Micros) {
        let open = self.align.saturating_add(i.saturating_mul(self.offset));
        (open, open.saturating_add(self.length))
    }

    /// A window closes once the watermark is past its close time.
    pub fn is_closed(&self, i: i64, watermark: Micros) -> bool {
        self.bounds(i).1 < watermark
    }
}

/// A key's open sliding windows, with their accumulators.
#[derive(Debug)]
pub struct SlidingWindows<A> {
    pub open: BTreeMap<i64, A>,
}

impl<A> Default for SlidingWindows<A> {
    fn default() -> Self {
        SlidingWindows {
            open: BTreeMap::new(),
        }
    }
}

impl<A> SlidingWindows<A> {
    /// Removes and returns the windows closed at `watermark`, oldest first.
    pub fn drain_closed(&mut self, shape: &Sliding, watermark: Micros) -> Vec<(i64, A)> {
        let mut closed = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if !shape.is_closed(*entry.key(), watermark) {
                break;
            }
            closed.push(entry.remove_entry());
        }
        closed
    }

    /// The close time of the window that closes next.
    pub fn next_close(&self, shape: &Sliding) -> Option<Micros> {
        self.open.keys().next().map(|&i| shape.bounds(i).1)
    }
}
