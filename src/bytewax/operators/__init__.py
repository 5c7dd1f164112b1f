"""The built-in operators.

Operators are functions that add a step to a dataflow. Each takes a step
id (unique among its siblings), one or more upstream `Stream`s and some
configuration, and returns the stream(s) the step produces.

A few operators are *core*: the runtime implements them directly
(`input`, `output`, `branch`, `flat_map_batch`, `inspect_debug`, `merge`,
`redistribute`, `unary` and, in `bytewax.operators.window`,
`fold_window`). All the others are *composites* built out of those, and
their inner steps keep fixed names because recovery stores state under
the steps' ids.

Stateful operators work on a `KeyedStream`: a stream of `(key, value)`
2-tuples whose key is a `str`. State is kept per key, and all items with
the same key are processed by the same worker. Use `key_on` to make a
keyed stream.

The examples in this module's docstrings build a flow from
`bytewax.testing.TestingSource` and run it with
`bytewax.testing.run_main`, which runs a single worker in the calling
thread.

"""

import builtins
import copy
import functools
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, compress, product
from operator import add as _add
from typing import (
    Any,
    Callable,
    Dict,
    Generic,
    Iterable,
    List,
    Optional,
    Tuple,
    TypeAlias,
    TypeVar,
)

from bytewax.dataflow import Dataflow, Stream, f_repr, operator
from bytewax.inputs import Source
from bytewax.outputs import DynamicSink, Sink, StatelessSinkPartition

__all__ = [
    "EMPTY",
    "BranchOut",
    "KeyedStream",
    "UnaryLogic",
    "branch",
    "collect",
    "count_final",
    "filter",
    "filter_map",
    "filter_value",
    "flat_map",
    "flat_map_batch",
    "flat_map_value",
    "flatten",
    "fold_final",
    "input",
    "inspect",
    "inspect_debug",
    "join",
    "join_named",
    "key_on",
    "map",
    "map_value",
    "max_final",
    "merge",
    "min_final",
    "output",
    "raises",
    "redistribute",
    "reduce_final",
    "stateful_map",
    "unary",
]

X = TypeVar("X")
Y = TypeVar("Y")
V = TypeVar("V")
W = TypeVar("W")
S = TypeVar("S")

KeyedStream: TypeAlias = Stream[Tuple[str, V]]
"""A stream of `(key, value)` 2-tuples whose keys are `str`.

It is only a type alias of `Stream`: that items really are keyed is
checked while the flow runs, by the operators that need keys.

"""

# This module defines operators called `map`, `filter` and `input`.
_map = builtins.map

#: An empty emit, for `UnaryLogic` methods that emit nothing:
#: `return (EMPTY, UnaryLogic.RETAIN)`.
EMPTY: Tuple = ()
# A `UnaryLogic` return value meaning "emit nothing, keep the logic".
_NOTHING: Tuple[Tuple, bool] = (EMPTY, False)

_BOOL_ONLY = frozenset([bool])
_STR_ONLY = frozenset([str])
_TUPLE_ONLY = frozenset([tuple])

# Composites built on `flat_map` / `map` attach a function operating on
# a whole batch to the per-item function they pass down, under this
# attribute. `flat_map`, `flat_map_value` and `map` then hand that batch
# function straight to `flat_map_batch`, so the substep tree keeps its
# shape while the work runs as one tight loop per batch.
_BATCH_FN_ATTR = "_bytewax_batch_fn"


def _batch_fn_of(f: Any) -> Optional[Callable[[List[Any]], List[Any]]]:
    # Look in the instance dict only, so objects that make up attributes
    # on demand (mocks, proxies) are not mistaken for shims.
    try:
        return vars(f).get(_BATCH_FN_ATTR)
    except TypeError:
        return None


def _with_batch_fn(item_fn: Callable, batch_fn: Callable) -> Callable:
    setattr(item_fn, _BATCH_FN_ATTR, batch_fn)
    return item_fn


def _identity(x: X) -> X:
    return x


def _untyped_none() -> Any:
    return None


def _kv_error(step_id: str, item: Any) -> TypeError:
    msg = (
        f"step {step_id!r} requires `(key, value)` 2-tuple as upstream for "
        f"routing; got a {type(item)} instead"
    )
    return TypeError(msg)


def _check_kv(step_id: str, items: List[Any]) -> List[Any]:
    """Make sure a batch is made of `(key, value)` pairs.

    Returns the batch itself when every item is a `tuple` (checked at C
    speed); otherwise returns a copy with each item unpacked into a
    2-tuple, raising a `TypeError` naming the step for an item that
    can't be unpacked. Wrong-length items raise `ValueError` later, when
    they are unpacked.

    """
    if _TUPLE_ONLY.issuperset(_map(type, items)):
        return items
    fixed = []
    for item in items:
        if isinstance(item, tuple):
            fixed.append(item)
            continue
        try:
            k, v = item
        except TypeError:
            raise _kv_error(step_id, item) from None
        fixed.append((k, v))
    return fixed


def _bool_error(step_id: str, predicate: Callable, value: Any) -> TypeError:
    msg = (
        f"return value of `predicate` {f_repr(predicate)} in step {step_id!r} "
        f"must be a `bool`; got a {type(value)} instead"
    )
    return TypeError(msg)


