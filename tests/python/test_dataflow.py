"""Building flows: step ids, scoping, ports and the `operator` decorator."""

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import bytewax.operators as op
import bytewax.operators.window as win
import pytest
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import (
    Dataflow,
    DataflowId,
    MultiPort,
    Operator,
    Port,
    SinglePort,
    Stream,
    _CoreOperator,
    f_repr,
    operator,
)
from bytewax.testing import TestingSink, TestingSource, run_main


def _flow_with_input(flow_id="f", items=(1,)):
    flow = Dataflow(flow_id)
    s = op.input("inp", flow, TestingSource(list(items)))
    return flow, s


def test_flow_id_rules():
    assert Dataflow("ok").flow_id == "ok"
    with pytest.raises(ValueError, match="can't contain a period"):
        Dataflow("a.b")
    with pytest.raises(TypeError):
        Dataflow(1)


def test_step_and_stream_ids():
    flow, s = _flow_with_input()
    m = op.map("add", s, lambda x: x + 1)
    assert s.stream_id == "f.inp.down"
    assert m.stream_id == "f.add.flat_map_batch.down"
    assert [step.step_id for step in flow.substeps] == ["f.inp", "f.add"]
    (inner,) = flow.substeps[1].substeps
    assert inner.step_id == "f.add.flat_map_batch"
    assert inner.step_name == "flat_map_batch"
    assert inner.up == SinglePort("f.add.flat_map_batch.up", "f.inp.down")
    assert inner.down == SinglePort("f.add.flat_map_batch.down", "f.add.flat_map_batch.down")
    assert flow.substeps[1].down == SinglePort("f.add.down", "f.add.flat_map_batch.down")


def test_input_data_model():
    flow, _s = _flow_with_input()
    step = flow.substeps[0]
    assert type(step).__name__ == "input"
    assert isinstance(step, _CoreOperator)
    assert step.flow == DataflowId("f")
    assert isinstance(step.source, TestingSource)
    assert type(step).ups_names == []
    assert type(step).dwn_names == ["down"]
    assert [f.name for f in dataclasses.fields(step)] == [
        "step_name",
        "step_id",
        "substeps",
        "flow",
        "source",
        "down",
    ]


def test_core_and_composite_classes():
    flow, s = _flow_with_input()
    op.map("m", s, str)
    composite = flow.substeps[1]
    assert isinstance(composite, Operator)
    assert not isinstance(composite, _CoreOperator)
    assert isinstance(composite.substeps[0], _CoreOperator)
    assert type(composite.substeps[0]).core is True


def test_branch_outputs():
    flow, s = _flow_with_input()
    b = op.branch("br", s, lambda x: x > 1)
    assert isinstance(b, op.BranchOut)
    assert b.trues.stream_id == "f.br.trues"
    assert b.falses.stream_id == "f.br.falses"
    step = flow.substeps[1]
    assert type(step).dwn_names == ["trues", "falses"]
    assert step.trues == SinglePort("f.br.trues", "f.br.trues")


def test_merge_multiport():
    flow, s = _flow_with_input()
    b = op.branch("br", s, lambda x: x > 1)
    op.merge("mg", b.trues, b.falses)
    step = flow.substeps[-1]
    assert step.ups == MultiPort("f.mg.ups", {0: "f.br.trues", 1: "f.br.falses"})
    assert isinstance(step.ups, Port)
    assert isinstance(SinglePort("a", "b"), Port)
    assert SinglePort("a", "b").stream_ids == {"stream": "b"}


def test_merge_requires_upstream():
    with pytest.raises(TypeError):
        op.merge("mg")


def test_duplicate_step_id():
    flow, s = _flow_with_input()
    op.map("m", s, str)
    with pytest.raises(ValueError, match=r"step 'f\.m' already exists"):
        op.map("m", s, str)


def test_duplicate_ids_in_different_scopes_are_fine():
    flow, s = _flow_with_input()
    op.map("map", s, str)
    op.map_value("mv", op.key_on("k", s, str), str)
    assert flow.substeps[-1].substeps[0].step_id == "f.mv.map"


