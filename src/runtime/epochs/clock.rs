//! The epoch clock each input partition keeps.

use std::time::{Duration, Instant};

use super::Epoch;

/// Which epoch a partition emits into, and when that epoch is over.
///
/// ```
/// use std::time::{Duration, Instant};
/// use bytewax::runtime::epochs::EpochClock;
///
/// let start = Instant::now();
/// let mut clock = EpochClock::new(1, Duration::from_secs(10), start);
/// assert!(!clock.is_due(start + Duration::from_secs(9)));
/// assert!(clock.is_due(start + Duration::from_secs(10)));
/// clock.advance(start + Duration::from_secs(10));
/// assert_eq!(clock.epoch(), 2);
/// assert_eq!(clock.deadline(), start + Duration::from_secs(20));
/// ```
#[derive(Debug, Clone)]
pub struct EpochClock {
    epoch: Epoch,
    started: Instant,
    interval: Duration,
}

impl EpochClock {
    pub fn new(epoch: Epoch, interval: Duration, now: Instant) -> Self {
        EpochClock {
            epoch,
            started: now,
            interval,
        }
    }

    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Whether the current epoch has lasted its interval. With an interval
    /// of zero every activation ends an epoch.
    pub fn is_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= self.interval
    }

    /// When the current epoch should close.
    pub fn deadline(&self) -> Instant {
        self.started + self.interval
    }

    /// Starts the next epoch at `now`.
    pub fn advance(&mut self, now: Instant) {
        self.epoch += 1;
        self.started = now;
    }
}
