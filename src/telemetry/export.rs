//! Trace exporters: a Jaeger agent over UDP or an OpenTelemetry collector
//! over gRPC, each a batch span processor running on a small tokio
//! runtime that exists only while an exporter is set.
//!
//! At most one exporter is active per process. Replacing it, dropping the
//! `BytewaxTracer` that owns it, or [`shutdown`] (the CLI calls it on every
//! exit path, and an `atexit` hook covers `bytewax python`) flushes the
//! spans it still holds and stops it, waiting at most
//! [`SHUTDOWN_DEADLINE`].

#![allow(deprecated)] // opentelemetry-jaeger 0.22 is deprecated upstream.

use std::fmt::Debug;
use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_jaeger::JaegerTraceRuntime;
use opentelemetry_sdk::runtime::{Runtime, RuntimeChannel, Tokio};
use opentelemetry_sdk::trace::{Sampler, TracerProvider};
use opentelemetry_sdk::Resource;

use super::logging;

/// Longest the process waits for an exporter to send what it holds when
/// it stops (a collector that does not answer must not hang the exit).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// The Jaeger agent's default address.
const DEFAULT_JAEGER_HOST: &str = "127.0.0.1";
const DEFAULT_JAEGER_PORT: u16 = 6831;

/// Where and how to export; built from the Python config classes.
#[derive(Debug, Clone)]
pub enum ExportConfig {
    Jaeger {
        service_name: String,
        endpoint: Option<String>,
        sampling_ratio: f64,
    },
    Otlp {
        service_name: String,
        url: Option<String>,
        sampling_ratio: f64,
    },
}

/// A running exporter.
struct Active {
    generation: u64,
    provider: TracerProvider,
    runtime: tokio::runtime::Runtime,
    describe: String,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// A new handle number for a `BytewaxTracer`.
pub fn next_generation() -> u64 {
    GENERATION.fetch_add(1, Ordering::SeqCst)
}

/// Starts an exporter for `config` and makes it the only one, stopping
/// (and flushing) the one before. Returns what it exports to.
pub fn install(config: &ExportConfig, generation: u64) -> Result<String, String> {
    set_error_handler();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bytewax-trace-export")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the trace exporter's runtime: {e}"))?;
    let (provider, describe) = {
        let _entered = runtime.enter();
        match config {
            ExportConfig::Jaeger {
                service_name,
                endpoint,
                sampling_ratio,
            } => jaeger(service_name, endpoint.as_deref(), *sampling_ratio)?,
            ExportConfig::Otlp {
                service_name,
                url,
                sampling_ratio,
            } => otlp(service_name, url.as_deref(), *sampling_ratio)?,
        }
    };
    let tracer = provider.tracer("bytewax");
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);

    let old = {
        let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
        if !logging::set_exporter(Some(layer)) {
            return Err(
                "cannot export traces: this process already has another global tracing subscriber"
                    .into(),
            );
        }
        active.replace(Active {
            generation,
            provider,
            runtime,
            describe: describe.clone(),
        })
    };
    if let Some(old) = old {
        stop(old);
    }
    Ok(describe)
}

/// Removes the exporter, if any (a `setup_tracing` call without a config
/// replaces the one before), flushing and stopping it.
pub fn remove() {
    let old = {
        let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
        logging::set_exporter(None);
        active.take()
    };
    if let Some(old) = old {
        stop(old);
    }
}

/// The `BytewaxTracer` with `generation` was dropped: stop its exporter if
/// it is still the active one.
pub fn release(generation: u64) {
    let old = {
        let mut active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
        if active.as_ref().map(|a| a.generation) != Some(generation) {
            return;
        }
        logging::set_exporter(None);
        active.take()
    };
    if let Some(old) = old {
        stop(old);
    }
}

/// Whether an exporter is running.
pub fn active() -> bool {
    ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).is_some()
}

