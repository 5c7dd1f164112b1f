//! Metrics per step and worker: items in and out, how long user code
//! takes, snapshots, late items. Off unless enabled (by the dataflow API
//! server), in which case recording is a few atomic adds per batch.
//! Rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns recording on for steps built from now on.
pub fn enable() {
    ENABLED.store(true, Ordering::SeqCst);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Histogram bucket bounds, in seconds.
const BUCKETS: [f64; 15] = [
    0.0005, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// A duration histogram with fixed buckets.
///
/// Each observation adds to exactly one slot (the first bound it fits, or
/// the overflow slot); rendering sums the slots, so the cumulative buckets
/// are monotone and `+Inf` equals `_count` even while other threads
/// observe.
#[derive(Default)]
pub struct Histogram {
    /// Per-bucket (not cumulative) counts; the last slot is above every
    /// bound.
    slots: [AtomicU64; BUCKETS.len() + 1],
    /// Sum in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, seconds: f64) {
        let slot = BUCKETS.partition_point(|bound| *bound < seconds);
        self.slots[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add((seconds.max(0.0) * 1e9) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0u64;
        for (bound, slot) in BUCKETS.iter().zip(&self.slots) {
            cumulative += slot.load(Ordering::Relaxed);
            writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}").unwrap();
        }
        cumulative += self.slots[BUCKETS.len()].load(Ordering::Relaxed);
        writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}").unwrap();
        writeln!(
            out,
            "{name}_sum{{{labels}}} {}",
            self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
        )
        .unwrap();
        writeln!(out, "{name}_count{{{labels}}} {cumulative}").unwrap();
    }
}

/// What a duration measures; each is one histogram family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// `next_batch` of a source partition.
    NextBatch,
    /// A `flat_map_batch` mapper call.
    FlatMapBatch,
    /// A branch predicate over a batch.
    Branch,
    /// Inspector calls over a batch.
    Inspect,
    /// `UnaryLogic` calls over a batch of items.
    UnaryOnItems,
    /// `UnaryLogic.on_notify` and `on_eof` calls.
    UnaryWake,
    /// Window clock, windower and fold over a batch of items.
    WindowItems,
    /// `write_batch` of a sink partition.
    WriteBatch,
    /// Taking snapshots at an epoch close.
    Snapshot,
    /// Writing snapshots to a recovery partition.
    RecoveryWrite,
}

impl Timer {
    fn name(self) -> &'static str {
        match self {
            Timer::NextBatch => "inp_part_next_batch_duration_seconds",
            Timer::FlatMapBatch => "flat_map_batch_duration_seconds",
            Timer::Branch => "branch_duration_seconds",
            Timer::Inspect => "inspect_debug_duration_seconds",
            Timer::UnaryOnItems => "unary_on_item_duration_seconds",
            Timer::UnaryWake => "unary_on_notify_duration_seconds",
            Timer::WindowItems => "fold_window_duration_seconds",
            Timer::WriteBatch => "out_part_write_batch_duration_seconds",
            Timer::Snapshot => "snapshot_duration_seconds",
            Timer::RecoveryWrite => "recovery_write_duration_seconds",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Timer::NextBatch => "Time in a source partition's next_batch",
            Timer::FlatMapBatch => "Time in a flat_map_batch mapper call",
            Timer::Branch => "Time in branch predicates, per batch",
            Timer::Inspect => "Time in inspect_debug inspectors, per batch",
            Timer::UnaryOnItems => "Time in UnaryLogic.on_item, per batch",
            Timer::UnaryWake => "Time in UnaryLogic.on_notify and on_eof",
            Timer::WindowItems => "Time assigning items to windows and folding them, per batch",
            Timer::WriteBatch => "Time in a sink partition's write_batch",
            Timer::Snapshot => "Time taking snapshots when an epoch closes",
            Timer::RecoveryWrite => "Time writing snapshots to a recovery partition",
        }
    }
}

