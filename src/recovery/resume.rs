//! Where a run resumes: from what every partition says about itself,
//! computed identically on every worker.

use std::collections::BTreeSet;

use super::store::PartitionInfo;
use crate::runtime::epochs::Epoch;

/// The outcome of reading the partitions: which execution this is and the
/// epoch it starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumeFrom {
    pub ex_num: u64,
    pub resume_epoch: Epoch,
    pub part_count: u64,
}

/// Why the partitions cannot be resumed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResumeError {
    /// No partition anywhere.
    NoPartitions,
    /// Some partition indices are missing.
    Missing { missing: Vec<u64>, count: u64 },
    /// Partitions disagree with each other (counts, duplicates, or some
    /// were collected past the resume point).
    Inconsistent(String),
}

impl std::fmt::Display for ResumeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResumeError::NoPartitions => write!(
                f,
                "no recovery partitions found; create them with `bytewax init-db DIR COUNT` \
                 (or `bytewax.recovery.init_db_dir`) before running with recovery"
            ),
            ResumeError::Missing { missing, count } => {
                let list: Vec<String> = missing.iter().map(u64::to_string).collect();
                write!(
                    f,
                    "recovery partitions {} of {count} are missing; restore them from a backup, or start \
                     over with a new directory made by `bytewax init-db`",
                    list.join(", ")
                )
            }
            ResumeError::Inconsistent(why) => f.write_str(why),
        }
    }
}

/// Computes the resume point: the newest epoch every partition holds all
/// its snapshots for, plus one.
///
/// ```
/// use bytewax::recovery::resume::{resume_from, ResumeError};
/// use bytewax::recovery::store::PartitionInfo;
///
/// let part = |index, wt, commit| PartitionInfo {
///     index, count: 2, written_through: wt, commit_epoch: commit, last_execution: Some(0),
/// };
/// let r = resume_from(&[part(0, 7, 3), part(1, 6, 3)]).unwrap();
/// assert_eq!((r.ex_num, r.resume_epoch), (1, 7));
/// // A partition collected past the resume point cannot be used.
/// assert!(matches!(resume_from(&[part(0, 7, 7), part(1, 5, 5)]), Err(ResumeError::Inconsistent(_))));
/// assert_eq!(resume_from(&[part(1, 5, 0)]), Err(ResumeError::Missing { missing: vec![0], count: 2 }));
/// assert_eq!(resume_from(&[]), Err(ResumeError::NoPartitions));
/// ```
pub fn resume_from(infos: &[PartitionInfo]) -> Result<ResumeFrom, ResumeError> {
    if infos.is_empty() {
        return Err(ResumeError::NoPartitions);
    }
    let counts: BTreeSet<u64> = infos.iter().map(|p| p.count).collect();
    if counts.len() > 1 {
        let list: Vec<String> = counts.iter().map(u64::to_string).collect();
        return Err(ResumeError::Inconsistent(format!(
            "recovery partitions disagree on how many partitions there are ({}); they come from \
             different `init-db` runs and cannot be mixed",
            list.join(" vs ")
        )));
    }
    let count = *counts.first().expect("not empty");
    let present: BTreeSet<u64> = infos.iter().map(|p| p.index).collect();
    let missing: Vec<u64> = (0..count).filter(|i| !present.contains(i)).collect();
    if !missing.is_empty() {
        return Err(ResumeError::Missing { missing, count });
    }
    let resume_epoch = infos
        .iter()
        .map(|p| p.written_through)
        .min()
        .expect("not empty")
        + 1;
    let too_old: Vec<String> = infos
        .iter()
        .filter(|p| p.commit_epoch > resume_epoch - 1)
        .map(|p| p.index.to_string())
        .collect();
    if !too_old.is_empty() {
        return Err(ResumeError::Inconsistent(format!(
            "recovery partitions {} have dropped snapshots older than epoch {}, but the other partitions \
             only reach epoch {}; resuming would lose data. Restore the lagging partitions from a newer \
             backup (or all of them from one backup)",
            too_old.join(", "),
            infos.iter().map(|p| p.commit_epoch).max().unwrap_or(0),
            resume_epoch - 1
        )));
    }
    let ex_num = infos
        .iter()
        .filter_map(|p| p.last_execution)
        .max()
        .map_or(0, |x| x + 1);
    Ok(ResumeFrom {
        ex_num,
        resume_epoch,
        part_count: count,
    })
}
