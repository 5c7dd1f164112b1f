//! Ctrl-C and SIGTERM for the command line: a flag the supervising thread
//! polls, so workers stop promptly and the exit code says why.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Installs the handler (once). Must run before Python starts, so Python
/// leaves SIGINT to us; a process started in the background begins with
/// SIGINT ignored, and this re-enables it.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            SIGNAL.store(2, Ordering::SeqCst);
            INTERRUPTED.store(true, Ordering::SeqCst);
        });
    });
}

/// Whether Ctrl-C (or SIGTERM) arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The exit code for an interrupted run: 130 for Ctrl-C.
pub fn exit_code() -> i32 {
    128 + SIGNAL.load(Ordering::SeqCst).max(2)
}
