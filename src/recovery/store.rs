//! One recovery partition: an SQLite file holding snapshots of state keyed
//! by `(step id, state key, epoch)`, the executions that wrote them, and
//! how far the partition is known complete.
//!
//! A partition is recognised by its content (SQLite `application_id` and a
//! `partition` row), not its file name. Every write is one transaction, in
//! WAL mode with full sync, so a crash never leaves a partition half
//! written.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::runtime::epochs::{Epoch, Snapshot};

/// `BWAX` in ASCII: marks SQLite files that are recovery partitions.
const APPLICATION_ID: i64 = 0x4257_4158;
/// Version of the schema below.
const FORMAT: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE partition (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    format INTEGER NOT NULL,
    part_index INTEGER NOT NULL CHECK (part_index >= 0),
    part_count INTEGER NOT NULL CHECK (part_count > 0 AND part_index < part_count),
    created_at TEXT NOT NULL,
    -- every snapshot of this partition up to this epoch is here
    written_through INTEGER NOT NULL DEFAULT 0,
    -- older versions below this epoch have been collected
    commit_epoch INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE executions (
    ex_num INTEGER PRIMARY KEY,
    resume_epoch INTEGER NOT NULL,
    worker_count INTEGER NOT NULL,
    started_at TEXT NOT NULL
) STRICT;
CREATE TABLE serdes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;
CREATE TABLE snapshots (
    step_id TEXT NOT NULL,
    state_key TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    serde INTEGER REFERENCES serdes (id),
    -- NULL: the key's state was discarded
    state TEXT,
    PRIMARY KEY (step_id, state_key, epoch)
) STRICT, WITHOUT ROWID;
CREATE INDEX snapshots_by_epoch ON snapshots (epoch);
";

/// Why a partition could not be used.
#[derive(Debug)]
pub enum StoreError {
    /// The file is not a recovery partition (or is damaged).
    NotAPartition {
        path: PathBuf,
        why: String,
    },
    /// SQLite failed while using a partition.
    Sqlite {
        path: PathBuf,
        err: rusqlite::Error,
    },
    Io {
        path: PathBuf,
        err: std::io::Error,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotAPartition { path, why } => {
                write!(
                    f,
                    "`{}` is not a recovery partition ({why})",
                    path.display()
                )
            }
            StoreError::Sqlite { path, err } => {
                write!(f, "recovery partition `{}`: {err}", path.display())
            }
            StoreError::Io { path, err } => write!(f, "`{}`: {err}", path.display()),
        }
    }
}

impl std::error::Error for StoreError {}

/// What a partition says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, PartialOrd, Ord)]
pub struct PartitionInfo {
    pub index: u64,
    pub count: u64,
    pub written_through: Epoch,
    pub commit_epoch: Epoch,
    /// The newest execution recorded here.
    pub last_execution: Option<u64>,
}

/// An executed run, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub ex_num: u64,
    pub resume_epoch: Epoch,
    pub worker_count: u64,
    pub started_at: String,
}

/// A loaded snapshot: the newest state of a key before the resume epoch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, PartialOrd, Ord)]
pub struct LoadedState {
    pub step_id: String,
    pub key: String,
    pub epoch: Epoch,
    /// The serde that wrote it (`module.Class`), if recorded.
    pub serde: Option<String>,
    pub state: String,
}

