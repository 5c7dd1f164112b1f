"""Running flows through every operator of `bytewax.operators`."""

from datetime import datetime, timedelta, timezone

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.operators.helpers import map_dict_value
from bytewax.testing import TestingSink, TestingSource, run_main

ZERO_TD = timedelta(seconds=0)


def _run(items, build, batch_size=1, epoch_interval=None):
    """Build `inp -> build(...) -> out`, run it, return the output list."""
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource(items, batch_size))
    out = []
    op.output("out", build(s), TestingSink(out))
    if epoch_interval is None:
        run_main(flow)
    else:
        run_main(flow, epoch_interval=epoch_interval)
    return out


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_map(batch_size):
    out = _run(range(5), lambda s: op.map("m", s, lambda x: x * 10), batch_size)
    assert out == [0, 10, 20, 30, 40]


def test_map_error_keeps_type():
    def boom(x):
        msg = "BOOM"
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="BOOM"):
        _run([1], lambda s: op.map("m", s, boom))


@pytest.mark.parametrize("batch_size", [1, 4])
def test_flat_map(batch_size):
    out = _run(["a b", "", "c"], lambda s: op.flat_map("split", s, str.split), batch_size)
    assert out == ["a", "b", "c"]


def test_flat_map_non_iterable_result():
    with pytest.raises(TypeError, match="not iterable"):
        _run([1], lambda s: op.flat_map("fm", s, lambda x: x))


@pytest.mark.parametrize("batch_size", [1, 10])
def test_filter(batch_size):
    out = _run(range(10), lambda s: op.filter("even", s, lambda x: x % 2 == 0), batch_size)
    assert out == [0, 2, 4, 6, 8]


def test_filter_requires_bool():
    with pytest.raises(
        TypeError,
        match=r"return value of `predicate` .* in step 'test_df\.f' must be a `bool`; "
        r"got a <class 'int'> instead",
    ):
        _run([1, 2], lambda s: op.filter("f", s, lambda x: 1), batch_size=2)


@pytest.mark.parametrize("batch_size", [1, 10])
def test_filter_map(batch_size):
    out = _run(
        ["1", "x", "3", "y"],
        lambda s: op.filter_map("parse", s, lambda x: int(x) if x.isdigit() else None),
        batch_size,
    )
    assert out == [1, 3]


def test_filter_map_keeps_falsy_values():
    out = _run([0, 1, 2], lambda s: op.filter_map("fm", s, lambda x: x - 1 if x else 0))
    assert out == [0, 0, 1]


@pytest.mark.parametrize("batch_size", [1, 10])
def test_flatten(batch_size):
    out = _run([[1, 2], (), (3,), "ab"], lambda s: op.flatten("flat", s), batch_size)
    assert out == [1, 2, 3, "a", "b"]


def test_flatten_requires_iterables():
    with pytest.raises(
        TypeError,
        match=r"step 'test_df\.fl' requires upstream to be iterables; got a <class 'int'>",
    ):
        _run([[1], 2], lambda s: op.flatten("fl", s), batch_size=2)


@pytest.mark.parametrize("batch_size", [1, 10])
def test_map_value(batch_size):
    out = _run([("a", 1), ("b", 2)], lambda s: op.map_value("mv", s, lambda v: v + 1), batch_size)
    assert out == [("a", 2), ("b", 3)]


def test_map_value_requires_pairs():
    with pytest.raises(TypeError, match=r"step 'test_df\.mv' requires `\(key, value\)` 2-tuple"):
        _run([1], lambda s: op.map_value("mv", s, str))


@pytest.mark.parametrize("batch_size", [1, 10])
def test_flat_map_value(batch_size):
    out = _run(
        [("a", "x y"), ("b", "")],
        lambda s: op.flat_map_value("fmv", s, str.split),
        batch_size,
    )
    assert out == [("a", "x"), ("a", "y")]


