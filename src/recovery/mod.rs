//! Recovery: snapshots in SQLite partitions, and resuming from them.
