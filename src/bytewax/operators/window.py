"""Operators that group the values of each key into time windows.

A windowing operator needs two pieces of configuration:

- A *clock* says what time each value belongs to and how far time has
  progressed. `SystemClockConfig` uses the current system time.
  `EventClockConfig` reads a timestamp from each value (`dt_getter`, which
  must return a timezone-aware UTC `datetime`) and waits
  `wait_for_system_duration` for late values before a window closes.
  Values that arrive after their window has closed are dropped.
- A *windower* says which windows a time falls into. `TumblingWindow`
  makes back-to-back windows of a fixed `length` starting at
  `align_to`; `SlidingWindow` makes windows of `length` that start every
  `offset` (so they overlap when `offset < length`); `SessionWindow`
  groups values separated by less than `gap`.

Every window operator works per key on a `KeyedStream`, and emits
`(key, (WindowMetadata, result))` when each window closes (or when the
input ends). `WindowMetadata` has the window's `open_time` and
`close_time`.

>>> from datetime import datetime, timedelta, timezone
>>> import bytewax.operators as op
>>> import bytewax.operators.window as win
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSource, run_main
>>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> readings = [
...     {"sensor": "a", "at": start + timedelta(seconds=1), "temp": 20},
...     {"sensor": "a", "at": start + timedelta(seconds=4), "temp": 24},
...     {"sensor": "a", "at": start + timedelta(seconds=12), "temp": 21},
... ]
>>> flow = Dataflow("window_eg")
>>> s = op.input("inp", flow, TestingSource(readings))
>>> s = op.key_on("by_sensor", s, lambda r: r["sensor"])
>>> clock = win.EventClockConfig(lambda r: r["at"], timedelta(seconds=0))
>>> windower = win.TumblingWindow(timedelta(seconds=10), align_to=start)
>>> s = win.max_window("hottest", s, clock, windower, by=lambda r: r["temp"])
>>> s = op.map_value("fmt", s, lambda m_r: (m_r[0].open_time.second, m_r[1]["temp"]))
>>> _ = op.inspect("show", s)
>>> run_main(flow)
window_eg.show: ('a', (0, 24))
window_eg.show: ('a', (10, 21))

"""

import functools
from typing import Any, Callable, Dict, List, Set, Tuple, Type, TypeVar

from bytewax.bytewax import (
    ClockConfig,
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
    WindowConfig,
    WindowMetadata,
)
from bytewax.dataflow import Stream, operator
from bytewax.operators import (
    KeyedStream,
    _identity,
    _join_name_merge,
    _JoinState,
    _untyped_none,
    flat_map_value,
    key_on,
)

__all__ = [
    "ClockConfig",
    "EventClockConfig",
    "SessionWindow",
    "SlidingWindow",
    "SystemClockConfig",
    "TumblingWindow",
    "WindowConfig",
    "WindowMetadata",
    "collect_window",
    "count_window",
    "fold_window",
    "join_window",
    "join_window_named",
    "max_window",
    "min_window",
    "reduce_window",
]

X = TypeVar("X")
V = TypeVar("V")
S = TypeVar("S")
K = TypeVar("K")
C = TypeVar("C")


@operator(_core=True)
def fold_window(
    step_id: str,
    up: KeyedStream[V],
    clock: ClockConfig,
    windower: WindowConfig,
    builder: Callable[[], S],
    folder: Callable[[S, V], S],
) -> KeyedStream[Tuple[WindowMetadata, S]]:
    """Fold the values of each window into an accumulator.

    For the first value of a window, `builder()` makes an empty
    accumulator; `folder(acc, value)` returns the updated one. When the
    window closes, `(key, (metadata, acc))` is emitted.

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> inp = [("a", (start + timedelta(seconds=s), s)) for s in [1, 2, 7]]
    >>> flow = Dataflow("fold_window_eg")
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> clock = win.EventClockConfig(lambda v: v[0], timedelta(seconds=0))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.fold_window(
    ...     "seconds", s, clock, windower, list, lambda acc, v: acc + [v[1]]
    ... )
    >>> s = op.map_value("fmt", s, lambda m_acc: (m_acc[0].open_time.second, m_acc[1]))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    fold_window_eg.show: ('a', (0, [1, 2]))
    fold_window_eg.show: ('a', (5, [7]))

    """
    return Stream(f"{step_id}.down", up._scope)


def _list_collector(acc: List[V], value: V) -> List[V]:
    acc.append(value)
    return acc


def _set_collector(acc: Set[V], value: V) -> Set[V]:
    acc.add(value)
    return acc


def _dict_collector(acc: Dict[K, V], k_v: Tuple[K, V]) -> Dict[K, V]:
    k, v = k_v
    acc[k] = v
    return acc


_COLLECTORS: Dict[type, Callable] = {
    list: _list_collector,
    set: _set_collector,
    dict: _dict_collector,
}


