"""A source of random numbers, for demos and experiments.

>>> from datetime import timedelta
>>> import bytewax.operators as op
>>> from bytewax.dataflow import Dataflow
>>> from bytewax.testing import run_main
>>> flow = Dataflow("demo_eg")
>>> src = RandomMetricSource(
...     "temp", interval=timedelta(0), count=3, next_random=lambda: 21.5
... )
>>> s = op.input("inp", flow, src)
>>> _ = op.inspect("show", s)
>>> run_main(flow)
demo_eg.show: ('temp', 21.5)
demo_eg.show: ('temp', 21.5)
demo_eg.show: ('temp', 21.5)

"""

import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional, Tuple

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

__all__ = ["RandomMetricSource"]


@dataclass
class _RandomMetricState:
    awake_at: datetime
    count: int


@dataclass
class _RandomMetricPartition(StatefulSourcePartition[Tuple[str, float], _RandomMetricState]):
    metric_name: str
    interval: timedelta
    count: int
    next_random: Callable[[], float]
    state: _RandomMetricState

    def next_batch(self, sched: Optional[datetime]) -> List[Tuple[str, float]]:
        base = sched if sched is not None else datetime.now(timezone.utc)
        self.state.awake_at = base + self.interval
        self.state.count += 1
        if self.state.count > self.count:
            raise StopIteration()
        return [(self.metric_name, self.next_random())]

    def next_awake(self) -> Optional[datetime]:
        return self.state.awake_at

    def snapshot(self) -> _RandomMetricState:
        return _RandomMetricState(self.state.awake_at, self.state.count)


def _random_digit() -> float:
    return random.randrange(0, 10)  # noqa: S311


@dataclass
class RandomMetricSource(FixedPartitionedSource[Tuple[str, float], _RandomMetricState]):
    """Emit `(metric_name, next_random())` every `interval`, `count` times.

    A single partition named after the metric. By default it emits a
    random whole number from 0 to 9 every 0.7 seconds, forever. Several
    of them (with different names) make a small multi-partition input.
    Its resume state is how many values it has emitted.

    """

    metric_name: str
    interval: timedelta = timedelta(seconds=0.7)
    count: int = sys.maxsize
    next_random: Callable[[], float] = field(default=_random_digit)

    def list_parts(self) -> List[str]:
        """The single partition, named after the metric."""
        return [self.metric_name]

    def build_part(
        self,
        now: datetime,
        for_part: str,
        resume_state: Optional[_RandomMetricState],
    ) -> _RandomMetricPartition:
        """Start (or resume) emitting."""
        state = resume_state if resume_state is not None else _RandomMetricState(now, 0)
        return _RandomMetricPartition(
            self.metric_name, self.interval, self.count, self.next_random, state
        )
