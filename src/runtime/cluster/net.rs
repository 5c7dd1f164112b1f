//! Connecting the processes of a cluster: each process listens on its own
//! address, dials every process with a lower index, and accepts the
//! others; every pair gets a data connection (handed to timely) and a
//! control connection (failures, aborts, heartbeats). A handshake checks
//! that both ends run the same dataflow with the same cluster shape.
//! Peers that are not up yet are retried with backoff until a deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Marks our connections (and their format version).
const MAGIC: &[u8; 8] = b"BWAXnet1";
const DATA: u32 = 0;
const CONTROL: u32 = 1;
/// How often a process waiting for peers checks for their connections.
const ACCEPT_POLL: Duration = Duration::from_millis(2);
/// After how long (or half the connect timeout, if shorter) a process
/// still waiting for its peers says which.
const WAITING_NOTICE: Duration = Duration::from_secs(5);

/// What a process says about itself when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    pub process: u32,
    pub processes: u32,
    pub workers_per_process: u32,
    /// Fingerprint of the dataflow's steps.
    pub flow: u64,
}

impl Hello {
    fn encode(&self, kind: u32) -> [u8; 32] {
        let mut buf = [0u8; 32];
        buf[..8].copy_from_slice(MAGIC);
        buf[8..12].copy_from_slice(&kind.to_le_bytes());
        buf[12..16].copy_from_slice(&self.process.to_le_bytes());
        buf[16..20].copy_from_slice(&self.processes.to_le_bytes());
        buf[20..24].copy_from_slice(&self.workers_per_process.to_le_bytes());
        buf[24..32].copy_from_slice(&self.flow.to_le_bytes());
        buf
    }

    fn decode(buf: &[u8; 32]) -> Option<(u32, Hello)> {
        if &buf[..8] != MAGIC {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().unwrap());
        Some((
            u32_at(8),
            Hello {
                process: u32_at(12),
                processes: u32_at(16),
                workers_per_process: u32_at(20),
                flow: u64::from_le_bytes(buf[24..32].try_into().unwrap()),
            },
        ))
    }
}

/// The connections of this process to every other one, by process index
/// (`None` at our own index).
pub struct Mesh {
    pub data: Vec<Option<TcpStream>>,
    pub control: Vec<Option<TcpStream>>,
}

/// Connects this process to the rest of the cluster, or explains why not.
pub fn connect(
    addresses: &[String],
    me: Hello,
    timeout: Duration,
    stopping: &dyn Fn() -> bool,
) -> Result<Mesh, String> {
    let n = addresses.len();
    let deadline = Instant::now() + timeout;
    let listener = bind(&addresses[me.process as usize])?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot listen on {}: {e}", addresses[me.process as usize]))?;

    let mut mesh = Mesh {
        data: (0..n).map(|_| None).collect(),
        control: (0..n).map(|_| None).collect(),
    };
    // Dial lower indices; accept higher ones. Accepting happens between
    // dial attempts, so two processes dialling each other cannot deadlock.
    let mut to_dial: Vec<(usize, u32)> = (0..me.process as usize)
        .flat_map(|p| [(p, DATA), (p, CONTROL)])
        .collect();
    let expected_accepts = 2 * (n - 1 - me.process as usize);
    let mut accepted = 0;
    // Dials back off (a peer may take a while to start); accepts are
    // polled often, so a peer's dial is answered within milliseconds.
    let mut backoff = Duration::from_millis(5);
    let mut next_dial = Instant::now();
    let mut last_error: Vec<Option<String>> = vec![None; n];
    // Peers usually start within a second of each other; past this, say
    // who is awaited, once, rather than wait the whole timeout silently.
    let notice_at = Instant::now() + WAITING_NOTICE.min(timeout / 2);
    let mut noticed = false;
    while !to_dial.is_empty() || accepted < expected_accepts {
        if stopping() {
            return Err("stopped while connecting to the cluster".into());
        }
        while accepted < expected_accepts {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Some((peer, kind, stream)) = greet_incoming(stream, me, addresses)? {
                        accepted += 1;
                        slot(&mut mesh, kind)[peer] = Some(stream);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    return Err(format!(
                        "accepting connections on {}: {e}",
                        addresses[me.process as usize]
                    ))
                }
            }
        }
        let dial_now = !to_dial.is_empty() && Instant::now() >= next_dial;
        to_dial.retain(|&(peer, kind)| {
            !dial_now
                || match dial(&addresses[peer], me, kind) {
                    Ok(stream) => {
                        match kind {
                            DATA => mesh.data[peer] = Some(stream),
                            _ => mesh.control[peer] = Some(stream),
                        }
                        false
                    }
                    Err(e) => {
                        last_error[peer] = Some(e);
                        true
                    }
                }
        });
        if to_dial.is_empty() && accepted == expected_accepts {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timeout_message(addresses, me, &mesh, &last_error, timeout));
        }
        if !noticed && now >= notice_at {
            noticed = true;
            let left = Duration::from_secs((deadline - now).as_secs_f64().round() as u64);
            tracing::warn!(
                "still waiting for {}; giving up in {} (BYTEWAX_CONNECT_TIMEOUT)",
                missing_peers(addresses, me, &mesh, &last_error).join(", "),
                humantime::format_duration(left)
            );
        }
        if dial_now {
            next_dial = Instant::now() + backoff;
            backoff = (backoff * 2).min(Duration::from_millis(500));
        }
        std::thread::sleep(ACCEPT_POLL);
    }
    for stream in mesh.data.iter().chain(mesh.control.iter()).flatten() {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_nonblocking(false);
    }
    Ok(mesh)
}

