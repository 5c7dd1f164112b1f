//! `bytewax run -p N`: start N processes of a cluster on free loopback
//! ports, supervise them, and stop them all together.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::args::RunArgs;
use super::{signals, EXIT_FAILURE, EXIT_USAGE};

/// Picks `n` free loopback ports (each bound once, then released).
pub fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

/// The arguments a child process gets: the parent's, minus `-p`, plus its
/// place in the cluster.
fn child_args(args: &RunArgs, process: usize, addresses: &str) -> Vec<String> {
    let mut out = vec![
        "run".to_string(),
        args.import_str.clone(),
        "-w".into(),
        args.workers_per_process.to_string(),
        "-i".into(),
        process.to_string(),
        "-a".into(),
        addresses.to_string(),
        "--log-level".into(),
        format!("{:?}", args.log_level).to_lowercase(),
    ];
    if let Some(s) = args.snapshot_interval {
        out.extend(["-s".into(), format!("{}", s.as_secs_f64())]);
    }
    if let Some(dir) = &args.recovery_directory {
        out.extend(["-r".into(), dir.display().to_string()]);
    }
    if let Some(b) = args.backup_interval {
        out.extend(["-b".into(), format!("{}", b.as_secs_f64())]);
    }
    out
}

pub fn run_processes(args: &RunArgs, processes: usize) -> i32 {
    if args.process_id.is_some() || args.addresses.is_some() {
        eprintln!("error: -p/--processes starts its own processes; it cannot be combined with -i/--process-id or -a/--addresses");
        return EXIT_USAGE;
    }
    let ports = match free_ports(processes) {
        Ok(ports) => ports,
        Err(e) => {
            eprintln!("error: cannot find free loopback ports: {e}");
            return EXIT_FAILURE;
        }
    };
    let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let addresses = addresses.join(";");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find this executable to start processes: {e}");
            return EXIT_FAILURE;
        }
    };

    signals::install();
    let terminated = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&terminated));

    let mut children: Vec<Child> = Vec::with_capacity(processes);
    for process in 0..processes {
        let spawned = Command::new(&exe)
            .args(child_args(args, process, &addresses))
            .env_remove("BYTEWAX_PROCESSES")
            .env_remove("BYTEWAX_PROCESS_ID")
            .env_remove("BYTEWAX_ADDRESSES")
            .env_remove("BYTEWAX_HOSTFILE_PATH")
            .env_remove("BYTEWAX_POD_NAME")
            .parent_death_signal()
            .spawn();
        match spawned {
            Ok(child) => children.push(child),
            Err(e) => {
                eprintln!("error: cannot start process {process}: {e}");
                stop_all(&mut children, libc::SIGTERM);
                return EXIT_FAILURE;
            }
        }
    }

    let mut codes: Vec<Option<i32>> = vec![None; processes];
    let mut forwarded = false;
    loop {
        for (i, child) in children.iter_mut().enumerate() {
            if codes[i].is_none() {
                if let Ok(Some(status)) = child.try_wait() {
                    codes[i] = Some(exit_code(status));
                }
            }
        }
        if codes.iter().all(Option::is_some) {
            break;
        }
        if !forwarded && (signals::interrupted() || terminated.load(Ordering::SeqCst)) {
            forwarded = true;
            let signal = if terminated.load(Ordering::SeqCst) {
                libc::SIGTERM
            } else {
                libc::SIGINT
            };
            stop_all(&mut children, signal);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if terminated.load(Ordering::SeqCst) {
        return 143;
    }
    if signals::interrupted() {
        return signals::EXIT_INTERRUPTED;
    }
    // The first process to fail decides; the others only stopped because
    // of it.
    codes
        .iter()
        .flatten()
        .copied()
        .find(|&c| c != 0 && c != 1)
        .or_else(|| codes.iter().flatten().copied().find(|&c| c != 0))
        .unwrap_or(0)
}

fn stop_all(children: &mut [Child], signal: i32) {
    for child in children.iter() {
        // SAFETY: sending a signal to a child we started.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Children should not outlive a parent that is killed outright.
trait ParentDeathSignal {
    fn parent_death_signal(&mut self) -> &mut Self;
}

impl ParentDeathSignal for Command {
    #[cfg(target_os = "linux")]
    fn parent_death_signal(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; it only sets a flag on the
        // child.
        unsafe {
            self.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            })
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn parent_death_signal(&mut self) -> &mut Self {
        self
    }
}
