"""The system probe: the raw figures the resource monitor needs, read the way psutil intends.

:class:`SystemProbe` is the interface the monitor depends on (tests pass a hand-written fake);
:class:`HostProbe` is the real one. Per sample it reads only what the monitor uses:

* process CPU from **one long-lived** :class:`psutil.Process`: the CPU seconds it used
  (``cpu_times()``, user + system) since the last measurement over the injected clock's
  monotonic seconds, in % of one CPU: above 100 with several threads busy, never above
  ``100 x cpus_available``. The first reading has no interval behind it: "warming up"
  (``None``, never 0). CPU time advances in 10 ms ticks, so a reading less than
  :data:`MIN_CPU_INTERVAL_SECONDS` after the last measurement is not measurable yet either
  (``None``; the next reading measures the whole interval) instead of one tick read as
  thousands of percent;
* process RSS (``memory_info().rss``, attribute access, never index access);
* the cgroup working set (usage - inactive_file), only when a cgroup memory limit is in force:
  that is the figure the limit is enforced on. Without one, the process RSS is the working set.

Limits (cgroup memory and CPU quota up the tree, physical RAM, CPU affinity) change rarely; they
are read at construction and again every ``limits_refresh_seconds``.

A failure of any read (``psutil.AccessDenied``, ``psutil.NoSuchProcess``, ``OSError``) leaves
that figure missing for that sample and is described in :attr:`ProbeReading.problems`; the
probe itself never raises from :meth:`HostProbe.read`. Without psutil (it is not importable)
the probe still works from ``/proc/self/statm``, :func:`os.times` (the same CPU measurement)
and :func:`os.sysconf`, and says so in :attr:`ProbeReading.degraded`.

Standard library and psutil only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple, Protocol

from utils.cgroup import (
    Cgroups,
    Limit,
    WorkingSetReader,
    discover_cgroups,
    read_cpu_limit,
    read_memory_limit,
)
from utils.clock import Clock, SystemClock

__all__ = [
    "HostProbe",
    "Limit",
    "ProbeProblem",
    "ProbeReading",
    "SystemProbe",
    "import_psutil",
]

# Metric names a problem can be about (the monitor's health uses the same names).
MEMORY = "memory"
CPU = "cpu"
MEMORY_LIMIT = "memory_limit"
CPU_LIMIT = "cpu_limit"

MIN_CPU_INTERVAL_SECONDS = 0.1
"""The shortest interval a CPU figure is measured over: psutil's documented minimum between two
``cpu_percent`` calls "for accuracy". Over 0.1 s one clock tick is at most 10 points of one CPU."""


@dataclass(frozen=True, slots=True)
class ProbeProblem:
    """One failed read: which figure is missing and why.

    Attributes:
        metric: ``"memory"``, ``"cpu"``, ``"memory_limit"`` or ``"cpu_limit"``.
        error_type: The exception's class name (``"AccessDenied"``); logging is once per
            (metric, error_type).
        message: What happened, for people.
    """

    metric: str
    error_type: str
    message: str


class ProbeReading(NamedTuple):
    """One sample of the raw figures (a named tuple: cheap to build on every sample).

    Attributes:
        memory_used_bytes: The working set the memory limit is enforced on; ``None`` if unread.
        memory_used_source: Where ``memory_used_bytes`` comes from.
        process_rss_bytes: This process's resident set; ``None`` if unread.
        memory_limits: Every memory limit found (cgroup, physical RAM), each with its source.
            The monitor adds the target node's RAM and uses the smallest.
        cpu_process_pct: Process CPU in % of one CPU since the previous measurement (can exceed
            100, never ``100 x cpus_available``); ``None`` while warming up or when the read
            failed.
        cpu_warming_up: The CPU figure is missing only because no measurable interval has
            passed yet: this is the first reading, or the previous measurement was less than
            :data:`MIN_CPU_INTERVAL_SECONDS` ago. Not a failure.
        cpus_available: CPUs this process may use (affinity, cgroup quota), with the source.
        cpu_source: Where ``cpu_process_pct`` comes from.
        problems: Figures missing from this sample, and why.
        degraded: Lasting degradations (psutil not importable, no cgroup information).
    """

    memory_used_bytes: int | None
    memory_used_source: str
    process_rss_bytes: int | None
    memory_limits: tuple[Limit, ...]
    cpu_process_pct: float | None
    cpu_warming_up: bool
    cpus_available: Limit
    cpu_source: str
    problems: tuple[ProbeProblem, ...] = ()
    degraded: tuple[str, ...] = ()


class SystemProbe(Protocol):
    """What the resource monitor asks of the system: one :class:`ProbeReading` per sample.

    Implementations must not raise from :meth:`read`; a figure that cannot be read is ``None``
    with a :class:`ProbeProblem`.
    """

    def read(self) -> ProbeReading:
        """Return the current figures."""
        ...


def import_psutil() -> tuple[ModuleType | None, str | None]:
    """Import psutil; return (module, None), or (None, why) when it is not importable."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError as error:  # LEAN's cloud image, or a trimmed environment
        return None, f"psutil is not importable ({error})"
    return psutil, None


