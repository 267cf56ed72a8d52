"""The resource monitor: sees an out-of-memory kill coming and halts new trading before it.

Usage (the seed's)::

    from utils import create_resource_monitor

    monitor = create_resource_monitor(
        config={"memory_warning_pct": 80},
        circuit_breaker=circuit_breaker,
    )
    metrics = monitor.update(active_securities=10, active_positions=5)
    if not monitor.is_healthy():
        ...  # reduce load or halt trading

What one :meth:`ResourceMonitor.update` does (it never raises into the trading loop):

1. Reads the system through a :class:`~utils.system_probe.SystemProbe` (psutil and cgroups).
2. Memory % = the working set against the **effective limit**: the smallest of the cgroup
   limits up the tree, physical RAM, and the RAM of ``target_node`` when one is configured
   (so a local run is checked against an L2-4's 4 GB). Each figure keeps its source.
3. CPU % = process CPU / CPUs available (affinity, cgroup quota), so 100 % means "every CPU
   this process may use is busy". The first sample is warming up (``None``), never 0, and so
   is a sample taken too soon after the last CPU measurement to measure one (see
   :data:`~utils.system_probe.MIN_CPU_INTERVAL_SECONDS`).
4. Broker latency p50/p95/p99 over the last ``latency_window`` round trips (exact, nearest
   rank); timeouts are samples at the timeout value; no latency alert below
   ``latency_min_samples`` samples.
5. Alert rules, each a :class:`~utils.thresholds.LevelTracker` with hysteresis and
   confirmation (``confirm_samples`` consecutive samples to raise and to clear; a value exactly
   at a level counts as over it; it clears strictly below level - ``clear_margin_pct``):

   * ``threshold``: memory %, CPU % and latency p95 against their warning/critical levels;
   * ``lean_average`` (LEAN mirror): the mean of the last ``lean_average_samples`` (60) memory
     samples against the same % levels of the cap; LEAN kills when that mean passes 100 %;
   * ``lean_peak`` (LEAN mirror): one sample against the levels applied to **twice** the cap
     (160 % / 180 % by default); LEAN kills on one sample above 200 %, so this rule raises on a
     single sample (the only rule without confirmation).

6. Drives the circuit breaker: any critical alert active -> ``halt_all_trading`` (it latches);
   a warning active and ``warning_action == "reduce"`` -> REDUCING; no warning left -> back to
   ACTIVE if the monitor put it in REDUCING. The breaker follows the active alerts on every
   sample, so a manual reset while a metric is still critical is undone by the next sample.
7. Records the sample in the history (statistics) and appends it to the metrics log.

Alerts are logged through :mod:`logging` with the seed's wording: ``RESOURCE WARNING: ...`` at
WARNING, ``RESOURCE WARNING: CRITICAL ...`` at CRITICAL, and ``RESOURCE OK: ...`` (INFO) when
one clears.

Standard library, psutil and pydantic only: this module ships into LEAN.
"""

from __future__ import annotations

import logging
import math
import threading
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NamedTuple

from utils.circuit_breaker import BreakerState, CircuitBreaker
from utils.clock import Clock, SystemClock, format_utc
from utils.errors import SettingsError
from utils.latency import LatencySnapshot, LatencyWindow, nearest_rank
from utils.memory_model import MemoryModel, Workload
from utils.metrics_log import JsonLinesWriter, encode_record
from utils.node_catalog import DEFAULT_CATALOG, Family, NodeCatalog
from utils.settings import MonitoringSettings, ResourceLimits, section_from_mapping
from utils.system_probe import HostProbe, Limit, ProbeReading, SystemProbe
from utils.thresholds import LevelTracker, Severity, Transition

if TYPE_CHECKING:
    from utils.settings import Settings

logger = logging.getLogger(__name__)

ACTOR = "resource_monitor"
MEMORY = "memory"
CPU = "cpu"
LATENCY = "latency"
LEAN_PEAK_FACTOR = 2.0  # LEAN kills on a single sample above twice the cap
_MB = 1024 * 1024
_GB = 1024 * _MB

__all__ = [
    "AlertRule",
    "HealthState",
    "HealthStatus",
    "MetricStatistics",
    "ResourceAlert",
    "ResourceMetrics",
    "ResourceMonitor",
    "Severity",
    "alert_prefix",
    "create_resource_monitor",
    "format_figure",
]


class AlertRule(StrEnum):
    """Which rule raised an alert."""

    THRESHOLD = "threshold"
    LEAN_AVERAGE = "lean_average"
    LEAN_PEAK = "lean_peak"


class HealthState(StrEnum):
    """The monitor's overall state, worst first: critical, stale, warning, degraded, healthy."""

    CRITICAL = "critical"
    STALE = "stale"
    WARNING = "warning"
    DEGRADED = "degraded"
    HEALTHY = "healthy"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class ResourceAlert:
    """A level raised or cleared.

    Attributes:
        metric: ``"memory"``, ``"cpu"`` or ``"latency"``.
        rule: Which rule (threshold, LEAN average, LEAN peak).
        severity: Warning or critical.
        raised: ``True`` when the level was raised, ``False`` when it cleared.
        value: The value that completed the raise or clear, in ``unit``.
        threshold: The level, in ``unit``.
        clear_threshold: Below this it clears, in ``unit``.
        unit: ``"pct"`` or ``"ms"``.
        started_at: When the alert was raised (for a clear: when it had been raised).
        time: When this raise or clear happened.
        message: The logged line.
    """

    metric: str
    rule: AlertRule
    severity: Severity
    raised: bool
    value: float
    threshold: float
    clear_threshold: float
    unit: str
    started_at: datetime
    time: datetime
    message: str

    @property
    def key(self) -> str:
        """Return ``metric.rule.severity``, e.g. ``"memory.threshold.warning"``."""
        return f"{self.metric}.{self.rule.value}.{self.severity.value}"

    def to_record(self) -> dict[str, Any]:
        """Return the alert as a JSON-ready dict (times ISO 8601 UTC)."""
        return {
            "key": self.key,
            "metric": self.metric,
            "rule": self.rule.value,
            "severity": self.severity.value,
            "raised": self.raised,
            "value": self.value,
            "threshold": self.threshold,
            "clear_threshold": self.clear_threshold,
            "unit": self.unit,
            "started_at": format_utc(self.started_at),
            "time": format_utc(self.time),
            "message": self.message,
        }


