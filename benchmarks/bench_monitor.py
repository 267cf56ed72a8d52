"""Resource monitor costs, each against a baseline measured in the same run.

1. One ``update()`` against the bare psutil (and cgroup) reads it needs: on this host as it is,
   and in a cgroup-v2-limited setup (a fake cgroup tree on disk, so the probe also reads
   ``memory.current`` and ``memory.stat`` each sample). Target: at most 1.5x. The probe
   measures CPU only over 0.1 s or more, so in a tight loop it would skip most CPU reads; here
   it measures on every call (the cost of a sample at a real interval).
2. Memory held by 24 hours of 1-second history (86,400 samples), measured with tracemalloc,
   against the raw size of the doubles it must keep. Target: under 8 MB.
3. One metrics-log append (a real sample record, no fsync) against a bare ``os.write`` of the
   same bytes. Target: median under 50 us.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_monitor.py``).
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import tracemalloc
from pathlib import Path

import psutil  # type: ignore[import-untyped,unused-ignore]
from harness import interleaved, report, time_calls

from utils.cgroup import Cgroups, discover_cgroups
from utils.clock import ManualClock
from utils.metrics_log import JsonLinesWriter, encode_record
from utils.resource_monitor import HISTORY_METRICS, ResourceMonitor, create_resource_monitor
from utils.system_probe import HostProbe, Limit, ProbeReading

US = 1e6
DAY_SECONDS = 86_400
EVERY_CALL = 1e-9  # seconds: a CPU measurement on every sample


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _fake_v2_root(base: Path) -> Path:
    """A cgroup v2 tree with a 4 GiB limit: the probe then reads the cgroup every sample."""
    group = base / "sys/fs/cgroup/app.slice/algo.scope"
    group.mkdir(parents=True)
    (base / "proc/self").mkdir(parents=True)
    (base / "proc/self/cgroup").write_text("0::/app.slice/algo.scope\n")
    (base / "proc/self/mountinfo").write_text(
        "30 25 0:26 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw\n"
    )
    (base / "sys/fs/cgroup/cgroup.controllers").write_text("cpu memory")
    (group / "cgroup.controllers").write_text("cpu memory")
    (group / "memory.max").write_text(f"{4 * 1024**3}\n")
    (group / "memory.current").write_text("1073741824\n")
    stat = "".join(f"key_{i} {i}\n" for i in range(10)) + "inactive_file 1048576\n"
    (group / "memory.stat").write_text(stat + "".join(f"more_{i} {i}\n" for i in range(25)))
    return base


def _probe(root: Path = Path("/"), cgroups: Cgroups | None = None) -> HostProbe:
    """The real probe, reading CPU on every sample (as at a real sampling interval)."""
    return HostProbe(root=root, cgroups=cgroups, min_cpu_interval_seconds=EVERY_CALL)


def bench_update(rows: list[tuple[str, str, str, str]], workdir: Path) -> None:
    # (a) This host as it is (here: no cgroup memory limit -> psutil reads only).
    monitor = create_resource_monitor(config={"log_metrics": False}, probe=_probe())
    process = psutil.Process()

    def bare_psutil() -> None:
        process.cpu_times()
        process.memory_info().rss  # noqa: B018 (the read is the point)

    limited = HostProbe().read().memory_used_source.startswith("cgroup")
    cand, base = interleaved(
        ("update", lambda: monitor.update(active_securities=10, active_positions=5)),
        ("bare", bare_psutil),
        number=2000,
    )
    ratio = cand.median / base.median
    where = "cgroup-limited host" if limited else "this host, no cgroup limit"
    rows.append((
        f"update() vs bare reads ({where})",
        f"{cand.median * US:.1f} us vs {base.median * US:.1f} us = {ratio:.2f}x",
        "<= 1.5x",
        _verdict(ratio <= 1.5),
    ))  # fmt: skip

    # (b) A cgroup v2 limit in force: the probe reads the working set from the cgroup too.
    root = _fake_v2_root(workdir / "v2")
    probe = _probe(root=root, cgroups=discover_cgroups(root))
    assert probe.read().memory_used_source.startswith("cgroup v2")
    monitor_v2 = create_resource_monitor(config={"log_metrics": False}, probe=probe)
    group = root / "sys/fs/cgroup/app.slice/algo.scope"
    current, stat = group / "memory.current", group / "memory.stat"

    def bare_psutil_and_cgroup() -> None:
        process.cpu_times()
        process.memory_info().rss  # noqa: B018
        with current.open("rb") as f:
            f.read()
        with stat.open("rb") as f:
            f.read()

    cand, base = interleaved(
        ("update", lambda: monitor_v2.update(active_securities=10, active_positions=5)),
        ("bare", bare_psutil_and_cgroup),
        number=2000,
    )
    ratio = cand.median / base.median
    rows.append((
        "update() vs bare reads (cgroup v2 limit)",
        f"{cand.median * US:.1f} us vs {base.median * US:.1f} us = {ratio:.2f}x",
        "<= 1.5x",
        _verdict(ratio <= 1.5),
    ))  # fmt: skip

    # (c) With the metrics log on (the default), for information.
    log_monitor = create_resource_monitor(
        config={"metrics_log_path": str(workdir / "update_log.json")}, probe=_probe()
    )
    cand, base = interleaved(
        ("update+log", lambda: log_monitor.update(active_securities=10, active_positions=5)),
        ("bare", bare_psutil),
        number=2000,
    )
    rows.append((
        "update() + metrics-log append vs bare reads",
        f"{cand.median * US:.1f} us vs {base.median * US:.1f} us = "
        f"{cand.median / base.median:.2f}x",
        "info",
        "",
    ))  # fmt: skip


class _StaticProbe:
    def __init__(self) -> None:
        self.used = 1 << 30
        self.cpu = 10.0

    def read(self) -> ProbeReading:
        return ProbeReading(
            memory_used_bytes=self.used,
            memory_used_source="bench",
            process_rss_bytes=self.used,
            memory_limits=(Limit(float(4 << 30), "bench"),),
            cpu_process_pct=self.cpu,
            cpu_warming_up=False,
            cpus_available=Limit(2.0, "bench"),
            cpu_source="bench",
        )


def bench_history_memory(rows: list[tuple[str, str, str, str]]) -> None:
    clock = ManualClock()
    probe = _StaticProbe()
    gc.collect()
    tracemalloc.start()
    monitor: ResourceMonitor = create_resource_monitor(
        config={"log_metrics": False, "history_size": DAY_SECONDS, "check_interval_seconds": 1},
        probe=probe,
        clock=clock,
    )
    for _ in range(200):  # warm every code path (first alerts, caches) before the baseline
        monitor.update()
    monitor.record_latency(120.0)
    gc.collect()
    before, _ = tracemalloc.get_traced_memory()
    for i in range(DAY_SECONDS):
        clock.advance(1)
        probe.used = (1 << 30) + (i % 1000) * 4096
        probe.cpu = float(i % 90)
        monitor.update(active_securities=10, active_positions=5)
    gc.collect()
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = after - before
    raw = DAY_SECONDS * (1 + len(HISTORY_METRICS)) * 8  # the doubles themselves
    rows.append((
        "memory held by 24 h of 1 s history (tracemalloc)",
        f"{held / 1e6:.2f} MB ({held / raw:.2f}x the {raw / 1e6:.2f} MB of raw doubles)",
        "< 8 MB",
        _verdict(held < 8e6),
    ))  # fmt: skip

    def sample_then_statistics() -> None:
        clock.advance(1)
        monitor.update()
        monitor.statistics()  # recomputed: a new sample invalidates the cache

    timing = time_calls("statistics", sample_then_statistics, number=3, repeat=5)
    cached = time_calls("cached", monitor.statistics, number=1000, repeat=5)
    rows.append((
        "statistics() over that full history (new sample / cached)",
        f"{timing.median * 1e3:.1f} ms / {cached.median * US:.1f} us",
        "info",
        "",
    ))  # fmt: skip


def bench_log_append(rows: list[tuple[str, str, str, str]], workdir: Path) -> None:
    monitor = create_resource_monitor(config={"log_metrics": False}, probe=_probe())
    monitor.update(active_securities=10, active_positions=5)
    sample = monitor.update(active_securities=10, active_positions=5)
    record = sample.to_record()
    line = encode_record(record)
    writer = JsonLinesWriter(workdir / "append.json")
    fd = os.open(workdir / "bare.json", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        cand, base = interleaved(
            ("append", lambda: writer.write(record)),
            ("os.write", lambda: os.write(fd, line)),
            number=5000,
        )
    finally:
        os.close(fd)
        writer.close()
    median_us = cand.median * US
    rows.append((
        f"metrics-log append ({len(line)} B record, no fsync) vs bare os.write",
        f"{median_us:.1f} us vs {base.median * US:.1f} us = {cand.median / base.median:.2f}x",
        "median < 50 us",
        _verdict(median_us < 50),
    ))  # fmt: skip
    spread = statistics.pstdev(cand.per_call_seconds) * US
    rows.append(("  append spread across batches (stdev)", f"{spread:.2f} us", "info", ""))


def main() -> int:
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.chdir(workdir)  # nothing lands in the repository
        bench_update(rows, workdir)
        bench_log_append(rows, workdir)
        bench_history_memory(rows)
    report(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
