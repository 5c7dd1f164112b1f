//! Observability end to end: trace export to a Jaeger agent (UDP, thrift
//! compact) and to an OTLP collector (gRPC), log levels and where logs go,
//! and the dataflow API (`/metrics`, `/dataflow`).
//!
//! Every receiver is real and started here on loopback: a UDP socket that
//! decodes the agent's `emitBatch` datagrams, a Python gRPC server
//! (`tests/telemetry/otlp_receiver.py`, run from a virtualenv with
//! `grpcio` and `opentelemetry-proto` that this test creates under the
//! target folder and reuses), and plain HTTP requests to the API server.
//! Flows run in the real binary under hard timeouts; scrapes are triggered
//! by output the flow printed, never by a bare sleep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{bytewax, Output, TempDir, PRELUDE};

// ---------------------------------------------------------------------
// Flows.

/// A small flow: input `inp`, map `double`, output `out`, 5 items.
const SMALL_FLOW: &str = r#"
flow = Dataflow("tel")
s = op.input("inp", flow, TestingSource(range(5)))
s = op.map("double", s, lambda x: x * 2)
op.output("out", s, StdOutSink())
"#;

/// A flow whose source paces itself (one item per 20 ms on each worker)
/// until the file named by `TEL_STOP` exists (or 3000 items, a safety
/// net), so a test can look at it while it runs and then end it.
const PACED_FLOW: &str = r#"
import os
from pathlib import Path
from bytewax.inputs import DynamicSource, StatelessSourcePartition

STOP = Path(os.environ["TEL_STOP"])


class _Part(StatelessSourcePartition):
    def __init__(self):
        self._n = 0

    def next_batch(self, sched):
        if STOP.exists() or self._n >= 3000:
            raise StopIteration()
        self._n += 1
        return [self._n]

    def next_awake(self):
        return datetime.now(timezone.utc) + timedelta(milliseconds=20)


class Paced(DynamicSource):
    def build(self, step_id, worker_index, worker_count):
        return _Part()


flow = Dataflow("tel")
s = op.input("inp", flow, Paced())
s = op.map("double", s, lambda x: x * 2)
op.output("out", s, StdOutSink())
"#;

/// Writes a flow file: the prelude, `header` (e.g. a `setup_tracing`
/// call), then `body`.
fn write_flow(dir: &TempDir, header: &str, body: &str) -> PathBuf {
    dir.write(
        "flow.py",
        format!(
            "{PRELUDE}\nimport os\nfrom bytewax.tracing import JaegerConfig, OtlpTracingConfig, setup_tracing\n\n{header}\n{body}"
        ),
    )
}

/// The step ids of `SMALL_FLOW` / `PACED_FLOW` as the runtime names them:
/// `map` is a composite step, so its core step is below `tel.double`.
const STEP_PREFIXES: [&str; 3] = ["tel.inp", "tel.double", "tel.out"];

fn has_step(ids: &BTreeSet<String>, prefix: &str) -> bool {
    ids.iter()
        .any(|id| id == prefix || id.starts_with(&format!("{prefix}.")))
}

fn stdout_numbers(out: &Output) -> Vec<i64> {
    let mut nums: Vec<i64> = out
        .stdout
        .lines()
        .map(|l| {
            l.trim().parse().unwrap_or_else(|_| {
                panic!(
                    "stdout has a line that is not the flow's output: {l:?}\n{}",
                    out.report()
                )
            })
        })
        .collect();
    nums.sort();
    nums
}

// ---------------------------------------------------------------------
// A Jaeger agent: UDP datagrams, thrift compact protocol.

