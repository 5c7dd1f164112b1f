//! Telemetry: logs on stderr, traces to Jaeger or OTLP, metrics.

pub mod logging;