def _check_bools(step_id: str, predicate: Callable, flags: List[Any]) -> None:
    if not _BOOL_ONLY.issuperset(_map(type, flags)):
        for flag in flags:
            if flag is not True and flag is not False:
                raise _bool_error(step_id, predicate, flag)


def _key_error(step_id: str, key: Callable, value: Any) -> TypeError:
    msg = (
        f"return value of `key` {f_repr(key)} in step {step_id!r} "
        f"must be a `str`; got a {type(value)} instead"
    )
    return TypeError(msg)


@dataclass(frozen=True)
class BranchOut(Generic[X, Y]):
    """The two streams produced by `branch`.

    `trues` carries the items for which the predicate returned `True`,
    `falses` the others.

    """

    trues: Stream[X]
    falses: Stream[Y]


class UnaryLogic(ABC, Generic[V, W, S]):
    """The per-key state machine behind the `unary` operator.

    `unary` builds one instance per key (through its `builder`) and then
    drives it with the methods below. Each of `on_item`, `on_notify` and
    `on_eof` returns a 2-tuple `(emit, is_complete)`:

    - `emit` is an iterable of values to send downstream; each is paired
      with the key.
    - `is_complete` is `UnaryLogic.DISCARD` (`True`) to throw this
      instance away (the next item for the key builds a new one) or
      `UnaryLogic.RETAIN` (`False`) to keep it.

    After any of those calls the runtime asks `notify_at` when it wants
    `on_notify` to be called next, and at the end of each epoch in which
    the key was touched it stores `snapshot()` for recovery. A snapshot
    is handed back to the builder as `resume_state` when the flow
    resumes.

    """

    RETAIN: bool = False
    """Keep this logic after the call."""

    DISCARD: bool = True
    """Throw this logic away after the call."""

    @abstractmethod
    def on_item(self, now: datetime, value: V) -> Tuple[Iterable[W], bool]:
        """Called with each new value for this key.

        `now` is the current UTC time, the same for a whole activation.

        """
        ...

    @abstractmethod
    def on_notify(self, sched: datetime) -> Tuple[Iterable[W], bool]:
        """Called once the time returned by `notify_at` has passed.

        `sched` is that scheduled time.

        """
        ...

    @abstractmethod
    def on_eof(self) -> Tuple[Iterable[W], bool]:
        """Called when the upstream has ended (end of all inputs)."""
        ...

    @abstractmethod
    def notify_at(self) -> Optional[datetime]:
        """When to call `on_notify` next; `None` for no notification."""
        ...

    @abstractmethod
    def snapshot(self) -> S:
        """A picklable copy of the state needed to rebuild this logic.

        It must not share mutable objects with the live logic, since the
        logic keeps changing after the snapshot is taken.

        """
        ...


# ---------------------------------------------------------------------
# Core operators. Their bodies only name the output streams; the runtime
# does the work.


@operator(_core=True)
def input(  # noqa: A001
    step_id: str,
    flow: Dataflow,
    source: Source[X],
) -> Stream[X]:
    """Add an input to the flow, reading items from a source.

    `source` is a `bytewax.inputs.FixedPartitionedSource` or
    `bytewax.inputs.DynamicSource`; see `bytewax.inputs` and the
    connectors in `bytewax.connectors`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("input_eg")
    >>> s = op.input("inp", flow, TestingSource(["x", "y"]))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    input_eg.show: 'x'
    input_eg.show: 'y'

    """
    if not isinstance(source, Source):
        msg = f"source must subclass `bytewax.inputs.Source`; got a {type(source)} instead"
        raise TypeError(msg)
    return Stream(f"{step_id}.down", flow._scope)


@operator(_core=True)
def output(step_id: str, up: Stream[X], sink: Sink[X]) -> None:
    """Write every item of a stream to a sink.

    `sink` is a `bytewax.outputs.FixedPartitionedSink` (which needs
    `(key, value)` items and writes the values) or a
    `bytewax.outputs.DynamicSink`.

    >>> import bytewax.operators as op
    >>> from bytewax.connectors.stdio import StdOutSink
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("output_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2]))
    >>> op.output("out", s, StdOutSink())
    >>> run_main(flow)
    1
    2

    """
    if not isinstance(sink, Sink):
        msg = f"sink must subclass `bytewax.outputs.Sink`; got a {type(sink)} instead"
        raise TypeError(msg)


@operator(_core=True)
def branch(
    step_id: str,
    up: Stream[X],
    predicate: Callable[[X], bool],
) -> BranchOut[X, X]:
    """Split a stream in two by a predicate.

    `predicate` is called with each item and must return a `bool`
    (`True` or `False` exactly, not merely something truthy).

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("branch_eg")
    >>> nums = op.input("inp", flow, TestingSource([1, 2, 3, 4]))
    >>> b = op.branch("even_odd", nums, lambda x: x % 2 == 0)
    >>> _ = op.inspect("evens", b.trues)
    >>> _ = op.inspect("odds", b.falses)
    >>> run_main(flow)
    branch_eg.odds: 1
    branch_eg.evens: 2
    branch_eg.odds: 3
    branch_eg.evens: 4

    """
    return BranchOut(
        Stream(f"{step_id}.trues", up._scope),
        Stream(f"{step_id}.falses", up._scope),
    )


