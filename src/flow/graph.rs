//! A picture of a dataflow: every step (composites with their substeps)
//! and the streams between them, for `bytewax graph`. Composites deeper
//! than a chosen depth are drawn as single boxes.

use std::collections::HashMap;
use std::fmt::Write as _;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// One step of the flow, as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub step_id: String,
    pub step_name: String,
    /// The operator's name (`map`, `unary`, a user composite's name...).
    pub op_type: String,
    pub core: bool,
    /// Streams read, as `(port name, stream id)`.
    pub inputs: Vec<(String, String)>,
    /// Streams written, as `(port name, stream id)`.
    pub outputs: Vec<(String, String)>,
    pub substeps: Vec<Node>,
}

/// The whole flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub flow_id: String,
    pub steps: Vec<Node>,
}

impl Graph {
    /// Walks a `bytewax.dataflow.Dataflow`.
    pub fn from_flow(flow: &Bound<'_, PyAny>) -> PyResult<Graph> {
        let steps = flow
            .getattr("substeps")?
            .try_iter()?
            .map(|s| node(&s?))
            .collect::<PyResult<_>>()?;
        Ok(Graph {
            flow_id: flow.getattr("flow_id")?.extract()?,
            steps,
        })
    }

    /// Boxes and arrows: composites nested down to `depth` levels (`None`:
    /// all the way down); deeper ones are single boxes.
    fn leaves(&self, depth: Option<usize>) -> Vec<(Vec<&Node>, &Node)> {
        fn walk<'a>(
            node: &'a Node,
            level: usize,
            depth: Option<usize>,
            path: &mut Vec<&'a Node>,
            out: &mut Vec<(Vec<&'a Node>, &'a Node)>,
        ) {
            let expand = !node.core && !node.substeps.is_empty() && depth.is_none_or(|d| level < d);
            if expand {
                path.push(node);
                for sub in &node.substeps {
                    walk(sub, level + 1, depth, path, out);
                }
                path.pop();
            } else {
                out.push((path.clone(), node));
            }
        }
        let mut out = Vec::new();
        for step in &self.steps {
            walk(step, 1, depth, &mut Vec::new(), &mut out);
        }
        out
    }

    /// Edges between drawn boxes: `(from, to, stream id)` by box index.
    fn edges(leaves: &[(Vec<&Node>, &Node)]) -> Vec<(usize, usize, String)> {
        let mut producer: HashMap<&str, usize> = HashMap::new();
        for (ix, (_, node)) in leaves.iter().enumerate() {
            for (_, stream) in &node.outputs {
                producer.insert(stream.as_str(), ix);
            }
        }
        let mut edges = Vec::new();
        for (ix, (_, node)) in leaves.iter().enumerate() {
            for (_, stream) in &node.inputs {
                if let Some(&from) = producer.get(stream.as_str()) {
                    edges.push((from, ix, stream.clone()));
                }
            }
        }
        edges
    }

    /// A Mermaid flowchart.
    ///
    /// ```
    /// use bytewax::flow::graph::{Graph, Node};
    /// let step = |id: &str, name: &str, ins: &[&str], outs: &[&str]| Node {
    ///     step_id: id.into(), step_name: name.into(), op_type: name.into(), core: true,
    ///     inputs: ins.iter().map(|s| ("up".to_string(), s.to_string())).collect(),
    ///     outputs: outs.iter().map(|s| ("down".to_string(), s.to_string())).collect(),
    ///     substeps: vec![],
    /// };
    /// let g = Graph { flow_id: "f".into(), steps: vec![
    ///     step("f.inp", "input", &[], &["f.inp.down"]),
    ///     step("f.out", "output", &["f.inp.down"], &[]),
    /// ]};
    /// let text = g.mermaid(None);
    /// assert!(text.starts_with("flowchart TD"));
    /// assert!(text.contains("n0 --> n1"));
    /// ```
    pub fn mermaid(&self, depth: Option<usize>) -> String {
        let leaves = self.leaves(depth);
        let mut out = String::from("flowchart TD\n");
        let mut open: Vec<&Node> = Vec::new();
        let mut subgraphs = 0;
        for (ix, (path, node)) in leaves.iter().enumerate() {
            let common = open
                .iter()
                .zip(path)
                .take_while(|(a, b)| std::ptr::eq(**a, **b))
                .count();
            while open.len() > common {
                open.pop();
                writeln!(out, "{}end", "  ".repeat(open.len() + 1)).unwrap();
            }
            for parent in &path[common..] {
                writeln!(
                    out,
                    "{}subgraph s{subgraphs}[\"{} ({})\"]",
                    "  ".repeat(open.len() + 1),
                    parent.step_id,
                    parent.op_type
                )
                .unwrap();
                subgraphs += 1;
                open.push(parent);
            }
            writeln!(
                out,
                "{}n{ix}[\"{}<br/>{}\"]",
                "  ".repeat(open.len() + 1),
                node.step_id,
                node.op_type
            )
            .unwrap();
        }
        while !open.is_empty() {
            open.pop();
            writeln!(out, "{}end", "  ".repeat(open.len() + 1)).unwrap();
        }
        for (from, to, _) in Self::edges(&leaves) {
            writeln!(out, "  n{from} --> n{to}").unwrap();
        }
        out
    }

    /// A Graphviz digraph.
    pub fn dot(&self, depth: Option<usize>) -> String {
        let leaves = self.leaves(depth);
        let mut out = format!("digraph \"{}\" {{\n  node [shape=box];\n", self.flow_id);
        let mut open: Vec<&Node> = Vec::new();
        let mut clusters = 0;
        for (ix, (path, node)) in leaves.iter().enumerate() {
            let common = open
                .iter()
                .zip(path)
                .take_while(|(a, b)| std::ptr::eq(**a, **b))
                .count();
            while open.len() > common {
                open.pop();
                writeln!(out, "{}}}", "  ".repeat(open.len() + 1)).unwrap();
            }
            for parent in &path[common..] {
                writeln!(
                    out,
                    "{}subgraph cluster_{clusters} {{",
                    "  ".repeat(open.len() + 1)
                )
                .unwrap();
                writeln!(
                    out,
                    "{}label=\"{} ({})\";",
                    "  ".repeat(open.len() + 2),
                    parent.step_id,
                    parent.op_type
                )
                .unwrap();
                clusters += 1;
                open.push(parent);
            }
            writeln!(
                out,
                "{}n{ix} [label=\"{}\\n{}\"];",
                "  ".repeat(open.len() + 1),
                node.step_id,
                node.op_type
            )
            .unwrap();
        }
        while !open.is_empty() {
            open.pop();
            writeln!(out, "{}}}", "  ".repeat(open.len() + 1)).unwrap();
        }
        for (from, to, _) in Self::edges(&leaves) {
            writeln!(out, "  n{from} -> n{to};").unwrap();
        }
        out.push_str("}\n");
        out
    }
}

