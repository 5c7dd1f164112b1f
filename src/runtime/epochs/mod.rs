//! Epochs: how inputs cut time into epochs, how they wait for earlier
//! epochs to drain (backpressure), and the snapshots taken when an epoch
//! closes.
//!
//! Epochs are timely timestamps (`u64`). Data starts at the resume epoch
//! (1 on a fresh run). Each input partition closes its epoch when the
//! epoch interval has passed or at its EOF; a partition only emits into
//! epoch `e` once every earlier epoch has left the probed outputs, which
//! bounds the data in flight to about one epoch.

mod clock;
mod keyed;
mod snapshot;
pub mod stateful;
mod waker;
pub mod writer;

pub use clock::EpochClock;
pub use keyed::{Changes, KeyMap, Timers};
pub use snapshot::{Snapshot, Snapshotter};
pub use waker::{InputWaker, ProbeWatch};

/// A timely timestamp: the epoch number.
pub type Epoch = u64;
