//! Waking inputs that wait for earlier epochs to drain, exactly when the
//! probed frontier moves, instead of polling.

use std::cell::RefCell;
use std::rc::Rc;

use timely::dataflow::ProbeHandle;
use timely::scheduling::Activator;

use super::Epoch;

/// Activators of the input operators of one worker's dataflow.
#[derive(Clone, Default)]
pub struct InputWaker {
    activators: Rc<RefCell<Vec<Activator>>>,
}

impl InputWaker {
    pub fn register(&self, activator: Activator) {
        self.activators.borrow_mut().push(activator);
    }

    pub fn wake_all(&self) {
        for activator in self.activators.borrow().iter() {
            activator.activate();
        }
    }
}

/// The probe on the dataflow's outputs, as inputs and the worker loop see
/// it.
#[derive(Clone)]
pub struct ProbeWatch {
    pub probe: ProbeHandle<Epoch>,
    pub waker: InputWaker,
    last: Rc<RefCell<Option<Epoch>>>,
    /// The latest epoch any input of this worker closed.
    max_epoch: Rc<std::cell::Cell<Epoch>>,
}

impl ProbeWatch {
    pub fn new(probe: ProbeHandle<Epoch>) -> Self {
        ProbeWatch {
            probe,
            waker: InputWaker::default(),
            last: Rc::default(),
            max_epoch: Rc::default(),
        }
    }

    /// Whether an input may emit into `epoch`: every earlier epoch is done.
    #[inline]
    pub fn ready_for(&self, epoch: Epoch) -> bool {
        !self.probe.less_than(&epoch)
    }

    /// Inputs report each epoch they close.
    pub fn note_epoch(&self, epoch: Epoch) {
        self.max_epoch.set(self.max_epoch.get().max(epoch));
    }

    /// The latest epoch an input of this worker closed (0 if none).
    pub fn max_epoch(&self) -> Epoch {
        self.max_epoch.get()
    }

    pub fn done(&self) -> bool {
        self.probe.done()
    }

    /// Called by the worker loop after each step: wakes the inputs if the
    /// frontier moved.
    pub fn poll(&self) {
        let now = self.probe.with_frontier(|f| f.iter().min().copied());
        let mut last = self.last.borrow_mut();
        if *last != now {
            *last = now;
            drop(last);
            self.waker.wake_all();
        }
    }
}
