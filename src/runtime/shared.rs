//! State shared by every worker thread of one run in this process: the stop
//! flag, the first failure, and a way to wake parked workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread::Thread;

use pyo3::prelude::*;

/// Why a run ended early.
#[derive(Debug)]
pub enum Failure {
    /// An exception from user code (or a type check of its results), with a
    /// note naming the step, worker and key already attached.
    User(PyErr),
    /// Ctrl-C or a Python `KeyboardInterrupt`.
    Interrupted,
    /// Anything else, as a message for the user.
    Runtime(String),
}

#[derive(Default)]
pub struct RunShared {
    stop: AtomicBool,
    aborted: AtomicBool,
    failure: Mutex<Option<Failure>>,
    threads: Mutex<Vec<Thread>>,
}

impl RunShared {
    /// Records the first failure and stops every worker. Later failures are
    /// consequences of the first and are dropped.
    pub fn fail(&self, failure: Failure) {
        {
            let mut slot = self.failure.lock().unwrap();
            if slot.is_none() {
                *slot = Some(failure);
            }
        }
        self.request_stop();
    }

    /// A source raised `AbortExecution`: stop everywhere, successfully.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.request_stop();
    }

    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.lock().unwrap().iter() {
            thread.unpark();
        }
    }

    #[inline]
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst)
    }

    pub fn has_failed(&self) -> bool {
        self.failure.lock().unwrap().is_some()
    }

    pub fn take_failure(&self) -> Option<Failure> {
        self.failure.lock().unwrap().take()
    }

    /// Lets `request_stop` wake this (worker) thread when it is parked.
    pub fn register_current_thread(&self) {
        self.threads.lock().unwrap().push(std::thread::current());
        if self.stopping() {
            std::thread::current().unpark();
        }
    }
}