def test_flat_map_value_requires_pairs():
    with pytest.raises(
        TypeError,
        match=r"step 'test_df\.fmv' requires `\(key, value\)` 2-tuple as upstream for routing; "
        r"got a <class 'int'> instead",
    ):
        _run([1], lambda s: op.flat_map_value("fmv", s, lambda v: [v]))


def test_flat_map_value_accepts_two_item_lists():
    out = _run([["a", 1]], lambda s: op.flat_map_value("fmv", s, lambda v: [v, v]))
    assert out == [("a", 1), ("a", 1)]


@pytest.mark.parametrize("batch_size", [1, 10])
def test_filter_value(batch_size):
    out = _run(
        [("a", 1), ("b", -1), ("c", 2)],
        lambda s: op.filter_value("pos", s, lambda v: v > 0),
        batch_size,
    )
    assert out == [("a", 1), ("c", 2)]


def test_filter_value_requires_bool():
    with pytest.raises(TypeError, match=r"in step 'test_df\.fv' must be a `bool`"):
        _run([("a", 1)], lambda s: op.filter_value("fv", s, lambda v: None))


@pytest.mark.parametrize("batch_size", [1, 10])
def test_key_on(batch_size):
    out = _run([{"k": "a"}, {"k": "b"}], lambda s: op.key_on("k", s, lambda x: x["k"]), batch_size)
    assert out == [("a", {"k": "a"}), ("b", {"k": "b"})]


def test_key_on_requires_str():
    with pytest.raises(
        TypeError,
        match=r"return value of `key` .* in step 'test_df\.k' must be a `str`; "
        r"got a <class 'int'> instead",
    ):
        _run([1], lambda s: op.key_on("k", s, lambda x: x))


def test_map_dict_value():
    out = _run([{"n": 1}], lambda s: op.map("m", s, map_dict_value("n", lambda n: n * 3)))
    assert out == [{"n": 3}]


def test_branch():
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource(range(6)))
    b = op.branch("br", s, lambda x: x % 3 == 0)
    trues, falses = [], []
    op.output("t", b.trues, TestingSink(trues))
    op.output("f", b.falses, TestingSink(falses))
    run_main(flow)
    assert trues == [0, 3]
    assert falses == [1, 2, 4, 5]


def test_branch_requires_bool():
    with pytest.raises(TypeError, match="bool"):
        _run([1], lambda s: op.branch("br", s, lambda x: 1).trues)


def test_merge():
    flow = Dataflow("test_df")
    a = op.input("a", flow, TestingSource([1, 2]))
    b = op.input("b", flow, TestingSource([3, 4]))
    out = []
    op.output("out", op.merge("m", a, b), TestingSink(out))
    run_main(flow)
    assert sorted(out) == [1, 2, 3, 4]


def test_redistribute():
    out = _run([1, 2, 3], lambda s: op.redistribute("r", s))
    assert sorted(out) == [1, 2, 3]


def test_flat_map_batch():
    out = _run(
        range(6),
        lambda s: op.flat_map_batch("fmb", s, lambda xs: [sum(xs)]),
        batch_size=3,
        epoch_interval=ZERO_TD,
    )
    assert out == [3, 12]


def test_inspect(capsys):
    out = _run([1, "a"], lambda s: op.inspect("insp", s))
    assert out == [1, "a"]
    assert capsys.readouterr().out == "test_df.insp: 1\ntest_df.insp: 'a'\n"


def test_inspect_custom():
    seen = []
    _run([1, 2], lambda s: op.inspect("insp", s, lambda step_id, x: seen.append((step_id, x))))
    assert seen == [("test_df.insp", 1), ("test_df.insp", 2)]


def test_inspect_debug(capsys):
    out = _run(["x"], lambda s: op.inspect_debug("dbg", s))
    assert out == ["x"]
    assert capsys.readouterr().out == "test_df.dbg W0 @1: 'x'\n"


