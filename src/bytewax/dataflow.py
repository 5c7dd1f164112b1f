"""The dataflow graph model: flows, streams, ports and the `operator` decorator.

A dataflow is built by calling operator functions. Each call records one
*step* in the flow and hands back the `Stream` (or streams) that the step
produces, which later calls consume. Nothing runs while the flow is being
built; the finished `Dataflow` object is a plain data structure that the
runtime walks when it executes the flow.

Every step has a *fully-qualified step id*: the flow id, the ids of the
enclosing composite steps and its own id, joined with periods, for example
`my_flow.count.map`. These ids name steps in error messages and key the
state that recovery stores, so they must stay stable between runs of a
flow.

New operators are written as *builder functions* decorated with
`operator`. A builder receives its upstream streams and configuration,
calls other operators and returns the stream(s) it produces. The decorator
records the builder's call as one composite step, whose inner operator
calls become its substeps:

>>> from bytewax.dataflow import Dataflow, Stream, operator
>>> import bytewax.operators as op
>>> from bytewax.testing import TestingSource, run_main
>>> @operator
... def add_then_double(step_id: str, up: Stream[int], n: int) -> Stream[int]:
...     added = op.map("add", up, lambda x: x + n)
...     return op.map("double", added, lambda x: x * 2)
>>> flow = Dataflow("custom_eg")
>>> nums = op.input("inp", flow, TestingSource([1, 2]))
>>> out = add_then_double("calc", nums, 10)
>>> [step.step_id for step in flow.substeps[1].substeps]
['custom_eg.calc.add', 'custom_eg.calc.double']
>>> _ = op.inspect("show", out)
>>> run_main(flow)
custom_eg.show: 22
custom_eg.show: 24

Rules for builder functions:

- The first parameter must be called `step_id`. The builder is called
  with the fully-qualified id of the new step.
- Parameters annotated as `Stream` (including `KeyedStream`) are the
  step's upstream ports; `*args` or `**kwargs` annotated as `Stream`
  become a single port holding many streams. A parameter annotated as
  `Dataflow` lets the step add inputs to the flow.
- Streams must be passed directly as arguments, never nested inside a
  list, dict or other container.
- The return annotation says what the step produces: a `Stream`, a
  dataclass whose fields are streams (like `bytewax.operators.BranchOut`),
  or `None`.
- Step ids must be strings without periods and unique among the steps of
  the same scope.

"""

import dataclasses
import functools
import inspect
import re
import types
import typing
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    ClassVar,
    Dict,
    Generic,
    Iterable,
    List,
    Optional,
    Protocol,
    Tuple,
    TypeVar,
    runtime_checkable,
)

__all__ = [
    "Dataflow",
    "DataflowId",
    "MultiPort",
    "Operator",
    "Port",
    "SinglePort",
    "Stream",
    "f_repr",
    "operator",
]

X_co = TypeVar("X_co", covariant=True)
K = TypeVar("K")
F = TypeVar("F", bound=Callable[..., Any])


def f_repr(f: Callable) -> str:
    """Describe a callable for use in error messages.

    Plain Python functions (including lambdas) are shown with their
    module, qualified name and the line they are defined on, which is
    much easier to find than the default `repr`. Anything else falls back
    to `repr`.

    >>> def shout(s):
    ...     return s.upper()
    >>> f_repr(shout)  # doctest: +ELLIPSIS
    "<function '...shout' line ...>"
    >>> f_repr(str)
    "<class 'str'>"

    """
    if isinstance(f, types.FunctionType):
        name = f"{f.__module__}.{f.__qualname__}"
        return f"<function {name!r} line {f.__code__.co_firstlineno}>"
    return repr(f)


@dataclass(frozen=True, eq=False)
class _Scope:
    """Where new steps get recorded.

    The root scope of a flow appends to `Dataflow.substeps`; every
    operator call opens an inner scope whose steps become the substeps of
    the step being built. `parent_id` is the fully-qualified id that
    prefixes the ids of steps created in this scope.

    """

    parent_id: str
    substeps: List["Operator"] = field(repr=False)
    flow: "Dataflow" = field(repr=False)

    # Two scopes are the same scope when they record into the same list.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Scope):
            return NotImplemented
        return self.parent_id == other.parent_id and self.substeps is other.substeps

    def __hash__(self) -> int:
        return hash(self.parent_id)


@dataclass(frozen=True)
class DataflowId:
    """Reference to a flow, as stored in a step's data model."""

    flow_id: str


