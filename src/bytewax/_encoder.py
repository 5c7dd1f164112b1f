"""Render a dataflow's structure as JSON, for visualization tools.

`to_json(flow)` describes every step (its operator type, ids, ports and
substeps) and, for every port, which port and stream feed it. The
runtime serves it on the dataflow API (`GET /dataflow`).

>>> import json
>>> import bytewax.operators as op
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import TestingSource
>>> flow = Dataflow("encode_eg")
>>> s = op.input("inp", flow, TestingSource([1]))
>>> _ = op.inspect("show", s)
>>> rendered = json.loads(to_json(flow))
>>> [step["op_type"] for step in rendered["substeps"]]
['input', 'inspect']
>>> rendered["substeps"][1]["inp_ports"][0]["from_port_ids"]
['encode_eg.inp.down']

"""

import json
from collections import ChainMap
from dataclasses import dataclass
from typing import Any, Dict, List, MutableMapping

from bytewax.dataflow import Dataflow, Operator

__all__ = ["to_json"]


@dataclass(frozen=True)
class RenderedPort:
    """One port of a step and what feeds it."""

    port_name: str
    port_id: str
    from_port_ids: List[str]
    from_stream_ids: List[str]


@dataclass(frozen=True)
class RenderedOperator:
    """One step, its ports and its substeps."""

    op_type: str
    step_name: str
    step_id: str
    inp_ports: List[RenderedPort]
    out_ports: List[RenderedPort]
    substeps: List["RenderedOperator"]


@dataclass(frozen=True)
class RenderedDataflow:
    """The whole flow."""

    flow_id: str
    substeps: List[RenderedOperator]


def _stream_ids(port: Any) -> List[str]:
    return list(port.stream_ids.values())


def _render_step(step: Operator, producers: MutableMapping[str, str]) -> RenderedOperator:
    # `producers` maps a stream id to the id of the port it comes out of,
    # as seen from the scope `step` lives in.
    inp_ports = []
    inner = ChainMap({}, producers)
    for name in type(step).ups_names:
        port = getattr(step, name)
        sids = _stream_ids(port)
        inp_ports.append(
            RenderedPort(name, port.port_id, [producers[s] for s in sids if s in producers], sids)
        )
        for sid in sids:
            # Inside the step, its upstreams come out of its input ports.
            inner[sid] = port.port_id

    substeps = [_render_step(sub, inner) for sub in step.substeps]

    out_ports = []
    for name in type(step).dwn_names:
        port = getattr(step, name)
        sids = _stream_ids(port)
        if step.substeps:
            from_ports = [inner[s] for s in sids if s in inner]
            from_streams = sids
        else:
            from_ports = []
            from_streams = []
        out_ports.append(RenderedPort(name, port.port_id, from_ports, from_streams))
        for sid in sids:
            producers[sid] = port.port_id

    return RenderedOperator(
        type(step).__name__,
        step.step_name,
        step.step_id,
        inp_ports,
        out_ports,
        substeps,
    )


def to_rendered(flow: Dataflow) -> RenderedDataflow:
    """Build the rendered model of a flow."""
    producers: Dict[str, str] = {}
    return RenderedDataflow(flow.flow_id, [_render_step(s, producers) for s in flow.substeps])


def _as_json_obj(obj: Any) -> Any:
    if isinstance(obj, (RenderedDataflow, RenderedOperator, RenderedPort)):
        out: Dict[str, Any] = {"typ": type(obj).__name__}
        for key, val in vars(obj).items():
            out[key] = _as_json_obj(val)
        return out
    if isinstance(obj, list):
        return [_as_json_obj(x) for x in obj]
    return obj


def to_json(flow: Dataflow) -> str:
    """The structure of `flow` as indented JSON text."""
    return json.dumps(_as_json_obj(to_rendered(flow)), indent=2)
