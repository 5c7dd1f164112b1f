//! Everything that touches the embedded CPython before a flow runs:
//! starting the interpreter (and virtualenv), serving the embedded
//! `bytewax` package and the native `bytewax.bytewax` module, and resolving
//! import strings to a `Dataflow`.

pub mod embedded;
pub mod errors;
pub mod import_str;
pub mod interpreter;
pub mod native;
pub mod time;
