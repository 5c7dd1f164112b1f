//! State shared by every worker thread of one run in this process: the stop
//! flag, the first failure, and a way to wake parked workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use pyo3::prelude::*;

use super::cluster::control::{Control, Message};

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
    /// Another process of the cluster failed or was lost; it reports its
    /// own error, this is the message for this process.
    Peer(String),
}

#[derive(Default)]
pub struct RunShared {
    stop: AtomicBool,
    aborted: AtomicBool,
    failure: Mutex<Option<Failure>>,
    threads: Mutex<Vec<Thread>>,
    /// The cluster's control connections, to tell peers why we stop.
    control: OnceLock<Arc<Control>>,
    /// This process's recovery partitions, listed once for all its
    /// workers: threads opening the same damaged SQLite file at once can
    /// leave its `-wal`/`-shm` files behind when the run stops.
    pub local_partitions: OnceLock<crate::runtime::setup::LocalPartitions>,
}

impl RunShared {
    /// Records the first failure and stops every worker. Later failures are
    /// consequences of the first and are dropped.
    pub fn fail(&self, failure: Failure) {
        {
            let mut slot = self.failure.lock().unwrap();
            if slot.is_none() {
                let message = match &failure {
                    Failure::Peer(_) => None,
                    Failure::Interrupted => Some(Message::Interrupted),
                    _ => Some(Message::Failed),
                };
                *slot = Some(failure);
                if let (Some(message), Some(control)) = (message, self.control.get()) {
                    control.finish(message);
                }
            }
        }
        self.request_stop();
    }

    /// A source raised `AbortExecution`: stop everywhere, successfully.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        if let Some(control) = self.control.get() {
            control.finish(Message::Abort);
        }
        self.request_stop();
    }

    /// Connects the run to the cluster's control connections.
    pub fn set_control(&self, control: Arc<Control>) {
        let _ = self.control.set(control);
    }

    /// Tells the peers this process completed its part.
    pub fn finish_cluster(&self) {
        if let Some(control) = self.control.get() {
            control.finish(Message::Done);
        }
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
