//! `bytewax recovery inspect DIR`: what a recovery directory holds and
//! what the next run would do with it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::resume::resume_from;
use super::store::{partition_files, Partition};

/// A readable report of `dir`. Errors only when the directory cannot be
/// read at all; problems with partitions are part of the report.
pub fn inspect(dir: &Path) -> Result<String, String> {
    if !dir.is_dir() {
        return Err(format!("`{}` is not a directory", dir.display()));
    }
    let files = partition_files(dir).map_err(|e| e.to_string())?;
    let mut out = String::new();
    writeln!(out, "Recovery directory: {}", dir.display()).unwrap();
    let mut infos = Vec::new();
    let mut executions = BTreeMap::new();
    let mut steps: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut lines = Vec::new();
    // Partition index -> the first file that claimed it; a second claim is
    // what `run` refuses to start with.
    let mut claimed: BTreeMap<u64, String> = BTreeMap::new();
    let mut copies = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let opened =
            Partition::open(path).and_then(|p| Ok((p.info()?, p.executions()?, p.step_counts()?)));
        match opened {
            Ok((info, exs, counts)) => {
                let rows: u64 = counts.iter().map(|(_, r, _)| r).sum();
                lines.push(format!(
                    "  partition {} of {}  {name}  complete through epoch {}, collected below {}, {rows} snapshot rows",
                    info.index, info.count, info.written_through, info.commit_epoch
                ));
                if let Some(first) = claimed.get(&info.index) {
                    copies.push(format!(
                        "`{first}` and `{name}` are both recovery partition {}; remove the copy",
                        info.index
                    ));
                } else {
                    claimed.insert(info.index, name.clone());
                }
                for ex in exs {
                    executions.insert(ex.ex_num, ex);
                }
                for (step, r, keys) in counts {
                    let entry = steps.entry(step).or_default();
                    entry.0 += r;
                    entry.1 += keys;
                }
                infos.push(info);
            }
            Err(err) => lines.push(format!("  {name}: unusable: {err}")),
        }
    }
    writeln!(out, "Partitions: {} file(s)", files.len()).unwrap();
    for line in lines {
        writeln!(out, "{line}").unwrap();
    }
    writeln!(out, "Executions:").unwrap();
    if executions.is_empty() {
        writeln!(out, "  none yet").unwrap();
    }
    for ex in executions.values() {
        writeln!(
            out,
            "  #{}  started {}  {} worker(s)  resumed at epoch {}",
            ex.ex_num, ex.started_at, ex.worker_count, ex.resume_epoch
        )
        .unwrap();
    }
    writeln!(out, "Snapshots by step (rows, live keys):").unwrap();
    if steps.is_empty() {
        writeln!(out, "  none").unwrap();
    }
    for (step, (rows, keys)) in &steps {
        writeln!(out, "  {step}  {rows} rows, {keys} keys").unwrap();
    }
    let unusable = files.len() - infos.len();
    if unusable > 0 {
        writeln!(
            out,
            "Next run: cannot start: {unusable} file(s) above are not usable recovery partitions; move them out of the directory"
        )
        .unwrap();
        return Ok(out);
    }
    if let Some(copy) = copies.first() {
        writeln!(out, "Next run: cannot start: {copy}").unwrap();
        return Ok(out);
    }
    match resume_from(&infos) {
        Ok(r) => writeln!(
            out,
            "Next run: execution #{} resumes at epoch {} over {} partition(s)",
            r.ex_num, r.resume_epoch, r.part_count
        ),
        Err(err) => writeln!(out, "Next run: cannot resume: {err}"),
    }
    .unwrap();
    Ok(out)
}
