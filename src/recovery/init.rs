//! Creating a recovery directory: `bytewax init-db DIR COUNT` and
//! `bytewax.recovery.init_db_dir`.

use std::path::Path;

use super::store::{partition_file_name, partition_files, Partition, StoreError};

/// Why partitions could not be created; nothing was changed.
#[derive(Debug)]
pub enum InitError {
    ZeroCount,
    NotADirectory(String),
    AlreadyInitialised { dir: String, files: Vec<String> },
    Store(StoreError),
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::ZeroCount => write!(f, "the partition count must be at least 1"),
            InitError::NotADirectory(dir) => write!(f, "`{dir}` exists and is not a directory"),
            InitError::AlreadyInitialised { dir, files } => write!(
                f,
                "`{dir}` already holds recovery partitions ({}); refusing to overwrite them. \
                 Use an empty directory, or delete these files to start over",
                files.join(", ")
            ),
            InitError::Store(err) => write!(f, "{err}"),
        }
    }
}

/// Creates `count` empty partitions in `dir`, creating `dir` if needed.
/// Refuses if `dir` already holds partition files.
///
/// All or nothing: every partition is made under a hidden temporary name
/// first (the slow part: about 6 ms each), and only then are they all
/// renamed into place. An interrupted `init-db` leaves only temporary
/// files, which the next one removes, instead of some partitions that it
/// would refuse to overwrite.
pub fn init_db_dir(dir: &Path, count: u64) -> Result<(), InitError> {
    if count == 0 {
        return Err(InitError::ZeroCount);
    }
    if dir.exists() && !dir.is_dir() {
        return Err(InitError::NotADirectory(dir.display().to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|err| {
        InitError::Store(StoreError::Io {
            path: dir.to_path_buf(),
            err,
        })
    })?;
    let existing = partition_files(dir).map_err(InitError::Store)?;
    if !existing.is_empty() {
        let files = existing
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        return Err(InitError::AlreadyInitialised {
            dir: dir.display().to_string(),
            files,
        });
    }
    remove_leftovers(dir);
    let mut made = Vec::new();
    for index in 0..count {
        let name = partition_file_name(index);
        let tmp = dir.join(format!(".{name}.tmp"));
        if let Err(err) = Partition::create(&tmp, index, count) {
            for (tmp, _) in &made {
                let _ = std::fs::remove_file(tmp);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(InitError::Store(err));
        }
        made.push((tmp, dir.join(name)));
    }
    for (tmp, path) in made {
        std::fs::rename(&tmp, &path)
            .map_err(|err| InitError::Store(StoreError::Io { path, err }))?;
    }
    tracing::info!(dir = %dir.display(), count, "created recovery partitions");
    Ok(())
}

/// Removes the temporary partitions an interrupted `init-db` left behind.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // With any SQLite side file (`-journal`, `-wal`) of one.
        if name.starts_with(".part-") && name.contains(".sqlite3.tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
