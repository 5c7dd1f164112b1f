//! Agreeing on the run before it starts: every worker lists the partitions
//! of fixed-partitioned sources and sinks it can reach, the lists are
//! gathered everywhere, and each partition gets one primary worker. All
//! workers compute the same answer from the same gathered facts.

mod gather;
mod recovery;

use std::collections::{BTreeMap, BTreeSet};

use pyo3::prelude::*;
use timely::worker::Worker;

pub use gather::{all_gather, scatter};
pub use recovery::{LocalPartitions, RecoveryAgreement};

use super::shared::RunShared;
use super::RunOptions;
use crate::flow::{Op, Partitioning, Plan};

/// The primary worker of every partition of one partitioned step.
#[derive(Debug, Clone, Default)]
pub struct PartitionMap {
    /// Every partition any worker listed, sorted.
    pub parts: Vec<String>,
    /// `primaries[i]` is the worker that owns `parts[i]`.
    pub primaries: Vec<usize>,
}

impl PartitionMap {
    /// The partitions `worker` owns.
    pub fn owned_by(&self, worker: usize) -> impl Iterator<Item = (usize, &str)> {
        self.parts
            .iter()
            .zip(&self.primaries)
            .enumerate()
            .filter(move |(_, (_, &w))| w == worker)
            .map(|(ix, (p, _))| (ix, p.as_str()))
    }
}

/// Assigns each partition to one of the workers that listed it, spreading
/// them evenly: partitions fewer workers can reach are placed first, each
/// on the least-loaded candidate (lowest index on ties).
///
/// ```
/// use bytewax::runtime::setup::assign_primaries;
/// let listed = vec![
///     ("p0".to_string(), vec![0, 1, 2]),
///     ("p1".to_string(), vec![0, 1, 2]),
///     ("p2".to_string(), vec![0, 1, 2]),
///     ("p3".to_string(), vec![0, 1, 2]),
///     ("only_on_2".to_string(), vec![2]),
/// ];
/// let map = assign_primaries(listed, 3);
/// let owner = |p: &str| map.primaries[map.parts.iter().position(|x| x == p).unwrap()];
/// assert_eq!(owner("only_on_2"), 2);
/// assert_eq!(owner("p0"), 0);
/// assert_eq!(owner("p1"), 1);
/// assert_eq!(owner("p2"), 0);
/// assert_eq!(owner("p3"), 1);
/// ```
pub fn assign_primaries(listed: Vec<(String, Vec<usize>)>, workers: usize) -> PartitionMap {
    let mut by_part: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (part, ws) in listed {
        by_part.entry(part).or_default().extend(ws);
    }
    let mut order: Vec<(&String, &BTreeSet<usize>)> = by_part.iter().collect();
    order.sort_by_key(|(part, ws)| (ws.len(), (*part).clone()));
    let mut load = vec![0usize; workers];
    let mut owner: BTreeMap<&String, usize> = BTreeMap::new();
    for (part, candidates) in order {
        let chosen = *candidates
            .iter()
            .min_by_key(|&&w| (load[w], w))
            .expect("a listed partition has a worker");
        load[chosen] += 1;
        owner.insert(part, chosen);
    }
    let parts: Vec<String> = by_part.keys().cloned().collect();
    let primaries = parts.iter().map(|p| owner[p]).collect();
    PartitionMap { parts, primaries }
}

/// What the whole cluster agreed on before building the dataflow.
#[derive(Default)]
pub struct Agreement {
    /// Partition maps of fixed-partitioned steps, by step index.
    pub partitions: BTreeMap<usize, PartitionMap>,
    /// Resume point, recovery partitions and loaded state, when recovery
    /// is on.
    pub recovery: Option<RecoveryAgreement>,
}

/// Runs the listing and the gathering. `None` means the run is stopping.
pub fn agree(
    worker: &mut Worker,
    plan: &Plan,
    opts: &RunOptions,
    shared: &RunShared,
) -> Option<Agreement> {
    let me = worker.index();
    let listed = Python::attach(|py| -> PyResult<Vec<(usize, String, usize)>> {
        let mut out = Vec::new();
        for (ix, step) in plan.steps.iter().enumerate() {
            let obj = match &step.op {
                Op::Input {
                    source,
                    kind: Partitioning::Fixed,
                    ..
                } => source,
                Op::Output {
                    sink,
                    kind: Partitioning::Fixed,
                    ..
                } => sink,
                _ => continue,
            };
            let class = if matches!(step.op, Op::Input { .. }) {
                "FixedPartitionedSource"
            } else {
                "FixedPartitionedSink"
            };
            let parts = obj.bind(py).call_method0("list_parts").inspect_err(|err| {
                let note = format!(
                    "while calling `{class}.list_parts` in step '{}' on worker {me}",
                    step.step_id
                );
                crate::python::errors::add_note(py, err, &note);
            })?;
            let wrong = |got: &Bound<'_, PyAny>, what: &str| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "`{class}.list_parts` in step '{}' must return a list of `str`; it returned {what} `{}`",
                    step.step_id,
                    crate::flow::type_name(got)
                ))
            };
            // A `str` is iterable too, but one partition per character is
            // never what was meant.
            if parts.is_instance_of::<pyo3::types::PyString>()
                || parts.is_instance_of::<pyo3::types::PyBytes>()
            {
                return Err(wrong(&parts, "a"));
            }
            let iter = parts.try_iter().map_err(|_| wrong(&parts, "a"))?;
            for part in iter {
                let part = part?;
                let part: String = part
                    .extract()
                    .map_err(|_| wrong(&part, "an item of type"))?;
                out.push((ix, part, me));
            }
        }
        Ok(out)
    });
    let listed = match listed {
        Ok(listed) => listed,
        Err(err) => {
            shared.fail(super::shared::Failure::User(err));
            Vec::new()
        }
    };

    let gathered = all_gather(worker, shared, listed)?;

    let mut per_step: BTreeMap<usize, Vec<(String, Vec<usize>)>> = BTreeMap::new();
    for (ix, step) in plan.steps.iter().enumerate() {
        if matches!(
            step.op,
            Op::Input {
                kind: Partitioning::Fixed,
                ..
            } | Op::Output {
                kind: Partitioning::Fixed,
                ..
            }
        ) {
            per_step.entry(ix).or_default();
        }
    }
    for (ix, part, w) in gathered {
        per_step.entry(ix).or_default().push((part, vec![w]));
    }
    if me == 0 {
        for (ix, listed) in &per_step {
            let step = &plan.steps[*ix];
            if listed.is_empty() && matches!(step.op, Op::Input { .. }) {
                // Usually a mistyped path: say so instead of ending the
                // run with no output and no word.
                tracing::warn!(
                    "input step '{}' has no partitions: `list_parts` returned none on every \
                     worker, so it reads nothing (a `FileSource` or `CSVSource` lists its file \
                     only where the file exists, a `DirSource` the files its pattern matches)",
                    step.step_id
                );
            }
        }
    }
    let workers = worker.peers();
    let partitions = per_step
        .into_iter()
        .map(|(ix, listed)| (ix, assign_primaries(listed, workers)))
        .collect();
    let recovery = match opts.recovery.as_ref() {
        Some(rec) => Some(recovery::agree_recovery(
            worker,
            plan,
            &partitions,
            rec,
            opts.workers_per_process,
            shared,
        )?),
        None => None,
    };
    Some(Agreement {
        partitions,
        recovery,
    })
}
