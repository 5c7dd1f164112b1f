//! Bookkeeping shared by keyed stateful steps: timers ordered by time (so
//! due ones are found without visiting every key) and the set of keys
//! changed since the last snapshot.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use foldhash::fast::FixedState;

/// Per-key state of a stateful step. Keys up to 24 bytes are stored inline
/// in the table entry, so a lookup touches one cache line, not two; the
/// hasher is fast and fixed (no per-process seed needed here).
pub type KeyMap<V> = HashMap<CompactString, V, FixedState>;

/// Per-key wake-up times.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use bytewax::runtime::epochs::Timers;
///
/// let t = |s| Utc.timestamp_opt(s, 0).unwrap();
/// let mut timers = Timers::default();
/// timers.reschedule("b", None, Some(t(5)));
/// timers.reschedule("a", None, Some(t(5)));
/// timers.reschedule("c", None, Some(t(9)));
/// timers.reschedule("c", Some(t(9)), Some(t(1)));
/// assert_eq!(timers.first(), Some(t(1)));
/// let due: Vec<String> = timers.take_due(t(5)).into_iter().map(|(k, _)| k).collect();
/// assert_eq!(due, ["a", "b", "c"]);
/// assert_eq!(timers.first(), None);
/// ```
#[derive(Debug, Default)]
pub struct Timers {
    set: BTreeSet<(DateTime<Utc>, String)>,
}

impl Timers {
    pub fn first(&self) -> Option<DateTime<Utc>> {
        self.set.first().map(|(at, _)| *at)
    }

    /// Moves `key`'s timer from `old` to `new` (either may be absent).
    pub fn reschedule(
        &mut self,
        key: &str,
        old: Option<DateTime<Utc>>,
        new: Option<DateTime<Utc>>,
    ) {
        if old == new {
            return;
        }
        if let Some(old) = old {
            self.set.remove(&(old, key.to_string()));
        }
        if let Some(new) = new {
            self.set.insert((new, key.to_string()));
        }
    }

    /// Removes and returns every timer due at `now`, in key order.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(String, DateTime<Utc>)> {
        let mut due = Vec::new();
        while self.set.first().is_some_and(|(at, _)| *at <= now) {
            let (at, key) = self.set.pop_first().expect("checked non-empty");
            due.push((key, at));
        }
        due.sort();
        due
    }
}

/// Keys whose state changed since the last snapshot round. Each key keeps
/// the round it was last marked in, so marking is O(1) and a key is listed
/// once per round.
#[derive(Debug)]
pub struct Changes {
    enabled: bool,
    round: u64,
    keys: Vec<String>,
}

impl Changes {
    /// Tracks changes only when snapshots are taken (recovery is on).
    pub fn new(enabled: bool) -> Self {
        Changes {
            enabled,
            round: 1,
            keys: Vec::new(),
        }
    }

    #[inline]
    pub fn mark(&mut self, last_round: &mut u64, key: &str) {
        if self.enabled && *last_round != self.round {
            *last_round = self.round;
            self.keys.push(key.to_string());
        }
    }

    /// Marks a key whose state is gone (it has no round of its own).
    pub fn mark_gone(&mut self, key: &str) {
        if self.enabled {
            self.keys.push(key.to_string());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The changed keys (deduplicated), starting a new round.
    pub fn take(&mut self) -> Vec<String> {
        self.round += 1;
        let mut keys = std::mem::take(&mut self.keys);
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}
