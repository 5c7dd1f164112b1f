//! The dataflow API: a small HTTP server, started by `bytewax run` when
//! `BYTEWAX_DATAFLOW_API_ENABLED` is set (to anything, even empty).
//!
//! - `GET /metrics`: the metrics in the Prometheus text format;
//! - `GET /dataflow`: the flow's structure as JSON (`bytewax._encoder.to_json`);
//! - anything else: 404.
//!
//! It listens on `BYTEWAX_DATAFLOW_API_BIND` (default `127.0.0.1`, unlike
//! the reference's `0.0.0.0`) at port `BYTEWAX_DATAFLOW_API_PORT` (default
//! 3030) plus the process id, so the processes of a cluster on one machine
//! do not collide. Plain `std::net` on one background thread, plus one
//! short-lived thread per connection.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;

use super::metrics;

pub const ENABLED_VAR: &str = "BYTEWAX_DATAFLOW_API_ENABLED";
pub const PORT_VAR: &str = "BYTEWAX_DATAFLOW_API_PORT";
pub const BIND_VAR: &str = "BYTEWAX_DATAFLOW_API_BIND";
pub const CACHE_VAR: &str = "BYTEWAX_DATAFLOW_API_CACHE_PATH";
pub const DEFAULT_PORT: u16 = 3030;

/// Where the server of this process listens, read from the environment.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub addr: SocketAddr,
    /// The base port (`BYTEWAX_DATAFLOW_API_PORT`), for messages.
    pub base_port: u16,
    pub process_id: usize,
    /// `BYTEWAX_DATAFLOW_API_CACHE_PATH`, if set.
    pub cache_dir: Option<PathBuf>,
}

impl ApiConfig {
    /// `None` unless `BYTEWAX_DATAFLOW_API_ENABLED` is set. An error is a
    /// usage mistake (exit code 2): a port or address that does not parse.
    pub fn from_env(process_id: usize) -> Result<Option<ApiConfig>, String> {
        if std::env::var_os(ENABLED_VAR).is_none() {
            return Ok(None);
        }
        let base_port = match std::env::var(PORT_VAR) {
            Err(std::env::VarError::NotPresent) => DEFAULT_PORT,
            Err(std::env::VarError::NotUnicode(v)) => {
                return Err(format!(
                    "{PORT_VAR} is {v:?}; expected a port number (0-65535)"
                ))
            }
            Ok(text) => text.trim().parse::<u16>().map_err(|_| {
                format!("{PORT_VAR} is {text:?}; expected a port number (0-65535), e.g. 3030")
            })?,
        };
        let port = if base_port == 0 {
            0
        } else {
            u16::try_from(base_port as usize + process_id)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    format!(
                        "{PORT_VAR} is {base_port}; process {process_id} would listen on port {}, \
                         which does not exist; choose a lower port",
                        base_port as usize + process_id
                    )
                })?
        };
        let host = std::env::var(BIND_VAR)
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "127.0.0.1".into());
        let addr = resolve(&host, port)?;
        Ok(Some(ApiConfig {
            addr,
            base_port,
            process_id,
            cache_dir: std::env::var_os(CACHE_VAR).map(PathBuf::from),
        }))
    }
}

fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| {
            format!("{BIND_VAR} is {host:?}, which is not an address this machine can bind: {e}")
        })?
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{BIND_VAR} is {host:?}, which resolves to no address"))
}

/// A running server (it runs until the process exits).
pub struct ApiServer {
    pub addr: SocketAddr,
}

/// Starts the server for `flow`: turns metrics on (before the dataflow is
/// built, so every step records), renders the flow's JSON once, writes it
/// to `$BYTEWAX_DATAFLOW_API_CACHE_PATH/dataflow.json` if that is set, and
/// binds. An error (exit code 1) says what failed, naming the variable to
/// change.
pub fn start(
    py: Python<'_>,
    config: &ApiConfig,
    flow: &Bound<'_, PyAny>,
) -> Result<ApiServer, String> {
    metrics::enable();
    let json: String = py
        .import("bytewax._encoder")
        .and_then(|m| m.call_method1("to_json", (flow,)))
        .and_then(|j| j.extract())
        .map_err(|err| {
            format!(
                "cannot render the dataflow as JSON for the dataflow API:\n{}",
                crate::python::errors::format_exception(py, &err)
            )
        })?;
    if let Some(dir) = &config.cache_dir {
        let path = dir.join("dataflow.json");
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&path, &json))
            .map_err(|e| {
                format!(
                    "cannot write the dataflow JSON to `{}` ({CACHE_VAR}): {e}",
                    path.display()
                )
            })?;
    }
    let listener = TcpListener::bind(config.addr).map_err(|e| bind_error(config, &e))?;
    let addr = listener.local_addr().unwrap_or(config.addr);
    let body = Arc::new(json);
    std::thread::Builder::new()
        .name("bytewax-api".into())
        .spawn(move || serve(listener, body))
        .map_err(|e| format!("cannot start the dataflow API server thread: {e}"))?;
    tracing::info!("dataflow API listening on http://{addr} (GET /metrics, GET /dataflow)");
    Ok(ApiServer { addr })
}

fn bind_error(config: &ApiConfig, err: &std::io::Error) -> String {
    let port = config.addr.port();
    let which = if config.process_id == 0 {
        format!("{PORT_VAR}={}", config.base_port)
    } else {
        format!(
            "{PORT_VAR}={} plus process id {}",
            config.base_port, config.process_id
        )
    };
    match err.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot start the dataflow API server: port {port} on {} is already in use \
             ({which}); set {PORT_VAR} to a free port, or unset {ENABLED_VAR}",
            config.addr.ip()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "cannot start the dataflow API server: {} is not an address of this machine; \
             check {BIND_VAR}",
            config.addr.ip()
        ),
        _ => format!(
            "cannot start the dataflow API server on {} ({which}): {err}",
            config.addr
        ),
    }
}

fn serve(listener: TcpListener, dataflow_json: Arc<String>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let body = Arc::clone(&dataflow_json);
        let _ = std::thread::Builder::new()
            .name("bytewax-api-conn".into())
            .spawn(move || {
                let _ = handle(stream, &body);
            });
    }
}

/// Reads one request (line and headers) and answers it; the connection is
/// then closed.
fn handle(mut stream: TcpStream, dataflow_json: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut request = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && !request.windows(2).any(|w| w == b"\n\n")
    {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..n]);
        if request.len() > 16 * 1024 {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
                true,
            );
        }
    }
    let text = String::from_utf8_lossy(&request);
    let line = text.lines().next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return respond(
            &mut stream,
            "400 Bad Request",
            "text/plain",
            "bad request\n",
            true,
        );
    };
    let path = target.split(['?', '#']).next().unwrap_or("");
    let with_body = method != "HEAD";
    let known = matches!(path, "/metrics" | "/dataflow");
    if known && method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "only GET is allowed\n",
            with_body,
        );
    }
    match path {
        "/metrics" => {
            let text = metrics::render();
            respond(
                &mut stream,
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                &text,
                with_body,
            )
        }
        "/dataflow" => respond(
            &mut stream,
            "200 OK",
            "application/json",
            dataflow_json,
            with_body,
        ),
        _ => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            "not found; try /metrics or /dataflow\n",
            with_body,
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}
