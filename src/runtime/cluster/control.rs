//! The control connections between processes: heartbeats, and word of a
//! failure, an abort or an interrupt, so that no process is left waiting
//! for a peer that is gone. A peer whose connection drops (or falls silent
//! for [`SILENCE_LIMIT`]) before saying it is done is reported lost.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::runtime::shared::{Failure, RunShared};

const HEARTBEAT: Duration = Duration::from_millis(500);
/// A peer silent this long is considered lost.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(8);

/// What processes tell each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Ping = 0,
    /// This process finished its part of the run.
    Done = 1,
    /// This process failed; it reports the error itself.
    Failed = 2,
    /// A source raised `AbortExecution`: stop, successfully.
    Abort = 3,
    /// This process was interrupted (Ctrl-C).
    Interrupted = 4,
}

impl Message {
    fn from_byte(b: u8) -> Option<Message> {
        Some(match b {
            0 => Message::Ping,
            1 => Message::Done,
            2 => Message::Failed,
            3 => Message::Abort,
            4 => Message::Interrupted,
            _ => return None,
        })
    }
}

pub struct Control {
    me: usize,
    writers: Vec<Option<Mutex<TcpStream>>>,
    /// Set once this process has finished or stopped: losing a peer after
    /// that is no news.
    finished: AtomicBool,
}

impl Control {
    /// Starts the heartbeat and one reader per peer.
    pub fn start(
        me: usize,
        streams: Vec<Option<TcpStream>>,
        addresses: Vec<String>,
        shared: Arc<RunShared>,
    ) -> Arc<Control> {
        let mut writers = Vec::with_capacity(streams.len());
        let mut readers = Vec::new();
        for (peer, stream) in streams.into_iter().enumerate() {
            match stream {
                Some(stream) => {
                    let reader = stream.try_clone().expect("cloning a control connection");
                    readers.push((peer, reader));
                    writers.push(Some(Mutex::new(stream)));
                }
                None => writers.push(None),
            }
        }
        let control = Arc::new(Control {
            me,
            writers,
            finished: AtomicBool::new(false),
        });
        for (peer, reader) in readers {
            let control = Arc::clone(&control);
            let shared = Arc::clone(&shared);
            let address = addresses[peer].clone();
            std::thread::Builder::new()
                .name(format!("bytewax:control-{peer}"))
                .spawn(move || control.listen(peer, &address, reader, &shared))
                .expect("starting a control thread");
        }
        let beat = Arc::clone(&control);
        std::thread::Builder::new()
            .name("bytewax:heartbeat".into())
            .spawn(move || {
                while !beat.finished.load(Ordering::SeqCst) {
                    beat.tell(Message::Ping);
                    std::thread::sleep(HEARTBEAT);
                }
            })
            .expect("starting the heartbeat thread");
        control
    }

    /// Sends `message` to every peer (peers that are gone are skipped).
    pub fn tell(&self, message: Message) {
        for writer in self.writers.iter().flatten() {
            if let Ok(mut stream) = writer.lock() {
                let _ = stream.write_all(&[message as u8]);
            }
        }
    }

    /// This process is done (or stopped): say so, and stop worrying about
    /// peers.
    pub fn finish(&self, message: Message) {
        if !self.finished.swap(true, Ordering::SeqCst) {
            self.tell(message);
        }
    }

    fn listen(&self, peer: usize, address: &str, mut stream: TcpStream, shared: &RunShared) {
        let _ = stream.set_read_timeout(Some(SILENCE_LIMIT));
        let mut byte = [0u8; 1];
        loop {
            let read = stream.read(&mut byte);
            let message = match read {
                Ok(1) => Message::from_byte(byte[0]),
                _ => None,
            };
            match message {
                Some(Message::Ping) => continue,
                Some(Message::Done) => return,
                Some(Message::Failed) => {
                    self.finished.store(true, Ordering::SeqCst);
                    shared.fail(Failure::Peer(format!(
                        "process {peer} ({address}) failed; it reports its own error; process {} stopped too",
                        self.me
                    )));
                    return;
                }
                Some(Message::Abort) => {
                    shared.abort();
                    return;
                }
                Some(Message::Interrupted) => {
                    self.finished.store(true, Ordering::SeqCst);
                    shared.fail(Failure::Interrupted);
                    return;
                }
                None => {
                    if !self.finished.load(Ordering::SeqCst) {
                        let why = match read {
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) =>
                            {
                                format!("silent for {}s", SILENCE_LIMIT.as_secs())
                            }
                            _ => "its connection closed: it exited or was killed".to_string(),
                        };
                        shared.fail(Failure::Peer(format!(
                            "lost contact with process {peer} ({address}): {why}; stopping process {}",
                            self.me
                        )));
                    }
                    return;
                }
            }
        }
    }
}
