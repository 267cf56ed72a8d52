"""A realistic metrics log and breaker state, written by the real monitor from a scripted probe.

Thirty minutes of 10 s samples of an options algorithm on an L2-4 (4 GB): memory creeping up
as option chains are added until it crosses the warning level (the breaker goes REDUCING), a
CPU burst that raises and clears a warning, broker round trips of a few hundred ms. The last
sample is stamped "now", so the log reads as live. The dashboard tests follow it, and the docs'
screenshot is rendered from it::

    python -m tests.ui.demo_log /tmp/demo
    python scripts/resource_dashboard.py --follow /tmp/demo/resource_metrics.json \\
        --breaker-state /tmp/demo/circuit_breaker_state.json --node L2-4 \\
        --screenshot docs/infrastructure/img/resource_widget.png
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.utils.fakes import GIB, FakeProbe
from utils.circuit_breaker import CircuitBreaker
from utils.clock import ManualClock
from utils.resource_monitor import create_resource_monitor
from utils.system_probe import Limit

INTERVAL_SECONDS = 10.0
SAMPLES = 180
NODE_RAM_BYTES = 4 * GIB  # the L2-4's RAM: the limit memory % is measured against


@dataclass(frozen=True)
class DemoFiles:
    """Where the demo wrote its files."""

    metrics_log: Path
    breaker_state: Path
    breaker_log: Path


def write_demo_log(folder: Path, *, end: datetime | None = None, seed: int = 7) -> DemoFiles:
    """Write the metrics log and breaker files into ``folder``; the last sample is at ``end``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(
        folder / "resource_metrics.json",
        folder / "circuit_breaker_state.json",
        folder / "circuit_breaker_log.json",
    )
    finish = end if end is not None else datetime.now(UTC)
    clock = ManualClock(start=finish - timedelta(seconds=INTERVAL_SECONDS * SAMPLES))
    probe = FakeProbe()
    probe.memory_used_source = "process RSS (psutil.Process.memory_info)"
    probe.memory_limits = (Limit(16.0 * GIB, "physical RAM (psutil.virtual_memory)"),)
    breaker = CircuitBreaker(files.breaker_state, files.breaker_log, clock=clock)
    monitor = create_resource_monitor(
        config={
            "check_interval_seconds": INTERVAL_SECONDS,
            "target_node": "L2-4",
            "metrics_log_path": str(files.metrics_log),
        },
        circuit_breaker=breaker,
        clock=clock,
        probe=probe,
    )
    rnd = random.Random(seed)  # noqa: S311 - noise for a demo, not security
    for i in range(SAMPLES):
        clock.advance(INTERVAL_SECONDS)
        burst = 70 <= i < 82  # a chain refresh: CPU and the broker slow down for two minutes
        memory_pct = 52 + 31 * (i / (SAMPLES - 1)) ** 1.4 + rnd.uniform(-1.2, 1.2)
        probe.memory_used_bytes = round(NODE_RAM_BYTES * memory_pct / 100)
        cpu = 79 + rnd.uniform(-2, 3) if burst else 28 + 8 * math.sin(i / 7) + rnd.uniform(-4, 4)
        probe.set_cpu_pct(cpu)
        for _ in range(3):
            base = 5.9 if burst else 5.1
            monitor.record_latency(rnd.lognormvariate(base, 0.45))
        monitor.update(active_securities=12 + i // 30, active_positions=4)
    monitor.close()
    return files


if __name__ == "__main__":
    print(write_demo_log(Path(sys.argv[1] if len(sys.argv) > 1 else "demo")))