def test_step_id_rules():
    _flow, s = _flow_with_input()
    with pytest.raises(ValueError, match="periods"):
        op.map("a.b", s, str)
    with pytest.raises(TypeError, match="'step_id' must be a `str`"):
        op.map(1, s, str)


def test_port_argument_must_be_stream():
    _flow, s = _flow_with_input()
    with pytest.raises(TypeError, match="'up' argument must be a `Stream`; got a <class 'list'>"):
        op.map("m", [s], str)
    b = op.branch("br", s, lambda x: True)
    with pytest.raises(TypeError, match="must be a `Stream`.*BranchOut"):
        op.map("m2", b, str)
    with pytest.raises(TypeError, match="'ups' \\*args all must be a `Stream`"):
        op.merge("mg", s, 5)


def test_called_incorrectly():
    _flow, s = _flow_with_input()
    with pytest.raises(TypeError, match="operator 'map' called incorrectly") as info:
        op.map("m", s)
    assert isinstance(info.value.__cause__, TypeError)


def test_streams_from_two_flows():
    _f1, s1 = _flow_with_input("one")
    _f2, s2 = _flow_with_input("two")
    with pytest.raises(AssertionError, match="inconsistent stream scoping"):
        op.merge("mg", s1, s2)


def test_stream_flow_and_then():
    flow, s = _flow_with_input()
    assert s.flow() is flow
    out = s.then(op.map, "m", str).then(op.filter, "f", bool)
    assert out.stream_id == "f.f.flat_map.flat_map_batch.down"
    assert [step.step_id for step in flow.substeps] == ["f.inp", "f.m", "f.f"]


def test_f_repr():
    def some_fn(x):
        return x

    text = f_repr(some_fn)
    assert text.startswith("<function '")
    assert "test_f_repr.<locals>.some_fn' line " in text
    assert f_repr(str) == repr(str)