@operator
def collect_window(
    step_id: str,
    up: KeyedStream[V],
    clock: ClockConfig,
    windower: WindowConfig,
    into: Type[C] = list,  # type: ignore[assignment]
) -> KeyedStream[Tuple[WindowMetadata, C]]:
    """Collect the values of each window into a `list`, `set` or `dict`.

    With `into=dict` the values must be `(k, v)` pairs, stored as
    `d[k] = v` (a later pair with the same `k` wins).

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> inp = [("a", (start + timedelta(seconds=s), s)) for s in [1, 2, 7]]
    >>> flow = Dataflow("collect_window_eg")
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> clock = win.EventClockConfig(lambda v: v[0], timedelta(seconds=0))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.collect_window("collect", s, clock, windower)
    >>> s = op.map_value("fmt", s, lambda m_vs: [sec for _, sec in m_vs[1]])
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    collect_window_eg.show: ('a', [1, 2])
    collect_window_eg.show: ('a', [7])

    """
    collector = _COLLECTORS.get(into)  # type: ignore[arg-type]
    if collector is None:
        msg = f"`collect_window` can't collect into {into!r}; use `list`, `set` or `dict`"
        raise TypeError(msg)
    return fold_window("fold_window", up, clock, windower, into, collector)


def _count_folder(count: int, _value: Any) -> int:
    return count + 1


def _zero() -> int:
    return 0


@operator
def count_window(
    step_id: str,
    up: Stream[X],
    clock: ClockConfig,
    windower: WindowConfig,
    key: Callable[[X], str],
) -> KeyedStream[Tuple[WindowMetadata, int]]:
    """Count the items per key in each window.

    `key` returns the `str` key each item is counted under; the upstream
    need not be keyed. Emits `(key, (metadata, count))`.

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> inp = [
    ...     {"user": "a", "at": start + timedelta(seconds=1)},
    ...     {"user": "a", "at": start + timedelta(seconds=3)},
    ...     {"user": "a", "at": start + timedelta(seconds=8)},
    ... ]
    >>> flow = Dataflow("count_window_eg")
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> clock = win.EventClockConfig(lambda e: e["at"], timedelta(seconds=0))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.count_window("count", s, clock, windower, lambda e: e["user"])
    >>> s = op.map_value("fmt", s, lambda m_n: (m_n[0].open_time.second, m_n[1]))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    count_window_eg.show: ('a', (0, 2))
    count_window_eg.show: ('a', (5, 1))

    """
    keyed = key_on("extract_key", up, key)
    return fold_window("sum", keyed, clock, windower, _zero, _count_folder)


@operator
def reduce_window(
    step_id: str,
    up: KeyedStream[V],
    clock: ClockConfig,
    windower: WindowConfig,
    reducer: Callable[[V, V], V],
) -> KeyedStream[Tuple[WindowMetadata, V]]:
    """Combine the values of each window pairwise with `reducer`.

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> inp = [("a", (start + timedelta(seconds=s), s)) for s in [1, 2, 7]]
    >>> flow = Dataflow("reduce_window_eg")
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> clock = win.EventClockConfig(lambda v: v[0], timedelta(seconds=0))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.reduce_window(
    ...     "sum", s, clock, windower, lambda a, b: (max(a[0], b[0]), a[1] + b[1])
    ... )
    >>> s = op.map_value("fmt", s, lambda m_v: m_v[1][1])
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    reduce_window_eg.show: ('a', 3)
    reduce_window_eg.show: ('a', 7)

    """

    def shim_folder(acc: V, value: V) -> V:
        return value if acc is None else reducer(acc, value)

    return fold_window("fold_window", up, clock, windower, _untyped_none, shim_folder)


@operator
def max_window(
    step_id: str,
    up: KeyedStream[V],
    clock: ClockConfig,
    windower: WindowConfig,
    by: Callable[[V], Any] = _identity,
) -> KeyedStream[Tuple[WindowMetadata, V]]:
    """Emit the largest value of each window.

    `by` picks what to compare, like the `key` argument of `max`. See
    the module docstring for an example.

    """
    return reduce_window("reduce_window", up, clock, windower, functools.partial(max, key=by))


@operator
def min_window(
    step_id: str,
    up: KeyedStream[V],
    clock: ClockConfig,
    windower: WindowConfig,
    by: Callable[[V], Any] = _identity,
) -> KeyedStream[Tuple[WindowMetadata, V]]:
    """Emit the smallest value of each window.

    `by` picks what to compare, like the `key` argument of `min`.

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> inp = [("a", start + timedelta(seconds=s)) for s in [3, 1, 2]]
    >>> flow = Dataflow("min_window_eg")
    >>> s = op.input("inp", flow, TestingSource(inp))
    >>> clock = win.EventClockConfig(lambda t: t, timedelta(seconds=10))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.min_window("earliest", s, clock, windower)
    >>> s = op.map_value("fmt", s, lambda m_t: m_t[1].second)
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    min_window_eg.show: ('a', 1)

    """
    return reduce_window("reduce_window", up, clock, windower, functools.partial(min, key=by))


