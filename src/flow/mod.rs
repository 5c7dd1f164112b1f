//! Walking the user's `bytewax.dataflow.Dataflow` into a [`Plan`]: the
//! core steps in definition order, with their streams numbered.
//!
//! Composite operators are only structure; the walk descends into their
//! substeps and keeps the nine core operators the runtime implements.

pub mod graph;

use std::collections::HashMap;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Index of a stream within a [`Plan`].
pub type StreamIx = usize;

/// The flow as the runtime builds it: every worker builds the same steps in
/// the same order.
pub struct Plan {
    pub flow_id: String,
    pub steps: Vec<Step>,
    /// Stream ids by index, for messages.
    pub streams: Vec<String>,
}

pub struct Step {
    /// Fully-qualified step id, e.g. `flow.count.unary`.
    pub step_id: String,
    pub op: Op,
}

/// Whether a source or sink has fixed, named partitions (with resume
/// state) or one stateless partition per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    Fixed,
    Dynamic,
}

/// A core operator with its configuration and streams.
pub enum Op {
    Input {
        source: Py<PyAny>,
        kind: Partitioning,
        down: StreamIx,
    },
    Output {
        sink: Py<PyAny>,
        kind: Partitioning,
        up: StreamIx,
    },
    Branch {
        predicate: Py<PyAny>,
        up: StreamIx,
        trues: StreamIx,
        falses: StreamIx,
    },
    FlatMapBatch {
        mapper: Py<PyAny>,
        up: StreamIx,
        down: StreamIx,
    },
    InspectDebug {
        inspector: Py<PyAny>,
        up: StreamIx,
        down: StreamIx,
    },
    Merge {
        ups: Vec<StreamIx>,
        down: StreamIx,
    },
    Redistribute {
        up: StreamIx,
        down: StreamIx,
    },
    Unary {
        builder: Py<PyAny>,
        up: StreamIx,
        down: StreamIx,
    },
    FoldWindow {
        clock: Py<PyAny>,
        windower: Py<PyAny>,
        builder: Py<PyAny>,
        folder: Py<PyAny>,
        up: StreamIx,
        down: StreamIx,
    },
}

impl Op {
    /// Streams this step reads.
    pub fn inputs(&self) -> Vec<StreamIx> {
        match self {
            Op::Input { .. } => vec![],
            Op::Merge { ups, .. } => ups.clone(),
            Op::Output { up, .. }
            | Op::Branch { up, .. }
            | Op::FlatMapBatch { up, .. }
            | Op::InspectDebug { up, .. }
            | Op::Redistribute { up, .. }
            | Op::Unary { up, .. }
            | Op::FoldWindow { up, .. } => vec![*up],
        }
    }

    /// The core operator's name.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Output { .. } => "output",
            Op::Branch { .. } => "branch",
            Op::FlatMapBatch { .. } => "flat_map_batch",
            Op::InspectDebug { .. } => "inspect_debug",
            Op::Merge { .. } => "merge",
            Op::Redistribute { .. } => "redistribute",
            Op::Unary { .. } => "unary",
            Op::FoldWindow { .. } => "fold_window",
        }
    }

    /// Whether this step keeps per-key state (and so needs keyed routing).
    pub fn is_keyed(&self) -> bool {
        matches!(self, Op::Unary { .. } | Op::FoldWindow { .. })
    }
}