@operator(_core=True)
def flat_map_batch(
    step_id: str,
    up: Stream[X],
    mapper: Callable[[List[X]], Iterable[Y]],
) -> Stream[Y]:
    """Transform whole batches of items at once.

    `mapper` receives a `list` of the items that are ready and returns an
    iterable of output items (any number of them). Batch sizes are up to
    the runtime. Useful when per-call overhead matters, e.g. to send a
    whole batch to an external service in one request.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("flat_map_batch_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2, 3]))
    >>> s = op.flat_map_batch("squares", s, lambda xs: [x * x for x in xs])
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    flat_map_batch_eg.show: 1
    flat_map_batch_eg.show: 4
    flat_map_batch_eg.show: 9

    """
    return Stream(f"{step_id}.down", up._scope)


# Each line goes out in one write: workers print from several threads, and
# `print`'s separate write of the newline lets their lines run together.
def _default_debug_inspector(step_id: str, item: Any, epoch: int, worker: int) -> None:
    print(f"{step_id} W{worker} @{epoch}: {item!r}\n", end="", flush=True)


@operator(_core=True)
def inspect_debug(
    step_id: str,
    up: Stream[X],
    inspector: Callable[[str, X, int, int], None] = _default_debug_inspector,
) -> Stream[X]:
    """Look at each item, with the epoch and worker that processed it.

    `inspector` is called as `inspector(step_id, item, epoch, worker)`
    with the fully-qualified step id; items pass downstream unchanged.
    By default it prints `{step_id} W{worker} @{epoch}: {item!r}`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("inspect_debug_eg")
    >>> s = op.input("inp", flow, TestingSource(["a"]))
    >>> _ = op.inspect_debug("debug", s)
    >>> run_main(flow)
    inspect_debug_eg.debug W0 @1: 'a'

    """
    return Stream(f"{step_id}.down", up._scope)


@operator(_core=True)
def merge(step_id: str, *ups: Stream[Any]) -> Stream[Any]:
    """Combine several streams into one.

    Items keep their order within each upstream; there is no ordering
    between upstreams.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("merge_eg")
    >>> a = op.input("a", flow, TestingSource([1, 2]))
    >>> b = op.input("b", flow, TestingSource([3]))
    >>> both = op.merge("both", a, b)
    >>> out = []
    >>> _ = op.inspect("collect", both, lambda _id, x: out.append(x))
    >>> run_main(flow)
    >>> sorted(out)
    [1, 2, 3]

    """
    if len(ups) <= 0:
        msg = "`merge` operator requires at least one upstream"
        raise TypeError(msg)
    return Stream(f"{step_id}.down", ups[0]._scope)


@operator(_core=True)
def redistribute(step_id: str, up: Stream[X]) -> Stream[X]:
    """Spread the items of a stream randomly over all workers.

    Use it after a step that only runs on one worker (for example a
    single-partition input) to spread expensive stateless work.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("redistribute_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2]))
    >>> s = op.redistribute("spread", s)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    redistribute_eg.show: 1
    redistribute_eg.show: 2

    """
    return Stream(f"{step_id}.down", up._scope)


@operator(_core=True)
def unary(
    step_id: str,
    up: KeyedStream[V],
    builder: Callable[[datetime, Optional[S]], UnaryLogic[V, W, S]],
) -> KeyedStream[W]:
    """The general stateful operator: run a `UnaryLogic` per key.

    `builder(now, resume_state)` creates the logic for a key: with
    `resume_state=None` when the key is first seen, or with a snapshot
    when the flow resumes. See `UnaryLogic` for how the logic is driven.
    Emitted values are paired with their key.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> class RunningMax(op.UnaryLogic):
    ...     def __init__(self, state):
    ...         self.state = state
    ...     def on_item(self, now, value):
    ...         if self.state is None or value > self.state:
    ...             self.state = value
    ...             return [value], op.UnaryLogic.RETAIN
    ...         return [], op.UnaryLogic.RETAIN
    ...     def on_notify(self, sched):
    ...         return [], op.UnaryLogic.RETAIN
    ...     def on_eof(self):
    ...         return [], op.UnaryLogic.DISCARD
    ...     def notify_at(self):
    ...         return None
    ...     def snapshot(self):
    ...         return self.state
    >>> flow = Dataflow("unary_eg")
    >>> s = op.input("inp", flow, TestingSource([("a", 3), ("a", 1), ("a", 5)]))
    >>> s = op.unary("running_max", s, lambda now, state: RunningMax(state))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    unary_eg.show: ('a', 3)
    unary_eg.show: ('a', 5)

    """
    return Stream(f"{step_id}.down", up._scope)


# ---------------------------------------------------------------------
# Stateless composites.


@operator
def flat_map(
    step_id: str,
    up: Stream[X],
    mapper: Callable[[X], Iterable[Y]],
) -> Stream[Y]:
    """Turn each item into any number of items.

    `mapper` returns an iterable for each item; its items are emitted in
    order.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("flat_map_eg")
    >>> s = op.input("inp", flow, TestingSource(["hello world", "hi"]))
    >>> s = op.flat_map("split", s, str.split)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    flat_map_eg.show: 'hello'
    flat_map_eg.show: 'world'
    flat_map_eg.show: 'hi'

    """
    batch_fn = _batch_fn_of(mapper)
    if batch_fn is None:
        from_iterable = chain.from_iterable

        def shim_flat_map(items: List[X]) -> List[Y]:
            return list(from_iterable(_map(mapper, items)))

        batch_fn = shim_flat_map
    return flat_map_batch("flat_map_batch", up, batch_fn)


