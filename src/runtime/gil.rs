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
