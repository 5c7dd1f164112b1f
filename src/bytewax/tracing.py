"""Logging and distributed tracing of the runtime.

By default the runtime logs warnings and errors to stderr. Call
`setup_tracing` to choose the log level (`"trace"`, `"debug"`, `"info"`,
`"warn"` or `"error"`) and, optionally, to send traces of the runtime's
work to an OpenTelemetry collector (`OtlpTracingConfig`) or to a Jaeger
agent (`JaegerConfig`):

```python
from bytewax.tracing import OtlpTracingConfig, setup_tracing

tracer = setup_tracing(
    tracing_config=OtlpTracingConfig(service_name="my-flow"),
    log_level="info",
)
```

Keep a reference to the returned `BytewaxTracer` for as long as the flow
runs: dropping it stops the exporter.

"""

from bytewax.bytewax import (
    BytewaxTracer,
    JaegerConfig,
    OtlpTracingConfig,
    TracingConfig,
    setup_tracing,
)

__all__ = [
    "BytewaxTracer",
    "JaegerConfig",
    "OtlpTracingConfig",
    "TracingConfig",
    "setup_tracing",
]