/// Collects every datagram sent to a loopback UDP port.
struct UdpAgent {
    port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl UdpAgent {
    fn start() -> UdpAgent {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 70_000];
                // Bounded: at most 5 minutes, whatever happens.
                let until = Instant::now() + Duration::from_secs(300);
                while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                    if let Ok((n, _)) = socket.recv_from(&mut buf) {
                        received.lock().unwrap().push(buf[..n].to_vec());
                    }
                }
                // Whatever is still queued in the socket.
                while let Ok((n, _)) = socket.recv_from(&mut buf) {
                    received.lock().unwrap().push(buf[..n].to_vec());
                }
            })
        };
        UdpAgent {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops listening (after draining the socket) and returns the
    /// datagrams. Call after the sending process has exited: loopback UDP
    /// is delivered into our socket buffer by the time `send` returns.
    fn finish(mut self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// A decoded thrift value (compact protocol).
#[derive(Debug, Clone)]
#[allow(dead_code)] // every kind is decoded; only some are inspected
enum TValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    Bin(Vec<u8>),
    List(Vec<TValue>),
    Map(Vec<(TValue, TValue)>),
    Struct(Vec<(i16, TValue)>),
}

impl TValue {
    fn field(&self, id: i16) -> Option<&TValue> {
        match self {
            TValue::Struct(fields) => fields.iter().find(|(f, _)| *f == id).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self) -> Option<String> {
        match self {
            TValue::Bin(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    fn list(&self) -> &[TValue] {
        match self {
            TValue::List(items) => items,
            _ => &[],
        }
    }
}

struct Compact<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Compact<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("varint too long".into())
    }

    fn zigzag(&mut self) -> Result<i64, String> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn binary(&mut self) -> Result<Vec<u8>, String> {
        let len = self.varint()? as usize;
        let end = self.pos + len;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| format!("binary of {len} bytes runs past the end"))?
            .to_vec();
        self.pos = end;
        Ok(bytes)
    }

    fn value(&mut self, ty: u8) -> Result<TValue, String> {
        Ok(match ty {
            1 => TValue::Bool(true),
            2 => TValue::Bool(false),
            3 => TValue::Int(self.byte()? as i8 as i64),
            4..=6 => TValue::Int(self.zigzag()?),
            7 => {
                let end = self.pos + 8;
                let raw = self.buf.get(self.pos..end).ok_or("truncated double")?;
                self.pos = end;
                TValue::Double(f64::from_le_bytes(raw.try_into().unwrap()))
            }
            8 => TValue::Bin(self.binary()?),
            9 | 10 => {
                let head = self.byte()?;
                let mut size = (head >> 4) as usize;
                if size == 15 {
                    size = self.varint()? as usize;
                }
                let elem = head & 0x0f;
                let mut items = Vec::with_capacity(size.min(4096));
                for _ in 0..size {
                    items.push(if elem == 1 || elem == 2 {
                        TValue::Bool(self.byte()? == 1)
                    } else {
                        self.value(elem)?
                    });
                }
                TValue::List(items)
            }
            11 => {
                let size = self.varint()? as usize;
                let mut items = Vec::new();
                if size > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..size {
                        let k = self.value(kinds >> 4)?;
                        let v = self.value(kinds & 0x0f)?;
                        items.push((k, v));
                    }
                }
                TValue::Map(items)
            }
            12 => self.strukt()?,
            other => return Err(format!("unknown compact type {other}")),
        })
    }

    fn strukt(&mut self) -> Result<TValue, String> {
        let mut fields = Vec::new();
        let mut last: i16 = 0;
        loop {
            let head = self.byte()?;
            if head == 0 {
                return Ok(TValue::Struct(fields));
            }
            let delta = (head >> 4) as i16;
            let id = if delta == 0 {
                self.zigzag()? as i16
            } else {
                last + delta
            };
            last = id;
            fields.push((id, self.value(head & 0x0f)?));
        }
    }
}

/// One `emitBatch` datagram of the Jaeger agent protocol: the message
/// name and the `Batch` struct.
fn decode_emit_batch(datagram: &[u8]) -> Result<(String, TValue), String> {
    let mut c = Compact {
        buf: datagram,
        pos: 0,
    };
    if c.byte()? != 0x82 {
        return Err("not a thrift compact message (protocol id is not 0x82)".into());
    }
    let _version_and_type = c.byte()?;
    let _seq = c.varint()?;
    let name = String::from_utf8_lossy(&c.binary()?).into_owned();
    let args = c.strukt()?;
    let batch = args.field(1).cloned().ok_or("emitBatch has no batch")?;
    Ok((name, batch))
}

/// What a set of Jaeger datagrams says.
#[derive(Debug, Default)]
struct JaegerSeen {
    services: BTreeSet<String>,
    span_names: BTreeSet<String>,
    /// Values of the `step_id` tag.
    step_ids: BTreeSet<String>,
    spans: usize,
}

fn decode_jaeger(datagrams: &[Vec<u8>]) -> JaegerSeen {
    let mut seen = JaegerSeen::default();
    for d in datagrams {
        let (name, batch) = decode_emit_batch(d)
            .unwrap_or_else(|e| panic!("cannot decode a Jaeger datagram ({e}): {d:?}"));
        assert_eq!(name, "emitBatch", "unexpected thrift call");
        // Batch { 1: Process { 1: serviceName, 2: tags }, 2: list<Span> }
        if let Some(service) = batch
            .field(1)
            .and_then(|p| p.field(1))
            .and_then(TValue::str)
        {
            seen.services.insert(service);
        }
        for span in batch.field(2).map(TValue::list).unwrap_or(&[]) {
            seen.spans += 1;
            // Span { 5: operationName, 10: list<Tag { 1: key, 3: vStr }> }
            if let Some(op) = span.field(5).and_then(TValue::str) {
                seen.span_names.insert(op);
            }
            for tag in span.field(10).map(TValue::list).unwrap_or(&[]) {
                let key = tag.field(1).and_then(TValue::str);
                if key.as_deref() == Some("step_id") {
                    if let Some(v) = tag.field(3).and_then(TValue::str) {
                        seen.step_ids.insert(v);
                    }
                }
            }
        }
    }
    seen
}

#[track_caller]
fn assert_flow_spans(seen: &JaegerSeen, service: &str, context: &str) {
    assert!(
        seen.spans > 0,
        "no span reached the Jaeger agent\n{context}"
    );
    assert_eq!(
        seen.services,
        BTreeSet::from([service.to_string()]),
        "service name in the Jaeger process\n{context}"
    );
    for prefix in STEP_PREFIXES {
        assert!(
            has_step(&seen.step_ids, prefix),
            "no span with step_id {prefix}[.*] reached the agent; step ids seen: {:?}, span names: {:?}\n{context}",
            seen.step_ids,
            seen.span_names
        );
    }
    // Instrumentation contract: per-step activation spans and one span per
    // worker.
    assert!(
        seen.span_names.contains("worker"),
        "no `worker` span reached the agent; span names: {:?}\n{context}",
        seen.span_names
    );
}

// ---------------------------------------------------------------------
// Jaeger tests.

#[test]
fn jaeger_agent_from_env_receives_the_flows_spans() {
    let agent = UdpAgent::start();
    let dir = TempDir::new("jaeger-env");
    let flow = write_flow(
        &dir,
        r#"tracer = setup_tracing(JaegerConfig("tel-jaeger"), log_level="error")"#,
        SMALL_FLOW,
    );
    let out = bytewax(["run", &format!("{}:flow", flow.display())])
        .env("OTEL_EXPORTER_JAEGER_AGENT_HOST", "127.0.0.1")
        .env("OTEL_EXPORTER_JAEGER_AGENT_PORT", agent.port.to_string())
        .run();
    out.assert_success();
    assert_eq!(stdout_numbers(&out), vec![0, 2, 4, 6, 8]);
    let seen = decode_jaeger(&agent.finish());
    assert_flow_spans(&seen, "tel-jaeger", &out.report());
}

#[test]
fn jaeger_explicit_endpoint_wins_over_env() {
    let wanted = UdpAgent::start();
    let other = UdpAgent::start();
    let dir = TempDir::new("jaeger-endpoint");
    let flow = write_flow(
        &dir,
        &format!(
            r#"tracer = setup_tracing(JaegerConfig("tel-endpoint", endpoint="127.0.0.1:{}"))"#,
            wanted.port
        ),
        SMALL_FLOW,
    );
    let out = bytewax(["run", &format!("{}:flow", flow.display())])
        .env("OTEL_EXPORTER_JAEGER_AGENT_HOST", "127.0.0.1")
        .env("OTEL_EXPORTER_JAEGER_AGENT_PORT", other.port.to_string())
        .run();
    out.assert_success();
    let got_other = other.finish();
    assert!(
        got_other.is_empty(),
        "spans went to the agent named by the environment, not the explicit endpoint\n{}",
        out.report()
    );
    let seen = decode_jaeger(&wanted.finish());
    assert!(
        seen.spans > 0,
        "no span reached the explicit endpoint\n{}",
        out.report()
    );
    assert_eq!(seen.services, BTreeSet::from(["tel-endpoint".to_string()]));
}

#[test]
fn spans_are_flushed_when_the_flow_fails() {
    let agent = UdpAgent::start();
    let dir = TempDir::new("jaeger-fail");
    let flow = write_flow(
        &dir,
        &format!(
            r#"tracer = setup_tracing(JaegerConfig("tel-fail", endpoint="127.0.0.1:{}"))"#,
            agent.port
        ),
        r#"
def boom(x):
    if x == 3:
        raise ValueError("boom at 3")
    return x

flow = Dataflow("tel")
s = op.input("inp", flow, TestingSource(range(5)))
s = op.map("double", s, boom)
op.output("out", s, StdOutSink())
"#,
    );
    let out = bytewax(["run", &format!("{}:flow", flow.display())]).run();
    out.assert_code(1);
    out.assert_stderr_has(&["boom at 3"]);
    let seen = decode_jaeger(&agent.finish());
    assert!(
        seen.spans > 0,
        "spans were not flushed after the flow failed\n{}",
        out.report()
    );
    assert_eq!(seen.services, BTreeSet::from(["tel-fail".to_string()]));
}

#[test]
fn spans_are_flushed_after_ctrl_c() {
    let agent = UdpAgent::start();
    let dir = TempDir::new("jaeger-int");
    let stop = dir.join("stop");
    let flow = write_flow(
        &dir,
        &format!(
            r#"tracer = setup_tracing(JaegerConfig("tel-int", endpoint="127.0.0.1:{}"))"#,
            agent.port
        ),
        PACED_FLOW,
    );
    let mut running = bytewax(["run", &format!("{}:flow", flow.display())])
        .env("TEL_STOP", &stop)
        .spawn();
    // Interrupt once the flow has visibly made progress.
    let line = running.wait_for_line(Duration::from_secs(60), |l| l.trim() == "10");
    let (so, se) = running.output_so_far();
    assert!(
        line.is_some(),
        "the flow printed no progress\n--- stdout ---\n{so}\n--- stderr ---\n{se}"
    );
    running.signal("INT");
    let out = running.wait_within(Duration::from_secs(30));
    out.assert_code(130);
    let seen = decode_jaeger(&agent.finish());
    assert!(
        seen.spans > 0,
        "spans were not flushed after Ctrl-C\n{}",
        out.report()
    );
    assert_eq!(seen.services, BTreeSet::from(["tel-int".to_string()]));
}

// ---------------------------------------------------------------------
// OTLP.

/// The virtualenv with `grpcio` and `opentelemetry-proto`, created under
/// the target folder on first use and reused; `None` (after a loud
/// message) only if PyPI cannot be reached.
fn otlp_venv() -> Option<PathBuf> {
    match common::shared_venv("telemetry-venv", &["grpcio", "opentelemetry-proto"]) {
        Ok(venv) => Some(venv.join("bin").join("python")),
        Err(pip) if pypi_unreachable(&pip) => {
            eprintln!(
                "\n\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 SKIPPING the OTLP export test: PyPI is unreachable, so grpcio and\n\
                 opentelemetry-proto cannot be installed for the test collector.\n\
                 pip said:\n{}\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
                pip.stderr
            );
            None
        }
        Err(pip) => panic!(
            "installing grpcio and opentelemetry-proto failed\n{}",
            pip.report()
        ),
    }
}

fn pypi_unreachable(pip: &Output) -> bool {
    const MARKERS: &[&str] = &[
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "Network is unreachable",
        "No route to host",
        "Connection refused",
        "ConnectTimeoutError",
        "ProxyError",
    ];
    let text = format!("{}{}", pip.stdout, pip.stderr);
    MARKERS.iter().any(|m| text.contains(m)) || !index_reachable()
}

/// Whether a TCP connection to the package index (or the proxy pip would
/// use) can be opened within a few seconds.
fn index_reachable() -> bool {
    let url = ["HTTPS_PROXY", "https_proxy", "PIP_INDEX_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "https://pypi.org/simple".into());
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url.as_str()));
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = if scheme == "https" { 443 } else { 80 };
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:{default_port}")
    };
    use std::net::ToSocketAddrs;
    let Ok(addrs) = target.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok())
}

