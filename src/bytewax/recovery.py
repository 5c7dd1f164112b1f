"""Recovering a dataflow's state after it stops.

Without recovery, a flow that stops (crash, deploy, Ctrl-C) starts from
scratch when run again. With recovery, the flow regularly writes
snapshots of its state to a *recovery store*, so that the next run picks
up from the last complete snapshot instead.

What gets snapshotted: the position of every partition of a
`bytewax.inputs.FixedPartitionedSource` (e.g. a file offset), the state
of every stateful operator per key, and the position of every partition
of a `bytewax.outputs.FixedPartitionedSink`. Snapshots are taken at the
end of each *epoch*; the epoch length is the snapshot interval
(`-s/--snapshot-interval` on the command line, `epoch_interval` in
Python).

The recovery store is a directory of SQLite files, the *partitions*.
Create it once, before the first run, with

    bytewax init-db DIR PART_COUNT

(or `python -m bytewax.recovery DIR PART_COUNT`, or `init_db_dir`), then
run the flow with `-r DIR` plus the snapshot and backup intervals, or
pass a `RecoveryConfig` to `bytewax.testing.run_main` and friends. The
number of partitions only spreads the writing; it need not match the
number of workers, and the worker count may change between runs.

On resume, every input is rewound to the last epoch all workers
completed and replays from there, so items after that point are
processed again: output is *at least once*. Sinks that truncate to their
snapshot (like `bytewax.connectors.files.FileSink`) get exactly-once
files. Design the rest of your outputs to tolerate replays.

A store belongs to one dataflow: don't share it between flows, and
delete it if the flow's steps change in incompatible ways. Step ids name
the state in the store, so renaming a step loses its state.

`backup_interval` keeps snapshots around for that long after they are
superseded, so that partition files backed up separately (and so at
slightly different times) can still agree on a common resume point.
Snapshots are serialized with `RecoveryConfig.snapshot_serde`
(`bytewax.serde.JsonPickleSerde` by default).

"""

from bytewax.bytewax import (
    InconsistentPartitionsError,
    MissingPartitionsError,
    NoPartitionsError,
    RecoveryConfig,
    init_db_dir,
)

__all__ = [
    "InconsistentPartitionsError",
    "MissingPartitionsError",
    "NoPartitionsError",
    "RecoveryConfig",
    "init_db_dir",
]

if __name__ == "__main__":
    import sys

    from bytewax.bytewax import _main

    sys.exit(_main(["bytewax", "init-db", *sys.argv[1:]]))