def test_inspect_debug_custom():
    seen = []

    def inspector(step_id, item, epoch, worker):
        seen.append((step_id, item, epoch, worker))

    _run(["x", "y"], lambda s: op.inspect_debug("dbg", s, inspector), epoch_interval=ZERO_TD)
    assert [(s, i, w) for s, i, _e, w in seen] == [
        ("test_df.dbg", "x", 0),
        ("test_df.dbg", "y", 0),
    ]
    assert seen[0][2] < seen[1][2]


def test_raises():
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource([1]))
    op.raises("r", s)
    with pytest.raises(RuntimeError, match=r"`raises` step 'test_df\.r' got an item: 1"):
        run_main(flow)


def test_raises_silent_when_empty():
    flow = Dataflow("test_df")
    s = op.input("inp", flow, TestingSource([]))
    op.raises("r", s)
    run_main(flow)


def test_stateful_map():
    def running(acc, x):
        acc = acc + [x]
        return acc, list(acc)

    out = _run(
        [("a", 1), ("b", 2), ("a", 3)],
        lambda s: op.stateful_map("sm", s, list, running),
    )
    assert out == [("a", [1]), ("b", [2]), ("a", [1, 3])]


def test_stateful_map_discard():
    def mapper(count, x):
        count += 1
        if count == 2:
            return None, count
        return count, count

    out = _run([("a", 0)] * 5, lambda s: op.stateful_map("sm", s, lambda: 0, mapper))
    assert out == [("a", 1), ("a", 2), ("a", 1), ("a", 2), ("a", 1)]


def test_stateful_map_requires_2_tuple():
    with pytest.raises(TypeError, match=r"must be a 2-tuple of `\(updated_state, emit_item\)`"):
        _run([("a", 1)], lambda s: op.stateful_map("sm", s, lambda: 0, lambda st, v: v))


def test_unary_requires_keys():
    with pytest.raises(TypeError):
        _run([1], lambda s: op.fold_final("ff", s, list, lambda a, v: a))


def test_fold_final():
    out = _run(
        [("b", 1), ("a", 2), ("b", 3)],
        lambda s: op.fold_final("ff", s, list, lambda acc, v: acc + [v]),
    )
    assert sorted(out) == [("a", [2]), ("b", [1, 3])]


def test_reduce_final():
    out = _run(
        [("a", "x"), ("b", "y"), ("a", "z"), ("a", "w")],
        lambda s: op.reduce_final("rf", s, lambda a, b: a + b),
        batch_size=2,
    )
    assert sorted(out) == [("a", "xzw"), ("b", "y")]


def test_count_final():
    out = _run(
        ["a", "b", "a", "c", "a"],
        lambda s: op.count_final("cf", s, lambda x: x),
        batch_size=2,
    )
    assert out == [("a", 3), ("b", 1), ("c", 1)]


def test_count_final_batches_and_epochs_agree():
    items = [str(i % 7) for i in range(100)]
    a = _run(items, lambda s: op.count_final("cf", s, lambda x: x), batch_size=9)
    b = _run(items, lambda s: op.count_final("cf", s, lambda x: x), epoch_interval=ZERO_TD)
    assert sorted(a) == sorted(b)
    assert dict(a)["0"] == 15


def test_max_min_final():
    inp = [("a", 3), ("a", 7), ("b", -1), ("a", 5)]
    assert sorted(_run(inp, lambda s: op.max_final("mx", s))) == [("a", 7), ("b", -1)]
    assert sorted(_run(inp, lambda s: op.min_final("mn", s))) == [("a", 3), ("b", -1)]
    assert sorted(_run(inp, lambda s: op.max_final("mx", s, by=lambda v: -v))) == [
        ("a", 3),
        ("b", -1),
    ]


def test_collect_max_size_and_eof():
    out = _run(
        [("a", 1), ("a", 2), ("a", 3), ("b", 4)],
        lambda s: op.collect("c", s, timeout=timedelta(seconds=10), max_size=2),
    )
    assert out == [("a", [1, 2]), ("a", [3]), ("b", [4])]


