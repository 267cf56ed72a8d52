"""The real system probe: psutil as its authors intend, cgroup-aware, never raising."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped,unused-ignore]
import pytest

from tests.utils.cgroup_trees import V1_NO_LIMIT, v1_tree, v2_tree
from tests.utils.fakes import TickingProcess
from utils.cgroup import Cgroups, discover_cgroups
from utils.clock import ManualClock
from utils.system_probe import MIN_CPU_INTERVAL_SECONDS, HostProbe, ProbeReading

GIB = 1024**3


class DeniedMemoryProcess(psutil.Process):  # type: ignore[misc]
    """This process, but reading its memory is denied (as for another user's process)."""

    def memory_info(self) -> Any:
        raise psutil.AccessDenied(self.pid, "fake")


class VanishedProcess(psutil.Process):  # type: ignore[misc]
    """This process, but it has gone away."""

    def cpu_times(self) -> Any:
        raise psutil.NoSuchProcess(self.pid, "fake")

    def memory_info(self) -> Any:
        raise psutil.NoSuchProcess(self.pid, "fake")


def test_cgroup_working_set_is_the_used_figure_when_a_cgroup_limit_binds(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice": str(2 * GIB)}, current=900_000, inactive=100_000)

    reading = HostProbe(root=tmp_path).read()

    assert reading.memory_used_bytes == 800_000
    assert "cgroup v2 memory.current - inactive_file" in reading.memory_used_source
    assert reading.process_rss_bytes is not None
    assert reading.process_rss_bytes > 0
    sources = {limit.source.split(" (")[0]: limit.value for limit in reading.memory_limits}
    assert sources["cgroup v2 memory.max"] == 2 * GIB
    assert sources["physical RAM"] == psutil.virtual_memory().total


def test_without_a_cgroup_limit_the_process_rss_is_the_used_figure(tmp_path: Path) -> None:
    v1_tree(tmp_path, limits={"/docker/abc123": V1_NO_LIMIT}, usage=5, inactive=1)

    reading = HostProbe(root=tmp_path).read()

    assert reading.memory_used_bytes == reading.process_rss_bytes
    assert reading.memory_used_source == "process RSS (psutil.Process.memory_info)"
    assert [limit.source for limit in reading.memory_limits] == [
        "physical RAM (psutil.virtual_memory)"
    ]


def test_one_psutil_process_object_serves_every_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []

    class CountingProcess(psutil.Process):  # type: ignore[misc]
        def __init__(self, pid: int | None = None) -> None:
            created.append(1)
            super().__init__(pid)

    monkeypatch.setattr(psutil, "Process", CountingProcess)
    probe = HostProbe(cgroups=Cgroups())

    for _ in range(5):
        probe.read()

    assert len(created) == 1


def test_first_cpu_reading_is_warming_up_not_zero() -> None:
    clock = ManualClock()
    probe = HostProbe(cgroups=Cgroups(), clock=clock)

    first = probe.read()
    clock.advance(1)
    second = probe.read()

    assert first.cpu_process_pct is None
    assert first.cpu_warming_up is True
    assert second.cpu_process_pct is not None
    assert second.cpu_process_pct >= 0
    assert second.cpu_warming_up is False


class CpuRig:
    """A real probe on a process whose CPU seconds the test sets, after its first reading."""

    def __init__(self, root: Path | None = None) -> None:
        self.clock = ManualClock()
        self.process = TickingProcess()
        self.probe = HostProbe(
            process=self.process,
            cgroups=None if root is not None else Cgroups(),
            root=root or Path("/"),
            clock=self.clock,
        )
        self.probe.read()

    def read_after(self, seconds: float, cpu_seconds: float) -> ProbeReading:
        """Read ``seconds`` later, the process having used ``cpu_seconds`` more."""
        self.clock.advance(seconds)
        self.process.cpu_seconds += cpu_seconds
        return self.probe.read()


def test_cpu_is_the_cpu_seconds_used_over_the_monotonic_interval() -> None:
    reading = CpuRig().read_after(2, 0.5)

    assert reading.cpu_process_pct == pytest.approx(25.0)
    assert reading.cpu_warming_up is False
    assert reading.cpu_source == "psutil.Process.cpu_times"


def test_a_reading_milliseconds_after_the_last_measures_nothing_then_the_whole_interval() -> None:
    rig = CpuRig()

    too_soon = rig.read_after(0.004, 0.01)  # one 10 ms tick in 4 ms: as a figure, 250 %
    measured = rig.read_after(MIN_CPU_INTERVAL_SECONDS, 0.01)

    assert too_soon.cpu_process_pct is None
    assert too_soon.cpu_warming_up is True  # not measurable yet: not a missing figure
    assert too_soon.problems == ()
    assert measured.cpu_process_pct == pytest.approx(
        0.02 / (0.004 + MIN_CPU_INTERVAL_SECONDS) * 100
    )
    assert measured.cpu_warming_up is False


def test_cpu_is_never_above_what_the_cpus_available_can_do(tmp_path: Path) -> None:
    v2_tree(tmp_path, cpu_max={"/app.slice/algo.scope": "100000 100000"})  # one CPU
    rig = CpuRig(root=tmp_path)

    # 12 ticks of 10 ms counted in 0.1 s: more than one CPU can do
    reading = rig.read_after(MIN_CPU_INTERVAL_SECONDS, 0.12)

    assert reading.cpus_available.value == 1.0
    assert reading.cpu_process_pct == 100.0


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_the_minimum_cpu_interval_must_be_positive(seconds: float) -> None:
    with pytest.raises(ValueError, match="min_cpu_interval_seconds"):
        HostProbe(cgroups=Cgroups(), min_cpu_interval_seconds=seconds)


def test_access_denied_leaves_memory_missing_and_cpu_measured() -> None:
    clock = ManualClock()
    probe = HostProbe(process=DeniedMemoryProcess(), cgroups=Cgroups(), clock=clock)
    probe.read()
    clock.advance(1)

    reading = probe.read()

    assert reading.memory_used_bytes is None
    assert reading.process_rss_bytes is None
    assert reading.cpu_process_pct is not None
    assert [(p.metric, p.error_type) for p in reading.problems] == [("memory", "AccessDenied")]


def test_a_vanished_process_leaves_both_figures_missing_without_raising() -> None:
    probe = HostProbe(process=VanishedProcess(), cgroups=Cgroups())

    reading = probe.read()

    assert reading.cpu_process_pct is None
    assert reading.cpu_warming_up is False
    assert reading.memory_used_bytes is None
    assert {p.error_type for p in reading.problems} == {"NoSuchProcess"}


def test_a_failing_cgroup_read_leaves_memory_missing_for_that_sample(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice": str(GIB)})
    probe = HostProbe(root=tmp_path)
    stat = tmp_path / "sys/fs/cgroup/app.slice/algo.scope/memory.stat"
    saved = stat.read_text()
    stat.unlink()

    broken = probe.read()
    stat.write_text(saved)
    recovered = probe.read()

    assert broken.memory_used_bytes is None
    assert broken.problems[0].metric == "memory"
    assert broken.problems[0].error_type == "FileNotFoundError"
    assert recovered.memory_used_bytes is not None
    assert recovered.problems == ()


def test_cgroup_cpu_quota_below_the_affinity_sets_the_cpus_available(tmp_path: Path) -> None:
    v2_tree(tmp_path, cpu_max={"/app.slice/algo.scope": "50000 100000"})

    reading = HostProbe(root=tmp_path).read()

    assert reading.cpus_available.value == 0.5
    assert "cpu.max" in reading.cpus_available.source


def test_without_a_quota_the_affinity_sets_the_cpus_available(tmp_path: Path) -> None:
    v2_tree(tmp_path)

    reading = HostProbe(root=tmp_path).read()

    assert reading.cpus_available.value == len(psutil.Process().cpu_affinity())
    assert "affinity" in reading.cpus_available.source


def test_limits_are_read_again_after_the_refresh_interval(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice/algo.scope": str(2 * GIB)})
    clock = ManualClock()
    probe = HostProbe(root=tmp_path, clock=clock, limits_refresh_seconds=60)
    limit_file = tmp_path / "sys/fs/cgroup/app.slice/algo.scope/memory.max"

    limit_file.write_text(str(GIB))
    clock.advance(59)
    before = min(limit.value for limit in probe.read().memory_limits)
    clock.advance(1)
    after = min(limit.value for limit in probe.read().memory_limits)

    assert before == 2 * GIB
    assert after == GIB


def test_without_psutil_the_probe_still_reads_memory_and_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError
    clock = ManualClock()
    probe = HostProbe(cgroups=Cgroups(), clock=clock)

    first = probe.read()
    clock.advance(1)
    second = probe.read()

    assert first.degraded
    assert "psutil is not importable" in first.degraded[0]
    assert second.process_rss_bytes is not None
    assert second.process_rss_bytes > 0
    assert second.memory_used_source == "process RSS (/proc/self/statm)"
    assert second.cpu_process_pct is not None
    assert first.cpu_process_pct is None
    assert "os.sysconf" in second.memory_limits[0].source


def test_the_real_host_is_probed_without_problems() -> None:
    # Whatever this machine is (container or not), the default probe must work on it.
    probe = HostProbe()
    probe.read()

    reading = probe.read()

    assert reading.problems == ()
    assert reading.memory_used_bytes is not None
    assert reading.memory_limits
    assert discover_cgroups() == probe.cgroups
