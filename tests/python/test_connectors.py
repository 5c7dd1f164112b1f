"""The connectors in `bytewax.connectors`: stdio, files and demo."""

import io
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.connectors.demo import RandomMetricSource
from bytewax.connectors.files import (
    CSVSource,
    DirSink,
    DirSource,
    FileSink,
    FileSource,
)
from bytewax.connectors.stdio import StdInSource, StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, poll_next_batch, run_main

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _drain(part, limit=1000):
    items = []
    for _ in range(limit):
        try:
            items.extend(part.next_batch(None))
        except StopIteration:
            return items
    raise AssertionError("partition did not end")


# stdio


def test_stdout_sink_one_line_per_item(capsys):
    part = StdOutSink().build(0, 1)
    part.write_batch(["a", 1, ("t", 2)])
    part.write_batch([])
    assert capsys.readouterr().out == "a\n1\n('t', 2)\n"


def test_stdout_sink_single_write_per_batch(monkeypatch):
    writes = []

    class Recorder:
        def write(self, s):
            writes.append(s)

        def flush(self):
            writes.append("<flush>")

    monkeypatch.setattr(sys, "stdout", Recorder())
    StdOutSink().build(0, 1).write_batch(["x", "y"])
    assert writes == ["x\ny\n", "<flush>"]


def test_stdout_sink_flow(capsys):
    flow = Dataflow("test_df")
    op.output("out", op.input("inp", flow, TestingSource(["hi", 2])), StdOutSink())
    run_main(flow)
    assert capsys.readouterr().out == "hi\n2\n"


def _stdin_part(monkeypatch, text, resume=None, batch_size=1000):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    src = StdInSource(batch_size)
    assert src.list_parts() == ["stdin"]
    return src.build_part(NOW, "stdin", resume)


def _drain_polling(part):
    items = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            items.extend(part.next_batch(None))
        except StopIteration:
            return items
        time.sleep(0.001)
    raise AssertionError("stdin partition did not end")


def test_stdin_source_lines(monkeypatch):
    part = _stdin_part(monkeypatch, "one\ntwo\n\nlast")
    assert _drain_polling(part) == ["one", "two", "", "last"]
    assert part.snapshot() == 4
    part.close()


def test_stdin_source_drops_crlf_endings(monkeypatch):
    # As from a file written on Windows; a lone "\r" ends no line.
    part = _stdin_part(monkeypatch, "one\r\ntwo\r\n\r\nx\ry\nlast")
    assert _drain_polling(part) == ["one", "two", "", "x\ry", "last"]
    assert part.snapshot() == 5
    part.close()


def test_stdin_source_resume(monkeypatch):
    part = _stdin_part(monkeypatch, "a\nb\nc\n", resume=2)
    assert _drain_polling(part) == ["c"]
    assert part.snapshot() == 3


def test_stdin_source_batch_size(monkeypatch):
    part = _stdin_part(monkeypatch, "".join(f"{i}\n" for i in range(10)), batch_size=4)
    first = poll_next_batch(part)
    assert 1 <= len(first) <= 4
    assert first == [str(i) for i in range(len(first))]


def test_stdin_source_empty(monkeypatch):
    part = _stdin_part(monkeypatch, "")
    assert _drain_polling(part) == []
    assert part.snapshot() == 0