# A golden copy of the substep trees the reference builds; step ids are
# recovery keys, so these must never change.
GOLDEN_TREE = """\
flat_map f.flat_map
    flat_map_batch f.flat_map.flat_map_batch
flat_map_value f.flat_map_value
    flat_map f.flat_map_value.flat_map
        flat_map_batch f.flat_map_value.flat_map.flat_map_batch
flatten f.flatten
    flat_map f.flatten.flat_map
        flat_map_batch f.flatten.flat_map.flat_map_batch
filter f.filter
    flat_map f.filter.flat_map
        flat_map_batch f.filter.flat_map.flat_map_batch
filter_value f.filter_value
    flat_map_value f.filter_value.filter
        flat_map f.filter_value.filter.flat_map
            flat_map_batch f.filter_value.filter.flat_map.flat_map_batch
filter_map f.filter_map
    flat_map f.filter_map.flat_map
        flat_map_batch f.filter_map.flat_map.flat_map_batch
map f.map
    flat_map_batch f.map.flat_map_batch
map_value f.map_value
    map f.map_value.map
        flat_map_batch f.map_value.map.flat_map_batch
fold_final f.fold_final
    unary f.fold_final.unary
reduce_final f.reduce_final
    flat_map_batch f.reduce_final.pre_reduce
    fold_final f.reduce_final.fold_final
        unary f.reduce_final.fold_final.unary
count_final f.count_final
    map f.count_final.init_count
        flat_map_batch f.count_final.init_count.flat_map_batch
    reduce_final f.count_final.sum
        flat_map_batch f.count_final.sum.pre_reduce
        fold_final f.count_final.sum.fold_final
            unary f.count_final.sum.fold_final.unary
max_final f.max_final
    reduce_final f.max_final.reduce_final
        flat_map_batch f.max_final.reduce_final.pre_reduce
        fold_final f.max_final.reduce_final.fold_final
            unary f.max_final.reduce_final.fold_final.unary
min_final f.min_final
    reduce_final f.min_final.reduce_final
        flat_map_batch f.min_final.reduce_final.pre_reduce
        fold_final f.min_final.reduce_final.fold_final
            unary f.min_final.reduce_final.fold_final.unary
collect f.collect
    unary f.collect.unary
stateful_map f.stateful_map
    unary f.stateful_map.unary
join f.join
    _join_name_merge f.join.add_names
        map_value f.join.add_names.name_0
            map f.join.add_names.name_0.map
                flat_map_batch f.join.add_names.name_0.map.flat_map_batch
        map_value f.join.add_names.name_1
            map f.join.add_names.name_1.map
                flat_map_batch f.join.add_names.name_1.map.flat_map_batch
        merge f.join.add_names.merge
    unary f.join.join
    flat_map_value f.join.astuple
        flat_map f.join.astuple.flat_map
            flat_map_batch f.join.astuple.flat_map.flat_map_batch
join_named f.join_named
    _join_name_merge f.join_named.add_names
        map_value f.join_named.add_names.name_a
            map f.join_named.add_names.name_a.map
                flat_map_batch f.join_named.add_names.name_a.map.flat_map_batch
        map_value f.join_named.add_names.name_b
            map f.join_named.add_names.name_b.map
                flat_map_batch f.join_named.add_names.name_b.map.flat_map_batch
        merge f.join_named.add_names.merge
    unary f.join_named.join
    flat_map_value f.join_named.asdict
        flat_map f.join_named.asdict.flat_map
            flat_map_batch f.join_named.asdict.flat_map.flat_map_batch
key_on f.key_on
    map f.key_on.map
        flat_map_batch f.key_on.map.flat_map_batch
inspect f.inspect
    inspect_debug f.inspect.inspect_debug
raises f.raises
    output f.raises.output
redistribute f.redistribute
unary f.unary
inspect_debug f.inspect_debug
collect_window f.collect_window
    fold_window f.collect_window.fold_window
count_window f.count_window
    key_on f.count_window.extract_key
        map f.count_window.extract_key.map
            flat_map_batch f.count_window.extract_key.map.flat_map_batch
    fold_window f.count_window.sum
join_window f.join_window
    _join_name_merge f.join_window.add_names
        map_value f.join_window.add_names.name_0
            map f.join_window.add_names.name_0.map
                flat_map_batch f.join_window.add_names.name_0.map.flat_map_batch
        map_value f.join_window.add_names.name_1
            map f.join_window.add_names.name_1.map
                flat_map_batch f.join_window.add_names.name_1.map.flat_map_batch
        merge f.join_window.add_names.merge
    fold_window f.join_window.fold_window
    flat_map_value f.join_window.astuple
        flat_map f.join_window.astuple.flat_map
            flat_map_batch f.join_window.astuple.flat_map.flat_map_batch
join_window_named f.join_window_named
    _join_name_merge f.join_window_named.add_names
        map_value f.join_window_named.add_names.name_a
            map f.join_window_named.add_names.name_a.map
                flat_map_batch f.join_window_named.add_names.name_a.map.flat_map_batch
        map_value f.join_window_named.add_names.name_b
            map f.join_window_named.add_names.name_b.map
                flat_map_batch f.join_window_named.add_names.name_b.map.flat_map_batch
        merge f.join_window_named.add_names.merge
    fold_window f.join_window_named.fold_window
    flat_map_value f.join_window_named.asdict
        flat_map f.join_window_named.asdict.flat_map
            flat_map_batch f.join_window_named.asdict.flat_map.flat_map_batch
max_window f.max_window
    reduce_window f.max_window.reduce_window
        fold_window f.max_window.reduce_window.fold_window
min_window f.min_window
    reduce_window f.min_window.reduce_window
        fold_window f.min_window.reduce_window.fold_window
reduce_window f.reduce_window
    fold_window f.reduce_window.fold_window
fold_window f.fold_window
"""


def _dump(step, depth=0):
    lines = ["    " * depth + f"{type(step).__name__} {step.step_id}"]
    for sub in step.substeps:
        lines.extend(_dump(sub, depth + 1))
    return lines