/// Flushes and stops an exporter that is no longer in the subscriber,
/// waiting at most [`SHUTDOWN_DEADLINE`].
fn stop(old: Active) {
    let describe = old.describe.clone();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("bytewax-trace-stop".into())
        .spawn(move || {
            let Active {
                provider, runtime, ..
            } = old;
            for result in provider.force_flush() {
                if let Err(err) = result {
                    report_error(&err.to_string());
                }
            }
            // The last reference: dropping it shuts the span processor down.
            drop(provider);
            runtime.shutdown_timeout(Duration::from_secs(1));
            let _ = done_tx.send(());
        });
    if spawned.is_err() {
        return;
    }
    if done_rx.recv_timeout(SHUTDOWN_DEADLINE).is_err() {
        eprintln!(
            "bytewax: the trace exporter ({describe}) did not finish sending within {}s; \
             some spans may be lost",
            SHUTDOWN_DEADLINE.as_secs()
        );
    }
}

fn sampler(ratio: f64) -> Sampler {
    if ratio >= 1.0 {
        Sampler::AlwaysOn
    } else if ratio <= 0.0 || ratio.is_nan() {
        Sampler::AlwaysOff
    } else {
        Sampler::TraceIdRatioBased(ratio)
    }
}

/// Addresses of the Jaeger agent: the explicit endpoint, else
/// `OTEL_EXPORTER_JAEGER_AGENT_HOST`/`_PORT`, else `127.0.0.1:6831`.
fn jaeger_addresses(endpoint: Option<&str>) -> Result<(String, Vec<SocketAddr>), String> {
    let text = match endpoint {
        Some(e) => e.trim().to_string(),
        None => {
            let host = std::env::var("OTEL_EXPORTER_JAEGER_AGENT_HOST")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| DEFAULT_JAEGER_HOST.into());
            let port = match std::env::var("OTEL_EXPORTER_JAEGER_AGENT_PORT") {
                Ok(p) if !p.trim().is_empty() => p.trim().parse::<u16>().map_err(|_| {
                    format!("OTEL_EXPORTER_JAEGER_AGENT_PORT is {p:?}; expected a port number")
                })?,
                _ => DEFAULT_JAEGER_PORT,
            };
            if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            }
        }
    };
    let mut addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| {
            format!("cannot resolve the Jaeger agent address {text:?} (expected host:port): {e}")
        })?
        .collect();
    // `localhost` resolves to both families; agents usually listen on IPv4.
    addrs.sort_by_key(|a| a.is_ipv6());
    if addrs.is_empty() {
        return Err(format!(
            "the Jaeger agent address {text:?} resolves to nothing"
        ));
    }
    Ok((text, addrs))
}

fn jaeger(
    service_name: &str,
    endpoint: Option<&str>,
    sampling_ratio: f64,
) -> Result<(TracerProvider, String), String> {
    let (text, addrs) = jaeger_addresses(endpoint)?;
    let runtime = FixedAgent {
        addrs: Arc::new(addrs.clone()),
    };
    let provider = opentelemetry_jaeger::new_agent_pipeline()
        .with_service_name(service_name)
        // The crate lets the environment override this; `FixedAgent`
        // connects to the address resolved above instead, so an explicit
        // endpoint wins.
        .with_endpoint(addrs[0].to_string())
        .with_auto_split_batch(true)
        .with_trace_config(opentelemetry_sdk::trace::config().with_sampler(sampler(sampling_ratio)))
        .build_batch(runtime)
        .map_err(|e| format!("cannot set up the Jaeger exporter for {text}: {e}"))?;
    Ok((provider, format!("Jaeger agent at {text} (UDP)")))
}

