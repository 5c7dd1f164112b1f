"""Bytewax: stateful stream processing in Python.

A Bytewax program is a *dataflow*: a graph of steps, built with Python
functions, that reads items from inputs, transforms them (statelessly, or
with state kept per key, or in time windows) and writes the results to
outputs. The same flow runs on one worker or on many threads and
processes, and can snapshot its state so that a restarted flow resumes
where it stopped.

Write the flow in a module:

```python
# app.py
from bytewax.dataflow import Dataflow
import bytewax.operators as op
from bytewax.connectors.stdio import StdOutSink
from bytewax.testing import TestingSource

flow = Dataflow("app")
nums = op.input("inp", flow, TestingSource(range(3)))
doubled = op.map("double", nums, lambda x: x * 2)
op.output("out", doubled, StdOutSink())
```

and run it with `bytewax run app.py:flow` (add `-w 4` for four worker
threads, `--help` for the other options). Tests can run a flow in the
current process with `bytewax.testing.run_main(flow)`.

The main modules are `bytewax.dataflow` (the flow model and custom
operators), `bytewax.operators` (the built-in operators),
`bytewax.operators.window` (windowing), `bytewax.inputs` and
`bytewax.outputs` (writing connectors), `bytewax.connectors` (ready-made
connectors), `bytewax.testing` and `bytewax.recovery`.

"""
