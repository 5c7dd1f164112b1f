//! The Kafka connector end to end, against a real Kafka-compatible broker.
//!
//! The broker is `tansu` (crates.io), built once per machine with
//! `cargo install tansu --features dynostore` into
//! `${BYTEWAX_TEST_CACHE:-$HOME/.cache/bytewax-tests}/tansu` (about 8
//! minutes on 2 idle cores; progress is printed every 30 s) and reused
//! after that. It is started on a free loopback port with in-memory
//! storage, and killed when the test ends, whether it passed or not.
//!
//! `confluent-kafka` (with its schema registry extra), `fastavro` and
//! `pytest` go into a virtualenv made under the target folder
//! (`target/kafka-venv`) and reused; flows run in the real binary with
//! `VIRTUAL_ENV` set to it, every run under a hard timeout.
//!
//! If tansu or the Python packages can't be installed (say, a package
//! registry is unreachable) the test says why and fails; with
//! `BYTEWAX_SKIP_KAFKA=1` the broker test is skipped instead (and says
//! so). The check of the message shown without `confluent-kafka` needs
//! neither and always runs.
//!
//! Progress is written straight to stderr (not through the test
//! harness's capture), so a long first build never looks like a hang.
//!
//! Two quirks of tansu 0.6 shape the scenarios: a fetch that starts
//! inside a record batch returns nothing (Kafka returns the batch and the
//! client skips ahead), so resume points here are always at the start of
//! a produce call's batch; and offsets past the end, or a deleted topic,
//! raise no consumer error, so the error scenario starts at the group's
//! committed offset (there is none) with `auto.offset.reset=error`.

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{bytewax, embedded_python_executable, repo_root, shared_venv, Cmd, Output, TempDir};

const TANSU_VERSION: &str = "0.6.0";
/// What goes into the test virtualenv. confluent-kafka 2.16 works with
/// tansu; the 2.0.2 that Bytewax 0.18.2 pinned fails its handshake.
const VENV_PACKAGES: &[&str] = &[
    "confluent-kafka[schemaregistry]==2.16.0",
    "fastavro",
    "pytest",
];
/// Whole-build limit for tansu (a cold build on a busy 2-core machine
/// takes several times the idle 8 minutes).
const TANSU_BUILD_TIMEOUT: Duration = Duration::from_secs(50 * 60);
const FLOW_TIMEOUT: Duration = Duration::from_secs(120);
const TOOL_TIMEOUT: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------
// Progress and setup.

/// Prints a progress line on the real stderr, bypassing the capture of
/// `cargo test`, so that long steps show in the log as they happen.
fn progress(msg: impl AsRef<str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "[kafka test] {}", msg.as_ref());
    let _ = err.flush();
}

fn skip_requested() -> bool {
    std::env::var("BYTEWAX_SKIP_KAFKA").is_ok_and(|v| v == "1")
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BYTEWAX_TEST_CACHE").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| OsString::from("/tmp"));
    PathBuf::from(home).join(".cache").join("bytewax-tests")
}

