//! Differential tests: every `tests/flows/<name>.py` that has a recorded
//! `tests/flows/expected/<name>.out` (what Bytewax 0.18.2 printed) is run
//! with `-w 1`, `-w 2` and `-w 4` from `tests/flows`, and its stdout must
//! hold the same lines as the recording, in any order (see
//! `tests/flows/MANIFEST.md`). One test per worker count; each reports every
//! mismatching flow at once. Where the project deliberately differs from
//! Bytewax 0.18.2, `expected/<name>.ours.out` holds our expected output and
//! is used instead (see the manifest).

mod common;

use std::path::PathBuf;

use common::{bytewax, flows_dir, lines, multiset_diff, PANIC_MARKERS};

/// Name prefixes of flows that are not run yet, with the reason. Add an
/// entry while a feature is being built; none are pending now.
const PENDING: &[(&str, &str)] = &[];

/// Every flow with a recording, sorted by name, minus the pending ones
/// (which are announced on stderr).
fn fixture_flows() -> Vec<String> {
    let dir = flows_dir();
    let mut names = Vec::new();
    let mut skipped = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/flows exists") {
        let path = entry.expect("readable dir entry").path();
        if path.extension().is_none_or(|e| e != "py") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !expected_path(&name).is_file() {
            continue;
        }
        match PENDING.iter().find(|(prefix, _)| name.starts_with(prefix)) {
            Some((prefix, why)) => skipped.push(format!("{name} ({prefix}*: {why})")),
            None => names.push(name),
        }
    }
    names.sort();
    skipped.sort();
    if !skipped.is_empty() {
        eprintln!(
            "skipping {} flows whose feature is pending (edit PENDING in tests/flows_fixtures.rs to run them): {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    assert!(
        !names.is_empty(),
        "no flows with recordings found in {}",
        dir.display()
    );
    names
}

fn expected_path(name: &str) -> PathBuf {
    flows_dir().join("expected").join(format!("{name}.out"))
}

/// Our expected output: a deliberate difference if there is one, else the
/// reference's recording.
fn expected_lines(name: &str) -> Vec<String> {
    let ours = flows_dir()
        .join("expected")
        .join(format!("{name}.ours.out"));
    let path = if ours.is_file() {
        ours
    } else {
        expected_path(name)
    };
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read expected/{name}.out: {e}"));
    lines(&text)
}

/// Runs every fixture flow with `-w workers`; returns one message per
/// failing flow.
fn failures_with_workers(workers: u32) -> Vec<String> {
    let mut failures = Vec::new();
    for name in fixture_flows() {
        let out = bytewax([
            "run",
            &format!("{name}.py:flow"),
            "-w",
            &workers.to_string(),
        ])
        .cwd(flows_dir())
        .run();
        if out.code != Some(0) {
            failures.push(format!(
                "== {name}: exit code {:?}\n{}",
                out.code,
                out.report()
            ));
            continue;
        }
        if let Some(marker) = PANIC_MARKERS.iter().find(|m| out.stderr.contains(*m)) {
            failures.push(format!("== {name}: `{marker}` on stderr\n{}", out.report()));
            continue;
        }
        if let Some(diff) = multiset_diff(&lines(&out.stdout), &expected_lines(&name)) {
            failures.push(format!("== {name}:\n{diff}--- stderr ---\n{}", out.stderr));
        }
    }
    failures
}

fn check_workers(workers: u32) {
    let failures = failures_with_workers(workers);
    assert!(
        failures.is_empty(),
        "{} flow(s) differ from their recording with -w {workers}:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn fixtures_match_reference_w1() {
    check_workers(1);
}

#[test]
fn fixtures_match_reference_w2() {
    check_workers(2);
}

#[test]
fn fixtures_match_reference_w4() {
    check_workers(4);
}

/// Flows the manifest marks `order: exact` must also match line for line
/// with one worker.
#[test]
fn exact_order_flows_match_line_for_line_w1() {
    let manifest = std::fs::read_to_string(flows_dir().join("MANIFEST.md")).expect("MANIFEST.md");
    let runnable = fixture_flows();
    let exact: Vec<String> = manifest
        .lines()
        .filter(|l| l.starts_with("- `") && l.trim_end().ends_with("order: exact"))
        .filter_map(|l| l[3..].split('`').next().map(str::to_string))
        .filter(|name| runnable.contains(name))
        .collect();
    assert!(
        exact.len() >= 5,
        "expected several `order: exact` flows in MANIFEST.md, found {exact:?}"
    );
    let mut failures = Vec::new();
    for name in &exact {
        let out = bytewax(["run", &format!("{name}.py:flow"), "-w", "1"])
            .cwd(flows_dir())
            .run();
        let got = lines(&out.stdout);
        let want = expected_lines(name);
        if out.code != Some(0) || got != want {
            failures.push(format!(
                "== {name}: expected (in order):\n{}\n-- got:\n{}\n-- exit code {:?}, stderr:\n{}",
                want.join("\n"),
                got.join("\n"),
                out.code,
                out.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "`order: exact` flows printed in a different order with -w 1:\n{}",
        failures.join("\n")
    );
}