@operator
def map(  # noqa: A001
    step_id: str,
    up: Stream[X],
    mapper: Callable[[X], Y],
) -> Stream[Y]:
    """Transform each item into exactly one new item.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("map_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2, 3]))
    >>> s = op.map("add_one", s, lambda x: x + 1)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    map_eg.show: 2
    map_eg.show: 3
    map_eg.show: 4

    """
    batch_fn = _batch_fn_of(mapper)
    if batch_fn is None:

        def shim_map(items: List[X]) -> List[Y]:
            return list(_map(mapper, items))

        batch_fn = shim_map
    return flat_map_batch("flat_map_batch", up, batch_fn)


@operator
def filter(  # noqa: A001
    step_id: str,
    up: Stream[X],
    predicate: Callable[[X], bool],
) -> Stream[X]:
    """Keep only the items for which `predicate` returns `True`.

    `predicate` must return a `bool`; any other value is a `TypeError`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("filter_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2, 3, 4]))
    >>> s = op.filter("keep_even", s, lambda x: x % 2 == 0)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    filter_eg.show: 2
    filter_eg.show: 4

    """

    def shim_filter(item: X) -> Tuple:
        keep = predicate(item)
        if keep is True:
            return (item,)
        if keep is False:
            return EMPTY
        raise _bool_error(step_id, predicate, keep)

    def shim_filter_batch(items: List[X]) -> List[X]:
        flags = list(_map(predicate, items))
        _check_bools(step_id, predicate, flags)
        return list(compress(items, flags))

    return flat_map("flat_map", up, _with_batch_fn(shim_filter, shim_filter_batch))


@operator
def filter_map(
    step_id: str,
    up: Stream[X],
    mapper: Callable[[X], Optional[Y]],
) -> Stream[Y]:
    """Transform each item, dropping those that map to `None`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> def parse(s):
    ...     try:
    ...         return int(s)
    ...     except ValueError:
    ...         return None
    >>> flow = Dataflow("filter_map_eg")
    >>> s = op.input("inp", flow, TestingSource(["1", "x", "3"]))
    >>> s = op.filter_map("parse", s, parse)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    filter_map_eg.show: 1
    filter_map_eg.show: 3

    """

    def shim_filter_map(item: X) -> Tuple:
        res = mapper(item)
        return EMPTY if res is None else (res,)

    def shim_filter_map_batch(items: List[X]) -> List[Y]:
        return [y for y in _map(mapper, items) if y is not None]

    return flat_map("flat_map", up, _with_batch_fn(shim_filter_map, shim_filter_map_batch))


@operator
def flatten(step_id: str, up: Stream[Iterable[X]]) -> Stream[X]:
    """Emit the contents of each item, which must be iterable.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("flatten_eg")
    >>> s = op.input("inp", flow, TestingSource([[1, 2], [], [3]]))
    >>> s = op.flatten("flat", s)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    flatten_eg.show: 1
    flatten_eg.show: 2
    flatten_eg.show: 3

    """

    def not_iterable(item: Any) -> TypeError:
        msg = f"step {step_id!r} requires upstream to be iterables; got a {type(item)} instead"
        return TypeError(msg)

    def shim_flatten(item: Iterable[X]) -> Iterable[X]:
        try:
            iter(item)
        except TypeError:
            raise not_iterable(item) from None
        return item

    from_iterable = chain.from_iterable

    def shim_flatten_batch(items: List[Iterable[X]]) -> List[X]:
        try:
            return list(from_iterable(items))
        except TypeError:
            for item in items:
                try:
                    iter(item)
                except TypeError:
                    raise not_iterable(item) from None
            raise

    return flat_map("flat_map", up, _with_batch_fn(shim_flatten, shim_flatten_batch))


def _default_inspector(step_id: str, item: Any) -> None:
    print(f"{step_id}: {item!r}\n", end="", flush=True)


@operator
def inspect(
    step_id: str,
    up: Stream[X],
    inspector: Callable[[str, X], None] = _default_inspector,
) -> Stream[X]:
    """Look at each item as it passes, without changing it.

    `inspector` is called as `inspector(step_id, item)` with this step's
    fully-qualified id. By default it prints `{step_id}: {item!r}`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("inspect_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2]))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    inspect_eg.show: 1
    inspect_eg.show: 2

    """
    if inspector is None:
        inspector = _default_inspector

    def shim_inspector(_fq_id: str, item: X, _epoch: int, _worker: int) -> None:
        inspector(step_id, item)

    return inspect_debug("inspect_debug", up, shim_inspector)