@dataclass(frozen=True)
class SinglePort:
    """An input or output port of a step that carries one stream.

    `port_id` is `{fully-qualified step id}.{parameter name}`;
    `stream_id` names the stream attached to the port.

    """

    port_id: str
    stream_id: str

    @property
    def stream_ids(self) -> Dict[str, str]:
        """The attached stream in the same shape as `MultiPort.stream_ids`."""
        return {"stream": self.stream_id}


@dataclass(frozen=True)
class MultiPort(Generic[K]):
    """A port that carries several streams, from `*args` or `**kwargs`.

    `stream_ids` maps the position (for `*args`) or the keyword name (for
    `**kwargs`) to each attached stream's id.

    """

    port_id: str
    stream_ids: Dict[K, str]


@runtime_checkable
class Port(Protocol):
    """Anything with a `port_id` and a `stream_ids` mapping."""

    port_id: str
    stream_ids: Dict[Any, str]


@dataclass(frozen=True)
class Operator:
    """Base of the data model of every step.

    The `operator` decorator generates one frozen dataclass per builder
    function that derives from this class; the class is named after the
    builder. Besides the fields below, it has one field per builder
    parameter (ports as `SinglePort` / `MultiPort`, a flow as
    `DataflowId`, everything else as given) and one per output.

    `step_name` is the id the user passed; `step_id` is the
    fully-qualified id; `substeps` are the steps created inside the
    builder, in the order their calls completed. The class attributes
    `ups_names` and `dwn_names` list the fields holding input and output
    ports.

    """

    step_name: str
    step_id: str
    substeps: List["Operator"]

    ups_names: ClassVar[List[str]] = []
    dwn_names: ClassVar[List[str]] = []


@dataclass(frozen=True)
class _CoreOperator(Operator):
    """Base of operators that the runtime implements natively."""

    core: ClassVar[bool] = True


@dataclass(frozen=True)
class Dataflow:
    """A dataflow: the graph of steps that make up one streaming program.

    Create one, then add inputs to it with `bytewax.operators.input` and
    chain operators on the returned streams. Run it with `bytewax run
    module:flow`, or from Python with `bytewax.testing.run_main`.

    >>> flow = Dataflow("my_flow")
    >>> flow.flow_id
    'my_flow'

    The flow id must not contain a period.

    """

    flow_id: str
    substeps: List[Operator] = field(default_factory=list)
    _scope: Optional[_Scope] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.flow_id, str):
            msg = f"flow ID must be a `str`; got a {type(self.flow_id)} instead"
            raise TypeError(msg)
        if "." in self.flow_id:
            msg = "flow ID can't contain a period `.`"
            raise ValueError(msg)
        if self._scope is None:
            object.__setattr__(self, "_scope", _Scope(self.flow_id, self.substeps, self))

    def _get_scopes(self) -> Iterable[_Scope]:
        return [self._scope]

    def _with_scope(self, scope: _Scope) -> "Dataflow":
        return scope.flow

    def _to_ref(self, _port_id: str) -> DataflowId:
        return DataflowId(self.flow_id)


@dataclass(frozen=True)
class Stream(Generic[X_co]):
    """A handle on the items flowing out of one step.

    Streams are created by operators; pass them to further operators to
    connect steps. `stream_id` identifies the stream within its flow.

    """

    stream_id: str
    _scope: _Scope = field(compare=False)

    def flow(self) -> Dataflow:
        """The `Dataflow` this stream belongs to.

        Inside a builder function this is a view of the flow scoped to
        the step being built, so that `bytewax.operators.input` called on
        it adds a substep.

        """
        return self._scope.flow

    def then(self, op_fn: Callable[..., Any], step_id: str, *args, **kwargs) -> Any:
        """Apply an operator to this stream, fluent style.

        `s.then(op.map, "id", f)` is the same as `op.map("id", s, f)`;
        it lets a pipeline read top to bottom.

        >>> import bytewax.operators as op
        >>> from bytewax.testing import TestingSource, run_main
        >>> flow = Dataflow("then_eg")
        >>> _ = (
        ...     op.input("inp", flow, TestingSource(["a", "b"]))
        ...     .then(op.map, "upper", str.upper)
        ...     .then(op.inspect, "show")
        ... )
        >>> run_main(flow)
        then_eg.show: 'A'
        then_eg.show: 'B'

        """
        return op_fn(step_id, self, *args, **kwargs)

    def _get_scopes(self) -> Iterable[_Scope]:
        return [self._scope]

    def _with_scope(self, scope: _Scope) -> "Stream[X_co]":
        return Stream(self.stream_id, scope)

    def _to_ref(self, port_id: str) -> SinglePort:
        return SinglePort(port_id, self.stream_id)


