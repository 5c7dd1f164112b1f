//! The process's one global `tracing` subscriber: logs on stderr (stdout
//! belongs to the flow's own output) and an optional OpenTelemetry layer
//! that feeds a trace exporter.
//!
//! The subscriber is installed once; both parts can be changed later
//! through `tracing_subscriber::reload` handles, which is what lets
//! `setup_tracing` be called again (the reference hangs instead):
//!
//! - the log level of the stderr layer (target `bytewax` only);
//! - the OpenTelemetry layer, with its own filter: every `bytewax` span
//!   and event at TRACE while an exporter is set, nothing otherwise.
//!
//! With no exporter and level ERROR, the global max level is ERROR, so
//! `debug_span!`/`trace!` call sites cost one relaxed load and a compare.

use std::sync::OnceLock;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::{reload, Registry};

/// The layer that turns `tracing` spans into OpenTelemetry spans.
pub type OtelLayer =
    tracing_opentelemetry::OpenTelemetryLayer<Registry, opentelemetry_sdk::trace::Tracer>;

type SetLevel = Box<dyn Fn(LevelFilter) -> Result<(), reload::Error> + Send + Sync>;

struct Handles {
    /// The exporter slot: an optional OpenTelemetry layer...
    otel: reload::Handle<Option<OtelLayer>, Registry>,
    /// ...behind its own filter. Both are reloaded separately: a
    /// `reload::Layer` around a `Filtered` would hide the per-layer filter
    /// from the registry (it cannot downcast through the lock) and turn
    /// the filter into a global one.
    otel_filter: reload::Handle<Targets, Registry>,
    set_level: SetLevel,
}

/// `None` inside when another global subscriber was installed first (only
/// possible when the library is embedded in a program that sets its own).
static HANDLES: OnceLock<Option<Handles>> = OnceLock::new();

/// The level filter of the stderr layer.
fn log_targets(level: LevelFilter) -> Targets {
    Targets::new().with_target("bytewax", level)
}

/// The filter of the exporter layer: all of `bytewax` at TRACE, whatever
/// the log level, while an exporter is set; nothing otherwise.
fn export_targets(on: bool) -> Targets {
    if on {
        Targets::new().with_target("bytewax", LevelFilter::TRACE)
    } else {
        Targets::new()
    }
}

fn handles(initial: LevelFilter) -> Option<&'static Handles> {
    HANDLES
        .get_or_init(|| {
            let (otel, otel_handle) = reload::Layer::new(None::<OtelLayer>);
            let (otel_filter, otel_filter_handle) = reload::Layer::new(export_targets(false));
            let otel = otel.with_filter(otel_filter);

            let (level_filter, level_handle) = reload::Layer::new(log_targets(initial));
            let fmt = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false)
                .compact()
                .with_filter(level_filter);

            let subscriber = tracing_subscriber::registry().with(otel).with(fmt);
            tracing::subscriber::set_global_default(subscriber).ok()?;
            let set_level: SetLevel =
                Box::new(move |level| level_handle.reload(log_targets(level)));
            Some(Handles {
                otel: otel_handle,
                otel_filter: otel_filter_handle,
                set_level,
            })
        })
        .as_ref()
}

/// Installs the global subscriber (once per process) and sets the log
/// level of the stderr layer. Later calls change the level.
pub fn init(level: LevelFilter) {
    if let Some(h) = handles(level) {
        let _ = (h.set_level)(level);
    }
}

/// Sets the log level of the stderr layer (installing the subscriber if
/// needed).
pub fn set_level(level: LevelFilter) {
    init(level);
}

/// Puts `layer` in the exporter slot (or empties it with `None`), turning
/// the exporter filter on or off with it. Returns `false` if this process
/// has a foreign global subscriber, where spans cannot be exported.
pub fn set_exporter(layer: Option<OtelLayer>) -> bool {
    let Some(h) = handles(LevelFilter::WARN) else {
        return false;
    };
    // Turn the filter on only once the layer is in, and off before it
    // goes, so that no span is half-seen.
    let result = if layer.is_some() {
        h.otel
            .reload(layer)
            .and_then(|()| h.otel_filter.reload(export_targets(true)))
    } else {
        h.otel_filter
            .reload(export_targets(false))
            .and_then(|()| h.otel.reload(None))
    };
    result.is_ok()
}

/// Whether an exporter layer is in place.
pub fn exporting() -> bool {
    match HANDLES.get() {
        Some(Some(h)) => h
            .otel
            .with_current(|layer| layer.is_some())
            .unwrap_or(false),
        _ => false,
    }
}