@operator
def key_on(step_id: str, up: Stream[X], key: Callable[[X], str]) -> KeyedStream[X]:
    """Pair each item with a key, making a `KeyedStream`.

    `key` must return a `str`. Items become `(key(item), item)`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("key_on_eg")
    >>> s = op.input("inp", flow, TestingSource([{"user": "a", "n": 1}]))
    >>> s = op.key_on("by_user", s, lambda e: e["user"])
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    key_on_eg.show: ('a', {'user': 'a', 'n': 1})

    """

    def shim_key_on(item: X) -> Tuple[str, X]:
        k = key(item)
        if not isinstance(k, str):
            raise _key_error(step_id, key, k)
        return (k, item)

    def shim_key_on_batch(items: List[X]) -> List[Tuple[str, X]]:
        keys = list(_map(key, items))
        if not _STR_ONLY.issuperset(_map(type, keys)):
            for k in keys:
                if not isinstance(k, str):
                    raise _key_error(step_id, key, k)
        return list(zip(keys, items))

    return map("map", up, _with_batch_fn(shim_key_on, shim_key_on_batch))


@operator
def map_value(
    step_id: str,
    up: KeyedStream[V],
    mapper: Callable[[V], W],
) -> KeyedStream[W]:
    """Transform the value of each `(key, value)` item, keeping the key.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("map_value_eg")
    >>> s = op.input("inp", flow, TestingSource([("a", 1), ("b", 2)]))
    >>> s = op.map_value("double", s, lambda v: v * 2)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    map_value_eg.show: ('a', 2)
    map_value_eg.show: ('b', 4)

    """

    def shim_map_value(kv: Tuple[str, V]) -> Tuple[str, W]:
        try:
            k, v = kv
        except TypeError:
            raise _kv_error(step_id, kv) from None
        return (k, mapper(v))

    def shim_map_value_batch(items: List[Tuple[str, V]]) -> List[Tuple[str, W]]:
        return [(k, mapper(v)) for k, v in _check_kv(step_id, items)]

    return map("map", up, _with_batch_fn(shim_map_value, shim_map_value_batch))


@operator
def flat_map_value(
    step_id: str,
    up: KeyedStream[V],
    mapper: Callable[[V], Iterable[W]],
) -> KeyedStream[W]:
    """Turn the value of each `(key, value)` item into any number of values.

    Each resulting value is emitted with the original key.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("flat_map_value_eg")
    >>> s = op.input("inp", flow, TestingSource([("a", "x y")]))
    >>> s = op.flat_map_value("split", s, str.split)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    flat_map_value_eg.show: ('a', 'x')
    flat_map_value_eg.show: ('a', 'y')

    """
    batch_fn = _batch_fn_of(mapper)
    if batch_fn is None:

        def shim_flat_map_value_batch(items: List[Tuple[str, V]]) -> List[Tuple[str, W]]:
            return [(k, w) for k, v in _check_kv(step_id, items) for w in mapper(v)]

        batch_fn = shim_flat_map_value_batch

    def shim_flat_map_value(kv: Tuple[str, V]) -> List[Tuple[str, W]]:
        try:
            k, v = kv
        except TypeError:
            raise _kv_error(step_id, kv) from None
        return [(k, w) for w in mapper(v)]

    return flat_map("flat_map", up, _with_batch_fn(shim_flat_map_value, batch_fn))


@operator
def filter_value(
    step_id: str,
    up: KeyedStream[V],
    predicate: Callable[[V], bool],
) -> KeyedStream[V]:
    """Keep only the `(key, value)` items whose value passes `predicate`.

    `predicate` must return a `bool`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("filter_value_eg")
    >>> s = op.input("inp", flow, TestingSource([("a", 1), ("b", -2)]))
    >>> s = op.filter_value("positive", s, lambda v: v > 0)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    filter_value_eg.show: ('a', 1)

    """
    fmv_id = f"{step_id}.filter"

    def shim_filter_value(value: V) -> Tuple:
        keep = predicate(value)
        if keep is True:
            return (value,)
        if keep is False:
            return EMPTY
        raise _bool_error(step_id, predicate, keep)

    def shim_filter_value_batch(items: List[Tuple[str, V]]) -> List[Tuple[str, V]]:
        items = _check_kv(fmv_id, items)
        flags = [predicate(v) for _k, v in items]
        _check_bools(step_id, predicate, flags)
        return list(compress(items, flags))

    return flat_map_value("filter", up, _with_batch_fn(shim_filter_value, shim_filter_value_batch))


@operator
def raises(step_id: str, up: Stream[Any]) -> None:
    """Fail the flow if any item reaches this step.

    Handy to assert that a stream (say, of errors) stays empty: any item
    raises a `RuntimeError` naming this step and the item.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("raises_eg")
    >>> s = op.input("inp", flow, TestingSource([1, 2]))
    >>> negatives = op.filter("negatives", s, lambda x: x < 0)
    >>> op.raises("no_negatives", negatives)
    >>> run_main(flow)

    """
    output("output", up, _RaiseSink(step_id))


class _RaisePartition(StatelessSinkPartition[Any]):
    def __init__(self, step_id: str):
        self.step_id = step_id

    def write_batch(self, items: List[Any]) -> None:
        for item in items:
            msg = f"`raises` step {self.step_id!r} got an item: {item!r}"
            raise RuntimeError(msg)


class _RaiseSink(DynamicSink[Any]):
    def __init__(self, step_id: str):
        self.step_id = step_id

    def build(self, worker_index: int, worker_count: int) -> _RaisePartition:
        return _RaisePartition(self.step_id)


