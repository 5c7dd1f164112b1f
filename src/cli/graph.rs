//! `bytewax graph`: print a dataflow's steps and streams without running
//! it, as Mermaid, Graphviz DOT, or the JSON the dataflow API serves.

use pyo3::prelude::*;

use super::args::{GraphArgs, GraphFormat};
use super::{print_report, report_start_error, EXIT_FAILURE, EXIT_USAGE};
use crate::flow::graph::Graph;
use crate::python::errors::format_exception;
use crate::python::import_str::{locate_dataflow, LocateError};
use crate::python::interpreter::{self, Launch};

pub fn graph(args: GraphArgs, argv: &[String]) -> i32 {
    crate::telemetry::logging::init(tracing_subscriber::filter::LevelFilter::WARN);
    let owns = !interpreter::is_running();
    if let Err(err) = interpreter::start(Launch::Embedded { argv }) {
        return report_start_error(err);
    }
    let code = Python::attach(|py| {
        let flow = match locate_dataflow(py, &args.import_str) {
            Ok(flow) => flow,
            Err(LocateError::Usage(message)) => {
                eprintln!("error: {message}");
                return EXIT_USAGE;
            }
            Err(LocateError::Raised(traceback)) => {
                eprint!("{traceback}");
                return EXIT_FAILURE;
            }
            Err(LocateError::Interrupted) => return 130,
            Err(LocateError::Exit(code, message)) => {
                if let Some(message) = message {
                    eprintln!("{message}");
                }
                return code;
            }
        };
        let rendered = match args.format {
            GraphFormat::Json => json(py, &flow, args.depth),
            GraphFormat::Mermaid => Graph::from_flow(&flow).map(|g| g.mermaid(args.depth)),
            GraphFormat::Dot => Graph::from_flow(&flow).map(|g| g.dot(args.depth)),
        };
        match rendered {
            Ok(mut text) => {
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                print_report(&text)
            }
            Err(err) => {
                eprint!("{}", format_exception(py, &err));
                EXIT_FAILURE
            }
        }
    });
    if owns {
        interpreter::finish();
    }
    code
}

/// The dataflow API's JSON, with substeps below `depth` left out.
fn json(py: Python<'_>, flow: &Bound<'_, PyAny>, depth: Option<usize>) -> PyResult<String> {
    let text: String = py
        .import("bytewax._encoder")?
        .getattr("to_json")?
        .call1((flow,))?
        .extract()?;
    let Some(depth) = depth else { return Ok(text) };
    let json = py.import("json")?;
    let tree = json.call_method1("loads", (text,))?;
    prune(&tree, depth)?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("indent", 2)?;
    json.call_method("dumps", (tree,), Some(&kwargs))?.extract()
}

fn prune(node: &Bound<'_, PyAny>, depth: usize) -> PyResult<()> {
    let subs = node.get_item("substeps")?;
    if depth == 0 {
        subs.call_method0("clear")?;
        return Ok(());
    }
    for sub in subs.try_iter()? {
        prune(&sub?, depth - 1)?;
    }
    Ok(())
}