def _problem(metric: str, error: BaseException, what: str) -> ProbeProblem:
    return ProbeProblem(metric, type(error).__name__, f"{what}: {type(error).__name__}: {error}")


class HostProbe:
    """The real probe: psutil (when importable) plus the process's cgroups.

    Args:
        process: The one long-lived ``psutil.Process`` to sample (default: this process,
            created once here). Ignored without psutil.
        cgroups: The process's groups (default: discovered under ``root``).
        root: Filesystem root for cgroup discovery and ``/proc`` reads (tests: a fake tree).
        clock: Its monotonic seconds time the CPU intervals and decide when limits are re-read.
        limits_refresh_seconds: Re-read limits this often (they change only on
            ``docker update`` or a node move).
        min_cpu_interval_seconds: Measure CPU only over at least this long (must be positive).
        use_psutil: ``False`` behaves as if psutil were not importable.

    Raises:
        ValueError: ``min_cpu_interval_seconds`` is not positive.
    """

    def __init__(
        self,
        *,
        process: Any = None,
        cgroups: Cgroups | None = None,
        root: Path = Path("/"),
        clock: Clock | None = None,
        limits_refresh_seconds: float = 60.0,
        min_cpu_interval_seconds: float = MIN_CPU_INTERVAL_SECONDS,
        use_psutil: bool = True,
    ) -> None:
        if not min_cpu_interval_seconds > 0:
            msg = f"min_cpu_interval_seconds must be positive, got {min_cpu_interval_seconds}"
            raise ValueError(msg)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._root = root
        self._refresh_every = limits_refresh_seconds
        degraded: list[str] = []
        psutil, why = import_psutil() if use_psutil else (None, "psutil disabled")
        self._psutil = psutil
        self._process_errors: tuple[type[BaseException], ...] = (OSError,)
        if psutil is None:
            degraded.append(
                f"{why}: process memory from /proc/self/statm, CPU from os.times(), "
                "RAM from os.sysconf()"
            )
            self._process: Any = None
            self._cpu_source = "os.times (psutil missing)"
            self._rss_source = "process RSS (/proc/self/statm)"
        else:
            self._process = process if process is not None else psutil.Process()
            self._process_errors = (psutil.Error, OSError)
            self._cpu_source = "psutil.Process.cpu_times"
            self._rss_source = "process RSS (psutil.Process.memory_info)"
        self._cgroups = cgroups if cgroups is not None else discover_cgroups(root)
        self._ws_reader = (
            WorkingSetReader(self._cgroups.memory) if self._cgroups.memory is not None else None
        )
        self._degraded = tuple(degraded)
        self._min_cpu_interval = min_cpu_interval_seconds
        # The last CPU measurement: (monotonic seconds, process CPU seconds); None before one.
        self._cpu_mark: tuple[float, float] | None = None
        self._page_size = _page_size()
        self._next_refresh = float("-inf")
        self._limit_problems: tuple[ProbeProblem, ...] = ()
        self._memory_limits: tuple[Limit, ...] = ()
        self._cgroup_memory_limited = False
        self._cpus = Limit(1.0, "assumed (unknown)")
        self._refresh_limits()

    @property
    def cgroups(self) -> Cgroups:
        """Return the cgroups this probe reads."""
        return self._cgroups

    def read(self) -> ProbeReading:
        """Return the current figures; never raises."""
        now = self._clock.monotonic()
        if now >= self._next_refresh:
            self._refresh_limits()
        problems: list[ProbeProblem] = list(self._limit_problems)
        cpu_pct, warming = self._read_cpu(now, problems)
        rss = self._read_rss(problems)
        if self._cgroup_memory_limited and self._ws_reader is not None:
            try:
                used: int | None = self._ws_reader.read()
            except (OSError, ValueError) as error:
                used = None
                problems.append(_problem(MEMORY, error, "cgroup working set"))
            used_source = self._ws_reader.source
        else:
            used = rss
            used_source = self._rss_source
        return ProbeReading(
            memory_used_bytes=used,
            memory_used_source=used_source,
            process_rss_bytes=rss,
            memory_limits=self._memory_limits,
            cpu_process_pct=cpu_pct,
            cpu_warming_up=warming,
            cpus_available=self._cpus,
            cpu_source=self._cpu_source,
            problems=tuple(problems),
            degraded=self._degraded,
        )

    def _read_cpu(self, now: float, problems: list[ProbeProblem]) -> tuple[float | None, bool]:
        """Return (% of one CPU since the last measurement, warming up)."""
        mark = self._cpu_mark
        if mark is not None and now - mark[0] < self._min_cpu_interval:
            return None, True  # too soon to measure; the next measurement covers this time too
        try:
            times = self._process.cpu_times() if self._process is not None else os.times()
        except self._process_errors as error:
            problems.append(_problem(CPU, error, "process CPU"))
            return None, False
        used = times.user + times.system
        self._cpu_mark = (now, used)
        if mark is None:
            return None, True  # the first reading: no interval behind it yet
        pct = (used - mark[1]) / (now - mark[0]) * 100.0
        return min(max(pct, 0.0), 100.0 * self._cpus.value), False

    def _read_rss(self, problems: list[ProbeProblem]) -> int | None:
        try:
            if self._process is not None:
                return int(self._process.memory_info().rss)
            with (self._root / "proc/self/statm").open("rb") as statm:
                return int(statm.read().split()[1]) * self._page_size
        except self._process_errors as error:
            problems.append(_problem(MEMORY, error, "process RSS"))
        except (ValueError, IndexError) as error:
            problems.append(_problem(MEMORY, error, "process RSS"))
        return None

    def _refresh_limits(self) -> None:
        self._next_refresh = self._clock.monotonic() + self._refresh_every
        problems: list[ProbeProblem] = []
        limits: list[Limit] = []
        cgroup_limit: Limit | None = None
        if self._cgroups.memory is not None:
            cgroup_limit, notes = read_memory_limit(self._cgroups.memory)
            problems.extend(ProbeProblem(MEMORY_LIMIT, "OSError", note) for note in notes)
            if cgroup_limit is not None:
                limits.append(cgroup_limit)
        self._cgroup_memory_limited = cgroup_limit is not None
        physical = self._physical_ram(problems)
        if physical is not None:
            limits.append(physical)
        self._memory_limits = tuple(limits)
        self._cpus = self._cpu_count(problems)
        self._limit_problems = tuple(problems)

    def _physical_ram(self, problems: list[ProbeProblem]) -> Limit | None:
        try:
            if self._psutil is not None:
                total = int(self._psutil.virtual_memory().total)
                return Limit(float(total), "physical RAM (psutil.virtual_memory)")
            pages = os.sysconf("SC_PHYS_PAGES")
            return Limit(float(pages * self._page_size), "physical RAM (os.sysconf)")
        except self._process_errors as error:
            problems.append(_problem(MEMORY_LIMIT, error, "physical RAM"))
        except (ValueError, AttributeError) as error:
            problems.append(_problem(MEMORY_LIMIT, error, "physical RAM"))
        return None

    def _cpu_count(self, problems: list[ProbeProblem]) -> Limit:
        best = _affinity_cpus(self._psutil, self._process)
        if self._cgroups.cpu is not None:
            quota, notes = read_cpu_limit(self._cgroups.cpu)
            problems.extend(ProbeProblem(CPU_LIMIT, "OSError", note) for note in notes)
            if quota is not None and quota.value < best.value:
                best = quota
        return best


def _affinity_cpus(psutil: ModuleType | None, process: Any) -> Limit:
    if hasattr(os, "sched_getaffinity"):
        try:
            count = len(os.sched_getaffinity(0))
        except OSError:
            count = 0
        if count:
            return Limit(float(count), "CPU affinity (os.sched_getaffinity)")
    if psutil is not None and process is not None and hasattr(process, "cpu_affinity"):
        try:
            count = len(process.cpu_affinity())
        except (psutil.Error, OSError):
            count = 0
        if count:
            return Limit(float(count), "CPU affinity (psutil.Process.cpu_affinity)")
    count = os.cpu_count() or 1
    return Limit(float(count), "logical CPUs (os.cpu_count)")


def _page_size() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not POSIX
        return 4096