def test_substep_trees_match_reference():
    flow, s = _flow_with_input(items=[("a", 1)])
    k = s
    op.flat_map("flat_map", s, lambda x: [x])
    op.flat_map_value("flat_map_value", k, lambda x: [x])
    op.flatten("flatten", s)
    op.filter("filter", s, bool)
    op.filter_value("filter_value", k, bool)
    op.filter_map("filter_map", s, bool)
    op.map("map", s, str)
    op.map_value("map_value", k, str)
    op.fold_final("fold_final", k, list, lambda a, b: a)
    op.reduce_final("reduce_final", k, max)
    op.count_final("count_final", s, str)
    op.max_final("max_final", k)
    op.min_final("min_final", k)
    op.collect("collect", k, timedelta(seconds=1), 3)
    op.stateful_map("stateful_map", k, list, lambda s, v: (s, v))
    op.join("join", k, k)
    op.join_named("join_named", a=k, b=k)
    op.key_on("key_on", s, str)
    op.inspect("inspect", s)
    op.raises("raises", s)
    op.redistribute("redistribute", s)
    op.unary("unary", k, lambda now, st: None)
    op.inspect_debug("inspect_debug", s)
    clock = win.SystemClockConfig()
    w = win.TumblingWindow(timedelta(seconds=1), datetime(2020, 1, 1, tzinfo=timezone.utc))
    win.collect_window("collect_window", k, clock, w)
    win.count_window("count_window", s, clock, w, str)
    win.join_window("join_window", clock, w, k, k)
    win.join_window_named("join_window_named", clock, w, a=k, b=k)
    win.max_window("max_window", k, clock, w)
    win.min_window("min_window", k, clock, w)
    win.reduce_window("reduce_window", k, clock, w, max)
    win.fold_window("fold_window", k, clock, w, list, max)
    lines = []
    for step in flow.substeps[1:]:
        lines.extend(_dump(step))
    assert "\n".join(lines) + "\n" == GOLDEN_TREE


def test_join_ports():
    flow, k = _flow_with_input(items=[("a", 1)])
    op.join("j", k, k)
    step = flow.substeps[-1]
    assert step.sides == MultiPort("f.j.sides", {0: "f.inp.down", 1: "f.inp.down"})
    add_names = step.substeps[0]
    assert add_names.named_ups == MultiPort(
        "f.j.add_names.named_ups", {"0": "f.inp.down", "1": "f.inp.down"}
    )
    assert step.down.stream_id == "f.j.astuple.flat_map.flat_map_batch.down"


