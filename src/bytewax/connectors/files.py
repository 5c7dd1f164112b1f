"""Sources and sinks for local text and CSV files.

All of them resume exactly after recovery: sources remember the byte
offset they had read up to and seek back to it; sinks remember how much
they had written and truncate the file back to that length before
writing again, so a replayed epoch doesn't duplicate lines.

Source partitions are named `"{fs_id}::{path}"`, where the file system
id (by default the device number of the containing directory) tells
apart files with the same path on different machines; a worker only
lists the files it can see.

>>> import tempfile
>>> from pathlib import Path
>>> import bytewax.operators as op
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import run_main
>>> tmp = Path(tempfile.mkdtemp())
>>> _ = (tmp / "in.txt").write_text("one\\ntwo\\n")
>>> flow = Dataflow("files_eg")
>>> lines = op.input("inp", flow, FileSource(tmp / "in.txt"))
>>> upper = op.map("upper", lines, str.upper)
>>> keyed = op.key_on("key", upper, lambda _line: "all")
>>> op.output("out", keyed, FileSink(tmp / "out.txt"))
>>> run_main(flow)
>>> (tmp / "out.txt").read_text()
'ONE\\nTWO\\n'
>>> import shutil
>>> shutil.rmtree(tmp)

"""

import csv
import os
import zlib
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

from bytewax.inputs import (  # noqa: F401  (`batch` importable from here, as in 0.18)
    FixedPartitionedSource,
    StatefulSourcePartition,
    batch,
)
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

__all__ = [
    "CSVSource",
    "DirSink",
    "DirSource",
    "FileSink",
    "FileSource",
]


def _get_path_dev(path: Path) -> str:
    return hex(path.stat().st_dev)


def _fs_id(get_fs_id: Callable[[Path], str], path: Path) -> str:
    fs_id = get_fs_id(path)
    if "::" in fs_id:
        msg = f"file system ID {fs_id!r} of {path} can't contain `::`"
        raise ValueError(msg)
    return fs_id


def _readlines(f: Any) -> Iterator[str]:
    # `readline` rather than iteration: iterating a text file disables
    # `tell()`, which snapshots need.
    return iter(f.readline, "")


def _strip_batch(lines: List[str]) -> List[str]:
    # Each line ends with at most one "\n" (text mode has already turned
    # "\r\n" into "\n"); splitting the joined text drops them in C.
    text = "".join(lines)
    out = text.split("\n")
    if text.endswith("\n"):
        out.pop()
    return out


class _FileSourcePartition(StatefulSourcePartition[str, int]):
    def __init__(self, path: Path, batch_size: int, resume_state: Optional[int]):
        self._f = open(path, "rt")  # noqa: SIM115
        if resume_state is not None:
            self._f.seek(resume_state)
        self._batch_size = batch_size
        self._lines = _readlines(self._f)

    def next_batch(self, sched: Optional[datetime]) -> List[str]:
        lines = list(islice(self._lines, self._batch_size))
        if not lines:
            raise StopIteration()
        return _strip_batch(lines)

    def snapshot(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


class FileSource(FixedPartitionedSource[str, int]):
    """Read a text file line by line.

    Emits each line without its line ending, up to `batch_size` lines per
    batch. The file is a single partition; it is read by one worker among
    those that can see it. Lines added after the end was reached are not
    read.

    `get_fs_id` returns an id for the file system holding a directory; by
    default the device number.

    """

    def __init__(
        self,
        path: Union[Path, str],
        batch_size: int = 1000,
        get_fs_id: Callable[[Path], str] = _get_path_dev,
    ):
        """Read the file at `path`."""
        self._path = Path(path)
        self._batch_size = batch_size
        self._get_fs_id = get_fs_id

    def list_parts(self) -> List[str]:
        """The file, if this worker can see it."""
        if not self._path.exists():
            return []
        fs_id = _fs_id(self._get_fs_id, self._path.parent)
        return [f"{fs_id}::{self._path}"]

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[int],
    ) -> _FileSourcePartition:
        """Open the file, at the byte offset `resume_state` if given."""
        _fs, path = for_part.split("::", 1)
        if path != str(self._path):
            msg = f"can't build partition {for_part!r} of a `FileSource` for {self._path}"
            raise ValueError(msg)
        return _FileSourcePartition(self._path, self._batch_size, resume_state)


