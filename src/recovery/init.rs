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
/// Refuses if `dir` already holds partition files. Each file is created
/// under a temporary name and renamed into place when complete.
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
    for index in 0..count {
        let name = partition_file_name(index);
        let tmp = dir.join(format!(".{name}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        Partition::create(&tmp, index, count).map_err(InitError::Store)?;
        std::fs::rename(&tmp, dir.join(&name)).map_err(|err| {
            InitError::Store(StoreError::Io {
                path: dir.join(&name),
                err,
            })
        })?;
    }
    tracing::info!(dir = %dir.display(), count, "created recovery partitions");
    Ok(())
}