# ---------------------------------------------------------------------
# Stateful composites.


class _StatefulMapLogic(UnaryLogic[V, W, S]):
    def __init__(self, step_id: str, mapper: Callable, state: S):
        self.step_id = step_id
        self.mapper = mapper
        self.state = state

    def on_item(self, now: datetime, value: V) -> Tuple[Iterable[W], bool]:
        res = self.mapper(self.state, value)
        if type(res) is not tuple or len(res) != 2:
            if not isinstance(res, tuple) or len(res) != 2:
                msg = (
                    f"return value of `mapper` {f_repr(self.mapper)} in step "
                    f"{self.step_id!r} must be a 2-tuple of "
                    f"`(updated_state, emit_item)`; got a {type(res)} instead"
                )
                raise TypeError(msg)
        state, emit = res
        if state is None:
            return ((emit,), True)
        self.state = state
        return ((emit,), False)

    def on_notify(self, sched: datetime) -> Tuple[Iterable[W], bool]:
        return _NOTHING

    def on_eof(self) -> Tuple[Iterable[W], bool]:
        return _NOTHING

    def notify_at(self) -> Optional[datetime]:
        return None

    def snapshot(self) -> S:
        return copy.deepcopy(self.state)


@operator
def stateful_map(
    step_id: str,
    up: KeyedStream[V],
    builder: Callable[[], S],
    mapper: Callable[[S, V], Tuple[Optional[S], W]],
) -> KeyedStream[W]:
    """Transform values while keeping per-key state.

    For the first value of a key, `builder()` makes the initial state.
    Then for every value, `mapper(state, value)` returns
    `(updated_state, emit_value)`; `emit_value` is sent downstream with
    the key. Returning `None` as the updated state forgets the key's
    state (the next value starts again from `builder()`).

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> def running_sum(total, x):
    ...     total += x
    ...     return total, total
    >>> flow = Dataflow("stateful_map_eg")
    >>> inp = [("a", 1), ("b", 10), ("a", 2), ("a", 3)]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> s = op.stateful_map("sum", s, lambda: 0, running_sum)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    stateful_map_eg.show: ('a', 1)
    stateful_map_eg.show: ('b', 10)
    stateful_map_eg.show: ('a', 3)
    stateful_map_eg.show: ('a', 6)

    """

    def shim_builder(now: datetime, resume_state: Optional[S]) -> _StatefulMapLogic:
        state = resume_state if resume_state is not None else builder()
        return _StatefulMapLogic(step_id, mapper, state)

    # The runtime runs this logic natively (same results, fewer calls).
    shim_builder._bytewax_native = ("stateful_map", builder, mapper)  # type: ignore[attr-defined]
    return unary("unary", up, shim_builder)


class _FoldFinalLogic(UnaryLogic[V, S, S]):
    def __init__(self, step_id: str, folder: Callable[[S, V], S], state: S):
        self.step_id = step_id
        self.folder = folder
        self.state = state

    def on_item(self, now: datetime, value: V) -> Tuple[Iterable[S], bool]:
        self.state = self.folder(self.state, value)
        return _NOTHING

    def on_notify(self, sched: datetime) -> Tuple[Iterable[S], bool]:
        return _NOTHING

    def on_eof(self) -> Tuple[Iterable[S], bool]:
        return ((self.state,), True)

    def notify_at(self) -> Optional[datetime]:
        return None

    def snapshot(self) -> S:
        return copy.deepcopy(self.state)


@operator
def fold_final(
    step_id: str,
    up: KeyedStream[V],
    builder: Callable[[], S],
    folder: Callable[[S, V], S],
) -> KeyedStream[S]:
    """Fold all values of each key into an accumulator; emit it at the end.

    `builder()` makes the empty accumulator for a new key and
    `folder(acc, value)` returns the updated accumulator. The final
    accumulator of every key is emitted once the input ends, so this only
    makes sense on bounded input.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("fold_final_eg")
    >>> inp = [("a", 1), ("b", 5), ("a", 2)]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> s = op.fold_final("collect", s, list, lambda acc, v: acc + [v])
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    fold_final_eg.show: ('a', [1, 2])
    fold_final_eg.show: ('b', [5])

    """

    def shim_builder(now: datetime, resume_state: Optional[S]) -> _FoldFinalLogic:
        state = resume_state if resume_state is not None else builder()
        return _FoldFinalLogic(step_id, folder, state)

    # The runtime runs this logic natively (same results, fewer calls).
    shim_builder._bytewax_native = ("fold_final", builder, folder)  # type: ignore[attr-defined]
    return unary("unary", up, shim_builder)


_MISSING = object()