_OPERATOR_BASE_NAMES = frozenset(
    ["step_name", "step_id", "substeps", "ups_names", "dwn_names", "core"]
)

# How a builder parameter is stored in the data model.
_CONFIG = 0  # as given
_SINGLE = 1  # a Stream: SinglePort
_ARGS = 2  # *args of Streams: MultiPort keyed 0..n
_KWARGS = 3  # **kwargs of Streams: MultiPort keyed by name
_FLOW = 4  # a Dataflow: DataflowId

# What a builder returns.
_RET_NONE = 0
_RET_STREAM = 1
_RET_DATACLASS = 2
_RET_OTHER = 3

_STR_ANNO_RE = re.compile(r"^\s*(?:[\w]+\.)*(KeyedStream|Stream|Dataflow)\b")


def _anno_cls(anno: Any, globalns: Optional[Dict[str, Any]] = None) -> Optional[type]:
    """The class an annotation refers to, ignoring generic parameters."""
    if anno is inspect.Parameter.empty or anno is None:
        return None
    if isinstance(anno, str):
        try:
            anno = eval(anno, dict(globalns or {}))  # noqa: S307
        except Exception:
            m = _STR_ANNO_RE.match(anno)
            if m is None:
                return None
            return Dataflow if m.group(1) == "Dataflow" else Stream
    origin = typing.get_origin(anno)
    cand = origin if origin is not None else anno
    return cand if isinstance(cand, type) else None


def _is_stream_anno(anno: Any, globalns: Optional[Dict[str, Any]] = None) -> bool:
    cls = _anno_cls(anno, globalns)
    return cls is not None and issubclass(cls, Stream)


def _type_hints(obj: Any) -> Dict[str, Any]:
    try:
        return typing.get_type_hints(obj)
    except Exception:
        return dict(getattr(obj, "__annotations__", {}))


def _port_error(name: str, kind: int, val: Any) -> TypeError:
    where = {
        _SINGLE: f"{name!r} argument",
        _ARGS: f"{name!r} *args all",
        _KWARGS: f"{name!r} **kwargs all",
    }[kind]
    msg = (
        f"{where} must be a `Stream`; got a {type(val)} instead; "
        "did you forget to unpack the result of an operator that returns "
        "multiple streams?"
    )
    return TypeError(msg)


def _has_scope(val: Any) -> bool:
    return isinstance(val, (Stream, Dataflow))


def _scopes_of(kind: int, pkind: Any, val: Any) -> List[_Scope]:
    """Scopes of the streams (or flow) in one argument."""
    if kind == _ARGS:
        return [s._scope for s in val]
    if kind == _KWARGS:
        return [s._scope for s in val.values()]
    if kind != _CONFIG:
        return list(val._get_scopes())
    # Not annotated as a stream, but may hold one anyway.
    if pkind == inspect.Parameter.VAR_POSITIONAL:
        vals: Iterable[Any] = val
    elif pkind == inspect.Parameter.VAR_KEYWORD:
        vals = val.values()
    else:
        vals = (val,)
    return [sc for v in vals if _has_scope(v) for sc in v._get_scopes()]


def _rescope(kind: int, pkind: Any, val: Any, scope: _Scope) -> Any:
    if kind == _SINGLE or kind == _FLOW:
        return val._with_scope(scope)
    if kind == _ARGS:
        return tuple(s._with_scope(scope) for s in val)
    if kind == _KWARGS:
        return {k: s._with_scope(scope) for k, s in val.items()}
    if pkind == inspect.Parameter.VAR_POSITIONAL:
        return tuple(v._with_scope(scope) if _has_scope(v) else v for v in val)
    if pkind == inspect.Parameter.VAR_KEYWORD:
        return {k: v._with_scope(scope) if _has_scope(v) else v for k, v in val.items()}
    return val._with_scope(scope) if _has_scope(val) else val


def _to_field(kind: int, val: Any, port_id: str) -> Any:
    if kind == _SINGLE:
        return SinglePort(port_id, val.stream_id)
    if kind == _ARGS:
        return MultiPort(port_id, {i: s.stream_id for i, s in enumerate(val)})
    if kind == _KWARGS:
        return MultiPort(port_id, {k: s.stream_id for k, s in val.items()})
    if kind == _FLOW:
        return DataflowId(val.flow_id)
    return val


