"""Hand-written fakes for the runtime's injectable parts (a system probe, a process whose CPU
time the test sets; clocks are in utils)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import psutil  # type: ignore[import-untyped,unused-ignore]

from utils.system_probe import Limit, ProbeProblem, ProbeReading

GIB = 1024**3


class CpuTimes(NamedTuple):
    """The part of ``psutil.Process.cpu_times()`` the probe reads."""

    user: float
    system: float


class TickingProcess(psutil.Process):  # type: ignore[misc]
    """This process, with the CPU seconds the test sets (the kernel counts them in 10 ms ticks)."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu_seconds = 100.0

    def cpu_times(self) -> Any:
        return CpuTimes(user=self.cpu_seconds * 0.75, system=self.cpu_seconds * 0.25)


class FakeProbe:
    """A system probe whose figures the test sets; ``read`` returns them as they are now.

    By default: 1 GiB used against a 4 GiB cgroup limit (25 %), 8 GiB of physical RAM,
    CPU 20 % of one CPU on 2 CPUs, no problems.
    """

    def __init__(self) -> None:
        self.memory_used_bytes: int | None = 1 * GIB
        self.memory_used_source = "fake working set"
        self.process_rss_bytes: int | None = 1 * GIB
        self.memory_limits: tuple[Limit, ...] = (
            Limit(4.0 * GIB, "fake cgroup memory.max"),
            Limit(8.0 * GIB, "fake physical RAM"),
        )
        self.cpu_process_pct: float | None = 20.0
        self.cpu_warming_up = False
        self.cpus_available = Limit(2.0, "fake affinity")
        self.problems: tuple[ProbeProblem, ...] = ()
        self.degraded: tuple[str, ...] = ()
        self.reads = 0

    @property
    def limit_bytes(self) -> float:
        """Return the smallest limit this probe reports."""
        return min(limit.value for limit in self.memory_limits)

    def set_memory_pct(self, pct: float) -> None:
        """Set the working set to ``pct`` % of the smallest limit."""
        self.memory_used_bytes = round(self.limit_bytes * pct / 100)

    def set_cpu_pct(self, pct: float) -> None:
        """Set process CPU so that, normalised by the CPUs available, it reads ``pct`` %."""
        self.cpu_process_pct = pct * self.cpus_available.value

    def read(self) -> ProbeReading:
        self.reads += 1
        return ProbeReading(
            memory_used_bytes=self.memory_used_bytes,
            memory_used_source=self.memory_used_source,
            process_rss_bytes=self.process_rss_bytes,
            memory_limits=self.memory_limits,
            cpu_process_pct=self.cpu_process_pct,
            cpu_warming_up=self.cpu_warming_up,
            cpus_available=self.cpus_available,
            cpu_source="fake cpu",
            problems=self.problems,
            degraded=self.degraded,
        )


class RaisingProbe:
    """A probe that breaks its contract and raises (the monitor must survive it)."""

    def read(self) -> ProbeReading:
        msg = "probe exploded"
        raise RuntimeError(msg)


def memory_series(probe: FakeProbe, values: Iterable[float]) -> Iterable[float]:
    """Yield each value after setting the probe's memory % to it (drive a monitor per value)."""
    for value in values:
        probe.set_memory_pct(value)
        yield value
