//! Build script: links libpython with an rpath, records which interpreter
//! the binary was built against, and embeds the `bytewax` Python package
//! (sources, plus their bytecode when the build interpreter can make it).

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

    embed_python_package(config.executable());
}

/// Writes `$OUT_DIR/embedded_python.rs`: one `EmbeddedModule` per `.py`
/// file under `src/bytewax`, sorted by module name.
fn embed_python_package(python: Option<&str>) {
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

    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let rels: Vec<String> = modules
        .iter()
        .map(|(_, _, path)| {
            path.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let compiled = python.is_some_and(|python| compile_bytecode(python, &root, &rels, &out_dir));

    let mut out = String::from("&[\n");
    for ((name, is_package, path), rel) in modules.iter().zip(&rels) {
        let code = if compiled {
            let pyc = out_dir.join("pyc").join(rel).with_extension("bin");
            format!("include_bytes!({:?})", pyc.display().to_string())
        } else {
            "&[]".to_string()
        };
        writeln!(
            out,
            "    EmbeddedModule {{ name: {name:?}, path: {rel:?}, is_package: {is_package}, source: include_str!({:?}), code: {code} }},",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push(']');
    std::fs::write(out_dir.join("embedded_python.rs"), out).unwrap();

    let magic = std::fs::read(out_dir.join("pyc").join("MAGIC")).unwrap_or_default();
    std::fs::write(out_dir.join("embedded_magic.rs"), format!("&{magic:?}")).unwrap();
}

/// Compiling the package on every start costs ~20 ms of each run's
/// start-up, so the build interpreter compiles it once here (marshalled
/// code objects, tagged with the interpreter's magic number so that a
/// binary started against another CPython falls back to the sources).
/// Returns false, and the binary compiles at run time, when that fails.
fn compile_bytecode(python: &str, root: &Path, rels: &[String], out_dir: &Path) -> bool {
    const SCRIPT: &str = r#"
import importlib.util, marshal, os, sys
root, out = sys.argv[1], sys.argv[2]
for rel in sys.argv[3:]:
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        source = f.read()
    code = compile(source, "<embedded>/" + rel, "exec", dont_inherit=True, optimize=0)
    dest = os.path.join(out, rel[:-3] + ".bin")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with open(dest, "wb") as f:
        f.write(marshal.dumps(code))
with open(os.path.join(out, "MAGIC"), "wb") as f:
    f.write(importlib.util.MAGIC_NUMBER)
"#;
    let status = std::process::Command::new(python)
        .arg("-I")
        .arg("-c")
        .arg(SCRIPT)
        .arg(root)
        .arg(out_dir.join("pyc"))
        .args(rels)
        .status();
    match status {
        Ok(s) if s.success() => true,
        other => {
            println!(
                "cargo:warning=could not precompile the embedded Python package with {python} ({other:?}); it will be compiled at start-up"
            );
            let _ = std::fs::remove_file(out_dir.join("pyc").join("MAGIC"));
            false
        }
    }
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