class ResourceMetrics(NamedTuple):
    """One sample (immutable). Field names carry units; they are the metrics log's keys too.

    Attributes:
        sequence: Sample number since the monitor started (1, 2, ...).
        timestamp: When the sample was taken (UTC).
        memory_used_bytes: The working set the limit applies to (cgroup working set when a
            cgroup limit is in force, else process RSS); ``None`` if unread.
        memory_used_source: Where ``memory_used_bytes`` comes from.
        memory_limit_bytes: The effective limit (smallest of cgroup, physical RAM, target node).
        memory_limit_source: Which of those it is.
        memory_pct: ``memory_used_bytes`` as % of ``memory_limit_bytes``.
        memory_lean_average_pct: Mean ``memory_pct`` of the last ``lean_average_samples``
            samples (LEAN kills above 100).
        process_rss_bytes: This process's resident set.
        cpu_pct: Process CPU as % of the CPUs available (0-100); ``None`` while warming up.
        cpu_process_pct: Process CPU as % of one CPU (can exceed 100 with several CPUs).
        cpus_available: CPUs this process may use.
        cpu_source: Where the CPU figures come from (and what limits the CPUs).
        latency_p50_ms: Median broker round trip in the window.
        latency_p95_ms: 95th percentile.
        latency_p99_ms: 99th percentile.
        latency_samples: Round trips in the window.
        latency_timeouts_total: Timeouts since start (a counter).
        active_securities: As passed to :meth:`ResourceMonitor.update`.
        active_positions: As passed to :meth:`ResourceMonitor.update`.
        missing_metrics: Figures that could not be read this sample.
        alerts_active: Keys of the alerts active after this sample.
        health_state: The monitor's state after this sample.
    """

    sequence: int
    timestamp: datetime
    memory_used_bytes: int | None
    memory_used_source: str
    memory_limit_bytes: int | None
    memory_limit_source: str
    memory_pct: float | None
    memory_lean_average_pct: float | None
    process_rss_bytes: int | None
    cpu_pct: float | None
    cpu_process_pct: float | None
    cpus_available: float | None
    cpu_source: str
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_samples: int
    latency_timeouts_total: int
    active_securities: int | None
    active_positions: int | None
    missing_metrics: tuple[str, ...]
    alerts_active: tuple[str, ...]
    health_state: HealthState

    @property
    def memory_used_mb(self) -> float | None:
        """Return ``memory_used_bytes`` in MiB (as LEAN reports memory)."""
        return None if self.memory_used_bytes is None else self.memory_used_bytes / _MB

    @property
    def memory_limit_mb(self) -> float | None:
        """Return ``memory_limit_bytes`` in MiB."""
        return None if self.memory_limit_bytes is None else self.memory_limit_bytes / _MB

    def to_record(self) -> dict[str, Any]:
        """Return the sample as one metrics-log record (keys: :data:`METRIC_FIELDS`)."""
        record = self._asdict()  # every field, in order; then the JSON forms of the few others
        record["timestamp"] = format_utc(self.timestamp)
        record["missing_metrics"] = list(self.missing_metrics)
        record["alerts_active"] = list(self.alerts_active)
        record["health_state"] = self.health_state.value
        return record


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """More than a boolean: what the monitor knows and how fresh it is.

    Attributes:
        state: The worst condition that applies (see :class:`HealthState`).
        healthy: What :meth:`ResourceMonitor.is_healthy` returns: no warning or critical alert,
            a fresh sample, and a memory figure (the monitor is not blind to the kill).
        reasons: One line per condition that is not healthy.
        active_alerts: Alerts raised and not cleared, each with its start time.
        last_sample_at: When the last sample was taken (``None``: none yet).
        last_sample_age_seconds: Seconds since then (monotonic clock).
        stale: No sample within ``stale_after_seconds``.
        sources: Where each figure comes from (``memory_used``, ``memory_limit``, ``cpu``, ...).
        degraded_metrics: Figures missing in the last sample, or read by a fallback.
        breaker_state: The circuit breaker's state (``None`` without a breaker).
    """

    state: HealthState
    healthy: bool
    reasons: tuple[str, ...]
    active_alerts: tuple[ResourceAlert, ...]
    last_sample_at: datetime | None
    last_sample_age_seconds: float | None
    stale: bool
    sources: Mapping[str, str]
    degraded_metrics: tuple[str, ...]
    breaker_state: BreakerState | None


@dataclass(frozen=True, slots=True)
class MetricStatistics:
    """min/max/avg/p95 of one metric over the history (``None`` without samples).

    ``p95`` is exact (nearest rank). Missing samples are left out.
    """

    metric: str
    samples: int
    min: float | None
    max: float | None
    avg: float | None
    p95: float | None

    @classmethod
    def of(cls, metric: str, values: Iterable[float | None]) -> MetricStatistics:
        """Return the statistics of ``values``, leaving out the missing ones (``None``, NaN)."""
        present = sorted(v for v in values if v is not None and v == v)  # NaN != NaN
        n = len(present)
        if not n:
            return cls(metric, 0, None, None, None, None)
        return cls(
            metric, n, present[0], present[-1], math.fsum(present) / n, nearest_rank(present, 95)
        )


