"""Dashboard widget costs on the GUI thread, each against a baseline measured in the same run.

1. One ``MonitorSource.snapshot()`` on a monitor holding a full day of 1 s history (86,400
   samples), against ``monitor.statistics()`` over that whole history (what a naive widget
   would compute each second). The source bounds statistics to the last hour; target: at
   most a tenth of the naive cost.
2. One whole ``widget.refresh()`` (read + draw: bars, labels, 1,800-point chart, statistics
   table) on the same monitor. Target: under 16 ms, one frame at 60 Hz.
3. Following a metrics log: the first snapshot of a full 10 MiB log (read, parse, derive
   statistics) against ``read_log`` of the same file; target at most 3x. Then one whole
   ``widget.refresh()`` after one new record (the monitor writing it included). Target:
   under 16 ms.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_widget.py``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from harness import interleaved, report, time_calls

from utils.clock import ManualClock
from utils.metrics_log import read_log
from utils.resource_monitor import ResourceMonitor, create_resource_monitor

MS = 1e3
DAY_SECONDS = 86_400
LOG_BYTES = 10 * 1024 * 1024  # the metrics log's default rotation size


class _Probe:
    """A fixed reading: the benchmark measures the widget, not the system."""

    def __init__(self) -> None:
        from utils.system_probe import Limit, ProbeReading

        self.percent = 40.0
        self._limit = Limit(4 * 1024.0**3, "bench")
        self._reading = ProbeReading

    def read(self) -> object:
        from utils.system_probe import Limit

        self.percent = 30 + (self.percent + 7.3) % 50
        used = int(self._limit.value * self.percent / 100)
        return self._reading(
            memory_used_bytes=used, memory_used_source="bench", process_rss_bytes=used,
            memory_limits=(self._limit,), cpu_process_pct=self.percent, cpu_warming_up=False,
            cpus_available=Limit(2.0, "bench"), cpu_source="bench",
        )  # fmt: skip


def _day_monitor(clock: ManualClock, log: Path | None = None) -> ResourceMonitor:
    config: dict[str, object] = {"check_interval_seconds": 1, "log_metrics": log is not None}
    if log is not None:
        config["metrics_log_path"] = str(log)
        config["metrics_log_max_bytes"] = 2 * LOG_BYTES  # no rotation while filling
    monitor = create_resource_monitor(config=config, clock=clock, probe=_Probe())  # type: ignore[arg-type]
    for i in range(DAY_SECONDS):
        clock.advance(1)
        monitor.update()
        if i % 5 == 0:
            monitor.record_latency(100 + i % 400)
        if log is not None and i % 1000 == 0 and log.stat().st_size >= LOG_BYTES:
            break
    return monitor


def bench_monitor_source(rows: list[tuple[str, str, str, str]]) -> None:
    from PySide6.QtWidgets import QApplication

    from ui.resource_monitor_widget import ResourceMonitorWidget
    from ui.resource_sources import MonitorSource

    clock = ManualClock()
    monitor = _day_monitor(clock)
    source = MonitorSource(monitor)

    def next_sample_then(fn: object) -> object:
        def run() -> None:
            clock.advance(1)
            monitor.update()  # a new sample each time: no cached statistics
            fn()  # type: ignore[operator]

        return run

    snap, naive = interleaved(
        ("snapshot", next_sample_then(source.snapshot)),
        ("statistics()", next_sample_then(monitor.statistics)),
        number=5,
    )
    ratio = snap.median / naive.median
    rows.append((
        "MonitorSource.snapshot(), 1 day of history",
        f"{snap.median * MS:.2f} ms = {ratio:.2f}x full-history statistics "
        f"({naive.median * MS:.1f} ms)",
        "<= 0.1x", "ok" if ratio <= 0.1 else "MISSED",
    ))  # fmt: skip

    app = QApplication.instance() or QApplication([])
    widget = ResourceMonitorWidget(source, "L2-4 (2 cores, 4GB RAM)")
    widget.timer.stop()
    widget.resize(560, 860)
    widget.show()
    app.processEvents()
    refresh = time_calls("refresh", next_sample_then(widget.refresh), number=5)
    rows.append((
        "widget.refresh(), 1,800-point chart",
        f"{refresh.median * MS:.2f} ms",
        "< 16 ms", "ok" if refresh.median < 0.016 else "MISSED",
    ))  # fmt: skip
    widget.shutdown()


def bench_log_source(rows: list[tuple[str, str, str, str]], folder: Path) -> None:
    from ui.resource_sources import MetricsLogSource

    log = folder / "resource_metrics.json"
    clock = ManualClock()
    writer = _day_monitor(clock, log)
    size = log.stat().st_size

    def first_snapshot() -> None:
        source = MetricsLogSource(log, clock=clock)
        source.snapshot()
        source.close()

    first, parse = interleaved(
        ("first snapshot", first_snapshot), ("read_log", lambda: read_log(log)), number=1, repeat=5
    )
    ratio = first.median / parse.median
    rows.append((
        f"first snapshot of a {size / 2**20:.1f} MiB log",
        f"{first.median * MS:.0f} ms = {ratio:.2f}x read_log ({parse.median * MS:.0f} ms)",
        "<= 3x", "ok" if ratio <= 3 else "MISSED",
    ))  # fmt: skip

    from ui.resource_monitor_widget import ResourceMonitorWidget

    widget = ResourceMonitorWidget(MetricsLogSource(log, clock=clock), owns_source=True)
    widget.timer.stop()

    def one_more() -> None:
        clock.advance(1)
        writer.update()
        widget.refresh()

    steady = time_calls("refresh after one record", one_more, number=20)
    rows.append((
        "widget.refresh() following the log, 1 new record",
        f"{steady.median * MS:.2f} ms (the monitor writing it included)",
        "< 16 ms", "ok" if steady.median < 0.016 else "MISSED",
    ))  # fmt: skip
    widget.shutdown()
    writer.close()


def main() -> None:
    """Run the widget benchmarks and print the table."""
    rows: list[tuple[str, str, str, str]] = []
    bench_monitor_source(rows)
    with tempfile.TemporaryDirectory() as folder:
        bench_log_source(rows, Path(folder))
    report(rows)


if __name__ == "__main__":
    main()
