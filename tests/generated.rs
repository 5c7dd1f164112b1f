//! The shell completions in `completions/` and the man pages in `man/`
//! must match the command line. Regenerate them with
//! `BYTEWAX_UPDATE_GENERATED=1 cargo test --test generated`.

use std::path::Path;

use bytewax::cli::generated::{completion_files, man_pages};

fn check(dir: &str, files: Vec<(String, String)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let update = std::env::var_os("BYTEWAX_UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (name, content) in files {
        let path = root.join(&name);
        if update {
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "{dir}/ is out of date with the CLI ({}); run `BYTEWAX_UPDATE_GENERATED=1 cargo test --test generated`",
        stale.join(", ")
    );
}

#[test]
fn completions_are_up_to_date() {
    check("completions", completion_files());
}

#[test]
fn man_pages_are_up_to_date() {
    check("man", man_pages());
}

#[test]
fn completions_command_prints_the_same_script() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bytewax"))
        .args(["completions", "zsh"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = completion_files()
        .into_iter()
        .find(|(n, _)| n == "_bytewax")
        .unwrap()
        .1;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
}
