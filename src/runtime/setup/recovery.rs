//! Before a recovering run starts: find the partitions every process can
//! see, give each a primary worker, agree on the resume point, and load
//! each state key's newest snapshot onto the worker that will own it.
//! Nothing is written until all of that succeeded.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use pyo3::exceptions::{PyFileNotFoundError, PyRuntimeError};
use pyo3::prelude::*;
use timely::worker::Worker;

use super::{all_gather, assign_primaries, scatter, PartitionMap};
use crate::flow::{Op, Plan};
use crate::recovery::resume::{resume_from, ResumeError, ResumeFrom};
use crate::recovery::store::{partition_files, LoadedState, Partition, PartitionInfo};
use crate::recovery::{InconsistentPartitionsError, MissingPartitionsError, NoPartitionsError};
use crate::runtime::routing::worker_for_key;
use crate::runtime::shared::{Failure, RunShared};
use crate::runtime::RecoveryOptions;

/// Resumed state by step id: `(key, state)` pairs.
pub type LoadedStates = HashMap<String, Vec<(String, Py<PyAny>)>>;

/// What a recovering run agreed on, as one worker holds it.
pub struct RecoveryAgreement {
    pub resume: ResumeFrom,
    /// The partitions this worker writes, by index.
    pub owned: Vec<(u64, Partition)>,
    /// The worker that writes each partition, by partition index.
    pub primaries: Vec<usize>,
    /// State loaded for this worker.
    pub states: LoadedStates,
}

/// Stops the run with a Python exception of type `E`.
fn fail<E: pyo3::PyTypeInfo>(shared: &RunShared, message: String) -> Option<RecoveryAgreement> {
    Python::attach(|py| {
        let err = PyErr::from_type(py.get_type::<E>(), message);
        shared.fail(Failure::User(err));
    });
    None
}

pub fn agree_recovery(
    worker: &mut Worker,
    plan: &Plan,
    io: &BTreeMap<usize, PartitionMap>,
    opts: &RecoveryOptions,
    threads: usize,
    shared: &RunShared,
) -> Option<RecoveryAgreement> {
    let me = worker.index();
    let workers = worker.peers();
    let dir = &opts.db_dir;

    // 1. Which partitions this process can see.
    let local = match shared
        .local_partitions
        .get_or_init(|| list_local(dir))
        .clone()
    {
        Ok(local) => local,
        Err(ListError::NoDirectory(message)) => {
            return fail::<PyFileNotFoundError>(shared, message)
        }
        Err(ListError::Unusable(message)) => return fail::<PyRuntimeError>(shared, message),
    };
    let report: Vec<(u64, usize)> = if me % threads == 0 {
        local
            .keys()
            .flat_map(|&index| (me..me + threads).map(move |w| (index, w)))
            .collect()
    } else {
        Vec::new()
    };
    let seen = all_gather(worker, shared, report)?;

    // 2. One primary worker per partition.
    let mut candidates: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (index, w) in seen {
        candidates.entry(index).or_default().push(w);
    }
    let listed = candidates
        .iter()
        .map(|(i, ws)| (format!("{i:020}"), ws.clone()))
        .collect();
    let map = assign_primaries(listed, workers);
    let primary_of: BTreeMap<u64, usize> = candidates
        .keys()
        .copied()
        .zip(map.primaries.iter().copied())
        .collect();

    // 3. The primaries read their partitions; everyone agrees where to resume.
    let mut owned = Vec::new();
    for (&index, &primary) in &primary_of {
        if primary != me {
            continue;
        }
        match Partition::open(&local[&index]) {
            Ok(part) => owned.push((index, part)),
            Err(err) => return fail::<PyRuntimeError>(shared, err.to_string()),
        }
    }
    let mut infos = Vec::new();
    for (_, part) in &owned {
        match part.info() {
            Ok(info) => infos.push(info),
            Err(err) => return fail::<PyRuntimeError>(shared, err.to_string()),
        }
    }
    let infos: Vec<PartitionInfo> = all_gather(worker, shared, infos)?;
    let resume = match resume_from(&infos) {
        Ok(resume) => resume,
        Err(ResumeError::NoPartitions) => {
            return fail::<NoPartitionsError>(
                shared,
                format!(
                    "recovery directory `{}`: {}",
                    dir.display(),
                    ResumeError::NoPartitions
                ),
            )
        }
        Err(err @ ResumeError::Missing { .. }) => {
            return fail::<MissingPartitionsError>(
                shared,
                format!("recovery directory `{}`: {err}", dir.display()),
            )
        }
        Err(err @ ResumeError::Inconsistent(_)) => {
            return fail::<InconsistentPartitionsError>(
                shared,
                format!("recovery directory `{}`: {err}", dir.display()),
            )
        }
    };
    let mut primaries = vec![0; resume.part_count as usize];
    for (&index, &primary) in &primary_of {
        primaries[index as usize] = primary;
    }

    // 4. Load each key's newest state and send it to the worker that
    // owns the key (or the source or sink partition).
    let routes = Routes::new(plan, io, workers);
    let mut outgoing = Vec::new();
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for (_, part) in &owned {
        let rows = match part.load(resume.resume_epoch) {
            Ok(rows) => rows,
            Err(err) => return fail::<PyRuntimeError>(shared, err.to_string()),
        };
        for row in rows {
            match routes.worker_for(&row.step_id, &row.key) {
                Some(dest) => outgoing.push((dest, row)),
                None => {
                    unknown.insert(row.step_id.clone());
                }
            }
        }
    }
    for step in unknown {
        tracing::warn!(
            step_id = %step,
            "the recovery directory holds state for a step this dataflow does not have (or a partition it no \
             longer lists); that state is ignored"
        );
    }
    let received: Vec<LoadedState> = scatter(worker, shared, outgoing)?;
    let states = match deserialize(received, opts) {
        Ok(states) => states,
        Err(err) => {
            shared.fail(Failure::User(err));
            return None;
        }
    };

    // 5. Only now, with everything read, record this execution.
    for (_, part) in owned.iter_mut() {
        if let Err(err) = part.begin_execution(resume.ex_num, resume.resume_epoch, workers as u64) {
            return fail::<PyRuntimeError>(shared, err.to_string());
        }
    }
    if me == 0 {
        tracing::info!(
            execution = resume.ex_num,
            resume_epoch = resume.resume_epoch,
            partitions = resume.part_count,
            "resuming from recovery partitions"
        );
    }
    Some(RecoveryAgreement {
        resume,
        owned,
        primaries,
        states,
    })
}