impl Plan {
    /// Walks `flow` (which must be a `bytewax.dataflow.Dataflow`) depth
    /// first, in definition order, keeping core operators.
    pub fn from_flow(flow: &Bound<'_, PyAny>) -> PyResult<Plan> {
        let py = flow.py();
        let dataflow_mod = py.import("bytewax.dataflow")?;
        let dataflow_cls = dataflow_mod.getattr("Dataflow")?;
        if !flow.is_instance(&dataflow_cls)? {
            return Err(PyTypeError::new_err(format!(
                "dataflow must subclass `bytewax.dataflow.Dataflow`; got a `{}` instead",
                type_name(flow)
            )));
        }
        let core_cls = dataflow_mod.getattr("_CoreOperator")?;
        let inputs_mod = py.import("bytewax.inputs")?;
        let outputs_mod = py.import("bytewax.outputs")?;
        let kinds = Kinds {
            fixed_source: inputs_mod.getattr("FixedPartitionedSource")?,
            dynamic_source: inputs_mod.getattr("DynamicSource")?,
            source: inputs_mod.getattr("Source")?,
            fixed_sink: outputs_mod.getattr("FixedPartitionedSink")?,
            dynamic_sink: outputs_mod.getattr("DynamicSink")?,
            sink: outputs_mod.getattr("Sink")?,
        };

        let mut walker = Walker {
            streams: Vec::new(),
            by_id: HashMap::new(),
            produced: Vec::new(),
        };
        let mut steps = Vec::new();

        let mut stack: Vec<Bound<'_, PyAny>> = list_items(&flow.getattr("substeps")?)?;
        stack.reverse();
        while let Some(step) = stack.pop() {
            if step.is_instance(&core_cls)? {
                steps.push(walker.core_step(&step, &kinds)?);
            } else {
                let mut subs = list_items(&step.getattr("substeps")?)?;
                subs.reverse();
                stack.extend(subs);
            }
        }

        let flow_id: String = flow.getattr("flow_id")?.extract()?;
        // Every stream that is read must be written by some step.
        for step in &steps {
            for ix in step.op.inputs() {
                if !walker.produced[ix] {
                    return Err(PyValueError::new_err(format!(
                        "step '{}' reads stream '{}', which no step in dataflow '{flow_id}' writes",
                        step.step_id, walker.streams[ix]
                    )));
                }
            }
        }
        if !steps.iter().any(|s| matches!(s.op, Op::Input { .. })) {
            return Err(PyValueError::new_err(format!(
                "dataflow '{flow_id}' needs at least one input step; add one with \
                 `bytewax.operators.input`"
            )));
        }
        if !steps
            .iter()
            .any(|s| matches!(s.op, Op::Output { .. } | Op::InspectDebug { .. }))
        {
            return Err(PyValueError::new_err(format!(
                "dataflow '{flow_id}' needs at least one output or inspect step; add one with \
                 `bytewax.operators.output` or `bytewax.operators.inspect`"
            )));
        }
        Ok(Plan {
            flow_id,
            steps,
            streams: walker.streams,
        })
    }

    /// A fingerprint of the flow's shape (ids and kinds of its steps), so
    /// processes of a cluster can check they run the same dataflow.
    pub fn fingerprint(&self) -> u64 {
        let mut text = self.flow_id.clone();
        for step in &self.steps {
            text.push('\n');
            text.push_str(&step.step_id);
            text.push(' ');
            text.push_str(step.op.name());
        }
        crate::runtime::routing::key_hash(&text)
    }
}

struct Kinds<'py> {
    fixed_source: Bound<'py, PyAny>,
    dynamic_source: Bound<'py, PyAny>,
    source: Bound<'py, PyAny>,
    fixed_sink: Bound<'py, PyAny>,
    dynamic_sink: Bound<'py, PyAny>,
    sink: Bound<'py, PyAny>,
}

struct Walker {
    streams: Vec<String>,
    by_id: HashMap<String, StreamIx>,
    produced: Vec<bool>,
}

impl Walker {
    /// The index of a stream id, created on first sight.
    fn stream(&mut self, id: String) -> StreamIx {
        if let Some(&ix) = self.by_id.get(&id) {
            return ix;
        }
        let ix = self.streams.len();
        self.streams.push(id.clone());
        self.by_id.insert(id, ix);
        self.produced.push(false);
        ix
    }

    fn read(&mut self, step: &Bound<'_, PyAny>, port: &str) -> PyResult<StreamIx> {
        let id: String = step.getattr(port)?.getattr("stream_id")?.extract()?;
        Ok(self.stream(id))
    }

    fn write(&mut self, step: &Bound<'_, PyAny>, port: &str, step_id: &str) -> PyResult<StreamIx> {
        let id: String = step.getattr(port)?.getattr("stream_id")?.extract()?;
        let ix = self.stream(id.clone());
        if self.produced[ix] {
            return Err(PyValueError::new_err(format!(
                "stream '{id}' is written twice (again by step '{step_id}')"
            )));
        }
        self.produced[ix] = true;
        Ok(ix)
    }

