//! The `bytewax` executable: everything lives in the library; this only
//! hands over the process.

fn main() {
    std::process::exit(bytewax::cli::main());
}