/// Has the child get `signal` when the thread that started it ends (as
/// when the test process is killed), so nothing outlives a test run.
fn die_with_parent(cmd: &mut Command, signal: libc::c_int) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: `prctl` is async-signal-safe and touches nothing shared.
        unsafe {
            cmd.pre_exec(move || {
                libc::prctl(libc::PR_SET_PDEATHSIG, signal);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (cmd, signal);
}

fn tansu_works(bin: &Path) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The tansu binary, built into the cache on first use.
fn ensure_tansu() -> Result<PathBuf, String> {
    let root = cache_dir().join("tansu");
    let bin = root.join("bin").join("tansu");
    if bin.is_file() && tansu_works(&bin) {
        progress(format!("using cached tansu at {}", bin.display()));
        return Ok(bin);
    }
    let build_dir = cache_dir().join("tansu-build");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    progress(format!(
        "building tansu {TANSU_VERSION} with `cargo install` into {} (once per machine; \
         about 8 minutes on 2 idle cores, longer on a busy machine)",
        root.display()
    ));
    let started = Instant::now();
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "install",
        "tansu",
        "--version",
        TANSU_VERSION,
        "--features",
        "dynostore",
        "--locked",
        "--root",
    ])
    .arg(&root)
    // A build folder of our own (kept if the build is cut short, so a
    // retry resumes it), never the target folder of the tests' cargo.
    .env("CARGO_TARGET_DIR", &build_dir)
    .env_remove("CARGO_MAKEFLAGS")
    .env_remove("MAKEFLAGS")
    .env_remove("MFLAGS")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    die_with_parent(&mut cmd, libc::SIGTERM);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cargo.to_string_lossy()))?;
    let compiled = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let pipe = child.stderr.take().expect("stderr is piped");
        let compiled = Arc::clone(&compiled);
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.trim_start().starts_with("Compiling") {
                    compiled.fetch_add(1, Ordering::SeqCst);
                }
                let mut log = log.lock().unwrap();
                log.push(line);
                if log.len() > 200 {
                    log.drain(..100);
                }
            }
        })
    };
    let mut last_report = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for cargo install failed: {e}")),
        }
        if started.elapsed() > TANSU_BUILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let last = log.lock().unwrap().last().cloned().unwrap_or_default();
            progress(format!(
                "tansu build: {:.0?} elapsed, {} crates compiled; last: {}",
                started.elapsed(),
                compiled.load(Ordering::SeqCst),
                last.trim()
            ));
        }
        // Polling the build's status, not synchronising with it.
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = reader.join();
    let tail = log.lock().unwrap().join("\n");
    match status {
        None => Err(format!(
            "building tansu took longer than {TANSU_BUILD_TIMEOUT:?} and was stopped; \
             cargo said:\n{tail}"
        )),
        Some(s) if !s.success() => Err(format!(
            "`cargo install tansu --version {TANSU_VERSION} --features dynostore` failed ({s}); \
             is crates.io reachable? cargo said:\n{tail}"
        )),
        Some(_) if !tansu_works(&bin) => Err(format!(
            "cargo install finished but {} does not run; cargo said:\n{tail}",
            bin.display()
        )),
        Some(_) => {
            progress(format!("built tansu in {:.0?}", started.elapsed()));
            let _ = std::fs::remove_dir_all(&build_dir);
            Ok(bin)
        }
    }
}

/// `target/kafka-venv` (next to `target/tmp`, so it follows
/// `CARGO_TARGET_DIR`).
fn venv_imports(venv: &Path) -> bool {
    bytewax([
        "python",
        "-c",
        "import confluent_kafka, confluent_kafka.schema_registry, fastavro, pytest",
    ])
    .env("VIRTUAL_ENV", venv)
    .timeout(Duration::from_secs(120))
    .run()
    .code
        == Some(0)
}

/// The virtualenv with confluent-kafka, made on first use.
fn ensure_venv() -> Result<PathBuf, String> {
    let wanted = VENV_PACKAGES.join(" ");
    progress(format!("virtualenv with {wanted}"));
    let venv = shared_venv("kafka-venv", VENV_PACKAGES).map_err(|pip| {
        format!(
            "installing {wanted} from PyPI failed; is PyPI reachable?\n{}",
            pip.report()
        )
    })?;
    if !venv_imports(&venv) {
        return Err(format!(
            "{wanted} were installed into {} but `bytewax python` cannot import them",
            venv.display()
        ));
    }
    Ok(venv)
}

// ---------------------------------------------------------------------
// The broker.

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free loopback port")
}

