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

/// Python's cyclic garbage collector, tuned for the length of a run.
///
/// Items are mostly tuples freed by reference counting, yet every 700
/// allocations of such objects trigger a collection that walks the young
/// objects, and batches in flight between workers keep many of them young.
/// During a run the first generation's threshold is raised (cycles are
/// still collected, later); the previous thresholds come back afterwards.
pub struct GcTuning {
    previous: Option<pyo3::Py<pyo3::PyAny>>,
}

/// Allocations between collections of the youngest generation during a
/// run (Python's default is 700).
const GC_GEN0_THRESHOLD: u32 = 100_000;

impl GcTuning {
    pub fn for_run() -> GcTuning {
        use pyo3::prelude::*;
        let previous = Python::attach(|py| -> PyResult<Py<PyAny>> {
            let gc = py.import("gc")?;
            let previous = gc.call_method0("get_threshold")?;
            let (g0, g1, g2): (u32, u32, u32) = previous.extract()?;
            gc.call_method1("set_threshold", (g0.max(GC_GEN0_THRESHOLD), g1, g2))?;
            Ok(previous.unbind())
        });
        GcTuning {
            previous: previous.ok(),
        }
    }
}

impl Drop for GcTuning {
    fn drop(&mut self) {
        use pyo3::prelude::*;
        if let Some(previous) = self.previous.take() {
            Python::attach(|py| {
                let restored = py.import("gc").and_then(|gc| {
                    gc.call_method1(
                        "set_threshold",
                        previous.bind(py).cast::<pyo3::types::PyTuple>()?.clone(),
                    )
                });
                let _ = restored;
            });
        }
    }
}