    fn core_step(&mut self, step: &Bound<'_, PyAny>, kinds: &Kinds<'_>) -> PyResult<Step> {
        let step_id: String = step.getattr("step_id")?.extract()?;
        let name = step.get_type().name()?.to_string();
        let attr = |n: &str| -> PyResult<Py<PyAny>> { Ok(step.getattr(n)?.unbind()) };
        let op = match name.as_str() {
            "input" => {
                let source = step.getattr("source")?;
                let kind = if source.is_instance(&kinds.fixed_source)? {
                    Partitioning::Fixed
                } else if source.is_instance(&kinds.dynamic_source)? {
                    Partitioning::Dynamic
                } else if source.is_instance(&kinds.source)? {
                    return Err(PyTypeError::new_err(format!(
                        "unknown source type `{}` in step '{step_id}'; subclass \
                         `FixedPartitionedSource` or `DynamicSource`",
                        type_name(&source)
                    )));
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "source in step '{step_id}' must subclass `bytewax.inputs.Source`; got a `{}`",
                        type_name(&source)
                    )));
                };
                Op::Input {
                    source: source.unbind(),
                    kind,
                    down: self.write(step, "down", &step_id)?,
                }
            }
            "output" => {
                let sink = step.getattr("sink")?;
                let kind = if sink.is_instance(&kinds.fixed_sink)? {
                    Partitioning::Fixed
                } else if sink.is_instance(&kinds.dynamic_sink)? {
                    Partitioning::Dynamic
                } else if sink.is_instance(&kinds.sink)? {
                    return Err(PyTypeError::new_err(format!(
                        "unknown sink type `{}` in step '{step_id}'; subclass \
                         `FixedPartitionedSink` or `DynamicSink`",
                        type_name(&sink)
                    )));
                } else {
                    return Err(PyTypeError::new_err(format!(
                        "sink in step '{step_id}' must subclass `bytewax.outputs.Sink`; got a `{}`",
                        type_name(&sink)
                    )));
                };
                Op::Output {
                    sink: sink.unbind(),
                    kind,
                    up: self.read(step, "up")?,
                }
            }
            "branch" => Op::Branch {
                predicate: attr("predicate")?,
                up: self.read(step, "up")?,
                trues: self.write(step, "trues", &step_id)?,
                falses: self.write(step, "falses", &step_id)?,
            },
            "flat_map_batch" => Op::FlatMapBatch {
                mapper: attr("mapper")?,
                up: self.read(step, "up")?,
                down: self.write(step, "down", &step_id)?,
            },
            "inspect_debug" => Op::InspectDebug {
                inspector: attr("inspector")?,
                up: self.read(step, "up")?,
                down: self.write(step, "down", &step_id)?,
            },
            "merge" => {
                let ids = step.getattr("ups")?.getattr("stream_ids")?;
                let ids = ids.cast_into::<PyDict>()?;
                let mut ups = Vec::with_capacity(ids.len());
                for value in ids.values().iter() {
                    ups.push(self.stream(value.extract()?));
                }
                Op::Merge {
                    ups,
                    down: self.write(step, "down", &step_id)?,
                }
            }
            "redistribute" => Op::Redistribute {
                up: self.read(step, "up")?,
                down: self.write(step, "down", &step_id)?,
            },
            "unary" => Op::Unary {
                builder: attr("builder")?,
                up: self.read(step, "up")?,
                down: self.write(step, "down", &step_id)?,
            },
            "fold_window" => Op::FoldWindow {
                clock: attr("clock")?,
                windower: attr("windower")?,
                builder: attr("builder")?,
                folder: attr("folder")?,
                up: self.read(step, "up")?,
                down: self.write(step, "down", &step_id)?,
            },
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unknown core operator `{other}` (step '{step_id}')"
                )))
            }
        };
        Ok(Step { step_id, op })
    }
}

fn list_items<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    match obj.cast::<PyList>() {
        Ok(list) => Ok(list.iter().collect()),
        Err(_) => obj.try_iter()?.collect(),
    }
}

/// The qualified name of an object's type, for messages.
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