METRIC_FIELDS: tuple[str, ...] = ResourceMetrics._fields
"""The metrics log's keys, in order: the field names of :class:`ResourceMetrics`."""

# History columns (8 bytes per value per sample: 24 h of 1 s samples is 5 x 8 x 86,400 B).
HISTORY_METRICS: tuple[str, ...] = (
    "memory_used_bytes",
    "memory_pct",
    "cpu_pct",
    "latency_p95_ms",
)
_NAN = math.nan


class _History:
    """A fixed-capacity ring of samples, stored as columns of doubles (NaN = missing)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.columns = ("timestamp_seconds", *HISTORY_METRICS)
        self._data = [array("d") for _ in self.columns]
        self._next = 0  # where the next sample goes once full

    def __len__(self) -> int:
        return len(self._data[0])

    def append(
        self, timestamp: float, memory_used: float, memory_pct: float, cpu_pct: float,
        latency_p95: float,
    ) -> None:  # fmt: skip
        """Add one sample (columns in :data:`HISTORY_METRICS` order), evicting the oldest."""
        t, mu, mp, cp, lp = self._data
        if len(t) < self.capacity:
            t.append(timestamp)
            mu.append(memory_used)
            mp.append(memory_pct)
            cp.append(cpu_pct)
            lp.append(latency_p95)
            return
        i = self._next
        t[i], mu[i], mp[i], cp[i], lp[i] = timestamp, memory_used, memory_pct, cpu_pct, latency_p95
        self._next = (i + 1) % self.capacity

    def column(self, name: str, last: int | None = None) -> list[float]:
        """Return a column oldest first, or only its ``last`` newest values."""
        data = self._data[self.columns.index(name)]
        n = len(data)
        take = n if last is None else max(0, min(last, n))
        oldest = self._next if n == self.capacity else 0
        start = (oldest + n - take) % n if n else 0
        if start + take <= n:
            return data[start : start + take].tolist()
        return data[start:].tolist() + data[: start + take - n].tolist()


@dataclass(slots=True)
class _Rule:
    metric: str
    rule: AlertRule
    severity: Severity
    tracker: LevelTracker
    unit: str
    started_at: datetime | None = None


class _NullProbe:
    """Used only when even the real probe cannot be built: every figure missing."""

    def __init__(self, why: str) -> None:
        self._why = why

    def read(self) -> ProbeReading:
        return ProbeReading(
            memory_used_bytes=None,
            memory_used_source="unavailable",
            process_rss_bytes=None,
            memory_limits=(),
            cpu_process_pct=None,
            cpu_warming_up=False,
            cpus_available=Limit(1.0, "unavailable"),
            cpu_source="unavailable",
            problems=(),
            degraded=(self._why,),
        )


def format_figure(value: float | None, unit: str, missing: str = "?") -> str:
    """Return a figure as the monitor's messages show it.

    ``unit`` ``"pct"`` gives ``"81.3%"``, ``"ms"`` gives ``"412 ms"``, ``"bytes"`` gives
    ``"1.25 GB"`` from 1 GiB up and ``"512 MB"`` below; any other unit follows the number
    (``"3 CPUs"``, or just ``"3"`` for ``""``). ``None`` gives ``missing``.
    """
    if value is None:
        return missing
    if unit == "pct":
        return f"{value:.1f}%"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "bytes":
        return f"{value / _GB:.2f} GB" if value >= _GB else f"{value / _MB:.0f} MB"
    return f"{value:g} {unit}".rstrip()


def alert_prefix(severity: Severity, *, raised: bool) -> str:
    """Return the seed's wording that starts an alert line (without the space after it)."""
    if not raised:
        return "RESOURCE OK:"
    return "RESOURCE WARNING: CRITICAL" if severity is Severity.CRITICAL else "RESOURCE WARNING:"