@operator
def reduce_final(
    step_id: str,
    up: KeyedStream[V],
    reducer: Callable[[V, V], V],
) -> KeyedStream[V]:
    """Combine all values of each key pairwise; emit the result at the end.

    `reducer(acc, value)` returns the combined value. The result for
    every key is emitted once the input ends.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("reduce_final_eg")
    >>> inp = [("a", 1), ("b", 5), ("a", 2)]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> s = op.reduce_final("sum", s, lambda acc, v: acc + v)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    reduce_final_eg.show: ('a', 3)
    reduce_final_eg.show: ('b', 5)

    """

    def shim_pre_reduce(items: List[Tuple[str, V]]) -> List[Tuple[str, V]]:
        acc: Dict[str, V] = {}
        get = acc.get
        for k, v in _check_kv(step_id, items):
            prev = get(k, _MISSING)
            acc[k] = v if prev is _MISSING else reducer(prev, v)
        return list(acc.items())

    def shim_folder(acc: Optional[V], value: V) -> V:
        return value if acc is None else reducer(acc, value)

    # The runtime runs `pre_reduce` natively over whole epochs instead of
    # single batches (same results: the fold only emits at the end), so one
    # value per key and epoch is routed instead of every item.
    shim_pre_reduce._bytewax_native = ("combine", reducer)  # type: ignore[attr-defined]
    pre = flat_map_batch("pre_reduce", up, shim_pre_reduce)
    return fold_final("fold_final", pre, _untyped_none, shim_folder)


@operator
def count_final(
    step_id: str,
    up: Stream[X],
    key: Callable[[X], str],
) -> KeyedStream[int]:
    """Count the items per key; emit the counts at the end.

    `key` returns the `str` key to count each item under.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("count_final_eg")
    >>> s = op.input("inp", flow, TestingSource(["b", "a", "b", "b"]))
    >>> s = op.count_final("count", s, lambda x: x)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    count_final_eg.show: ('a', 1)
    count_final_eg.show: ('b', 3)

    """

    def shim_init_count(item: X) -> Tuple[str, int]:
        return (key(item), 1)

    # Items of a batch are already counted per key here; the sums that
    # `reduce_final` produces are the same.
    def shim_init_count_batch(items: List[X]) -> List[Tuple[str, int]]:
        return list(Counter(_map(key, items)).items())

    init = map("init_count", up, _with_batch_fn(shim_init_count, shim_init_count_batch))
    return reduce_final("sum", init, _add)


@operator
def max_final(
    step_id: str,
    up: KeyedStream[V],
    by: Callable[[V], Any] = _identity,
) -> KeyedStream[V]:
    """Emit the largest value of each key at the end of the input.

    `by` picks what to compare, like the `key` argument of `max`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("max_final_eg")
    >>> inp = [("a", 3), ("a", 7), ("b", 1)]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> s = op.max_final("max", s)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    max_final_eg.show: ('a', 7)
    max_final_eg.show: ('b', 1)

    """
    return reduce_final("reduce_final", up, functools.partial(max, key=by))


@operator
def min_final(
    step_id: str,
    up: KeyedStream[V],
    by: Callable[[V], Any] = _identity,
) -> KeyedStream[V]:
    """Emit the smallest value of each key at the end of the input.

    `by` picks what to compare, like the `key` argument of `min`.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("min_final_eg")
    >>> inp = [("a", {"t": 3}), ("a", {"t": 1})]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> s = op.min_final("min", s, by=lambda e: e["t"])
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    min_final_eg.show: ('a', {'t': 1})

    """
    return reduce_final("reduce_final", up, functools.partial(min, key=by))


@dataclass
class _CollectState(Generic[V]):
    acc: List[V] = field(default_factory=list)
    timeout_at: Optional[datetime] = None


class _CollectLogic(UnaryLogic[V, List[V], "_CollectState[V]"]):
    def __init__(self, step_id: str, timeout: timedelta, max_size: int, state: "_CollectState[V]"):
        self.step_id = step_id
        self.timeout = timeout
        self.max_size = max_size
        self.state = state

    def on_item(self, now: datetime, value: V) -> Tuple[Iterable[List[V]], bool]:
        state = self.state
        state.timeout_at = now + self.timeout
        acc = state.acc
        acc.append(value)
        if len(acc) >= self.max_size:
            return ((acc,), True)
        return _NOTHING

    def on_notify(self, sched: datetime) -> Tuple[Iterable[List[V]], bool]:
        return ((self.state.acc,), True)

    def on_eof(self) -> Tuple[Iterable[List[V]], bool]:
        return ((self.state.acc,), True)

    def notify_at(self) -> Optional[datetime]:
        return self.state.timeout_at

    def snapshot(self) -> "_CollectState[V]":
        return copy.deepcopy(self.state)


@operator
def collect(
    step_id: str,
    up: KeyedStream[V],
    timeout: timedelta,
    max_size: int,
) -> KeyedStream[List[V]]:
    """Gather the values of each key into lists.

    A key's list is emitted when it reaches `max_size` values, when
    `timeout` has passed since the key's latest value, or when the input
    ends, whichever comes first.

    >>> from datetime import timedelta
    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("collect_eg")
    >>> inp = [("a", 1), ("a", 2), ("b", 3), ("a", 4)]
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> s = op.collect("pairs", s, timeout=timedelta(seconds=10), max_size=2)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    collect_eg.show: ('a', [1, 2])
    collect_eg.show: ('a', [4])
    collect_eg.show: ('b', [3])

    """

    def shim_builder(now: datetime, resume_state: Optional[_CollectState[V]]) -> _CollectLogic:
        state = resume_state if resume_state is not None else _CollectState()
        return _CollectLogic(step_id, timeout, max_size, state)

    return unary("unary", up, shim_builder)