fn node(step: &Bound<'_, PyAny>) -> PyResult<Node> {
    let py = step.py();
    let core_cls = py.import("bytewax.dataflow")?.getattr("_CoreOperator")?;
    let ports = |names: &str| -> PyResult<Vec<(String, String)>> {
        let mut out = Vec::new();
        for name in step.getattr(names)?.try_iter()? {
            let name: String = name?.extract()?;
            let port = step.getattr(name.as_str())?;
            if let Ok(id) = port.getattr("stream_id") {
                out.push((name.clone(), id.extract()?));
            } else if let Ok(ids) = port.getattr("stream_ids") {
                let ids = ids.cast_into::<PyDict>()?;
                for (_, id) in ids.iter() {
                    out.push((name.clone(), id.extract()?));
                }
            }
        }
        Ok(out)
    };
    let substeps = step.getattr("substeps")?.cast_into::<PyList>()?;
    Ok(Node {
        step_id: step.getattr("step_id")?.extract()?,
        step_name: step.getattr("step_name")?.extract()?,
        op_type: step.get_type().name()?.to_string(),
        core: step.is_instance(&core_cls)?,
        inputs: ports("ups_names")?,
        outputs: ports("dwn_names")?,
        substeps: substeps.iter().map(|s| node(&s)).collect::<PyResult<_>>()?,
    })
}