class ResourceMonitor:
    """Samples memory, CPU and broker latency, raises alerts, and drives the circuit breaker.

    Build it with :func:`create_resource_monitor`. Every public method is thread-safe.

    Args:
        limits: Alert levels (``resource_limits``).
        monitoring: Sampling, hysteresis, logging and breaker behaviour (``monitoring``).
        circuit_breaker: The breaker to trip, or ``None`` (alerts are then only logged).
        clock: Monotonic and wall clocks (default: the system's).
        probe: Where figures come from (default: :class:`~utils.system_probe.HostProbe`).
        memory_model: The model behind :meth:`estimate_memory_mb` (default coefficients).
        catalog: Node catalog for ``target_node`` (default: the built-in one).
    """

    def __init__(
        self,
        limits: ResourceLimits,
        monitoring: MonitoringSettings,
        *,
        circuit_breaker: CircuitBreaker | None = None,
        clock: Clock | None = None,
        probe: SystemProbe | None = None,
        memory_model: MemoryModel | None = None,
        catalog: NodeCatalog | None = None,
    ) -> None:
        self.limits = limits
        self.monitoring = monitoring
        self.circuit_breaker = circuit_breaker
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._memory_model = memory_model if memory_model is not None else MemoryModel()
        self._logged: set[tuple[str, ...]] = set()
        self._lock = threading.RLock()
        self._probe = probe if probe is not None else self._default_probe()
        self._target_limit = self._target_node_limit(catalog or DEFAULT_CATALOG)
        self._latency = LatencyWindow(
            window=monitoring.latency_window,
            timeout_ms=monitoring.latency_timeout_ms,
            min_samples=monitoring.latency_min_samples,
        )
        self._lean_window: deque[float] = deque(maxlen=monitoring.lean_average_samples)
        self._rules = self._build_rules()
        self._memory_rules = [
            r for r in self._rules if r.metric == MEMORY and r.rule is not AlertRule.LEAN_AVERAGE
        ]
        self._lean_rules = [r for r in self._rules if r.rule is AlertRule.LEAN_AVERAGE]
        self._cpu_rules = [r for r in self._rules if r.metric == CPU]
        self._latency_rules = [r for r in self._rules if r.metric == LATENCY]
        self._cpu_source_cache: tuple[tuple[str, str], str] | None = None
        self._active: dict[str, ResourceAlert] = {}
        self._active_keys: tuple[str, ...] = ()
        self._recent_alerts: deque[ResourceAlert] = deque(maxlen=200)
        self._alert_listeners: list[Callable[[ResourceAlert], None]] = []
        self._history = _History(monitoring.history_size)
        self._statistics_cache: (
            tuple[tuple[int, int | None], dict[str, MetricStatistics]] | None
        ) = None
        self._sequence = 0
        self._latest: ResourceMetrics | None = None
        self._last_reading: ProbeReading | None = None
        self._last_sample_monotonic: float | None = None
        self._last_counts: tuple[int | None, int | None] = (None, None)
        self._writer_failed = False
        self._writer = self._open_metrics_log()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------------ construction
    def _default_probe(self) -> SystemProbe:
        try:
            return HostProbe(clock=self._clock)
        except Exception as error:  # never let the monitor's construction fail on the system
            why = f"system probe unavailable ({type(error).__name__}: {error})"
            logger.exception("resource monitor: %s; every figure will be missing", why)
            return _NullProbe(why)

    def _target_node_limit(self, catalog: NodeCatalog) -> Limit | None:
        model = self.monitoring.target_node
        if model is None:
            return None
        node = catalog.get(model)
        return Limit(
            float(node.ram_mb * _MB),
            f"target node {node.model} RAM ({node.ram_gb:g} GB, utils.node_catalog)",
        )

    def _build_rules(self) -> list[_Rule]:
        c = self.limits
        confirm = self.monitoring.confirm_samples
        margin = self.monitoring.clear_margin_pct
        rules: list[_Rule] = []

        def add(
            metric: str, rule: AlertRule, severity: Severity, level: float, unit: str,
            raise_after: int = confirm,
        ) -> None:  # fmt: skip
            clear = level - margin if unit == "pct" else level * (1 - margin / 100)
            tracker = LevelTracker(
                level=level, clear_level=clear, raise_after=raise_after, clear_after=confirm
            )
            rules.append(_Rule(metric, rule, severity, tracker, unit))

        for severity, mem, cpu, lat in (
            (Severity.WARNING, c.memory_warning_pct, c.cpu_warning_pct, c.latency_warning_ms),
            (Severity.CRITICAL, c.memory_critical_pct, c.cpu_critical_pct, c.latency_critical_ms),
        ):
            add(MEMORY, AlertRule.THRESHOLD, severity, mem, "pct")
            add(MEMORY, AlertRule.LEAN_AVERAGE, severity, mem, "pct")
            add(MEMORY, AlertRule.LEAN_PEAK, severity, mem * LEAN_PEAK_FACTOR, "pct", 1)
            add(CPU, AlertRule.THRESHOLD, severity, cpu, "pct")
            add(LATENCY, AlertRule.THRESHOLD, severity, lat, "ms")
        return rules

    def _open_metrics_log(self) -> JsonLinesWriter | None:
        m = self.monitoring
        if not m.log_metrics or not m.enabled:
            return None
        try:
            return JsonLinesWriter(
                m.metrics_log_path, max_bytes=m.metrics_log_max_bytes, backups=m.metrics_log_backups
            )
        except OSError as error:
            self._writer_failed = True
            self._log_once(
                ("metrics_log_open",),
                logging.ERROR,
                "resource monitor: cannot open metrics log %s (%s); samples are not logged",
                m.metrics_log_path,
                error,
            )
            return None

    # ----------------------------------------------------------------------------- logging
    def _log_once(self, key: tuple[str, ...], level: int, message: str, *args: object) -> None:
        if key in self._logged:
            logger.debug(message, *args)
            return
        self._logged.add(key)
        logger.log(level, message, *args)

    # ------------------------------------------------------------------------------ update
    def update(
        self, active_securities: int | None = None, active_positions: int | None = None
    ) -> ResourceMetrics:
        """Take one sample, evaluate the alert rules, drive the breaker, log the sample.

        Never raises: a figure that cannot be read is ``None`` (and listed in
        ``missing_metrics``); an unexpected internal error is logged once and an all-missing
        sample returned.
        """
        try:
            with self._lock:
                return self._update(active_securities, active_positions)
        except Exception as error:
            self._log_once(
                ("update", type(error).__name__),
                logging.ERROR,
                "resource monitor: update failed (%s: %s); returning an empty sample",
                type(error).__name__,
                error,
            )
            return self._empty_metrics(active_securities, active_positions)

    def _update(self, securities: int | None, positions: int | None) -> ResourceMetrics:
        now = self._clock.now()
        if not self.monitoring.enabled:
            return self._empty_metrics(securities, positions, HealthState.DISABLED, now)
        if securities is not None and (type(securities) is not int or securities < 0):
            securities = self._as_count("active_securities", securities)
        if positions is not None and (type(positions) is not int or positions < 0):
            positions = self._as_count("active_positions", positions)
        reading = self._probe.read()
        missing: list[str] = []
        for problem in reading.problems:
            if problem.metric not in missing:
                missing.append(problem.metric)
            self._log_once(
                ("probe", problem.metric, problem.error_type),
                logging.WARNING,
                "resource monitor: %s missing from this sample (%s); monitoring goes on",
                problem.metric,
                problem.message,
            )
        for note in reading.degraded:
            self._log_once(("degraded", note), logging.WARNING, "resource monitor: %s", note)

        limit = self._effective_limit(reading.memory_limits)
        used = reading.memory_used_bytes
        memory_pct = used / limit.value * 100.0 if used is not None and limit else None
        lean_window = self._lean_window
        if memory_pct is not None:
            lean_window.append(memory_pct)
        lean_avg = sum(lean_window) / len(lean_window) if memory_pct is not None else None
        cpus = reading.cpus_available.value
        cpu_raw = reading.cpu_process_pct
        cpu_pct = cpu_raw / cpus if cpu_raw is not None and cpus > 0 else None
        if cpu_pct is None and not reading.cpu_warming_up and CPU not in missing:
            missing.append(CPU)
        if memory_pct is None and MEMORY not in missing:
            missing.append(MEMORY)
        latency = self._latency.snapshot()
        latency_value = latency.p95_ms if latency.enough_samples else None

        # The rules by the value they watch (one pass, no per-rule dispatch).
        self._observe(self._memory_rules, memory_pct, now, used, limit)
        self._observe(self._lean_rules, lean_avg, now, used, limit)
        self._observe(self._cpu_rules, cpu_pct, now, used, limit)
        self._observe(self._latency_rules, latency_value, now, used, limit)

        self._sequence += 1
        self._last_reading = reading
        self._last_sample_monotonic = self._clock.monotonic()
        self._last_counts = (securities, positions)
        self._sync_breaker()
        metrics = ResourceMetrics(
            sequence=self._sequence,
            timestamp=now,
            memory_used_bytes=used,
            memory_used_source=reading.memory_used_source,
            memory_limit_bytes=int(limit.value) if limit else None,
            memory_limit_source=limit.source if limit else "unknown",
            memory_pct=memory_pct,
            memory_lean_average_pct=lean_avg,
            process_rss_bytes=reading.process_rss_bytes,
            cpu_pct=cpu_pct,
            cpu_process_pct=cpu_raw,
            cpus_available=cpus,
            cpu_source=self._cpu_source(reading.cpu_source, reading.cpus_available.source),
            latency_p50_ms=latency.p50_ms,
            latency_p95_ms=latency.p95_ms,
            latency_p99_ms=latency.p99_ms,
            latency_samples=latency.samples,
            latency_timeouts_total=latency.timeouts_total,
            active_securities=securities,
            active_positions=positions,
            missing_metrics=tuple(missing),
            alerts_active=self._active_keys,
            health_state=self._state_now(reading, memory_pct, stale=False),
        )
        self._latest = metrics
        self._history.append(
            now.timestamp(),
            _NAN if used is None else float(used),
            _NAN if memory_pct is None else memory_pct,
            _NAN if cpu_pct is None else cpu_pct,
            _NAN if latency.p95_ms is None else latency.p95_ms,
        )
        if self._writer is not None:
            self._write_metrics(self._writer, metrics)
        return metrics

    def _as_count(self, name: str, value: object) -> int | None:
        """Return ``value`` as an int (numpy integers, floats like 3.0), or ``None``."""
        count: int | None
        try:
            count = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            count = None
        if count is None or count != value or count < 0:
            self._log_once(
                ("count", name),
                logging.WARNING,
                "resource monitor: %s=%r is not a count; recorded as null",
                name,
                value,
            )
            return None
        return count

    def _observe(
        self,
        rules: list[_Rule],
        value: float | None,
        now: datetime,
        used: int | None,
        limit: Limit | None,
    ) -> None:
        if value is None:
            return
        for rule in rules:
            transition = rule.tracker.observe(value)
            if transition is not None:
                self._on_transition(rule, transition, value, now, used, limit)

    def _cpu_source(self, cpu_source: str, cpus_source: str) -> str:
        key = (cpu_source, cpus_source)
        cached = self._cpu_source_cache
        if cached is None or cached[0] != key:
            cached = (key, f"{cpu_source}; CPUs: {cpus_source}")
            self._cpu_source_cache = cached
        return cached[1]

    def _effective_limit(self, limits: tuple[Limit, ...]) -> Limit | None:
        best = self._target_limit
        for candidate in limits:
            if best is None or candidate.value < best.value:
                best = candidate
        return best

    def _write_metrics(self, writer: JsonLinesWriter, metrics: ResourceMetrics) -> None:
        try:
            writer.write_line(encode_record(metrics.to_record()))
        except (OSError, ValueError, TypeError) as error:
            self._writer_failed = True
            self._log_once(
                ("metrics_log_write", type(error).__name__),
                logging.ERROR,
                "resource monitor: cannot append to metrics log %s (%s); monitoring goes on",
                self.monitoring.metrics_log_path,
                error,
            )
        else:
            self._writer_failed = False

    def _empty_metrics(
        self,
        securities: int | None,
        positions: int | None,
        state: HealthState = HealthState.DEGRADED,
        now: datetime | None = None,
    ) -> ResourceMetrics:
        when = now
        if when is None:
            try:
                when = self._clock.now()
            except Exception:  # the clock itself failed: still answer
                when = SystemClock().now()
        return ResourceMetrics(
            sequence=self._sequence,
            timestamp=when,
            memory_used_bytes=None,
            memory_used_source="unavailable",
            memory_limit_bytes=None,
            memory_limit_source="unavailable",
            memory_pct=None,
            memory_lean_average_pct=None,
            process_rss_bytes=None,
            cpu_pct=None,
            cpu_process_pct=None,
            cpus_available=None,
            cpu_source="unavailable",
            latency_p50_ms=None,
            latency_p95_ms=None,
            latency_p99_ms=None,
            latency_samples=0,
            latency_timeouts_total=0,
            active_securities=securities,
            active_positions=positions,
            missing_metrics=(MEMORY, CPU) if state is not HealthState.DISABLED else (),
            alerts_active=self._active_keys,
            health_state=state,
        )

    # ------------------------------------------------------------------------------ alerts
    def _on_transition(
        self,
        rule: _Rule,
        transition: Transition,
        value: float,
        now: datetime,
        used: int | None,
        limit: Limit | None,
    ) -> None:
        tracker = rule.tracker
        raised = transition is Transition.RAISED
        if raised:
            rule.started_at = now
        started = rule.started_at or now
        message = self._alert_message(rule, raised, value, used, limit)
        alert = ResourceAlert(
            metric=rule.metric,
            rule=rule.rule,
            severity=rule.severity,
            raised=raised,
            value=value,
            threshold=tracker.level,
            clear_threshold=tracker.clear_level,
            unit=rule.unit,
            started_at=started,
            time=now,
            message=message,
        )
        if raised:
            self._active[alert.key] = alert
            level = logging.CRITICAL if rule.severity is Severity.CRITICAL else logging.WARNING
        else:
            self._active.pop(alert.key, None)
            rule.started_at = None
            level = logging.INFO
        self._active_keys = tuple(self._active)
        self._recent_alerts.append(alert)
        logger.log(level, "%s", message)
        for listener in list(self._alert_listeners):
            try:
                listener(alert)
            except Exception:
                logger.exception("resource monitor: an alert listener failed")

    def _alert_message(
        self, rule: _Rule, raised: bool, value: float, used: int | None, limit: Limit | None
    ) -> str:
        t = rule.tracker
        level, unit = t.level, rule.unit
        if rule.rule is AlertRule.LEAN_AVERAGE:
            what = (
                f"{rule.metric} LEAN-mirror average of the last "
                f"{self.monitoring.lean_average_samples} samples"
            )
            why = "LEAN kills when this average passes 100% of the cap"
        elif rule.rule is AlertRule.LEAN_PEAK:
            what = f"{rule.metric} single sample"
            why = "LEAN kills on one sample above 200% of the cap; no confirmation"
        else:
            what = rule.metric
            why = f"{t.raise_after} consecutive samples"
        if rule.metric == MEMORY and limit is not None:
            detail = (
                f"; working set {format_figure(used, 'bytes')} of "
                f"{format_figure(limit.value, 'bytes')} ({limit.source})"
            )
        elif rule.metric == LATENCY:
            detail = " (broker round-trip p95)"
        else:
            detail = ""
        prefix = alert_prefix(rule.severity, raised=raised)
        if not raised:
            return (
                f"{prefix} {what} {rule.severity.value} cleared at {format_figure(value, unit)} "
                f"(below {format_figure(t.clear_level, unit)} for {t.clear_after} samples){detail}"
            )
        action = ""
        if self.circuit_breaker is not None:
            if rule.severity is Severity.CRITICAL:
                action = "; halting new trading"
            elif self.monitoring.warning_action == "reduce":
                action = "; only exposure-reducing orders"
        return (
            f"{prefix} {what} at {format_figure(value, unit)} >= {rule.severity.value} level "
            f"{format_figure(level, unit)} ({why}){detail}{action}"
        )

    def _sync_breaker(self) -> None:
        breaker = self.circuit_breaker
        if breaker is None:
            return
        try:
            state = breaker.state
            if not self._active and state is BreakerState.ACTIVE:
                return
            # The newest active alert of each severity is the one the breaker is told about.
            newest = {alert.severity: alert for alert in self._active.values()}
            critical, warning = newest.get(Severity.CRITICAL), newest.get(Severity.WARNING)
            if critical is not None:
                if state is not BreakerState.HALTED:
                    _trip(breaker.halt_all_trading, critical, "critical")
            elif warning is not None and self.monitoring.warning_action == "reduce":
                if state is BreakerState.ACTIVE:
                    _trip(breaker.reduce_exposure_only, warning, "high")
            elif state is BreakerState.REDUCING and breaker.status().actor == ACTOR:
                breaker.restore("resource warnings cleared", actor=ACTOR)
        except Exception as error:
            self._log_once(
                ("breaker", type(error).__name__),
                logging.ERROR,
                "resource monitor: the circuit breaker failed (%s: %s)",
                type(error).__name__,
                error,
            )

    def add_alert_listener(self, listener: Callable[[ResourceAlert], None]) -> None:
        """Call ``listener(alert)`` on every raise and clear (from the sampling thread)."""
        with self._lock:
            self._alert_listeners.append(listener)

    def recent_alerts(self, limit: int = 50) -> list[ResourceAlert]:
        """Return the last ``limit`` raises and clears, oldest first."""
        with self._lock:
            alerts = list(self._recent_alerts)
        return alerts[-limit:] if limit > 0 else []

    def active_alerts(self) -> list[ResourceAlert]:
        """Return the alerts raised and not yet cleared, in the order they were raised."""
        with self._lock:
            return list(self._active.values())

    # ------------------------------------------------------------------------------ health
    def _state_now(
        self, reading: ProbeReading | None, memory_pct: float | None, *, stale: bool
    ) -> HealthState:
        if not self.monitoring.enabled:
            return HealthState.DISABLED
        if any(a.severity is Severity.CRITICAL for a in self._active.values()):
            return HealthState.CRITICAL
        if stale:
            return HealthState.STALE
        if self._active:
            return HealthState.WARNING
        if (
            reading is None
            or reading.problems
            or reading.degraded
            or memory_pct is None
            or self._writer_failed
        ):
            return HealthState.DEGRADED
        return HealthState.HEALTHY

    def health(self) -> HealthStatus:
        """Return the state, reasons, active alerts, staleness and sources."""
        with self._lock:
            latest = self._latest
            reading = self._last_reading
            breaker_state = self.circuit_breaker.state if self.circuit_breaker else None
            if not self.monitoring.enabled:
                return HealthStatus(
                    state=HealthState.DISABLED, healthy=True,
                    reasons=("monitoring is disabled (monitoring.enabled = false)",),
                    active_alerts=(), last_sample_at=None, last_sample_age_seconds=None,
                    stale=False, sources={}, degraded_metrics=(), breaker_state=breaker_state,
                )  # fmt: skip
            stale_after = self.monitoring.effective_stale_after_seconds
            age = (
                self._clock.monotonic() - self._last_sample_monotonic
                if self._last_sample_monotonic is not None
                else None
            )
            stale = age is None or age > stale_after
            reasons: list[str] = []
            if age is None:
                reasons.append("no sample yet")
            elif stale:
                reasons.append(f"last sample {age:.0f} s ago (stale after {stale_after:g} s)")
            reasons.extend(alert.message for alert in self._active.values())
            degraded: list[str] = []
            memory_pct = latest.memory_pct if latest is not None else None
            if reading is not None:
                for problem in reading.problems:
                    if problem.metric not in degraded:
                        degraded.append(problem.metric)
                    reasons.append(problem.message)
                reasons.extend(reading.degraded)
                if reading.degraded and "process" not in degraded:
                    degraded.append("process")
            if latest is not None and memory_pct is None:
                reasons.append("memory % unknown: the monitor cannot see an out-of-memory coming")
                if MEMORY not in degraded:
                    degraded.append(MEMORY)
            if self._writer_failed:
                reasons.append(f"metrics log {self.monitoring.metrics_log_path} cannot be written")
                degraded.append("metrics_log")
            if breaker_state is not None and breaker_state is not BreakerState.ACTIVE:
                reasons.append(f"circuit breaker is {breaker_state.value}")
            state = self._state_now(reading, memory_pct, stale=stale)
            healthy = state in (HealthState.HEALTHY, HealthState.DEGRADED) and (
                memory_pct is not None
            )
            sources: dict[str, str] = {}
            if latest is not None:
                sources = {
                    "memory_used": latest.memory_used_source,
                    "memory_limit": latest.memory_limit_source,
                    "cpu": latest.cpu_source,
                    "latency": "record_latency / latency_timer (monotonic clock)",
                }
            return HealthStatus(
                state=state,
                healthy=healthy,
                reasons=tuple(reasons),
                active_alerts=tuple(self._active.values()),
                last_sample_at=latest.timestamp if latest is not None else None,
                last_sample_age_seconds=age,
                stale=stale,
                sources=sources,
                degraded_metrics=tuple(degraded),
                breaker_state=breaker_state,
            )

    def is_healthy(self) -> bool:
        """Return ``True`` when sampling is fresh, memory is measured and no alert is active."""
        return self.health().healthy

    @property
    def latest(self) -> ResourceMetrics | None:
        """Return the last sample (``None`` before the first)."""
        return self._latest

    # -------------------------------------------------------------------------- statistics
    def statistics(self, last: int | None = None) -> dict[str, MetricStatistics]:
        """Return min/max/avg/p95 of each history metric (:data:`HISTORY_METRICS`).

        Args:
            last: Only the ``last`` newest samples (e.g. 3600 for the last hour at 1 s);
                ``None`` for the whole history (about 40 ms for a full day of 1 s samples).

        The result is cached until the next sample, so a dashboard may ask every second.
        """
        with self._lock:
            cached = self._statistics_cache
            key = (self._sequence, last)
            if cached is not None and cached[0] == key:
                return dict(cached[1])
            columns = {name: self._history.column(name, last) for name in HISTORY_METRICS}
        result = {name: MetricStatistics.of(name, values) for name, values in columns.items()}
        with self._lock:
            self._statistics_cache = (key, result)
        return dict(result)

    def history(self, metric: str, last: int | None = None) -> list[tuple[float, float | None]]:
        """Return ``(unix seconds, value or None)`` pairs of one history metric, oldest first.

        Raises:
            ValueError: ``metric`` is not one of :data:`HISTORY_METRICS`.
        """
        if metric not in HISTORY_METRICS:
            msg = f"unknown history metric {metric!r}; choose from {', '.join(HISTORY_METRICS)}"
            raise ValueError(msg)
        with self._lock:
            times = self._history.column("timestamp_seconds", last)
            values = self._history.column(metric, last)
        return [(t, None if v != v else v) for t, v in zip(times, values, strict=True)]

    @property
    def history_size(self) -> int:
        """Return how many samples the history holds now."""
        return len(self._history)

    # ----------------------------------------------------------------------------- latency
    def record_latency(self, latency_ms: float, *, timed_out: bool = False) -> None:
        """Record one broker round trip in milliseconds (a timeout if ``timed_out`` or too slow).

        Never raises: an invalid value (negative, NaN) is logged once and ignored.
        """
        try:
            self._latency.record(latency_ms, timed_out=timed_out)
        except (ValueError, TypeError) as error:
            self._log_once(
                ("latency_value", type(error).__name__),
                logging.WARNING,
                "resource monitor: ignored a latency sample: %s",
                error,
            )

    def record_timeout(self) -> None:
        """Record a round trip that timed out (kept at ``latency_timeout_ms``)."""
        self._latency.record_timeout()

    @contextmanager
    def latency_timer(self) -> Iterator[None]:
        """Time the block as one broker round trip on the monotonic clock.

        A block that raises :class:`TimeoutError` records a timeout; any other exit records
        the elapsed time. Exceptions propagate unchanged.
        """
        start = self._clock.monotonic()
        timed_out = False
        try:
            yield
        except TimeoutError:
            timed_out = True
            raise
        finally:
            elapsed_ms = max(0.0, (self._clock.monotonic() - start) * 1000.0)
            self.record_latency(elapsed_ms, timed_out=timed_out)

    def latency(self) -> LatencySnapshot:
        """Return the latency percentiles and counts now."""
        return self._latency.snapshot()

    # ---------------------------------------------------------------------- memory estimate
    def estimate_memory_mb(
        self,
        num_securities: int = 0,
        num_option_contracts: int = 0,
        *,
        family: Family = Family.LIVE_TRADING,
        **components: bool,
    ) -> float:
        """Return the MB a node of ``family`` needs for this workload (:mod:`utils.memory_model`).

        ``components`` switch the model's optional parts (``greeks``, ``scanners``,
        ``llm_analysis``, ``ml_training``, ``risk_management``, ``spread_tracker``,
        ``profit_taking``, ``ui_dashboard``); omitted ones keep the model's defaults. The
        desktop dashboard is never counted against the node.

        Raises:
            TypeError: An unknown component name.
        """
        workload = Workload(
            num_securities=num_securities, num_option_contracts=num_option_contracts, **components
        )
        return self._memory_model.estimate(workload, family).node_mb

    # ---------------------------------------------------------------------- background mode
    def start(self) -> bool:
        """Sample every ``check_interval_seconds`` in a daemon thread; return whether it runs.

        Samples use the counts last passed to :meth:`update`. Does nothing when monitoring is
        disabled or the thread already runs.
        """
        if not self.monitoring.enabled:
            logger.info("resource monitor: not started (monitoring.enabled = false)")
            return False
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return True
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._stop,), name="resource-monitor", daemon=True
            )
            self._thread.start()
        return True

    def _run(self, stop: threading.Event) -> None:
        interval = self.monitoring.check_interval_seconds
        while not stop.is_set():
            securities, positions = self._last_counts
            self.update(active_securities=securities, active_positions=positions)
            stop.wait(interval)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the sampling thread; return whether it has stopped within ``timeout`` seconds."""
        with self._lock:
            thread = self._thread
            self._stop.set()
        if thread is None:
            return True
        thread.join(timeout)
        stopped = not thread.is_alive()
        if stopped:
            with self._lock:
                if self._thread is thread:
                    self._thread = None
        return stopped

    @property
    def running(self) -> bool:
        """Return whether the sampling thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def close(self) -> None:
        """Stop sampling and close the metrics log."""
        self.stop()
        with self._lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None