@dataclass
class _JoinState:
    """Values seen so far per join side, in side order."""

    seen: Dict[str, List[Any]]

    @classmethod
    def for_names(cls, names: List[str]) -> "_JoinState":
        return cls({name: [] for name in names})

    def set_val(self, name: str, value: Any) -> None:
        self.seen[name] = [value]

    def add_val(self, name: str, value: Any) -> None:
        self.seen[name].append(value)

    def is_set(self, name: str) -> bool:
        return len(self.seen[name]) > 0

    def all_set(self) -> bool:
        return all(self.seen.values())

    def astuples(self, empty: Any = None) -> List[Tuple]:
        """Every combination of one value per side; `empty` for a missing side."""
        return list(product(*(vals if vals else (empty,) for vals in self.seen.values())))

    def asdicts(self) -> List[Dict[str, Any]]:
        """Every combination of one value per side; missing sides are left out."""
        names = [name for name, vals in self.seen.items() if vals]
        return [dict(zip(names, combo)) for combo in product(*(self.seen[name] for name in names))]


class _JoinLogic(UnaryLogic[Tuple[str, Any], _JoinState, _JoinState]):
    def __init__(self, step_id: str, running: bool, state: _JoinState):
        self.step_id = step_id
        self.running = running
        self.state = state

    def on_item(self, now: datetime, value: Tuple[str, Any]) -> Tuple[Iterable[_JoinState], bool]:
        name, val = value
        state = self.state
        state.set_val(name, val)
        if self.running:
            # `set_val` replaces lists rather than mutating them, so a
            # shallow copy of the mapping is an independent snapshot.
            return ((_JoinState(dict(state.seen)),), False)
        if state.all_set():
            return ((state,), True)
        return _NOTHING

    def on_notify(self, sched: datetime) -> Tuple[Iterable[_JoinState], bool]:
        return _NOTHING

    def on_eof(self) -> Tuple[Iterable[_JoinState], bool]:
        return _NOTHING

    def notify_at(self) -> Optional[datetime]:
        return None

    def snapshot(self) -> _JoinState:
        return copy.deepcopy(self.state)


def _add_name(name: str) -> Callable[[Any], Tuple[str, Any]]:
    def add_name(value: Any) -> Tuple[str, Any]:
        return (name, value)

    return add_name


@operator
def _join_name_merge(
    step_id: str,
    **named_ups: Stream[Tuple[str, Any]],
) -> Stream[Tuple[str, Tuple[str, Any]]]:
    """Tag each side's values with the side's name and merge the sides."""
    tagged = [map_value(f"name_{name}", up, _add_name(name)) for name, up in named_ups.items()]
    return merge("merge", *tagged)


def _join_astuples(state: _JoinState) -> List[Tuple]:
    return state.astuples()


def _join_asdicts(state: _JoinState) -> List[Dict[str, Any]]:
    return state.asdicts()


@operator
def join(
    step_id: str,
    *sides: KeyedStream[Any],
    running: bool = False,
) -> KeyedStream[Tuple]:
    """Join several keyed streams on their keys.

    Keeps the latest value of each side per key. With `running=False`
    (the default), once every side has a value for a key, emits a tuple
    of them (in the order the sides were given) and forgets the key. With
    `running=True`, emits on every new value, with `None` for sides not
    seen yet, and never forgets.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("join_eg")
    >>> names = op.input("names", flow, TestingSource([("1", "Ann"), ("2", "Bo")]))
    >>> emails = op.input("emails", flow, TestingSource([("1", "ann@x.org")]))
    >>> s = op.join("join", names, emails)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    join_eg.show: ('1', ('Ann', 'ann@x.org'))

    """
    named = {str(i): side for i, side in enumerate(sides)}
    names = list(named)

    def shim_builder(now: datetime, resume_state: Optional[_JoinState]) -> _JoinLogic:
        state = resume_state if resume_state is not None else _JoinState.for_names(names)
        return _JoinLogic(step_id, running, state)

    merged = _join_name_merge("add_names", **named)
    joined = unary("join", merged, shim_builder)
    return flat_map_value("astuple", joined, _join_astuples)


@operator
def join_named(
    step_id: str,
    running: bool = False,
    **sides: KeyedStream[Any],
) -> KeyedStream[Dict[str, Any]]:
    """Join keyed streams given by keyword, emitting dicts.

    Works like `join`, but each output is a `dict` from side name to
    value; in a running join, sides not seen yet are left out.

    >>> import bytewax.operators as op
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> flow = Dataflow("join_named_eg")
    >>> names = op.input("names", flow, TestingSource([("1", "Ann")]))
    >>> emails = op.input("emails", flow, TestingSource([("1", "ann@x.org")]))
    >>> s = op.join_named("join", name=names, email=emails)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    join_named_eg.show: ('1', {'name': 'Ann', 'email': 'ann@x.org'})

    """
    names = list(sides)

    def shim_builder(now: datetime, resume_state: Optional[_JoinState]) -> _JoinLogic:
        state = resume_state if resume_state is not None else _JoinState.for_names(names)
        return _JoinLogic(step_id, running, state)

    merged = _join_name_merge("add_names", **sides)
    joined = unary("join", merged, shim_builder)
    return flat_map_value("asdict", joined, _join_asdicts)