def test_collect_window_rejects_other_types():
    _flow, k = _flow_with_input(items=[("a", 1)])
    clock = win.SystemClockConfig()
    w = win.TumblingWindow(timedelta(seconds=1), datetime(2020, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(TypeError, match="tuple"):
        win.collect_window("cw", k, clock, w, into=tuple)


# Custom operators.


@operator
def add_then_double(step_id: str, up: Stream[int], n: int) -> Stream[int]:
    added = op.map("add", up, lambda x: x + n)
    return op.map("double", added, lambda x: x * 2)


def test_custom_operator_data_model_and_run():
    flow, s = _flow_with_input(items=[1, 2])
    out = add_then_double("calc", s, 10)
    assert out.stream_id == "f.calc.double.flat_map_batch.down"
    step = flow.substeps[1]
    assert type(step).__name__ == "add_then_double"
    assert type(step).ups_names == ["up"]
    assert type(step).dwn_names == ["down"]
    assert step.n == 10
    assert step.up == SinglePort("f.calc.up", "f.inp.down")
    assert step.down == SinglePort("f.calc.down", "f.calc.double.flat_map_batch.down")
    assert [sub.step_id for sub in step.substeps] == ["f.calc.add", "f.calc.double"]
    got = []
    op.output("out", out, TestingSink(got))
    run_main(flow)
    assert got == [22, 24]


def test_builder_needs_step_id():
    def no_step_id(up: Stream[Any]) -> Stream[Any]:
        return up

    with pytest.raises(TypeError, match="requires a 'step_id' parameter"):
        operator(no_step_id)


def test_builder_field_clashes():
    @dataclasses.dataclass
    class Out:
        up: Stream[Any]

    def clash_out(step_id: str, up: Stream[Any]) -> Out:
        return Out(up)

    with pytest.raises(TypeError, match="'up'"):
        operator(clash_out)

    def clash_base(step_id: str, up: Stream[Any], substeps: int) -> Stream[Any]:
        return up

    with pytest.raises(TypeError, match="'substeps'"):
        operator(clash_base)


def test_dataclass_return():
    @dataclasses.dataclass(frozen=True)
    class Split:
        small: Stream[int]
        big: Stream[int]
        note: str

    @operator
    def split(step_id: str, up: Stream[int]) -> Split:
        b = op.branch("branch", up, lambda x: x < 10)
        return Split(b.trues, b.falses, "hi")

    flow, s = _flow_with_input(items=[1, 20, 3])
    res = split("split", s)
    assert res.note == "hi"
    assert res.small.flow() is flow
    step = flow.substeps[-1]
    assert type(step).dwn_names == ["small", "big"]
    assert step.small == SinglePort("f.split.small", "f.split.branch.trues")
    small, big = [], []
    op.output("small_out", res.small, TestingSink(small))
    op.output("big_out", res.big, TestingSink(big))
    run_main(flow)
    assert small == [1, 3]
    assert big == [20]


def test_varargs_and_kwargs_ports():
    @operator
    def gather(step_id: str, *ups: Stream[Any], k: int = 3, **named: Stream[Any]) -> None:
        return None

    flow, s = _flow_with_input()
    gather("g", s, s, a=s, k=4)
    step = flow.substeps[-1]
    assert type(step).ups_names == ["ups", "named"]
    assert step.ups == MultiPort("f.g.ups", {0: "f.inp.down", 1: "f.inp.down"})
    assert step.named == MultiPort("f.g.named", {"a": "f.inp.down"})
    assert step.k == 4


def test_operator_with_flow_param_adds_inputs_as_substeps():
    @operator
    def two_inputs(step_id: str, flow: Dataflow) -> Stream[int]:
        a = op.input("a", flow, TestingSource([1]))
        b = op.input("b", flow, TestingSource([2]))
        return op.merge("merge", a, b)

    flow = Dataflow("f")
    s = two_inputs("inps", flow)
    assert [sub.step_id for sub in flow.substeps[0].substeps] == [
        "f.inps.a",
        "f.inps.b",
        "f.inps.merge",
    ]
    got = []
    op.output("out", s, TestingSink(got))
    run_main(flow)
    assert sorted(got) == [1, 2]


def test_unannotated_builder_still_scoped():
    @operator
    def plain(step_id, up, n):
        return op.map("m", up, lambda v: v + n)

    flow, s = _flow_with_input(items=[1])
    out = plain("p", s, 1)
    assert [step.step_id for step in flow.substeps] == ["f.inp", "f.p"]
    got = []
    op.output("out", out, TestingSink(got))
    run_main(flow)
    assert got == [2]


def test_string_annotations_are_resolved():
    ns = {}
    exec(
        "from __future__ import annotations\n"
        "from bytewax.dataflow import Stream, operator\n"
        "import bytewax.operators as op\n"
        "@operator\n"
        "def twice(step_id: str, up: Stream[int]) -> Stream[int]:\n"
        "    return op.map('m', up, lambda x: x * 2)\n",
        ns,
    )
    flow, s = _flow_with_input()
    ns["twice"]("t", s)
    step = flow.substeps[-1]
    assert type(step).ups_names == ["up"]
    assert step.up == SinglePort("f.t.up", "f.inp.down")


def test_streams_nested_in_a_container_are_rejected():
    @operator
    def takes_list(step_id: str, up: Stream[Any], others: list) -> Stream[Any]:
        return op.merge("merge", up, *others)

    flow, s = _flow_with_input()
    with pytest.raises(AssertionError, match="inconsistent stream scoping"):
        takes_list("tl", s, [s])


def test_stdout_sink_is_a_sink():
    flow, s = _flow_with_input()
    op.output("out", s, StdOutSink())
    assert type(flow.substeps[-1]).__name__ == "output"
    with pytest.raises(TypeError, match="Sink"):
        op.output("bad", s, [])
    with pytest.raises(TypeError, match="Source"):
        op.input("bad", flow, [1, 2])


def test_mock_config_values_are_fine():
    from unittest.mock import Mock

    flow, s = _flow_with_input(items=[1, 2])
    mapper = Mock(side_effect=lambda x: x * 3)
    out = []
    op.output("out", op.map("m", s, mapper), TestingSink(out))
    run_main(flow)
    assert out == [3, 6]
    assert mapper.call_count == 2