/// The Python OTLP receiver, printing one JSON line per span.
struct OtlpReceiver {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    port: u16,
}

impl OtlpReceiver {
    fn start(python: &Path) -> OtlpReceiver {
        let script = common::repo_root()
            .join("tests")
            .join("telemetry")
            .join("otlp_receiver.py");
        let mut child = Command::new(python)
            .arg(&script)
            .env_remove("PYTHONPATH")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the OTLP receiver: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the OTLP receiver did not start within 60 s");
        let port = first
            .strip_prefix("LISTENING ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the OTLP receiver: {first:?}"));
        OtlpReceiver {
            child,
            stdin,
            lines: rx,
            port,
        }
    }

    /// Span lines received until `done` holds for what was collected, or
    /// `within` passes.
    fn collect_until(
        &self,
        within: Duration,
        mut done: impl FnMut(&[String]) -> bool,
    ) -> Vec<String> {
        let until = Instant::now() + within;
        let mut got = Vec::new();
        while !done(&got) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(line),
                Err(_) => break,
            }
        }
        got
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON string value following `"key": ` in `line` (the receiver's
/// output is `json.dumps` of flat string maps, so this is enough).
fn json_str_after(line: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\": \"");
    let start = line.find(&pat)? + pat.len();
    let rest = &line[start..];
    let end = rest.find('"')?;
    Some(rest[..end].to_string())
}