class DirSource(FixedPartitionedSource[str, int]):
    """Read every file of a directory that matches a glob, line by line.

    Each matching file is a partition, so the files are read in parallel
    by the workers that can see them. Lines are emitted as by
    `FileSource`.

    """

    def __init__(
        self,
        dir_path: Path,
        glob_pat: str = "*",
        batch_size: int = 1000,
        get_fs_id: Callable[[Path], str] = _get_path_dev,
    ):
        """Read the files in `dir_path` matching `glob_pat`.

        Raises `ValueError` if `dir_path` doesn't exist or isn't a
        directory.

        """
        dir_path = Path(dir_path)
        if not dir_path.exists():
            msg = f"input directory `{dir_path}` does not exist"
            raise ValueError(msg)
        if not dir_path.is_dir():
            msg = f"input directory `{dir_path}` is not a directory"
            raise ValueError(msg)
        self._dir_path = dir_path
        self._glob_pat = glob_pat
        self._batch_size = batch_size
        self._get_fs_id = get_fs_id

    def list_parts(self) -> List[str]:
        """One partition per matching file."""
        fs_id = _fs_id(self._get_fs_id, self._dir_path)
        return sorted(
            f"{fs_id}::{path.relative_to(self._dir_path)}"
            for path in self._dir_path.glob(self._glob_pat)
            if path.is_file()
        )

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[int],
    ) -> _FileSourcePartition:
        """Open one file, at the byte offset `resume_state` if given."""
        _fs, rel = for_part.split("::", 1)
        return _FileSourcePartition(self._dir_path / rel, self._batch_size, resume_state)


class _CSVPartition(StatefulSourcePartition[Dict[str, str], int]):
    def __init__(
        self,
        path: Path,
        batch_size: int,
        resume_state: Optional[int],
        fmtparams: Dict[str, Any],
    ):
        self._f = open(path, "rt", newline="")  # noqa: SIM115
        self._batch_size = batch_size
        self._reader = csv.DictReader(_readlines(self._f), **fmtparams)
        # Read the header first, whatever the resume position.
        self._reader.fieldnames  # noqa: B018
        if resume_state is not None:
            self._f.seek(resume_state)

    def next_batch(self, sched: Optional[datetime]) -> List[Dict[str, str]]:
        rows = list(islice(self._reader, self._batch_size))
        if not rows:
            raise StopIteration()
        return rows

    def snapshot(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


class CSVSource(FixedPartitionedSource[Dict[str, str], int]):
    """Read a CSV file with a header row, one `dict` per row.

    Each row is emitted as a `dict` from column name (from the header) to
    the field's text. Extra keyword arguments are passed on to
    `csv.DictReader` (for example `delimiter=";"`).

    >>> import tempfile
    >>> from pathlib import Path
    >>> from datetime import datetime, timezone
    >>> path = Path(tempfile.mkdtemp()) / "in.csv"
    >>> _ = path.write_text("name,n\\nann,1\\nbo,2\\n")
    >>> src = CSVSource(path)
    >>> part = src.build_part(datetime.now(timezone.utc), src.list_parts()[0], None)
    >>> part.next_batch(None)
    [{'name': 'ann', 'n': '1'}, {'name': 'bo', 'n': '2'}]
    >>> part.close()
    >>> import shutil
    >>> shutil.rmtree(path.parent)

    """

    def __init__(
        self,
        path: Path,
        batch_size: int = 1000,
        get_fs_id: Callable[[Path], str] = _get_path_dev,
        **fmtparams: Any,
    ):
        """Read the CSV file at `path`."""
        self._path = Path(path)
        self._batch_size = batch_size
        self._get_fs_id = get_fs_id
        self._fmtparams = fmtparams

    def list_parts(self) -> List[str]:
        """The file, if this worker can see it."""
        if not self._path.exists():
            return []
        fs_id = _fs_id(self._get_fs_id, self._path.parent)
        return [f"{fs_id}::{self._path}"]

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[int],
    ) -> _CSVPartition:
        """Open the file; skip to the byte offset `resume_state` if given."""
        _fs, path = for_part.split("::", 1)
        if path != str(self._path):
            msg = f"can't build partition {for_part!r} of a `CSVSource` for {self._path}"
            raise ValueError(msg)
        return _CSVPartition(self._path, self._batch_size, resume_state, self._fmtparams)