/// A running tansu broker; killed when dropped (also when a test panics).
struct Broker {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Broker {
    fn start(tansu: &Path, dir: &TempDir) -> Broker {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let log = dir.join("tansu.log");
        let log_file = std::fs::File::create(&log).expect("create the broker log");
        let mut cmd = Command::new(tansu);
        cmd.args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        // tansu reads these too; keep the caller's out of it.
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SCHEMA_REGISTRY")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("clone the log handle"))
        .stderr(log_file);
        // Even if this process is killed before `Drop` runs.
        die_with_parent(&mut cmd, libc::SIGKILL);
        let child = cmd.spawn().expect("start tansu");
        let mut broker = Broker { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("tansu exited at start ({status})\n{}", broker.log_text());
            }
            if TcpStream::connect_timeout(&broker.addr.parse().unwrap(), Duration::from_millis(200))
                .is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within 30 s\n{}",
                broker.addr,
                broker.log_text()
            );
            // Polling for the listener, not synchronising with it.
            std::thread::sleep(Duration::from_millis(50));
        }
        progress(format!("tansu broker listening on {}", broker.addr));
        broker
    }

    fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(6000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        format!("--- broker log (tail) ---\n{}", &text[start..])
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------
// Talking to the broker and running flows.

struct Kafka {
    venv: PathBuf,
    broker: Broker,
    dir: TempDir,
}

fn kafka_dir() -> PathBuf {
    repo_root().join("tests").join("kafka")
}

impl Kafka {
    fn tool(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = bytewax(["python"])
            .arg(kafka_dir().join("kafka_tool.py"))
            .args(args)
            .env("VIRTUAL_ENV", &self.venv)
            .timeout(TOOL_TIMEOUT);
        if let Some(input) = stdin {
            cmd = cmd.stdin(input);
        }
        let out = cmd.run();
        assert_eq!(
            out.code,
            Some(0),
            "kafka_tool.py {args:?} failed\n{}\n{}",
            out.report(),
            self.broker.log_text()
        );
        out
    }

    fn create(&self, topics: &[&str]) {
        let mut args = vec!["create", &self.broker.addr];
        args.extend_from_slice(topics);
        self.tool(&args, None);
    }

    /// Produces `KEY\tVALUE[\tPARTITION]` lines.
    fn produce(&self, topic: &str, lines: &[String]) {
        let input = lines.join("\n") + "\n";
        self.tool(&["produce", &self.broker.addr, topic], Some(&input));
    }

    /// `(partition, offset, key, value)` of every message in a topic.
    fn dump(&self, topic: &str) -> Vec<(u32, u64, String, String)> {
        let out = self.tool(&["dump", &self.broker.addr, topic], None);
        out.stdout_lines()
            .iter()
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                assert_eq!(f.len(), 4, "bad dump line {line:?}");
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].to_string(),
                    f[3].to_string(),
                )
            })
            .collect()
    }

    /// `bytewax run tests/kafka/flows.py:flow` with the flow `name` and
    /// extra arguments.
    fn flow_cmd(&self, name: &str, topics: &[(&str, &str)], extra: &[&str]) -> Cmd {
        let mut cmd = bytewax(["run"])
            .arg(format!("{}:flow", kafka_dir().join("flows.py").display()))
            .args(extra)
            .cwd(self.dir.path())
            .env("VIRTUAL_ENV", &self.venv)
            .env("KAFKA_TEST_BROKERS", &self.broker.addr)
            .env("KAFKA_TEST_FLOW", name)
            .timeout(FLOW_TIMEOUT);
        for (k, v) in topics {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    fn run_flow(&self, name: &str, topics: &[(&str, &str)], extra: &[&str]) -> Output {
        let out = self.flow_cmd(name, topics, extra).run();
        assert_eq!(
            out.code,
            Some(0),
            "flow `{name}` failed\n{}\n{}",
            out.report(),
            self.broker.log_text()
        );
        out.assert_no_panic();
        out
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// `seen PARTITION OFFSET KEY VALUE` lines a `copy` flow printed.
fn seen_lines(out: &Output) -> Vec<String> {
    sorted(
        out.stdout_lines()
            .into_iter()
            .filter(|l| l.starts_with("seen "))
            .collect(),
    )
}

// ---------------------------------------------------------------------
// Scenarios.

/// 30 messages over 3 partitions, copied (upper-cased) by 2 workers.
fn copy_between_topics(k: &Kafka) {
    progress("scenario: copy between topics");
    k.create(&["copy-in:3", "copy-out:1"]);
    let lines: Vec<String> = (0..30)
        .map(|i| format!("key{i}\tvalue-{i}\t{}", i % 3))
        .collect();
    k.produce("copy-in", &lines);
    let out = k.run_flow(
        "copy",
        &[("KAFKA_TEST_IN", "copy-in"), ("KAFKA_TEST_OUT", "copy-out")],
        &["-w", "2"],
    );
    let expected_seen: Vec<String> = sorted(
        (0..30)
            .map(|i| format!("seen {} {} key{i} value-{i}", i % 3, i / 3))
            .collect(),
    );
    assert_eq!(seen_lines(&out), expected_seen, "{}", out.report());
    let mut got: Vec<(String, String)> = k
        .dump("copy-out")
        .into_iter()
        .map(|(_, _, key, value)| (key, value))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = (0..30)
        .map(|i| (format!("key{i}"), format!("VALUE-{i}")))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

/// A recoverable run, more messages, and runs that resume from the
/// stored offsets.
fn resume_from_stored_offsets(k: &Kafka) {
    progress("scenario: recovery resumes from stored offsets");
    k.create(&["rec-in:2", "rec-out:1"]);
    let batch = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("r{i}\tv{i}\t{}", i % 2)).collect()
    };
    k.produce("rec-in", &batch(0..10));
    let db = k.dir.join("recovery-db");
    bytewax(["init-db"])
        .arg(&db)
        .arg("1")
        .run()
        .assert_success();
    let db_arg = db.to_string_lossy().into_owned();
    let recovery = ["-r", db_arg.as_str(), "-s", "0", "-b", "0"];
    let topics = [("KAFKA_TEST_IN", "rec-in"), ("KAFKA_TEST_OUT", "rec-out")];
    // A small batch size, so each run spans several epochs.
    let topics_small = [topics[0], topics[1], ("KAFKA_TEST_BATCH", "3")];

    let first = k.run_flow("copy", &topics_small, &recovery);
    let want_first: Vec<String> = sorted(
        (0..10)
            .map(|i| format!("seen {} {} r{i} v{i}", i % 2, i / 2))
            .collect(),
    );
    assert_eq!(seen_lines(&first), want_first, "{}", first.report());
    assert_eq!(k.dump("rec-out").len(), 10);

    k.produce("rec-in", &batch(10..16));
    let second = k.run_flow("copy", &topics_small, &recovery);
    let want_second: Vec<String> = sorted(
        (10..16)
            .map(|i| format!("seen {} {} r{i} v{i}", i % 2, i / 2))
            .collect(),
    );
    assert_eq!(
        seen_lines(&second),
        want_second,
        "the resumed run must read only the new messages\n{}",
        second.report()
    );
    let mut values: Vec<String> = k.dump("rec-out").into_iter().map(|r| r.3).collect();
    values.sort();
    let mut want_values: Vec<String> = (0..16).map(|i| format!("V{i}")).collect();
    want_values.sort();
    assert_eq!(values, want_values, "each message copied exactly once");

    // Nothing new: nothing read, nothing written, on 2 workers too.
    let third = k.run_flow("copy", &topics, &[&recovery[..], &["-w", "2"]].concat());
    assert_eq!(
        seen_lines(&third),
        Vec::<String>::new(),
        "{}",
        third.report()
    );
    assert_eq!(k.dump("rec-out").len(), 16);
}

/// `operators.input` + `deserialize_value`: bad JSON goes to a
/// dead-letter topic named on each message.
fn deserialization_errors_go_to_dead_letters(k: &Kafka) {
    progress("scenario: deserialization errors and a dead-letter topic");
    k.create(&["dlq-in:1", "dlq-out:1", "dlq-dead:1"]);
    k.produce(
        "dlq-in",
        &[
            "a\t{\"n\": 1}".to_string(),
            "b\tnot json".to_string(),
            "c\t{\"n\": 21}".to_string(),
            "d\t{broken".to_string(),
        ],
    );
    let out = k.run_flow(
        "dlq",
        &[
            ("KAFKA_TEST_IN", "dlq-in"),
            ("KAFKA_TEST_OUT", "dlq-out"),
            ("KAFKA_TEST_DLQ", "dlq-dead"),
        ],
        &[],
    );
    assert_eq!(
        sorted(out.stdout_lines()),
        vec![
            "dead b _VALUE_DESERIALIZATION",
            "dead d _VALUE_DESERIALIZATION",
            "ok a",
            "ok c",
        ],
        "{}",
        out.report()
    );
    let good: Vec<(String, String)> = k.dump("dlq-out").into_iter().map(|r| (r.2, r.3)).collect();
    assert_eq!(
        good,
        vec![
            ("a".to_string(), "{\"n\": 2}".to_string()),
            ("c".to_string(), "{\"n\": 42}".to_string()),
        ]
    );
    let dead: Vec<(String, String)> = k.dump("dlq-dead").into_iter().map(|r| (r.2, r.3)).collect();
    assert_eq!(
        dead,
        vec![
            ("b".to_string(), "not json".to_string()),
            ("d".to_string(), "{broken".to_string()),
        ]
    );
}

/// A consumer error: raised by default, an item with
/// `raise_on_errors=False`.
fn consumer_errors(k: &Kafka) {
    progress("scenario: consumer errors (raise_on_errors)");
    k.create(&["err-in:1"]);
    k.produce("err-in", &["x\ty".to_string()]);
    let topics = [("KAFKA_TEST_IN", "err-in")];

    let raised = k.flow_cmd("reset_error_raise", &topics, &[]).run();
    assert_eq!(raised.code, Some(1), "{}", raised.report());
    raised.assert_no_panic();
    raised.assert_stderr_has(&["RuntimeError", "err-in"]);

    // The source keeps going after emitting the error (it doesn't end
    // the partition), so stop the flow once the error item shows.
    let mut running = k.flow_cmd("reset_error", &topics, &[]).spawn();
    let line = running.wait_for_line(Duration::from_secs(60), |l| l.starts_with("kafka-error"));
    running.signal("INT");
    let out = running.wait_within(Duration::from_secs(60));
    assert_eq!(
        line.as_deref(),
        Some("kafka-error _AUTO_OFFSET_RESET err-in 0"),
        "{}",
        out.report()
    );
    out.assert_no_panic();
}

/// A topic that doesn't exist fails the flow with a message naming it.
fn missing_topic(k: &Kafka) {
    progress("scenario: missing topic");
    let out = k
        .flow_cmd("missing_topic", &[("KAFKA_TEST_IN", "no-such-topic")], &[])
        .run();
    assert_ne!(out.code, Some(0), "{}", out.report());
    out.assert_no_panic();
    out.assert_stderr_has(&["no-such-topic"]);
}

/// The Python tests of the connector, with the broker
/// (tests/python/test_kafka.py, which also runs the examples in the
/// docstrings of the connector's modules).
fn python_tests(k: &Kafka) {
    progress("scenario: tests/python/test_kafka.py (with the docstring examples)");
    let out = bytewax([
        "python",
        "-m",
        "pytest",
        "tests/python/test_kafka.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ])
    .cwd(repo_root())
    .env("VIRTUAL_ENV", &k.venv)
    .env("KAFKA_TEST_BROKERS", &k.broker.addr)
    .timeout(Duration::from_secs(300))
    .run();
    assert_eq!(
        out.code,
        Some(0),
        "pytest failed\n{}\n{}",
        out.report(),
        k.broker.log_text()
    );
    assert!(
        !out.stdout.contains(" skipped"),
        "no Kafka test may be skipped when a broker and confluent-kafka are there\n{}",
        out.report()
    );
}

#[test]
fn kafka_connector_against_a_real_broker() {
    if skip_requested() {
        progress("BYTEWAX_SKIP_KAFKA=1: SKIPPING the Kafka broker test (no broker, no installs)");
        return;
    }
    let started = Instant::now();
    let tansu = ensure_tansu().unwrap_or_else(|e| {
        panic!(
            "cannot get the tansu broker for the Kafka test: {e}\n\
             (set BYTEWAX_SKIP_KAFKA=1 to skip this test where crates.io is unreachable)"
        )
    });
    let venv = ensure_venv().unwrap_or_else(|e| {
        panic!(
            "cannot set up confluent-kafka for the Kafka test: {e}\n\
             (set BYTEWAX_SKIP_KAFKA=1 to skip this test where PyPI is unreachable)"
        )
    });
    progress(format!("setup took {:.1?}", started.elapsed()));
    let dir = TempDir::new("kafka");
    let broker = Broker::start(&tansu, &dir);
    let k = Kafka { venv, broker, dir };

    copy_between_topics(&k);
    resume_from_stored_offsets(&k);
    deserialization_errors_go_to_dead_letters(&k);
    consumer_errors(&k);
    missing_topic(&k);
    python_tests(&k);
    progress(format!(
        "all Kafka scenarios passed in {:.1?}",
        started.elapsed()
    ));
}

/// Without confluent-kafka, importing the connector fails with a message
/// that names the package to install.
#[test]
fn kafka_import_without_confluent_kafka_names_the_package() {
    // The interpreter's own environment, without any virtualenv; if it
    // happens to have confluent-kafka, an empty virtualenv stands in.
    let has_it = bytewax(["python", "-c", "import confluent_kafka"])
        .run()
        .code
        == Some(0);
    let empty_venv;
    let venv = if has_it {
        empty_venv = TempDir::new("empty-venv");
        let path = empty_venv.join("venv");
        Cmd::new(embedded_python_executable())
            .args(["-m", "venv"])
            .arg(&path)
            .timeout(Duration::from_secs(300))
            .run()
            .assert_success();
        Some(path)
    } else {
        None
    };
    let with_venv = |cmd: Cmd| match &venv {
        Some(v) => cmd.env("VIRTUAL_ENV", v),
        None => cmd,
    };

    let out = with_venv(bytewax(["python", "-c", "import bytewax.connectors.kafka"])).run();
    assert_ne!(out.code, Some(0), "{}", out.report());
    out.assert_no_panic();
    out.assert_stderr_has(&[
        "ModuleNotFoundError",
        "confluent-kafka",
        "pip install confluent-kafka",
    ]);

    // The rest of the package still imports.
    with_venv(bytewax([
        "python",
        "-c",
        "import bytewax.connectors, bytewax.connectors.files, bytewax.operators, bytewax.testing",
    ]))
    .run()
    .assert_success();

    // A flow that uses the connector fails as a user module whose import
    // raises: exit 1 with the message.
    let dir = TempDir::new("kafka-missing");
    dir.write(
        "flow.py",
        "from bytewax.connectors.kafka import KafkaSource\n\
         from bytewax.dataflow import Dataflow\n\
         flow = Dataflow('x')\n",
    );
    let out = with_venv(bytewax(["run", "flow.py:flow"]).cwd(dir.path())).run();
    assert_eq!(out.code, Some(1), "{}", out.report());
    out.assert_no_panic();
    out.assert_stderr_has(&["pip install confluent-kafka"]);
}