#[test]
fn otlp_collector_receives_the_flows_spans() {
    let Some(python) = otlp_venv() else { return };
    let receiver = OtlpReceiver::start(&python);
    let dir = TempDir::new("otlp");
    let flow = write_flow(
        &dir,
        r#"tracer = setup_tracing(OtlpTracingConfig("tel-otlp", url=os.environ["TEL_OTLP_URL"]))"#,
        SMALL_FLOW,
    );
    let out = bytewax(["run", &format!("{}:flow", flow.display())])
        .env(
            "TEL_OTLP_URL",
            format!("http://127.0.0.1:{}", receiver.port),
        )
        // An explicit url wins over the environment.
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
        .run();
    out.assert_success();
    assert_eq!(stdout_numbers(&out), vec![0, 2, 4, 6, 8]);

    let step_ids = |lines: &[String]| -> BTreeSet<String> {
        lines
            .iter()
            .filter_map(|l| json_str_after(l, "step_id"))
            .collect()
    };
    // Spans were flushed before the process exited; give the receiver a
    // moment to print them.
    let lines = receiver.collect_until(Duration::from_secs(15), |got| {
        let ids = step_ids(got);
        STEP_PREFIXES.iter().all(|p| has_step(&ids, p))
            && got.iter().any(|l| l.contains("\"name\": \"worker\""))
    });
    let context = format!("received:\n{}\n{}", lines.join("\n"), out.report());
    assert!(
        !lines.is_empty(),
        "no span reached the OTLP collector\n{context}"
    );
    for line in &lines {
        assert_eq!(
            json_str_after(line, "service").as_deref(),
            Some("tel-otlp"),
            "service.name of the resource\n{context}"
        );
    }
    let ids = step_ids(&lines);
    for prefix in STEP_PREFIXES {
        assert!(
            has_step(&ids, prefix),
            "no span with step_id {prefix}[.*] reached the collector\n{context}"
        );
    }
    assert!(
        lines.iter().any(|l| l.contains("\"name\": \"worker\"")),
        "no `worker` span reached the collector\n{context}"
    );
}

#[test]
fn unreachable_otlp_collector_does_not_hang_the_exit() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = TempDir::new("otlp-closed");
    let flow = write_flow(
        &dir,
        &format!(
            r#"tracer = setup_tracing(OtlpTracingConfig("tel-otlp", url="http://127.0.0.1:{closed}"))"#
        ),
        SMALL_FLOW,
    );
    let out = bytewax(["run", &format!("{}:flow", flow.display())])
        .timeout(Duration::from_secs(60))
        .run();
    out.assert_success();
    assert_eq!(stdout_numbers(&out), vec![0, 2, 4, 6, 8]);
}

// ---------------------------------------------------------------------
// setup_tracing behaviour in one process.

/// Runs a `bytewax python` script.
fn python_script(dir: &TempDir, script: &str) -> Output {
    let path = dir.write("script.py", format!("{PRELUDE}\n{script}"));
    bytewax(["python".to_string(), path.display().to_string()])
        .timeout(Duration::from_secs(90))
        .run()
}

const RUN_SMALL: &str = r#"
from bytewax.testing import run_main
flow = Dataflow("tel")
s = op.input("inp", flow, TestingSource(range(3)))
s = op.map("double", s, lambda x: x * 2)
op.output("out", s, StdOutSink())
run_main(flow)
"#;

#[test]
fn setup_tracing_twice_does_not_hang_and_the_second_level_wins() {
    let dir = TempDir::new("twice-level");
    // error, then info: INFO lines (worker start/stop) appear on stderr.
    let out = python_script(
        &dir,
        &format!(
            "from bytewax.tracing import setup_tracing\n\
             t1 = setup_tracing(log_level='error')\n\
             t2 = setup_tracing(log_level='INFO')\n{RUN_SMALL}"
        ),
    );
    out.assert_success();
    assert_eq!(stdout_numbers(&out), vec![0, 2, 4]);
    assert!(
        out.stderr.contains("INFO") && out.stderr.contains("worker start"),
        "the second setup_tracing (INFO) should win\n{}",
        out.report()
    );

    // info, then error: nothing below ERROR is logged.
    let out = python_script(
        &dir,
        &format!(
            "from bytewax.tracing import setup_tracing\n\
             t1 = setup_tracing(log_level='info')\n\
             t2 = setup_tracing(log_level='error')\n{RUN_SMALL}"
        ),
    );
    out.assert_success();
    assert!(
        !out.stderr.contains("INFO") && !out.stderr.contains("worker start"),
        "the second setup_tracing (ERROR) should win\n{}",
        out.report()
    );
}

