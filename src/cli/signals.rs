//! Ctrl-C for the command line.
//!
//! Where Python runs (`bytewax run`), Python's own SIGINT handler is used:
//! Ctrl-C raises `KeyboardInterrupt` in the user's module while it imports,
//! and the supervising thread turns it into a stop of every worker while
//! the flow runs. Where no Python runs (the `-p` parent), a `ctrlc`
//! handler sets a flag the supervisor polls. SIGTERM keeps its default
//! action (the process ends; the shell reports 143).

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit code of a run stopped by Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Lets Python install its SIGINT handler: a process started in the
/// background begins with SIGINT ignored, and Python only replaces the
/// default action. Call before the interpreter starts.
pub fn let_python_handle_sigint() {
    // SAFETY: setting a signal's disposition to its default.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// Installs a Ctrl-C flag (once), for processes that run no Python.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    });
}

/// Whether Ctrl-C arrived (only with [`install`]).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
