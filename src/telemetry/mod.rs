//! Telemetry: logs on stderr, traces to Jaeger or OTLP, metrics and the
//! dataflow API server.

pub mod api;
pub mod config;
mod export;
pub mod logging;
pub mod metrics;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use tracing_subscriber::filter::LevelFilter;

use self::config::{JaegerConfig, OtlpTracingConfig};
use self::export::ExportConfig;

/// Keeps trace export running while it is alive: hold on to it (for
/// example in a module-level variable) for as long as the flow runs.
/// Dropping it flushes and stops its exporter, unless a later
/// `setup_tracing` call has already replaced it.
#[pyclass(module = "bytewax.tracing")]
pub struct BytewaxTracer {
    generation: u64,
    describe: Option<String>,
}

#[pymethods]
impl BytewaxTracer {
    fn __repr__(&self) -> String {
        match &self.describe {
            Some(d) => format!("<BytewaxTracer exporting to {d}>"),
            None => "<BytewaxTracer logging only>".to_string(),
        }
    }
}

impl Drop for BytewaxTracer {
    fn drop(&mut self) {
        export::release(self.generation);
    }
}

/// Parses a log level name, case-insensitively.
///
/// ```
/// use bytewax::telemetry::parse_level;
/// use tracing_subscriber::filter::LevelFilter;
/// assert_eq!(parse_level("info"), Ok(LevelFilter::INFO));
/// assert_eq!(parse_level(" Warn "), Ok(LevelFilter::WARN));
/// assert!(parse_level("loud").unwrap_err().contains("ERROR, WARN, INFO, DEBUG or TRACE"));
/// ```
pub fn parse_level(name: &str) -> Result<LevelFilter, String> {
    match name.trim().to_ascii_uppercase().as_str() {
        "ERROR" => Ok(LevelFilter::ERROR),
        "WARN" | "WARNING" => Ok(LevelFilter::WARN),
        "INFO" => Ok(LevelFilter::INFO),
        "DEBUG" => Ok(LevelFilter::DEBUG),
        "TRACE" => Ok(LevelFilter::TRACE),
        _ => Err(format!(
            "unknown log level {name:?}; use one of ERROR, WARN, INFO, DEBUG or TRACE \
             (case does not matter)"
        )),
    }
}

fn export_config(cfg: &Bound<'_, PyAny>) -> PyResult<ExportConfig> {
    if let Ok(j) = cfg.cast::<JaegerConfig>() {
        let j = j.borrow();
        return Ok(ExportConfig::Jaeger {
            service_name: j.service_name.clone(),
            endpoint: j.endpoint.clone(),
            sampling_ratio: j.sampling_ratio,
        });
    }
    if let Ok(o) = cfg.cast::<OtlpTracingConfig>() {
        let o = o.borrow();
        return Ok(ExportConfig::Otlp {
            service_name: o.service_name.clone(),
            url: o.url.clone(),
            sampling_ratio: o.sampling_ratio,
        });
    }
    Err(PyTypeError::new_err(format!(
        "tracing_config must be a JaegerConfig or an OtlpTracingConfig (or None), not {}",
        cfg.get_type().name()?
    )))
}

/// Sets up logging and, with a config, trace export for this process, and
/// returns the handle that keeps the exporter running.
///
/// `log_level` is one of `"ERROR"` (the default), `"WARN"`, `"INFO"`,
/// `"DEBUG"` or `"TRACE"`, in any case; logs go to stderr. With
/// `tracing_config` (a `JaegerConfig` or `OtlpTracingConfig`), every span
/// of the runtime is exported, whatever the log level.
///
/// Calling it again replaces the previous setup: the new level applies and
/// the previous exporter is flushed and stopped.
#[pyfunction]
#[pyo3(signature = (tracing_config=None, log_level=None))]
pub fn setup_tracing(
    py: Python<'_>,
    tracing_config: Option<&Bound<'_, PyAny>>,
    log_level: Option<&str>,
) -> PyResult<BytewaxTracer> {
    let level = match log_level {
        None => LevelFilter::ERROR,
        Some(name) => parse_level(name).map_err(PyValueError::new_err)?,
    };
    let config = match tracing_config {
        Some(cfg) if !cfg.is_none() => Some(export_config(cfg)?),
        _ => None,
    };
    let generation = export::next_generation();
    let describe = match &config {
        Some(config) => {
            let describe = py
                .detach(|| export::install(config, generation))
                .map_err(PyRuntimeError::new_err)?;
            register_atexit(py)?;
            Some(describe)
        }
        None => {
            py.detach(export::remove);
            None
        }
    };
    logging::set_level(level);
    if let Some(describe) = &describe {
        tracing::info!("exporting traces to {describe}");
    }
    Ok(BytewaxTracer {
        generation,
        describe,
    })
}

/// Flushes and stops trace export (no-op when there is none). The CLI
/// calls it before exiting, whatever the outcome of the run; Python's
/// `atexit` calls it in `bytewax python`.
pub fn shutdown() {
    export::remove();
}

/// Whether a trace exporter (and so its runtime thread) is running.
pub fn exporting() -> bool {
    export::active()
}

#[pyfunction]
fn _shutdown_tracing(py: Python<'_>) {
    py.detach(shutdown);
}

fn register_atexit(py: Python<'_>) -> PyResult<()> {
    static REGISTERED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if REGISTERED.get().is_some() {
        return Ok(());
    }
    let hook = pyo3::wrap_pyfunction!(_shutdown_tracing, py)?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    let _ = REGISTERED.set(());
    Ok(())
}