def _trip(action: Callable[..., BreakerState], alert: ResourceAlert, level_words: str) -> None:
    """Call a breaker transition (halt or reduce) for ``alert`` with the seed's reason wording."""
    shown = (
        f"{format_figure(alert.value, alert.unit)} >= {format_figure(alert.threshold, alert.unit)}"
    )
    action(
        f"{alert.metric.capitalize()} usage {level_words}: {shown} ({alert.rule.value})",
        metric=alert.metric, value=alert.value, threshold=alert.threshold, unit=alert.unit,
        actor=ACTOR,
    )  # fmt: skip


def _split_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    limits_keys = set(ResourceLimits.model_fields)
    monitoring_keys = set(MonitoringSettings.model_fields)
    limits: dict[str, Any] = {}
    monitoring: dict[str, Any] = {}
    unknown = []
    for key, value in config.items():
        if key in limits_keys:
            limits[key] = value
        elif key in monitoring_keys:
            monitoring[key] = value
        else:
            unknown.append(key)
    if unknown:
        allowed = ", ".join([*ResourceLimits.model_fields, *MonitoringSettings.model_fields])
        raise SettingsError(
            None, [f"config.{key}: unknown key; allowed keys: {allowed}" for key in unknown]
        )
    return limits, monitoring


def create_resource_monitor(
    config: Mapping[str, Any] | None = None,
    circuit_breaker: CircuitBreaker | None = None,
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
    probe: SystemProbe | None = None,
) -> ResourceMonitor:
    """Build a resource monitor from a flat mapping of settings keys.

    Args:
        config: Keys of ``config/settings.json``'s ``resource_limits`` and ``monitoring``
            sections, flat (``{"memory_warning_pct": 80, "check_interval_seconds": 10}``).
            Omitted keys take their values from ``settings`` if given, else the defaults
            documented in :mod:`utils.settings`.
        circuit_breaker: The breaker to trip (``None``: alerts are only logged).
        settings: Loaded settings to start from (also supplies the memory model's
            coefficients and the catalog's prices).
        clock: Injected clock (tests); default the system clocks.
        probe: Injected system probe (tests); default :class:`~utils.system_probe.HostProbe`.

    Raises:
        SettingsError: ``config`` is not a mapping, has a key neither section knows, or a value
            a section rejects; the message names the key, the value and what is allowed.
    """
    if config is not None and not isinstance(config, Mapping):
        raise SettingsError(
            None, [f"config: expected a mapping of settings keys, got {type(config).__name__}"]
        )
    limits_part, monitoring_part = _split_config(config or {})
    base_limits: dict[str, Any] = {}
    base_monitoring: dict[str, Any] = {}
    memory_model = None
    catalog = None
    if settings is not None:
        qc = settings.quantconnect
        base_limits = qc.resource_limits.model_dump()
        base_monitoring = qc.monitoring.model_dump()
        memory_model = MemoryModel(qc.memory_model)
        catalog = qc.catalog()
    limits = section_from_mapping(ResourceLimits, {**base_limits, **limits_part}, where="config")
    monitoring = section_from_mapping(
        MonitoringSettings, {**base_monitoring, **monitoring_part}, where="config"
    )
    return ResourceMonitor(
        limits,
        monitoring,
        circuit_breaker=circuit_breaker,
        clock=clock,
        probe=probe,
        memory_model=memory_model,
        catalog=catalog,
    )
