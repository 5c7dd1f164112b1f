"""`bytewax._encoder.to_json` and `bytewax.serde`."""

import json
import pickle

import bytewax.operators as op
import pytest
from bytewax._encoder import to_json
from bytewax.connectors.stdio import StdOutSink
from bytewax.dataflow import Dataflow
from bytewax.serde import JsonPickleSerde, Serde, _BuiltinSerde
from bytewax.testing import TestingSource


def _flow():
    flow = Dataflow("f")
    s = op.input("inp", flow, TestingSource([1, 2, 3]))
    b = op.branch("br", s, lambda x: x > 1)
    m = op.map("m", b.trues, str)
    mg = op.merge("mg", m, b.falses)
    op.output("out", mg, StdOutSink())
    return flow


def _port(name, port_id, from_ports, from_streams):
    return {
        "typ": "RenderedPort",
        "port_name": name,
        "port_id": port_id,
        "from_port_ids": from_ports,
        "from_stream_ids": from_streams,
    }


def test_to_json_structure():
    text = to_json(_flow())
    assert text.startswith('{\n  "typ": "RenderedDataflow",\n  "flow_id": "f",')
    doc = json.loads(text)
    assert [s["op_type"] for s in doc["substeps"]] == ["input", "branch", "map", "merge", "output"]
    inp, br, m, mg, out = doc["substeps"]
    assert inp == {
        "typ": "RenderedOperator",
        "op_type": "input",
        "step_name": "inp",
        "step_id": "f.inp",
        "inp_ports": [],
        "out_ports": [_port("down", "f.inp.down", [], [])],
        "substeps": [],
    }
    assert br["inp_ports"] == [_port("up", "f.br.up", ["f.inp.down"], ["f.inp.down"])]
    assert [p["port_id"] for p in br["out_ports"]] == ["f.br.trues", "f.br.falses"]
    # A composite's output comes from its inner step; its inner step's
    # input comes from the composite's input port.
    assert m["out_ports"] == [
        _port("down", "f.m.down", ["f.m.flat_map_batch.down"], ["f.m.flat_map_batch.down"])
    ]
    (fmb,) = m["substeps"]
    assert fmb["inp_ports"] == [_port("up", "f.m.flat_map_batch.up", ["f.m.up"], ["f.br.trues"])]
    assert mg["inp_ports"] == [
        _port(
            "ups",
            "f.mg.ups",
            ["f.m.down", "f.br.falses"],
            ["f.m.flat_map_batch.down", "f.br.falses"],
        )
    ]
    assert out["out_ports"] == []
    assert out["inp_ports"] == [_port("up", "f.out.up", ["f.mg.down"], ["f.mg.down"])]


def test_serde_is_abstract():
    with pytest.raises(TypeError):
        Serde()


def test_builtin_serde_round_trip():
    obj = {"a": [1, 2.5, None], "b": ("t", {3: "x"}), "c": {1, 2}}
    text = _BuiltinSerde.ser(obj)
    assert isinstance(text, str)
    text.encode("ascii")
    assert _BuiltinSerde.de(text) == obj
    assert pickle.loads(__import__("base64").b64decode(text)) == obj


def test_jsonpickle_serde_round_trip():
    pytest.importorskip("jsonpickle")
    obj = {"a": [1, 2], 3: ("x", None)}
    text = JsonPickleSerde.ser(obj)
    assert isinstance(text, str)
    assert JsonPickleSerde.de(text) == obj


def test_jsonpickle_is_imported_lazily(monkeypatch):
    import sys

    import bytewax.serde

    monkeypatch.setitem(sys.modules, "jsonpickle", None)
    monkeypatch.setattr(bytewax.serde, "_jsonpickle", None)
    with pytest.raises(ImportError):
        JsonPickleSerde.ser([1])
    assert _BuiltinSerde.de(_BuiltinSerde.ser([1])) == [1]