/// This process's partition files by index, or why they cannot be used.
pub type LocalPartitions = Result<BTreeMap<u64, PathBuf>, ListError>;

/// Why the partition files could not be listed.
#[derive(Clone, Debug)]
pub enum ListError {
    NoDirectory(String),
    /// A file that is not a partition, or two copies of one.
    Unusable(String),
}

/// The partition files of this process: index → path. Two files claiming
/// the same index is an error.
fn list_local(dir: &std::path::Path) -> Result<BTreeMap<u64, PathBuf>, ListError> {
    if !dir.is_dir() {
        return Err(ListError::NoDirectory(format!(
            "recovery directory `{}` does not exist; create it with `bytewax init-db {} COUNT`",
            dir.display(),
            dir.display()
        )));
    }
    let unusable = |e: crate::recovery::store::StoreError| ListError::Unusable(e.to_string());
    let files = partition_files(dir).map_err(unusable)?;
    let mut local: BTreeMap<u64, PathBuf> = BTreeMap::new();
    for path in files {
        let part = Partition::open(&path).map_err(unusable)?;
        let info = part.info().map_err(unusable)?;
        if let Some(other) = local.insert(info.index, path.clone()) {
            return Err(ListError::Unusable(format!(
                "`{}` and `{}` are both recovery partition {}; remove the copy",
                other.display(),
                path.display(),
                info.index
            )));
        }
    }
    Ok(local)
}

/// Where a step's state lives: keyed steps by key hash, partitioned
/// sources and sinks on their partition's primary.
struct Routes<'a> {
    keyed: BTreeSet<&'a str>,
    partitioned: HashMap<&'a str, &'a PartitionMap>,
    workers: usize,
}

impl<'a> Routes<'a> {
    fn new(plan: &'a Plan, io: &'a BTreeMap<usize, PartitionMap>, workers: usize) -> Self {
        let mut keyed = BTreeSet::new();
        let mut partitioned = HashMap::new();
        for (ix, step) in plan.steps.iter().enumerate() {
            if step.op.is_keyed() {
                keyed.insert(step.step_id.as_str());
            } else if let (Op::Input { .. } | Op::Output { .. }, Some(map)) =
                (&step.op, io.get(&ix))
            {
                partitioned.insert(step.step_id.as_str(), map);
            }
        }
        Routes {
            keyed,
            partitioned,
            workers,
        }
    }

    fn worker_for(&self, step_id: &str, key: &str) -> Option<usize> {
        if self.keyed.contains(step_id) {
            return Some(worker_for_key(key, self.workers));
        }
        let map = self.partitioned.get(step_id)?;
        let ix = map.parts.iter().position(|p| p == key)?;
        Some(map.primaries[ix])
    }
}

/// Turns loaded rows into Python state, each with the serde that wrote it.
fn deserialize(rows: Vec<LoadedState>, opts: &RecoveryOptions) -> PyResult<LoadedStates> {
    Python::attach(|py| {
        let mut serdes: HashMap<String, Py<PyAny>> = HashMap::new();
        serdes.insert(opts.serde_name.clone(), opts.serde.clone_ref(py));
        let mut states = LoadedStates::new();
        for row in rows {
            let name = row.serde.clone().unwrap_or_else(|| opts.serde_name.clone());
            if !serdes.contains_key(&name) {
                let class = import_serde(py, &name).inspect_err(|err| {
                    crate::python::errors::add_note(
                        py,
                        err,
                        &format!(
                            "state of step '{}' was snapshotted with serde `{name}`, which cannot be loaded here",
                            row.step_id
                        ),
                    );
            })?;
                serdes.insert(name.clone(), class);
            }
            let state = serdes[&name].bind(py).call_method1("de", (row.state.as_str(),)).inspect_err(|err| {
                crate::python::errors::add_note(
                    py,
                    err,
                    &format!(
                        "while loading the snapshot of step '{}' for key {:?} (epoch {}) with serde `{name}`",
                        row.step_id, row.key, row.epoch
                    ),
                );
            })?;
            states
                .entry(row.step_id)
                .or_default()
                .push((row.key, state.unbind()));
        }
        Ok(states)
    })
}

/// Imports a serde class by its `module.Qualified` name.
fn import_serde(py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
    let (module, qual) = name.rsplit_once('.').unwrap_or(("", name));
    let mut obj = py.import(module)?.into_any();
    for part in qual.split('.') {
        obj = obj.getattr(part)?;
    }
    if name == "bytewax.serde.JsonPickleSerde" {
        py.import("jsonpickle").map_err(|_| {
            pyo3::exceptions::PyModuleNotFoundError::new_err(
                "these snapshots were written with `JsonPickleSerde`, which needs the `jsonpickle` package: \
                 `pip install jsonpickle` in the active virtualenv",
            )
        })?;
    }
    Ok(obj.unbind())
}
