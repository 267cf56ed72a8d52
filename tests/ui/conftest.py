"""A monitor wired to a fake probe and a manual clock, for the widget's tests (no sleeps)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.utils.fakes import FakeProbe
from utils.circuit_breaker import CircuitBreaker
from utils.clock import ManualClock
from utils.resource_monitor import ResourceMetrics, ResourceMonitor, create_resource_monitor

INTERVAL = 10.0


class MonitorRig:
    """A real monitor and an in-memory breaker over a fake probe and a manual clock."""

    def __init__(self, **config: Any) -> None:
        config.setdefault("log_metrics", False)
        config.setdefault("check_interval_seconds", INTERVAL)
        self.clock = ManualClock()
        self.probe = FakeProbe()
        self.breaker = CircuitBreaker(
            state_path=None, log_path=None, clock=self.clock, reset_cooldown_seconds=0
        )
        self.monitor: ResourceMonitor = create_resource_monitor(
            config=config, circuit_breaker=self.breaker, clock=self.clock, probe=self.probe
        )

    def sample(
        self, memory: float | None = None, cpu: float | None = None, **counts: int
    ) -> ResourceMetrics:
        """Advance one interval, set the probe's memory and CPU %, take one sample."""
        if memory is not None:
            self.probe.set_memory_pct(memory)
        if cpu is not None:
            self.probe.set_cpu_pct(cpu)
        self.clock.advance(INTERVAL)
        return self.monitor.update(**counts)


@pytest.fixture
def rig() -> MonitorRig:
    """Return a monitor rig with the default levels (memory 80/90, CPU 75/85)."""
    return MonitorRig()
