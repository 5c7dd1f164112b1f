//! Running as one process of a multi-process cluster: connecting to the
//! peers, handing the data connections to timely's TCP allocator, and
//! keeping the control connections that turn a lost or failed peer into a
//! prompt, clear stop everywhere.

pub mod control;
pub mod net;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use timely::communication::Hooks;

use super::shared::RunShared;
use super::ClusterSpec;
use control::Control;
use net::Hello;

/// How long to wait for every peer to be up, unless
/// `BYTEWAX_CONNECT_TIMEOUT` (seconds) says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a cluster process runs its workers with.
pub struct Cluster {
    pub builders: Vec<AllocatorBuilder>,
    /// Timely's network threads, joined when dropped after a clean run.
    pub comms: Box<dyn Any + Send>,
    pub control: Arc<Control>,
}

/// Connects to the peers in `spec`.
pub fn start(
    spec: &ClusterSpec,
    threads: usize,
    flow: u64,
    shared: &Arc<RunShared>,
) -> Result<Cluster, String> {
    quiet_network_panics();
    let timeout = match std::env::var("BYTEWAX_CONNECT_TIMEOUT") {
        Ok(v) => crate::cli::duration::parse_duration(&v)
            .map_err(|e| format!("BYTEWAX_CONNECT_TIMEOUT: {e}"))?,
        Err(_) => CONNECT_TIMEOUT,
    };
    let me = Hello {
        process: spec.process_id as u32,
        processes: spec.addresses.len() as u32,
        workers_per_process: threads as u32,
        flow,
    };
    tracing::info!(
        process = spec.process_id,
        processes = spec.addresses.len(),
        "connecting to the cluster"
    );
    let mesh = net::connect(&spec.addresses, me, timeout, &|| shared.stopping())?;
    let control = Control::start(
        spec.process_id,
        mesh.control,
        spec.addresses.clone(),
        Arc::clone(shared),
    );
    shared.set_control(Arc::clone(&control));

    let hooks = Hooks::default();
    let process_allocators =
        ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(
        process_allocators,
        mesh.data,
        spec.process_id,
        threads,
        hooks,
    )
    .map_err(|e| format!("starting the network threads: {e}"))?;
    let comms = Box::new(CommsKeeper {
        guard: Some(Box::new(guard)),
        shared: Arc::clone(shared),
    });
    Ok(Cluster {
        builders: builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        comms,
        control,
    })
}

/// Timely's network threads: joined after a clean run; after a failure a
/// peer may be gone mid-message, so they are left to end with the process.
struct CommsKeeper {
    guard: Option<Box<dyn Any + Send>>,
    shared: Arc<RunShared>,
}

impl Drop for CommsKeeper {
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        if self.shared.stopping() || NETWORK_DOWN.load(Ordering::SeqCst) {
            std::mem::forget(guard);
            return;
        }
        // A peer can still die while its connections are being closed;
        // joining a network thread that panicked then panics too. The run
        // is over by then, so that is not worth more than a log line.
        QUIET.with(|q| q.set(true));
        let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(guard)));
        QUIET.with(|q| q.set(false));
        if joined.is_err() {
            tracing::warn!("a peer closed its connection abruptly after the run completed");
        }
    }
}

thread_local! {
    /// Set while joining network threads, whose panics are expected then.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a network thread has failed (a peer is gone).
pub fn network_down() -> bool {
    NETWORK_DOWN.load(Ordering::SeqCst)
}

/// Set once a network thread has failed: the cluster is coming down.
static NETWORK_DOWN: AtomicBool = AtomicBool::new(false);

/// A peer that dies makes timely's network threads panic, and then its
/// workers when they next touch the broken connection. The control
/// connection already reports the loss clearly, so those panics are not
/// shown.
fn quiet_network_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            if name.starts_with("timely:send") || name.starts_with("timely:recv") {
                NETWORK_DOWN.store(true, Ordering::SeqCst);
                return;
            }
            if name.starts_with("timely:") && NETWORK_DOWN.load(Ordering::SeqCst) {
                return;
            }
            if QUIET.with(|q| q.get()) {
                return;
            }
            previous(info);
        }));
    });
}