fn slot(mesh: &mut Mesh, kind: u32) -> &mut Vec<Option<TcpStream>> {
    if kind == DATA {
        &mut mesh.data
    } else {
        &mut mesh.control
    }
}

fn bind(address: &str) -> Result<TcpListener, String> {
    match TcpListener::bind(address) {
        Ok(l) => Ok(l),
        // The name may resolve to an address of another interface (a
        // Kubernetes service name, say): listen on every interface.
        Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {
            let port = address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .ok_or_else(|| format!("cannot listen on `{address}`: {e}"))?;
            TcpListener::bind(("0.0.0.0", port))
                .map_err(|e| format!("cannot listen on `{address}`: {e}"))
        }
        Err(e) => Err(format!("cannot listen on `{address}`: {e}")),
    }
}

fn dial(address: &str, me: Hello, kind: u32) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{address}`: {e}"))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(mut stream) => {
                stream.set_nodelay(true).ok();
                stream
                    .write_all(&me.encode(kind))
                    .map_err(|e| e.to_string())?;
                return Ok(stream);
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// Reads an incoming handshake. Connections that are not ours are
/// dropped (`Ok(None)`); ours that disagree with us are an error.
fn greet_incoming(
    mut stream: TcpStream,
    me: Hello,
    addresses: &[String],
) -> Result<Option<(usize, u32, TcpStream)>, String> {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = [0u8; 32];
    if stream.read_exact(&mut buf).is_err() {
        return Ok(None);
    }
    stream.set_read_timeout(None).ok();
    let Some((kind, peer)) = Hello::decode(&buf) else {
        return Ok(None);
    };
    check_same_cluster(me, peer, addresses)?;
    Ok(Some((peer.process as usize, kind, stream)))
}

fn check_same_cluster(me: Hello, peer: Hello, addresses: &[String]) -> Result<(), String> {
    let who = format!(
        "process {} ({})",
        peer.process,
        addresses
            .get(peer.process as usize)
            .map_or("?", |a| a.as_str())
    );
    if peer.processes != me.processes || peer.process >= me.processes || peer.process <= me.process
    {
        return Err(format!(
            "{who} says the cluster has {} processes and it is process {}; this process ({}) was given {} \
             addresses. Give every process the same -a/--addresses list and a distinct -i/--process-id",
            peer.processes, peer.process, me.process, me.processes
        ));
    }
    if peer.workers_per_process != me.workers_per_process {
        return Err(format!(
            "{who} runs {} workers per process but this one runs {}; give every process the same -w",
            peer.workers_per_process, me.workers_per_process
        ));
    }
    if peer.flow != me.flow {
        return Err(format!(
            "{who} runs a different dataflow (or a different version of it) than this process"
        ));
    }
    Ok(())
}

/// The peers not connected yet, each with its address and why.
fn missing_peers(
    addresses: &[String],
    me: Hello,
    mesh: &Mesh,
    errors: &[Option<String>],
) -> Vec<String> {
    (0..addresses.len())
        .filter(|&p| {
            p != me.process as usize && (mesh.data[p].is_none() || mesh.control[p].is_none())
        })
        .map(|p| match &errors[p] {
            Some(e) => format!("process {p} at {} ({e})", addresses[p]),
            None => format!("process {p} at {} (it never connected)", addresses[p]),
        })
        .collect()
}

fn timeout_message(
    addresses: &[String],
    me: Hello,
    mesh: &Mesh,
    errors: &[Option<String>],
    timeout: Duration,
) -> String {
    format!(
        "could not connect to {} within {}; are they running, with the same -a/--addresses list? \
         (BYTEWAX_CONNECT_TIMEOUT sets how long to wait)",
        missing_peers(addresses, me, mesh, errors).join(", "),
        humantime::format_duration(timeout)
    )
}
