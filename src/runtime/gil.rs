//! Keeping one Python thread state per worker thread, so that taking the
//! GIL once per batch is a lock handoff and not a thread-state allocation.

use pyo3::ffi;

/// Holds this thread's Python thread state for its whole life. While it
/// lives, `Python::attach` on this thread only re-acquires the GIL.
pub struct WorkerThreadState {
    gstate: ffi::PyGILState_STATE,
    tstate: *mut ffi::PyThreadState,
}

impl WorkerThreadState {
    /// Creates the thread state and releases the GIL again.
    pub fn enter() -> Self {
        unsafe {
            let gstate = ffi::PyGILState_Ensure();
            let tstate = ffi::PyEval_SaveThread();
            WorkerThreadState { gstate, tstate }
        }
    }
}

impl Drop for WorkerThreadState {
    fn drop(&mut self) {
        unsafe {
            ffi::PyEval_RestoreThread(self.tstate);
            ffi::PyGILState_Release(self.gstate);
        }
    }
}

thread_local! {
    static BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Notes that this worker did Python work in the current step.
#[inline]
pub fn mark_busy() {
    BUSY.with(|b| b.set(true));
}

/// Whether Python work was done since the last call (and resets it).
#[inline]
pub fn take_busy() -> bool {
    BUSY.with(|b| b.replace(false))
}