#[test]
fn setup_tracing_twice_replaces_the_exporter() {
    let first = UdpAgent::start();
    let second = UdpAgent::start();
    let dir = TempDir::new("twice-exporter");
    // A run under the first exporter, then a second setup and a run under
    // it: the first exporter's spans are flushed when it is replaced
    // (nothing else would send them: only the active exporter is flushed
    // at exit), and later spans go to the second only.
    let out = python_script(
        &dir,
        &format!(
            "from bytewax.tracing import JaegerConfig, setup_tracing\n\
             t1 = setup_tracing(JaegerConfig('tel-first', endpoint='127.0.0.1:{}'))\n\
             {RUN_SMALL}\n\
             t2 = setup_tracing(JaegerConfig('tel-second', endpoint='127.0.0.1:{}'), log_level='warn')\n\
             run_main(flow)\n",
            first.port, second.port
        ),
    );
    out.assert_success();
    assert_eq!(stdout_numbers(&out), vec![0, 0, 2, 2, 4, 4]);
    let first_seen = decode_jaeger(&first.finish());
    let second_seen = decode_jaeger(&second.finish());
    assert!(
        first_seen.spans > 0,
        "the first exporter's spans were not flushed when it was replaced\n{}",
        out.report()
    );
    assert_eq!(
        first_seen.services,
        BTreeSet::from(["tel-first".to_string()])
    );
    assert!(
        second_seen.spans > 0,
        "the new exporter received nothing\n{}",
        out.report()
    );
    assert_eq!(
        second_seen.services,
        BTreeSet::from(["tel-second".to_string()])
    );
}

#[test]
fn invalid_log_level_is_a_value_error() {
    let dir = TempDir::new("bad-level");
    let out = python_script(
        &dir,
        "from bytewax.tracing import setup_tracing\n\
         for level in ['loud', '', 'warning!']:\n\
         \x20   try:\n\
         \x20       setup_tracing(log_level=level)\n\
         \x20   except ValueError as e:\n\
         \x20       print('ValueError:', e)\n\
         for level in ['trace', 'Debug', 'INFO', 'warn', 'ERROR']:\n\
         \x20   setup_tracing(log_level=level)\n\
         print('ok')\n",
    );
    out.assert_success();
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ValueError:"))
        .collect();
    assert_eq!(
        errors.len(),
        3,
        "every bad level raises ValueError\n{}",
        out.report()
    );
    assert!(
        errors[0].contains("loud") && errors[0].contains("ERROR, WARN, INFO, DEBUG or TRACE"),
        "the message names the level and the choices\n{}",
        out.report()
    );
    assert!(out.stdout.lines().any(|l| l == "ok"), "{}", out.report());
}

#[test]
fn logs_never_reach_stdout() {
    let agent = UdpAgent::start();
    let dir = TempDir::new("stdout-clean");
    // The most verbose setup there is: TRACE logs, an exporter, the API.
    let flow = write_flow(
        &dir,
        &format!(
            r#"tracer = setup_tracing(JaegerConfig("tel-quiet", endpoint="127.0.0.1:{}"), log_level="trace")"#,
            agent.port
        ),
        SMALL_FLOW,
    );
    let out = bytewax([
        "run",
        &format!("{}:flow", flow.display()),
        "--log-level",
        "trace",
    ])
    .env("BYTEWAX_DATAFLOW_API_ENABLED", "1")
    .env("BYTEWAX_DATAFLOW_API_PORT", free_port().to_string())
    .run();
    out.assert_success();
    // Every stdout line is the flow's own output.
    assert_eq!(stdout_numbers(&out), vec![0, 2, 4, 6, 8]);
    assert!(
        out.stderr.contains("worker start") && out.stderr.contains("dataflow API listening"),
        "TRACE logs should be on stderr\n{}",
        out.report()
    );
    drop(agent.finish());
}

/// Names of this process's threads, printed by the flow itself.
const PRINT_THREADS: &str = r#"
import pathlib
def _threads():
    names = []
    for comm in pathlib.Path("/proc/self/task").glob("*/comm"):
        try:
            names.append(comm.read_text().strip())
        except OSError:
            pass
    return names
"#;

#[test]
fn without_a_config_no_exporter_thread_runs() {
    let dir = TempDir::new("no-exporter");
    // Threads are listed while the flow runs (from inside a step).
    let body = format!(
        "{PRINT_THREADS}\n\
         flow = Dataflow('tel')\n\
         s = op.input('inp', flow, TestingSource([1]))\n\
         s = op.map('threads', s, lambda _: 'THREADS ' + ','.join(_threads()))\n\
         op.output('out', s, StdOutSink())\n"
    );
    let flow = write_flow(&dir, "tracer = setup_tracing(log_level='error')", &body);
    let out = bytewax(["run", &format!("{}:flow", flow.display())]).run();
    out.assert_success();
    let threads = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("THREADS "))
        .unwrap_or_else(|| panic!("no thread list\n{}", out.report()))
        .to_string();
    assert!(
        !threads.contains("bytewax-trace") && !threads.contains("tokio"),
        "an exporter thread runs without a tracing config: {threads}\n{}",
        out.report()
    );

    // And with a config, there is one (so the check above means something).
    let agent = UdpAgent::start();
    let flow = write_flow(
        &dir,
        &format!(
            "tracer = setup_tracing(JaegerConfig('tel-threads', endpoint='127.0.0.1:{}'))",
            agent.port
        ),
        &body,
    );
    let out = bytewax(["run", &format!("{}:flow", flow.display())]).run();
    out.assert_success();
    assert!(
        out.stdout.contains("bytewax-trace"),
        "expected the exporter's thread while exporting\n{}",
        out.report()
    );
    drop(agent.finish());
}

