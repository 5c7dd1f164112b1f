//! The tracing configuration classes of `bytewax.tracing`.

use pyo3::prelude::*;

/// Base class of trace exporter configurations.
#[pyclass(subclass, module = "bytewax.tracing", from_py_object)]
#[derive(Clone)]
pub struct TracingConfig;

#[pymethods]
impl TracingConfig {
    #[new]
    fn new() -> Self {
        TracingConfig
    }
}

/// Send spans to a Jaeger agent over UDP (default `127.0.0.1:6831`, or
/// `OTEL_EXPORTER_JAEGER_AGENT_HOST`/`_PORT`; `endpoint` wins over both).
#[pyclass(extends = TracingConfig, module = "bytewax.tracing")]
pub struct JaegerConfig {
    #[pyo3(get)]
    pub service_name: String,
    #[pyo3(get)]
    pub endpoint: Option<String>,
    #[pyo3(get)]
    pub sampling_ratio: f64,
}

#[pymethods]
impl JaegerConfig {
    #[new]
    #[pyo3(signature = (service_name, endpoint=None, sampling_ratio=1.0))]
    fn new(
        service_name: String,
        endpoint: Option<String>,
        sampling_ratio: f64,
    ) -> PyClassInitializer<Self> {
        PyClassInitializer::from(TracingConfig).add_subclass(JaegerConfig {
            service_name,
            endpoint,
            sampling_ratio,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "JaegerConfig(service_name={:?}, endpoint={:?}, sampling_ratio={})",
            self.service_name, self.endpoint, self.sampling_ratio
        )
    }
}

/// Send spans to an OpenTelemetry collector over gRPC (default
/// `http://localhost:4317`).
#[pyclass(extends = TracingConfig, module = "bytewax.tracing")]
pub struct OtlpTracingConfig {
    #[pyo3(get)]
    pub service_name: String,
    #[pyo3(get)]
    pub url: Option<String>,
    #[pyo3(get)]
    pub sampling_ratio: f64,
}

#[pymethods]
impl OtlpTracingConfig {
    #[new]
    #[pyo3(signature = (service_name, url=None, sampling_ratio=1.0))]
    fn new(
        service_name: String,
        url: Option<String>,
        sampling_ratio: f64,
    ) -> PyClassInitializer<Self> {
        PyClassInitializer::from(TracingConfig).add_subclass(OtlpTracingConfig {
            service_name,
            url,
            sampling_ratio,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "OtlpTracingConfig(service_name={:?}, url={:?}, sampling_ratio={})",
            self.service_name, self.url, self.sampling_ratio
        )
    }
}