def _join_clock(clock: ClockConfig) -> ClockConfig:
    # Joined values arrive as `(side_name, value)`; an event clock must
    # read the time from the value.
    if isinstance(clock, EventClockConfig):
        dt_getter = clock.dt_getter

        def shim_dt_getter(name_value: Tuple[str, Any]) -> Any:
            return dt_getter(name_value[1])

        return EventClockConfig(shim_dt_getter, clock.wait_for_system_duration)
    return clock


def _join_set_folder(state: _JoinState, name_value: Tuple[str, Any]) -> _JoinState:
    name, value = name_value
    state.set_val(name, value)
    return state


def _join_add_folder(state: _JoinState, name_value: Tuple[str, Any]) -> _JoinState:
    name, value = name_value
    state.add_val(name, value)
    return state


def _join_astuples(meta_state: Tuple[WindowMetadata, _JoinState]) -> List[Tuple]:
    meta, state = meta_state
    return [(meta, row) for row in state.astuples()]


def _join_asdicts(meta_state: Tuple[WindowMetadata, _JoinState]) -> List[Tuple]:
    meta, state = meta_state
    return [(meta, row) for row in state.asdicts()]


def _join_fold(
    up: KeyedStream[Tuple[str, Any]],
    clock: ClockConfig,
    windower: WindowConfig,
    names: List[str],
    product: bool,
) -> KeyedStream[Tuple[WindowMetadata, _JoinState]]:
    def shim_builder() -> _JoinState:
        return _JoinState.for_names(names)

    folder = _join_add_folder if product else _join_set_folder
    return fold_window("fold_window", up, _join_clock(clock), windower, shim_builder, folder)


@operator
def join_window(
    step_id: str,
    clock: ClockConfig,
    windower: WindowConfig,
    *sides: KeyedStream[Any],
    product: bool = False,
) -> KeyedStream[Tuple[WindowMetadata, Tuple]]:
    """Join several keyed streams on their keys, window by window.

    When a window closes, emits a tuple with one value per side, in the
    order the sides were given, and `None` for a side with no value in
    the window. With `product=False` (the default) the latest value of
    each side is used; with `product=True` every combination of the
    window's values is emitted.

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> clicks = [("u1", (start + timedelta(seconds=1), "click"))]
    >>> views = [("u1", (start + timedelta(seconds=2), "view"))]
    >>> flow = Dataflow("join_window_eg")
    >>> c = op.input("clicks", flow, TestingSource(clicks))
    >>> v = op.input("views", flow, TestingSource(views))
    >>> clock = win.EventClockConfig(lambda x: x[0], timedelta(seconds=10))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.join_window("join", clock, windower, c, v)
    >>> s = op.map_value("fmt", s, lambda m_row: tuple(x[1] for x in m_row[1]))
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    join_window_eg.show: ('u1', ('click', 'view'))

    """
    named = {str(i): side for i, side in enumerate(sides)}
    merged = _join_name_merge("add_names", **named)
    joined = _join_fold(merged, clock, windower, list(named), product)
    return flat_map_value("astuple", joined, _join_astuples)


@operator
def join_window_named(
    step_id: str,
    clock: ClockConfig,
    windower: WindowConfig,
    product: bool = False,
    **sides: KeyedStream[Any],
) -> KeyedStream[Tuple[WindowMetadata, Dict[str, Any]]]:
    """Join keyed streams given by keyword, window by window, into dicts.

    Works like `join_window`, but emits a `dict` from side name to value;
    sides with no value in the window are left out.

    >>> from datetime import datetime, timedelta, timezone
    >>> import bytewax.operators as op
    >>> import bytewax.operators.window as win
    >>> from bytewax.dataflow import Dataflow
    >>> from bytewax.testing import TestingSource, run_main
    >>> start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    >>> clicks = [("u1", start + timedelta(seconds=s)) for s in [1, 2]]
    >>> views = [("u1", start + timedelta(seconds=3))]
    >>> flow = Dataflow("join_window_named_eg")
    >>> c = op.input("clicks", flow, TestingSource(clicks))
    >>> v = op.input("views", flow, TestingSource(views))
    >>> clock = win.EventClockConfig(lambda t: t, timedelta(seconds=10))
    >>> windower = win.TumblingWindow(timedelta(seconds=5), align_to=start)
    >>> s = win.join_window_named(
    ...     "join", clock, windower, product=True, click=c, view=v
    ... )
    >>> s = op.map_value(
    ...     "fmt", s, lambda m_row: {k: t.second for k, t in m_row[1].items()}
    ... )
    >>> _ = op.inspect("show", s)
    >>> run_main(flow)
    join_window_named_eg.show: ('u1', {'click': 1, 'view': 3})
    join_window_named_eg.show: ('u1', {'click': 2, 'view': 3})

    """
    merged = _join_name_merge("add_names", **sides)
    joined = _join_fold(merged, clock, windower, list(sides), product)
    return flat_map_value("asdict", joined, _join_asdicts)