/// An open recovery partition.
pub struct Partition {
    pub path: PathBuf,
    conn: Connection,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Partition {
    /// Creates a new, empty partition file at `path` (which must not
    /// exist).
    pub fn create(path: &Path, index: u64, count: u64) -> Result<(), StoreError> {
        let sql = |err| StoreError::Sqlite {
            path: path.to_path_buf(),
            err,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(SCHEMA).map_err(sql)?;
        tx.execute(
            "INSERT INTO partition (id, format, part_index, part_count, created_at) VALUES (0, ?1, ?2, ?3, ?4)",
            params![FORMAT, index as i64, count as i64, now_text()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        // Fold the WAL back so the new file stands alone.
        conn.pragma_update(None, "journal_mode", "DELETE")
            .map_err(sql)?;
        Ok(())
    }

    /// Opens an existing partition, checking it is one. Opening never
    /// changes the file.
    pub fn open(path: &Path) -> Result<Partition, StoreError> {
        let sql = |err| StoreError::Sqlite {
            path: path.to_path_buf(),
            err,
        };
        let not_partition = |why: String| StoreError::NotAPartition {
            path: path.to_path_buf(),
            why,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        let app: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(|e| not_partition(format!("cannot read it as SQLite: {e}")))?;
        if app != APPLICATION_ID {
            return Err(not_partition(
                "it was not created by `bytewax init-db`".into(),
            ));
        }
        let format: i64 = conn
            .query_row("SELECT format FROM partition WHERE id = 0", [], |r| {
                r.get(0)
            })
            .map_err(|e| not_partition(format!("its partition record is unreadable: {e}")))?;
        if format != FORMAT {
            return Err(not_partition(format!(
                "it has format {format}; this bytewax reads format {FORMAT}"
            )));
        }
        Ok(Partition {
            path: path.to_path_buf(),
            conn,
        })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |err| StoreError::Sqlite {
            path: self.path.clone(),
            err,
        }
    }

    pub fn info(&self) -> Result<PartitionInfo, StoreError> {
        let (index, count, wt, commit): (i64, i64, i64, i64) = self
            .conn
            .query_row(
                "SELECT part_index, part_count, written_through, commit_epoch FROM partition WHERE id = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.sql())?;
        let last: Option<i64> = self
            .conn
            .query_row("SELECT MAX(ex_num) FROM executions", [], |r| r.get(0))
            .map_err(self.sql())?;
        Ok(PartitionInfo {
            index: index as u64,
            count: count as u64,
            written_through: wt as Epoch,
            commit_epoch: commit as Epoch,
            last_execution: last.map(|x| x as u64),
        })
    }

    pub fn executions(&self) -> Result<Vec<Execution>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT ex_num, resume_epoch, worker_count, started_at FROM executions ORDER BY ex_num")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Execution {
                    ex_num: r.get::<_, i64>(0)? as u64,
                    resume_epoch: r.get::<_, i64>(1)? as Epoch,
                    worker_count: r.get::<_, i64>(2)? as u64,
                    started_at: r.get(3)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Snapshot rows per step: `(step id, rows, live keys)`, for
    /// inspection.
    pub fn step_counts(&self) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step_id, COUNT(*), COUNT(DISTINCT state_key) FROM snapshots GROUP BY step_id ORDER BY step_id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// The newest state of every key with a snapshot before `resume_epoch`
    /// (discarded keys left out).
    pub fn load(&self, resume_epoch: Epoch) -> Result<Vec<LoadedState>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.step_id, s.state_key, s.epoch, d.name, s.state
                 FROM snapshots s LEFT JOIN serdes d ON d.id = s.serde
                 WHERE s.epoch = (SELECT MAX(t.epoch) FROM snapshots t
                                  WHERE t.step_id = s.step_id AND t.state_key = s.state_key AND t.epoch < ?1)
                   AND s.state IS NOT NULL",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([resume_epoch as i64], |r| {
                Ok(LoadedState {
                    step_id: r.get(0)?,
                    key: r.get(1)?,
                    epoch: r.get::<_, i64>(2)? as Epoch,
                    serde: r.get(3)?,
                    state: r.get(4)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Records a new execution resuming at `resume_epoch`, and forgets what
    /// an abandoned execution wrote at or after it.
    pub fn begin_execution(
        &mut self,
        ex_num: u64,
        resume_epoch: Epoch,
        worker_count: u64,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |err| StoreError::Sqlite {
            path: path.clone(),
            err,
        };
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(&sql)?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(&sql)?;
        let tx = self.conn.transaction().map_err(&sql)?;
        tx.execute(
            "DELETE FROM snapshots WHERE epoch >= ?1",
            [resume_epoch as i64],
        )
        .map_err(&sql)?;
        tx.execute(
            "UPDATE partition SET written_through = MIN(written_through, ?1) WHERE id = 0",
            [resume_epoch.saturating_sub(1) as i64],
        )
        .map_err(&sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO executions (ex_num, resume_epoch, worker_count, started_at) VALUES (?1, ?2, ?3, ?4)",
            params![ex_num as i64, resume_epoch as i64, worker_count as i64, now_text()],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    /// Writes snapshots and marks the partition complete through
    /// `written_through`, in one transaction.
    pub fn write(
        &mut self,
        snaps: &[Snapshot],
        serde: &str,
        written_through: Epoch,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |err| StoreError::Sqlite {
            path: path.clone(),
            err,
        };
        let tx = self.conn.transaction().map_err(&sql)?;
        if !snaps.is_empty() {
            tx.execute("INSERT OR IGNORE INTO serdes (name) VALUES (?1)", [serde])
                .map_err(&sql)?;
            let serde_id: i64 = tx
                .query_row("SELECT id FROM serdes WHERE name = ?1", [serde], |r| {
                    r.get(0)
                })
                .map_err(&sql)?;
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO snapshots (step_id, state_key, epoch, serde, state) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (step_id, state_key, epoch) DO UPDATE SET serde = excluded.serde, state = excluded.state",
                )
                .map_err(&sql)?;
            for snap in snaps {
                stmt.execute(params![
                    snap.step_id,
                    snap.key,
                    snap.epoch as i64,
                    serde_id,
                    snap.state
                ])
                .map_err(&sql)?;
            }
        }
        tx.execute(
            "UPDATE partition SET written_through = ?1 WHERE id = 0",
            [written_through as i64],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    /// Collects versions no resume can need: for every key written since
    /// the last collection, all but the newest version at or below
    /// `commit` (and that one too if it is a discard).
    pub fn collect(&mut self, commit: Epoch) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |err| StoreError::Sqlite {
            path: path.clone(),
            err,
        };
        let tx = self.conn.transaction().map_err(&sql)?;
        let previous: i64 = tx
            .query_row("SELECT commit_epoch FROM partition WHERE id = 0", [], |r| {
                r.get(0)
            })
            .map_err(&sql)?;
        if commit as i64 <= previous {
            return Ok(());
        }
        let latest: Vec<(String, String, i64, bool)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT s.step_id, s.state_key, s.epoch, s.state IS NULL FROM snapshots s
                     WHERE s.epoch = (SELECT MAX(t.epoch) FROM snapshots t
                                      WHERE t.step_id = s.step_id AND t.state_key = s.state_key AND t.epoch <= ?2)
                       AND s.epoch > ?1",
                )
                .map_err(&sql)?;
            let rows = stmt
                .query_map(params![previous, commit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .map_err(&sql)?;
            rows.collect::<Result<_, _>>().map_err(&sql)?
        };
        {
            let mut older = tx
                .prepare_cached(
                    "DELETE FROM snapshots WHERE step_id = ?1 AND state_key = ?2 AND epoch < ?3",
                )
                .map_err(&sql)?;
            let mut gone = tx
                .prepare_cached(
                    "DELETE FROM snapshots WHERE step_id = ?1 AND state_key = ?2 AND epoch = ?3",
                )
                .map_err(&sql)?;
            for (step, key, epoch, discarded) in &latest {
                older.execute(params![step, key, epoch]).map_err(&sql)?;
                if *discarded {
                    gone.execute(params![step, key, epoch]).map_err(&sql)?;
                }
            }
        }
        tx.execute(
            "UPDATE partition SET commit_epoch = ?1 WHERE id = 0",
            [commit as i64],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    /// Snapshot row of one key at one epoch (tests and inspection).
    pub fn state_at(
        &self,
        step_id: &str,
        key: &str,
        epoch: Epoch,
    ) -> Result<Option<Option<String>>, StoreError> {
        self.conn
            .query_row(
                "SELECT state FROM snapshots WHERE step_id = ?1 AND state_key = ?2 AND epoch = ?3",
                params![step_id, key, epoch as i64],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())
    }
}

/// The partition files of a recovery directory: every `*.sqlite3` file,
/// sorted by name.
pub fn partition_files(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|err| StoreError::Io {
        path: dir.to_path_buf(),
        err,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite3") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// The file name `init-db` gives partition `index`.
pub fn partition_file_name(index: u64) -> String {
    format!("part-{index}.sqlite3")
}