def _out_to_field(val: Any, port_id: str) -> Any:
    if isinstance(val, Stream):
        return SinglePort(port_id, val.stream_id)
    return val


def _make_operator(builder: Callable, core: bool) -> Callable:
    name = builder.__name__
    sig = inspect.signature(builder)
    if "step_id" not in sig.parameters:
        msg = "builder function requires a 'step_id' parameter"
        raise TypeError(msg)

    hints = _type_hints(builder)
    globalns = getattr(builder, "__globals__", None)

    # (parameter name, kind) for everything except `step_id`.
    inp_params: List[Tuple[str, int, Any]] = []
    inp_fields: List[Tuple[str, Any]] = []
    ups_names: List[str] = []
    for param in sig.parameters.values():
        if param.name == "step_id":
            continue
        anno = hints.get(param.name, param.annotation)
        cls = _anno_cls(anno, globalns)
        is_stream = cls is not None and issubclass(cls, Stream)
        if param.kind == inspect.Parameter.VAR_POSITIONAL:
            kind = _ARGS if is_stream else _CONFIG
        elif param.kind == inspect.Parameter.VAR_KEYWORD:
            kind = _KWARGS if is_stream else _CONFIG
        elif is_stream:
            kind = _SINGLE
        elif cls is not None and issubclass(cls, Dataflow):
            kind = _FLOW
        else:
            kind = _CONFIG

        if kind == _SINGLE:
            typ: Any = SinglePort
        elif kind in (_ARGS, _KWARGS):
            typ = MultiPort
        elif kind == _FLOW:
            typ = DataflowId
        else:
            typ = Any if anno is inspect.Parameter.empty else anno
        if kind in (_SINGLE, _ARGS, _KWARGS):
            ups_names.append(param.name)
        inp_params.append((param.name, kind, param.kind))
        inp_fields.append((param.name, typ))

    ret_anno = hints.get("return", sig.return_annotation)
    out_fields: List[Tuple[str, Any]] = []
    dwn_names: List[str] = []
    if ret_anno is None or ret_anno is type(None):
        ret_kind = _RET_NONE
    elif _is_stream_anno(ret_anno, globalns):
        ret_kind = _RET_STREAM
        out_fields.append(("down", SinglePort))
        dwn_names.append("down")
    else:
        ret_cls = _anno_cls(ret_anno, globalns)
        if ret_cls is not None and dataclasses.is_dataclass(ret_cls):
            ret_kind = _RET_DATACLASS
            ret_hints = _type_hints(ret_cls)
            for fld in dataclasses.fields(ret_cls):
                fanno = ret_hints.get(fld.name, fld.type)
                if _is_stream_anno(fanno, getattr(ret_cls, "__dict__", None)):
                    out_fields.append((fld.name, SinglePort))
                    dwn_names.append(fld.name)
                else:
                    out_fields.append((fld.name, fanno))
        else:
            ret_kind = _RET_OTHER
            out_fields.append(("down", Any))

    inp_names = {n for n, _ in inp_fields}
    for out_name, _ in out_fields:
        if out_name in inp_names:
            msg = (
                f"{out_name!r} is both a parameter of the builder function and "
                "the name of one of its outputs; rename one of them so the "
                "names don't overlap"
            )
            raise TypeError(msg)
    for fname, _ in inp_fields + out_fields:
        if fname in _OPERATOR_BASE_NAMES:
            msg = (
                "builder function parameters and return dataclass fields "
                "can't shadow the fields of `bytewax.dataflow.Operator`; "
                f"rename the {fname!r} parameter or field"
            )
            raise TypeError(msg)

    base = _CoreOperator if core else Operator
    # Making a dataclass costs ~0.5 ms; done for every operator at import
    # it would add ~15 ms to every start, so it waits for the first step.
    made: List[type] = []

    def step_cls() -> type:
        if not made:
            cls = dataclasses.make_dataclass(
                name,
                inp_fields + out_fields,
                bases=(base,),
                frozen=True,
                namespace={"ups_names": ups_names, "dwn_names": dwn_names},
            )
            cls.__module__ = builder.__module__
            cls.__qualname__ = getattr(builder, "__qualname__", name)
            cls.__doc__ = f"Data model of a step built by the `{name}` operator."
            made.append(cls)
        return made[0]

    out_names = [n for n, _ in out_fields]
    checked = [(n, k) for n, k, _pk in inp_params if k != _CONFIG]

    @functools.wraps(builder)
    def wrapper(*args, **kwargs):
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as ex:
            msg = f"operator {name!r} called incorrectly; see cause above"
            raise TypeError(msg) from ex
        bound.apply_defaults()
        arguments = bound.arguments

        for pname, kind in checked:
            val = arguments[pname]
            if kind == _SINGLE:
                if not isinstance(val, Stream):
                    raise _port_error(pname, kind, val)
            elif kind == _ARGS:
                for v in val:
                    if not isinstance(v, Stream):
                        raise _port_error(pname, kind, v)
            elif kind == _KWARGS:
                for v in val.values():
                    if not isinstance(v, Stream):
                        raise _port_error(pname, kind, v)
            elif not isinstance(val, Dataflow):
                msg = f"{pname!r} argument must be a `Dataflow`; got a {type(val)} instead"
                raise TypeError(msg)

        step_id = arguments["step_id"]
        if not isinstance(step_id, str):
            msg = "'step_id' must be a `str`"
            raise TypeError(msg)
        if "." in step_id:
            msg = "'step_id' can't contain any periods '.'"
            raise ValueError(msg)

        scopes: List[_Scope] = []
        for pname, kind, pkind in inp_params:
            for sc in _scopes_of(kind, pkind, arguments[pname]):
                if sc not in scopes:
                    scopes.append(sc)
        if not scopes:
            msg = (
                f"operator {name!r} requires at least one upstream `Stream` "
                "(or a `Dataflow`) to attach the step to; none were given"
            )
            raise TypeError(msg)
        if len(scopes) > 1:
            msg = (
                "inconsistent stream scoping; found multiple scopes "
                f"{scopes!r}; expected one; are `Stream`s nested inside "
                "another argument, or mixed between flows or between the "
                "inside and outside of a builder function? See the "
                "`bytewax.dataflow` module docstring for the rules of "
                "custom operators"
            )
            raise AssertionError(msg)
        outer = scopes[0]

        fq_id = f"{outer.parent_id}.{step_id}"
        for existing in outer.substeps:
            if existing.step_id == fq_id:
                msg = f"step {fq_id!r} already exists; do you have two steps with the same ID?"
                raise ValueError(msg)

        inner = _Scope(fq_id, [], None)  # type: ignore[arg-type]
        object.__setattr__(inner, "flow", Dataflow(outer.flow.flow_id, inner.substeps, inner))

        originals = {pname: arguments[pname] for pname, _k, _pk in inp_params}
        for pname, kind, pkind in inp_params:
            arguments[pname] = _rescope(kind, pkind, arguments[pname], inner)
        arguments["step_id"] = fq_id

        ret = builder(*bound.args, **bound.kwargs)

        field_vals: Dict[str, Any] = {}
        for pname, kind, _pk in inp_params:
            field_vals[pname] = _to_field(kind, originals[pname], f"{fq_id}.{pname}")
        if ret_kind == _RET_STREAM or ret_kind == _RET_OTHER:
            field_vals["down"] = _out_to_field(ret, f"{fq_id}.down")
        elif ret_kind == _RET_DATACLASS:
            for out_name in out_names:
                field_vals[out_name] = _out_to_field(getattr(ret, out_name), f"{fq_id}.{out_name}")

        step = step_cls()(step_name=step_id, step_id=fq_id, substeps=inner.substeps, **field_vals)
        outer.substeps.append(step)

        if isinstance(ret, Stream):
            return ret._with_scope(outer)
        if ret_kind == _RET_DATACLASS and dataclasses.is_dataclass(ret):
            changes = {
                out_name: getattr(ret, out_name)._with_scope(outer)
                for out_name in out_names
                if isinstance(getattr(ret, out_name), Stream)
            }
            return dataclasses.replace(ret, **changes) if changes else ret
        return ret

    return wrapper


def operator(builder: Optional[Callable] = None, *, _core: bool = False) -> Callable:
    """Turn a builder function into an operator.

    Use it bare (`@operator`) or called (`@operator()`). See the module
    docstring for what a builder function must look like.

    The decorated function, when called, checks its arguments (upstreams
    must be `Stream`s, `step_id` a `str` without periods and unique in
    its scope), runs the builder with the fully-qualified step id, records
    a step in the flow (the builder's own operator calls become its
    substeps) and returns what the builder returned.

    `_core=True` is reserved for the operators that the runtime
    implements itself.

    """

    def decorate(fn: Callable) -> Callable:
        return _make_operator(fn, _core)

    if builder is not None:
        return decorate(builder)
    return decorate