class _FileSinkPartition(StatefulSinkPartition[str, int]):
    def __init__(self, path: Path, resume_state: Optional[int], end: str):
        self._f = open(path, "at")  # noqa: SIM115
        # Drop whatever was written after the snapshot we resume from (or
        # everything, on a fresh start).
        self._f.seek(resume_state or 0)
        self._f.truncate()
        self._end = end

    def write_batch(self, values: List[str]) -> None:
        if not values:
            return
        end = self._end
        self._f.write(end.join(values) + end)
        self._f.flush()
        os.fsync(self._f.fileno())

    def snapshot(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


class FileSink(FixedPartitionedSink[str, int]):
    """Write values to a single text file, each followed by `end`.

    Items must be `(key, value)` 2-tuples with `str` values; keys are
    ignored (use `bytewax.operators.key_on` with a constant key to get
    there). The file is written by one worker. It is emptied when a fresh
    run starts, and cut back to the snapshotted length when resuming.

    """

    def __init__(self, path: Path, end: str = "\n"):
        """Write to the file at `path`."""
        self._path = Path(path)
        self._end = end

    def list_parts(self) -> List[str]:
        """The single partition, named after the path."""
        return [str(self._path)]

    def part_fn(self, item_key: str) -> int:
        """Every key goes to the single partition."""
        return 0

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _FileSinkPartition:
        """Open the file, truncated to `resume_state` bytes (or empty)."""
        if for_part != str(self._path):
            msg = f"can't build partition {for_part!r} of a `FileSink` for {self._path}"
            raise ValueError(msg)
        return _FileSinkPartition(self._path, resume_state, self._end)


def _default_file_namer(i: int, _n: int) -> str:
    return f"part_{i}"


def _default_assign_file(key: str) -> int:
    return zlib.adler32(key.encode())


class DirSink(FixedPartitionedSink[str, int]):
    """Write values to `file_count` files in a directory, spread by key.

    Items must be `(key, value)` 2-tuples with `str` values. Files are
    named by `file_namer(index, file_count)` (by default `part_{index}`);
    `assign_file(key)` picks the file for a key: its result modulo
    `file_count` indexes the sorted file names. Each file behaves like a
    `FileSink`. The directory must exist.

    """

    def __init__(
        self,
        dir_path: Path,
        file_count: int,
        file_namer: Callable[[int, int], str] = _default_file_namer,
        assign_file: Callable[[str], int] = _default_assign_file,
        end: str = "\n",
    ):
        """Write to `file_count` files in `dir_path`."""
        self._dir_path = Path(dir_path)
        self._file_count = file_count
        self._file_namer = file_namer
        self._assign_file = assign_file
        self._end = end

    def list_parts(self) -> List[str]:
        """The file names."""
        return [self._file_namer(i, self._file_count) for i in range(self._file_count)]

    def part_fn(self, item_key: str) -> int:
        """Pick the file for a key with `assign_file`."""
        return self._assign_file(item_key)

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _FileSinkPartition:
        """Open one file, truncated to `resume_state` bytes (or empty)."""
        return _FileSinkPartition(self._dir_path / for_part, resume_state, self._end)