fn otlp(
    service_name: &str,
    url: Option<&str>,
    sampling_ratio: f64,
) -> Result<(TracerProvider, String), String> {
    use opentelemetry_otlp::WithExportConfig as _;

    let mut builder = opentelemetry_otlp::new_exporter().tonic();
    let describe = match url {
        Some(url) => {
            let url = url.trim();
            let url = if url.contains("://") {
                url.to_string()
            } else {
                format!("http://{url}")
            };
            // Our own channel, so the explicit URL wins over
            // OTEL_EXPORTER_OTLP_ENDPOINT (which the crate would prefer).
            let channel = tonic::transport::Channel::from_shared(url.clone())
                .map_err(|e| format!("the OTLP url {url:?} is not valid: {e}"))?
                .timeout(Duration::from_secs(10))
                .connect_lazy();
            builder = builder.with_channel(channel).with_endpoint(url.clone());
            url
        }
        None => std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .unwrap_or_else(|_| "http://localhost:4317".into()),
    };
    let exporter = opentelemetry_otlp::SpanExporterBuilder::from(builder)
        .build_span_exporter()
        .map_err(|e| format!("cannot set up the OTLP exporter for {describe}: {e}"))?;
    let resource = Resource::default().merge(&Resource::new([KeyValue::new(
        "service.name",
        service_name.to_string(),
    )]));
    let provider = TracerProvider::builder()
        .with_batch_exporter(exporter, Tokio)
        .with_config(
            opentelemetry_sdk::trace::config()
                .with_sampler(sampler(sampling_ratio))
                .with_resource(resource),
        )
        .build();
    Ok((provider, format!("OTLP collector at {describe} (gRPC)")))
}

static ERRORS_SHOWN: AtomicUsize = AtomicUsize::new(0);
const MAX_ERRORS_SHOWN: usize = 5;

/// Export errors (an unreachable collector, a full queue) go to stderr,
/// the first few only. Written directly: this can run inside the
/// subscriber, where emitting a `tracing` event could re-enter it.
fn report_error(message: &str) {
    let n = ERRORS_SHOWN.fetch_add(1, Ordering::Relaxed);
    if n < MAX_ERRORS_SHOWN {
        eprintln!("bytewax: trace export error: {message}");
    } else if n == MAX_ERRORS_SHOWN {
        eprintln!("bytewax: further trace export errors are not shown");
    }
}

fn set_error_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = opentelemetry::global::set_error_handler(|err| report_error(&err.to_string()));
    });
}

/// The tokio runtime, with a UDP socket connected to addresses we chose
/// (the Jaeger crate would let the environment override an explicit
/// endpoint).
#[derive(Debug, Clone)]
struct FixedAgent {
    addrs: Arc<Vec<SocketAddr>>,
}

impl Runtime for FixedAgent {
    type Interval = <Tokio as Runtime>::Interval;
    type Delay = <Tokio as Runtime>::Delay;

    fn interval(&self, duration: Duration) -> Self::Interval {
        Tokio.interval(duration)
    }

    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        Tokio.spawn(future)
    }

    fn delay(&self, duration: Duration) -> Self::Delay {
        Tokio.delay(duration)
    }
}

impl RuntimeChannel for FixedAgent {
    type Receiver<T: Debug + Send> = <Tokio as RuntimeChannel>::Receiver<T>;
    type Sender<T: Debug + Send> = <Tokio as RuntimeChannel>::Sender<T>;

    fn batch_message_channel<T: Debug + Send>(
        &self,
        capacity: usize,
    ) -> (Self::Sender<T>, Self::Receiver<T>) {
        Tokio.batch_message_channel(capacity)
    }
}

impl JaegerTraceRuntime for FixedAgent {
    type Socket = tokio::net::UdpSocket;

    fn create_socket<T: ToSocketAddrs>(&self, _endpoint: T) -> thrift::Result<Self::Socket> {
        let any: SocketAddr = if self.addrs[0].is_ipv6() {
            "[::]:0".parse().unwrap()
        } else {
            "0.0.0.0:0".parse().unwrap()
        };
        let socket = UdpSocket::bind(any)?;
        socket.connect(self.addrs.as_slice())?;
        socket.set_nonblocking(true)?;
        Ok(tokio::net::UdpSocket::from_std(socket)?)
    }

    fn write_to_socket<'life0, 'life1, 'async_trait>(
        &'life0 self,
        socket: &'life1 Self::Socket,
        payload: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = thrift::Result<()>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            socket.send(&payload).await?;
            Ok(())
        })
    }
}
