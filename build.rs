//! Build script: links libpython with an rpath, records which interpreter
//! the binary was built against, and embeds the `bytewax` Python package.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    // Without an rpath the binary may load another libpython found on the
    // system (with a different standard library) instead of the one pyo3
    // was configured for.
    pyo3_build_config::add_libpython_rpath_link_args();

    let config = pyo3_build_config::get();
    if let Some(exe) = config.executable() {
        println!("cargo:rustc-env=BYTEWAX_BUILD_PYTHON={exe}");
    }
    println!(
        "cargo:rustc-env=BYTEWAX_PYTHON_VERSION={}.{}",
        config.version().major,
        config.version().minor
    );

    embed_python_package();
}

/// Writes `$OUT_DIR/embedded_python.rs`: one `EmbeddedModule` per `.py`
/// file under `src/bytewax`, sorted by module name.
fn embed_python_package() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("src");
    let package = root.join("bytewax");
    println!("cargo:rerun-if-changed={}", package.display());

    let mut files = Vec::new();
    collect_py_files(&package, &mut files);
    files.sort();

    let mut modules: Vec<(String, bool, PathBuf)> = files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap();
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let is_package = parts.last().map(String::as_str) == Some("__init__");
            if is_package {
                parts.pop();
            }
            (parts.join("."), is_package, path)
        })
        .collect();
    modules.sort_by(|a, b| a.0.cmp(&b.0));

    let mut out = String::from("&[\n");
    for (name, is_package, path) in &modules {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            out,
            "    EmbeddedModule {{ name: {name:?}, path: {rel:?}, is_package: {is_package}, source: include_str!({:?}) }},",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push(']');

    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_python.rs");
    std::fs::write(dest, out).unwrap();
}

fn collect_py_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                println!("cargo:rerun-if-changed={}", path.display());
                collect_py_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "py") {
            println!("cargo:rerun-if-changed={}", path.display());
            out.push(path);
        }
    }
}