/// The metrics of one step on one worker.
#[derive(Default)]
pub struct StepMetrics {
    items_in: AtomicU64,
    items_out: AtomicU64,
    late: AtomicU64,
    timers: Mutex<BTreeMap<Timer, Arc<Histogram>>>,
}

impl StepMetrics {
    pub fn items_in(&self, n: usize) {
        self.items_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn items_out(&self, n: usize) {
        self.items_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn late_items(&self, n: u64) {
        self.late.fetch_add(n, Ordering::Relaxed);
    }

    /// The histogram for `timer` (look it up once, then observe into it).
    pub fn timer(&self, timer: Timer) -> Arc<Histogram> {
        Arc::clone(self.timers.lock().unwrap().entry(timer).or_default())
    }
}

type Registry = Mutex<BTreeMap<(String, usize), Arc<StepMetrics>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The metrics of `step_id` on `worker`, or `None` while metrics are off
/// (so recording costs one branch).
pub fn for_step(step_id: &str, worker: usize) -> Option<Arc<StepMetrics>> {
    if !enabled() {
        return None;
    }
    let mut reg = registry().lock().unwrap();
    Some(Arc::clone(
        reg.entry((step_id.to_string(), worker)).or_default(),
    ))
}

/// Times a closure into an optional histogram.
#[inline]
pub fn timed<T>(hist: Option<&Histogram>, f: impl FnOnce() -> T) -> T {
    match hist {
        None => f(),
        Some(hist) => {
            let start = Instant::now();
            let out = f();
            hist.observe(start.elapsed().as_secs_f64());
            out
        }
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A counter family: name, help, and how to read it from a step.
type Counter = (&'static str, &'static str, fn(&StepMetrics) -> u64);

/// Every metric in the Prometheus text exposition format.
///
/// ```
/// use bytewax::telemetry::metrics::{enable, for_step, render, Timer};
/// enable();
/// let m = for_step("flow.map", 0).unwrap();
/// m.items_in(3);
/// m.timer(Timer::FlatMapBatch).observe(0.002);
/// let text = render();
/// assert!(text.contains("item_inp_count_total{step_id=\"flow.map\",worker_index=\"0\"} 3"));
/// assert!(text.contains("flat_map_batch_duration_seconds_count{step_id=\"flow.map\",worker_index=\"0\"} 1"));
/// ```
pub fn render() -> String {
    let reg = registry().lock().unwrap();
    let mut out = String::new();
    let counters: [Counter; 3] = [
        ("item_inp_count_total", "Items a step received", |m| {
            m.items_in.load(Ordering::Relaxed)
        }),
        ("item_out_count_total", "Items a step emitted", |m| {
            m.items_out.load(Ordering::Relaxed)
        }),
        (
            "late_items_dropped_total",
            "Items a window step dropped as late",
            |m| m.late.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, read) in counters {
        writeln!(out, "# HELP {name} {help}").unwrap();
        writeln!(out, "# TYPE {name} counter").unwrap();
        for ((step, worker), m) in reg.iter() {
            writeln!(
                out,
                "{name}{{step_id=\"{}\",worker_index=\"{worker}\"}} {}",
                escape(step),
                read(m)
            )
            .unwrap();
        }
    }
    let mut families: BTreeMap<Timer, Vec<(String, Arc<Histogram>)>> = BTreeMap::new();
    for ((step, worker), m) in reg.iter() {
        for (timer, hist) in m.timers.lock().unwrap().iter() {
            let labels = format!("step_id=\"{}\",worker_index=\"{worker}\"", escape(step));
            families
                .entry(*timer)
                .or_default()
                .push((labels, Arc::clone(hist)));
        }
    }
    for (timer, series) in families {
        writeln!(out, "# HELP {} {}", timer.name(), timer.help()).unwrap();
        writeln!(out, "# TYPE {} histogram", timer.name()).unwrap();
        for (labels, hist) in series {
            hist.render(&mut out, timer.name(), &labels);
        }
    }
    out
}