def test_join():
    flow = Dataflow("test_df")
    left = op.input("left", flow, TestingSource([("a", 1), ("b", 2), ("a", 3)]))
    right = op.input("right", flow, TestingSource([("a", "x"), ("c", "y")]))
    out = []
    op.output("out", op.join("j", left, right), TestingSink(out))
    run_main(flow)
    assert len(out) == 1
    key, (l_val, r_val) = out[0]
    assert key == "a"
    assert r_val == "x"
    assert l_val in (1, 3)


def test_join_running():
    flow = Dataflow("test_df")
    inp = op.input("inp", flow, TestingSource([("a", 1), ("a", 2)]))
    other = op.input("other", flow, TestingSource([]))
    out = []
    op.output("out", op.join("j", inp, other, running=True), TestingSink(out))
    run_main(flow)
    assert out == [("a", (1, None)), ("a", (2, None))]


def test_join_named():
    flow = Dataflow("test_df")
    names = op.input("names", flow, TestingSource([("1", "Ann")]))
    emails = op.input("emails", flow, TestingSource([("1", "a@x")]))
    out = []
    op.output("out", op.join_named("j", name=names, email=emails), TestingSink(out))
    run_main(flow)
    assert out == [("1", {"name": "Ann", "email": "a@x"})]


def test_join_named_running_omits_missing():
    flow = Dataflow("test_df")
    names = op.input("names", flow, TestingSource([("1", "Ann")]))
    emails = op.input("emails", flow, TestingSource([]))
    out = []
    op.output("out", op.join_named("j", running=True, name=names, email=emails), TestingSink(out))
    run_main(flow)
    assert out == [("1", {"name": "Ann"})]


class _Timer(op.UnaryLogic):
    """Emits how many items it saw when notified; retains nothing."""

    def __init__(self, now, state):
        self.count = state or 0
        self.at = now

    def on_item(self, now, value):
        self.count += 1
        self.at = now + timedelta(milliseconds=1)
        return [], op.UnaryLogic.RETAIN

    def on_notify(self, sched):
        return [("notified", self.count)], op.UnaryLogic.DISCARD

    def on_eof(self):
        return [("eof", self.count)], op.UnaryLogic.DISCARD

    def notify_at(self):
        return self.at

    def snapshot(self):
        return self.count


def test_unary_notify_or_eof():
    out = _run([("a", 1), ("a", 2)], lambda s: op.unary("u", s, _Timer), batch_size=2)
    assert len(out) == 1
    key, (why, count) = out[0]
    assert key == "a"
    assert why in ("notified", "eof")
    assert count == 2


def test_unary_builder_must_return_logic():
    with pytest.raises(TypeError):
        _run([("a", 1)], lambda s: op.unary("u", s, lambda now, st: object()))


def test_epoch_interval_does_not_change_results():
    items = [("k" + str(i % 3), i) for i in range(30)]

    def build(s):
        s = op.map_value("double", s, lambda v: v * 2)
        s = op.filter_value("big", s, lambda v: v > 10)
        return op.reduce_final("sum", s, lambda a, b: a + b)

    a = _run(items, build, batch_size=4)
    b = _run(items, build, epoch_interval=ZERO_TD)
    assert sorted(a) == sorted(b) == [("k0", 264), ("k1", 280), ("k2", 296)]


def test_utc_now_in_logic():
    seen = []

    class Probe(op.UnaryLogic):
        def on_item(self, now, value):
            seen.append(now)
            return [], True

        def on_notify(self, sched):
            return [], True

        def on_eof(self):
            return [], True

        def notify_at(self):
            return None

        def snapshot(self):
            return None

    _run([("a", 1)], lambda s: op.unary("u", s, lambda now, st: Probe()))
    assert seen[0].tzinfo is not None
    assert abs(seen[0] - datetime.now(timezone.utc)) < timedelta(minutes=1)