#[test]
fn error_level_without_exporter_records_nothing() {
    use tracing::Level;
    use tracing_subscriber::filter::LevelFilter;
    bytewax::telemetry::logging::init(LevelFilter::ERROR);
    assert!(!bytewax::telemetry::exporting());
    // The global max level is what makes disabled call sites free.
    assert_eq!(
        tracing::level_filters::LevelFilter::current(),
        LevelFilter::ERROR
    );
    assert!(!tracing::enabled!(target: "bytewax::runtime", Level::DEBUG));
    assert!(!tracing::enabled!(target: "bytewax::runtime", Level::WARN));
    assert!(tracing::span!(target: "bytewax::runtime", Level::DEBUG, "step").is_disabled());
    assert!(tracing::enabled!(target: "bytewax::runtime", Level::ERROR));
    bytewax::telemetry::logging::set_level(LevelFilter::DEBUG);
    assert!(tracing::enabled!(target: "bytewax::runtime", Level::DEBUG));
    assert!(!tracing::enabled!(target: "other", Level::ERROR));
    bytewax::telemetry::logging::set_level(LevelFilter::ERROR);
    assert_eq!(
        tracing::level_filters::LevelFilter::current(),
        LevelFilter::ERROR
    );
}

// ---------------------------------------------------------------------
// The dataflow API.

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

/// A plain HTTP/1.1 GET; returns (status code, headers, body).
fn http_get(host: &str, port: u16, path: &str) -> Result<(u16, String, String), String> {
    let mut stream =
        TcpStream::connect((host, port)).map_err(|e| format!("connect {host}:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let raw = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = raw.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    Ok((status, head.to_string(), body.to_string()))
}

/// One sample of the exposition format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format strictly: every line is a comment
/// (`# HELP` / `# TYPE`) or `name{labels} value` with a float value.
fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            match words.next() {
                Some("HELP") | Some("TYPE") => {}
                _ => return Err(format!("unexpected comment line {line:?}")),
            }
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("no value in {line:?}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .map_err(|_| format!("value {v:?} is not a float in {line:?}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .ok_or_else(|| format!("unterminated labels in {line:?}"))?;
                let mut labels = BTreeMap::new();
                for pair in split_labels(inner) {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("bad label {pair:?} in {line:?}"))?;
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .ok_or_else(|| format!("unquoted label value in {line:?}"))?;
                    labels.insert(k.to_string(), v.to_string());
                }
                (name.to_string(), labels)
            }
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(format!("bad metric name in {line:?}"));
        }
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    Ok(samples)
}

/// Splits `a="x",b="y,z"` on the commas between pairs.
fn split_labels(inner: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '\\' if quoted && !escaped => {
                escaped = true;
                cur.push(c);
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        escaped = false;
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A histogram series: its base name and its labels other than `le`.
type SeriesKey = (String, Vec<(String, String)>);

/// Every histogram's buckets are cumulative (non-decreasing in `le`) and
/// `+Inf` equals `_count`.
fn check_histograms(samples: &[Sample]) -> Result<(), String> {
    let mut series: BTreeMap<SeriesKey, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let le = s
            .labels
            .get("le")
            .ok_or_else(|| format!("bucket without le: {s:?}"))?;
        let le: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().map_err(|_| format!("bad le {le:?}"))?
        };
        let mut rest: Vec<(String, String)> = s
            .labels
            .iter()
            .filter(|(k, _)| *k != "le")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        rest.sort();
        let base = s.name.trim_end_matches("_bucket").to_string();
        series.entry((base, rest)).or_default().push((le, s.value));
    }
    for ((base, labels), mut buckets) in series {
        buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        for w in buckets.windows(2) {
            if w[1].1 < w[0].1 {
                return Err(format!(
                    "{base}{labels:?}: bucket le={} has {} < le={} with {}",
                    w[1].0, w[1].1, w[0].0, w[0].1
                ));
            }
        }
        let inf = buckets.last().filter(|b| b.0.is_infinite()).map(|b| b.1);
        let count = samples
            .iter()
            .find(|s| {
                s.name == format!("{base}_count")
                    && s.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Vec<_>>()
                        == labels
            })
            .map(|s| s.value);
        if inf.is_none() || inf != count {
            return Err(format!(
                "{base}{labels:?}: +Inf bucket {inf:?} and _count {count:?} differ"
            ));
        }
    }
    Ok(())
}

fn step_ids_of(samples: &[Sample], name: &str) -> BTreeSet<String> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter_map(|s| s.labels.get("step_id").cloned())
        .collect()
}

fn value_of(samples: &[Sample], name: &str, step_prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            s.labels
                .get("step_id")
                .is_some_and(|id| id == step_prefix || id.starts_with(&format!("{step_prefix}.")))
        })
        .map(|s| s.value)
        .sum()
}

/// Parses `body` as JSON with Python and returns its `flow_id`.
fn flow_id_of_json(body: &str) -> String {
    let out = bytewax([
        "python",
        "-c",
        "import json, sys; d = json.load(sys.stdin); assert d['typ'] == 'RenderedDataflow', d['typ']; print(d['flow_id'])",
    ])
    .stdin(body)
    .run();
    out.assert_success();
    out.stdout.trim().to_string()
}

