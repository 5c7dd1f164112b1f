//! Logs on stderr (stdout belongs to the flow's own output), filtered to
//! this crate at the chosen level.

use std::sync::OnceLock;

use tracing_subscriber::filter::LevelFilter;

static INSTALLED: OnceLock<()> = OnceLock::new();

/// Installs the stderr logger once per process; later calls keep the first
/// level.
pub fn init(level: LevelFilter) {
    INSTALLED.get_or_init(|| {
        let filter = tracing_subscriber::filter::Targets::new().with_target("bytewax", level);
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_target(false)
            .compact();
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(filter)
            .try_init();
    });
}