def test_stdin_source_flow(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\ny\n"))
    flow = Dataflow("test_df")
    out = []
    op.output("out", op.input("inp", flow, StdInSource()), TestingSink(out))
    run_main(flow)
    assert out == ["x", "y"]


# files: sources


def test_file_source_partition(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a\nb\r\nc\n\nd")
    src = FileSource(path, batch_size=2)
    (part_name,) = src.list_parts()
    assert part_name.endswith(f"::{path}")
    part = src.build_part(NOW, part_name, None)
    assert part.next_batch(None) == ["a", "b"]
    offset = part.snapshot()
    assert _drain(part) == ["c", "", "d"]
    part.close()

    resumed = src.build_part(NOW, part_name, offset)
    assert _drain(resumed) == ["c", "", "d"]
    resumed.close()


def test_file_source_missing_file(tmp_path):
    assert FileSource(tmp_path / "nope.txt").list_parts() == []


def test_file_source_fs_id(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("x\n")
    assert FileSource(path, get_fs_id=lambda p: "box").list_parts() == [f"box::{path}"]
    with pytest.raises(ValueError, match="::"):
        FileSource(path, get_fs_id=lambda p: "a::b").list_parts()


def test_file_source_flow(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("".join(f"line{i}\n" for i in range(2500)))
    flow = Dataflow("test_df")
    out = []
    op.output("out", op.input("inp", flow, FileSource(path)), TestingSink(out))
    run_main(flow)
    assert out == [f"line{i}" for i in range(2500)]


def test_dir_source(tmp_path):
    (tmp_path / "a.txt").write_text("a1\na2\n")
    (tmp_path / "b.txt").write_text("b1\n")
    (tmp_path / "skip.csv").write_text("nope\n")
    (tmp_path / "sub").mkdir()
    src = DirSource(tmp_path, glob_pat="*.txt", get_fs_id=lambda p: "fs")
    assert src.list_parts() == ["fs::a.txt", "fs::b.txt"]
    got = {}
    for name in src.list_parts():
        part = src.build_part(NOW, name, None)
        got[name] = _drain(part)
        part.close()
    assert got == {"fs::a.txt": ["a1", "a2"], "fs::b.txt": ["b1"]}

    flow = Dataflow("test_df")
    out = []
    op.output("out", op.input("inp", flow, DirSource(tmp_path, "*.txt")), TestingSink(out))
    run_main(flow)
    assert sorted(out) == ["a1", "a2", "b1"]


def test_dir_source_checks_dir(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        DirSource(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a directory"):
        DirSource(tmp_path / "file")


def test_csv_source(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('name,note\nann,"multi\nline"\nbo,plain\ncy,last\n')
    src = CSVSource(path, batch_size=1)
    (name,) = src.list_parts()
    part = src.build_part(NOW, name, None)
    assert part.next_batch(None) == [{"name": "ann", "note": "multi\nline"}]
    offset = part.snapshot()
    assert _drain(part) == [{"name": "bo", "note": "plain"}, {"name": "cy", "note": "last"}]
    part.close()

    resumed = src.build_part(NOW, name, offset)
    assert _drain(resumed) == [{"name": "bo", "note": "plain"}, {"name": "cy", "note": "last"}]
    resumed.close()


def test_csv_source_fmtparams(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a;b\n1;2\n")
    src = CSVSource(path, delimiter=";")
    part = src.build_part(NOW, src.list_parts()[0], None)
    assert _drain(part) == [{"a": "1", "b": "2"}]


# files: sinks


def test_file_sink_partition(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("stale contents\n")
    sink = FileSink(path)
    assert sink.list_parts() == [str(path)]
    assert sink.part_fn("anything") == 0
    part = sink.build_part(str(path), None)
    assert path.read_text() == ""
    part.write_batch(["a", "b"])
    offset = part.snapshot()
    part.write_batch(["c"])
    part.close()
    assert path.read_text() == "a\nb\nc\n"

    resumed = sink.build_part(str(path), offset)
    assert path.read_text() == "a\nb\n"
    resumed.write_batch(["d"])
    resumed.close()
    assert path.read_text() == "a\nb\nd\n"


def test_file_sink_end(tmp_path):
    path = tmp_path / "out.txt"
    part = FileSink(path, end=";").build_part(str(path), None)
    part.write_batch(["x", "y"])
    part.close()
    assert path.read_text() == "x;y;"


def test_file_sink_flow(tmp_path):
    path = tmp_path / "out.txt"
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource(["a", "b", "c"]))
    s = op.key_on("key", s, lambda _x: "ALL")
    op.output("out", s, FileSink(path))
    run_main(flow)
    assert path.read_text() == "a\nb\nc\n"


def test_dir_sink(tmp_path):
    sink = DirSink(tmp_path, 3, assign_file=int)
    assert sink.list_parts() == ["part_0", "part_1", "part_2"]
    assert sink.part_fn("2") == 2
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource([("0", "a"), ("1", "b"), ("2", "c"), ("3", "d")]))
    op.output("out", s, sink)
    run_main(flow)
    assert (tmp_path / "part_0").read_text() == "a\nd\n"
    assert (tmp_path / "part_1").read_text() == "b\n"
    assert (tmp_path / "part_2").read_text() == "c\n"


def test_dir_sink_namer(tmp_path):
    sink = DirSink(tmp_path, 2, file_namer=lambda i, n: f"{i}-of-{n}.txt")
    assert sink.list_parts() == ["0-of-2.txt", "1-of-2.txt"]
    part = sink.build_part("1-of-2.txt", None)
    part.write_batch(["z"])
    part.close()
    assert (tmp_path / "1-of-2.txt").read_text() == "z\n"


def test_files_exactly_once_across_resume(tmp_path):
    from bytewax.recovery import RecoveryConfig, init_db_dir

    inp = tmp_path / "in.txt"
    inp.write_text("".join(f"{i}\n" for i in range(6)))
    out = tmp_path / "out.txt"
    db = tmp_path / "db"
    db.mkdir()
    init_db_dir(db, 1)

    def build():
        flow = Dataflow("test_df")
        s = op.input("inp", flow, FileSource(inp, batch_size=2))
        s = op.key_on("key", s, lambda _x: "ALL")
        op.output("out", s, FileSink(out))
        return flow

    run_main(build(), epoch_interval=timedelta(0), recovery_config=RecoveryConfig(str(db)))
    assert out.read_text() == "".join(f"{i}\n" for i in range(6))
    # Continuing after a completed run reads nothing more and keeps the file.
    with inp.open("a") as f:
        f.write("6\n")
    run_main(build(), epoch_interval=timedelta(0), recovery_config=RecoveryConfig(str(db)))
    assert out.read_text() == "".join(f"{i}\n" for i in range(7))


# demo


def test_random_metric_source_partition():
    src = RandomMetricSource("m", interval=timedelta(seconds=2), count=2, next_random=lambda: 7)
    assert src.list_parts() == ["m"]
    part = src.build_part(NOW, "m", None)
    assert part.next_awake() == NOW
    assert part.next_batch(NOW) == [("m", 7)]
    assert part.next_awake() == NOW + timedelta(seconds=2)
    snap = part.snapshot()
    assert part.next_batch(part.next_awake()) == [("m", 7)]
    with pytest.raises(StopIteration):
        part.next_batch(part.next_awake())

    resumed = src.build_part(NOW, "m", snap)
    assert resumed.next_batch(resumed.next_awake()) == [("m", 7)]
    with pytest.raises(StopIteration):
        resumed.next_batch(resumed.next_awake())


def test_random_metric_source_default_values():
    part = RandomMetricSource("m", count=50).build_part(NOW, "m", None)
    values = [v for _ in range(50) for _k, v in part.next_batch(NOW)]
    assert all(0 <= v < 10 for v in values)


def test_random_metric_source_flow():
    flow = Dataflow("test_df")
    src = RandomMetricSource("m", interval=timedelta(0), count=3, next_random=lambda: 1)
    out = []
    op.output("out", op.input("inp", flow, src), TestingSink(out))
    run_main(flow)
    assert out == [("m", 1)] * 3


def test_paths_may_be_strings(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("s\n")
    src = FileSource(str(path))
    part = src.build_part(NOW, src.list_parts()[0], None)
    assert _drain(part) == ["s"]
    assert isinstance(Path(str(path)), Path)