#[test]
fn metrics_and_dataflow_are_served_while_the_flow_runs() {
    let dir = TempDir::new("api");
    let stop = dir.join("stop");
    let cache = dir.join("cache");
    let port = free_port();
    let flow = write_flow(&dir, "", PACED_FLOW);
    let mut running = bytewax(["run", &format!("{}:flow", flow.display())])
        .env("BYTEWAX_DATAFLOW_API_ENABLED", "")
        .env("BYTEWAX_DATAFLOW_API_PORT", port.to_string())
        .env("BYTEWAX_DATAFLOW_API_CACHE_PATH", &cache)
        .env("TEL_STOP", &stop)
        .cwd(dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    // Scrape once items have gone all the way through (the 5th output).
    let seen = running.wait_for_line(Duration::from_secs(60), |l| l.trim() == "10");
    let (so, se) = running.output_so_far();
    assert!(
        seen.is_some(),
        "the flow made no progress\n--- stdout ---\n{so}\n--- stderr ---\n{se}"
    );

    let scraped = http_get("127.0.0.1", port, "/metrics");
    let dataflow = http_get("127.0.0.1", port, "/dataflow");
    let missing = http_get("127.0.0.1", port, "/nope");
    std::fs::write(&stop, "").unwrap();
    let out = running.wait();
    out.assert_success();

    let (status, head, body) =
        scraped.unwrap_or_else(|e| panic!("GET /metrics: {e}\n{}", out.report()));
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "content type of /metrics: {head}"
    );
    let samples = parse_exposition(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    check_histograms(&samples).unwrap_or_else(|e| panic!("{e}\n{body}"));
    for family in ["item_inp_count_total", "item_out_count_total"] {
        let ids = step_ids_of(&samples, family);
        for prefix in STEP_PREFIXES {
            assert!(
                has_step(&ids, prefix),
                "no {family} series for step {prefix}[.*]; series: {ids:?}\n{body}"
            );
        }
    }
    assert!(
        value_of(&samples, "item_inp_count_total", "tel.double") >= 5.0,
        "{body}"
    );
    assert!(
        value_of(&samples, "item_out_count_total", "tel.double") >= 5.0,
        "{body}"
    );
    assert!(
        value_of(&samples, "item_out_count_total", "tel.inp") >= 5.0,
        "{body}"
    );
    assert!(
        value_of(&samples, "item_inp_count_total", "tel.out") >= 5.0,
        "{body}"
    );

    let (status, head, body) = dataflow.unwrap_or_else(|e| panic!("GET /dataflow: {e}"));
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(flow_id_of_json(&body), "tel");
    let cached = std::fs::read_to_string(cache.join("dataflow.json"))
        .unwrap_or_else(|e| panic!("BYTEWAX_DATAFLOW_API_CACHE_PATH/dataflow.json: {e}"));
    assert_eq!(cached, body, "the cached JSON is what /dataflow serves");

    let (status, _, _) = missing.unwrap();
    assert_eq!(status, 404);
    // The items are the flow's only stdout.
    assert!(stdout_numbers(&out).len() >= 5);
}

/// `reduce_final`'s `pre_reduce` runs natively, combining per epoch; its
/// items and its time still show up under its step id while it runs.
#[test]
fn combined_pre_reduce_steps_report_items_and_durations() {
    let dir = TempDir::new("api-combine");
    let stop = dir.join("stop");
    let port = free_port();
    let body = PACED_FLOW.replace(
        "op.output(\"out\", s, StdOutSink())",
        "op.output(\"out\", s, StdOutSink())\n\
         counts = op.count_final(\"count\", s, lambda x: str(x % 3))\n\
         op.output(\"counted\", op.map(\"fmt\", counts, lambda kv: f\"count {kv[0]} {kv[1]}\"), StdOutSink())",
    );
    assert_ne!(body, PACED_FLOW, "the flow should gain a count_final");
    let flow = write_flow(&dir, "", &body);
    let mut running = bytewax(["run", &format!("{}:flow", flow.display()), "-s", "0.05"])
        .env("BYTEWAX_DATAFLOW_API_ENABLED", "")
        .env("BYTEWAX_DATAFLOW_API_PORT", port.to_string())
        .env("TEL_STOP", &stop)
        .cwd(dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    let seen = running.wait_for_line(Duration::from_secs(60), |l| l.trim() == "20");
    let (so, se) = running.output_so_far();
    assert!(
        seen.is_some(),
        "the flow made no progress\n--- stdout ---\n{so}\n--- stderr ---\n{se}"
    );
    let scraped = http_get("127.0.0.1", port, "/metrics");
    std::fs::write(&stop, "").unwrap();
    let out = running.wait();
    out.assert_success();

    let (_, _, text) = scraped.unwrap_or_else(|e| panic!("GET /metrics: {e}\n{}", out.report()));
    let samples = parse_exposition(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let step = "tel.count.sum.pre_reduce";
    assert!(
        value_of(&samples, "item_inp_count_total", step) >= 5.0,
        "{step} should count its input items\n{text}"
    );
    assert!(
        value_of(&samples, "item_out_count_total", step) >= 1.0,
        "{step} should pass partial counts on as epochs close\n{text}"
    );
    assert!(
        value_of(&samples, "flat_map_batch_duration_seconds_count", step) >= 1.0,
        "{step} should time its reducer work\n{text}"
    );
    // Every item was counted exactly once, whatever the epochs.
    let mut want = [0u64; 3];
    for n in out
        .stdout_lines()
        .iter()
        .filter_map(|l| l.parse::<u64>().ok())
    {
        want[(n % 3) as usize] += 1;
    }
    let mut got: Vec<String> = out
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("count "))
        .collect();
    got.sort();
    let want: Vec<String> = (0..3).map(|k| format!("count {k} {}", want[k])).collect();
    assert_eq!(got, want, "{}", out.report());
}

#[test]
fn each_process_of_a_cluster_serves_on_port_plus_its_id() {
    let dir = TempDir::new("api-cluster");
    let stop = dir.join("stop");
    let port = free_port();
    let flow = write_flow(&dir, "", PACED_FLOW);
    let mut running = bytewax(["run", &format!("{}:flow", flow.display()), "-p", "2"])
        .env("BYTEWAX_DATAFLOW_API_ENABLED", "1")
        .env("BYTEWAX_DATAFLOW_API_PORT", port.to_string())
        .env("TEL_STOP", &stop)
        .cwd(dir.path())
        .timeout(Duration::from_secs(120))
        .spawn();
    // Both processes emit 2, 4, ...; once some item is printed twice,
    // both have built their dataflow.
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let seen = running.wait_for_line(Duration::from_secs(90), |l| {
        let c = counts.entry(l.trim().to_string()).or_default();
        *c += 1;
        *c >= 2
    });
    let (so, se) = running.output_so_far();
    assert!(
        seen.is_some(),
        "the cluster made no progress\n--- stdout ---\n{so}\n--- stderr ---\n{se}"
    );
    let results: Vec<_> = (0..2u16)
        .map(|i| {
            (
                http_get("127.0.0.1", port + i, "/dataflow"),
                http_get("127.0.0.1", port + i, "/metrics"),
            )
        })
        .collect();
    std::fs::write(&stop, "").unwrap();
    let out = running.wait();
    out.assert_success();
    for (i, (dataflow, metrics)) in results.into_iter().enumerate() {
        let (status, _, body) =
            dataflow.unwrap_or_else(|e| panic!("process {i}: {e}\n{}", out.report()));
        assert_eq!(status, 200);
        assert_eq!(flow_id_of_json(&body), "tel");
        let (status, _, body) = metrics.unwrap_or_else(|e| panic!("process {i}: {e}"));
        assert_eq!(status, 200);
        let samples = parse_exposition(&body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        // Worker i lives in process i.
        let workers: BTreeSet<String> = samples
            .iter()
            .filter(|s| s.name == "item_out_count_total")
            .filter_map(|s| s.labels.get("worker_index").cloned())
            .collect();
        assert_eq!(
            workers,
            BTreeSet::from([i.to_string()]),
            "process {i}\n{body}"
        );
    }
    // Without BYTEWAX_DATAFLOW_API_CACHE_PATH nothing is written.
    assert!(!dir.join("dataflow.json").exists());
}

#[test]
fn api_binds_loopback_unless_told_otherwise() {
    let dir = TempDir::new("api-bind");
    let stop = dir.join("stop");
    let port = free_port();
    let flow = write_flow(&dir, "", PACED_FLOW);
    let mut running = bytewax(["run", &format!("{}:flow", flow.display())])
        .env("BYTEWAX_DATAFLOW_API_ENABLED", "yes")
        .env("BYTEWAX_DATAFLOW_API_PORT", port.to_string())
        .env("BYTEWAX_DATAFLOW_API_BIND", "127.0.0.2")
        .env("TEL_STOP", &stop)
        .spawn();
    let seen = running.wait_for_line(Duration::from_secs(60), |l| l.trim() == "2");
    assert!(seen.is_some(), "no progress: {:?}", running.output_so_far());
    let on_bind = http_get("127.0.0.2", port, "/dataflow");
    let on_default = http_get("127.0.0.1", port, "/dataflow");
    std::fs::write(&stop, "").unwrap();
    let out = running.wait();
    out.assert_success();
    assert_eq!(on_bind.map(|r| r.0), Ok(200), "{}", out.report());
    assert!(
        on_default.is_err(),
        "the server should listen on 127.0.0.2 only"
    );
}

#[test]
fn api_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("api-in-use");
    let flow = write_flow(&dir, "", SMALL_FLOW);
    let out = bytewax(["run", &format!("{}:flow", flow.display())])
        .env("BYTEWAX_DATAFLOW_API_ENABLED", "")
        .env("BYTEWAX_DATAFLOW_API_PORT", port.to_string())
        .run();
    out.assert_code(1);
    out.assert_stderr_has(&[
        &port.to_string(),
        "already in use",
        "BYTEWAX_DATAFLOW_API_PORT",
    ]);
    assert!(
        out.stdout.is_empty(),
        "the flow must not run\n{}",
        out.report()
    );
    drop(taken);
}

#[test]
fn api_unparsable_port_is_a_usage_error() {
    let dir = TempDir::new("api-bad-port");
    let flow = write_flow(&dir, "", SMALL_FLOW);
    for bad in ["http", "70000", "-1"] {
        let out = bytewax(["run", &format!("{}:flow", flow.display())])
            .env("BYTEWAX_DATAFLOW_API_ENABLED", "")
            .env("BYTEWAX_DATAFLOW_API_PORT", bad)
            .run();
        out.assert_code(2);
        out.assert_stderr_has(&["BYTEWAX_DATAFLOW_API_PORT", bad]);
        assert!(out.stdout.is_empty(), "{}", out.report());
    }
}

#[test]
fn api_is_off_unless_enabled() {
    let dir = TempDir::new("api-off");
    let port = free_port();
    let flow = write_flow(&dir, "", SMALL_FLOW);
    let out = bytewax([
        "run",
        &format!("{}:flow", flow.display()),
        "--log-level",
        "info",
    ])
    .env("BYTEWAX_DATAFLOW_API_PORT", port.to_string())
    .cwd(dir.path())
    .run();
    out.assert_success();
    assert!(!out.stderr.contains("dataflow API"), "{}", out.report());
    assert!(!dir.join("dataflow.json").exists());
}
