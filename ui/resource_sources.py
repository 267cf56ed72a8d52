"""Where the resource dashboard's figures come from: a live monitor, or a metrics log file.

The widget (:mod:`ui.resource_monitor_widget`) asks a source for one
:class:`ResourceSnapshot` per refresh and draws it; it never talks to psutil, never samples and
never evaluates a threshold itself. Two sources:

:class:`MonitorSource`
    A :class:`~utils.resource_monitor.ResourceMonitor` in this process. It **reads what the
    monitor already sampled** (``latest``, ``health()``, ``latency()``, ``recent_alerts()``,
    ``statistics(last=N)``, ``history(metric, last=N)``) and never calls ``update()``. A sample
    is cheap (about 50 µs here) but it is not neutral: alerts are confirmed over consecutive
    samples and drive the circuit breaker, so a display that sampled once a second would change
    what it displays. The monitor is sampled by its owner (the algorithm's scheduled check, or
    ``monitor.start()``). Every read is a lock plus a copy; statistics cover a bounded window
    (the last hour by default, about 1 ms for 3,600 samples) because the whole day's history
    costs about 25 ms, too much for the GUI thread every second.

:class:`MetricsLogSource`
    A metrics log (``logs/resource_metrics.json``) written by a monitor in another process,
    followed like ``tail -F`` through :class:`~utils.metrics_log.JsonLinesFollower` (it survives
    rotation). Levels come from the settings' ``resource_limits``; staleness from their
    ``monitoring`` section; alerts are the changes of each record's ``alerts_active``; the
    breaker's state is read from its state file (re-read only when the file changes).

No Qt here: sources are plain Python, testable without a display.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol

from utils.circuit_breaker import BreakerState, BreakerStatus, read_state_file
from utils.clock import Clock, SystemClock, parse_utc
from utils.errors import UnknownNodeError
from utils.metrics_log import JsonLinesFollower
from utils.node_catalog import DEFAULT_CATALOG
from utils.resource_monitor import (
    HISTORY_METRICS,
    AlertRule,
    HealthState,
    MetricStatistics,
    ResourceMetrics,
    ResourceMonitor,
    alert_prefix,
    format_figure,
)
from utils.settings import MonitoringSettings, ResourceLimits, Settings
from utils.thresholds import Severity

__all__ = [
    "AlertLine",
    "History",
    "LatencyFigures",
    "MetricsLogSource",
    "MonitorSource",
    "ResourceSnapshot",
    "ResourceSource",
    "describe_node",
    "metrics_from_record",
]

DEFAULT_STATISTICS_SECONDS = 3600.0
DEFAULT_HISTORY_SECONDS = 1800.0
DEFAULT_MAX_ALERTS = 50

# Which figure of a sample each alert rule watches (for the follower's alert lines).
_RULE_FIGURE: Mapping[tuple[str, str], tuple[str, str]] = {
    ("memory", AlertRule.THRESHOLD.value): ("memory_pct", "pct"),
    ("memory", AlertRule.LEAN_PEAK.value): ("memory_pct", "pct"),
    ("memory", AlertRule.LEAN_AVERAGE.value): ("memory_lean_average_pct", "pct"),
    ("cpu", AlertRule.THRESHOLD.value): ("cpu_pct", "pct"),
    ("latency", AlertRule.THRESHOLD.value): ("latency_p95_ms", "ms"),
}
_RULE_WORDS = {
    AlertRule.THRESHOLD.value: "",
    AlertRule.LEAN_AVERAGE.value: " (LEAN-mirror average)",
    AlertRule.LEAN_PEAK.value: " (LEAN-mirror single sample)",
}


def _alert_words(metric: str, rule: str, severity: Severity) -> str:
    """Return e.g. ``"memory (LEAN-mirror average) warning"`` for an alert key's parts."""
    return f"{metric}{_RULE_WORDS.get(rule, f' ({rule})')} {severity.value}"


@dataclass(frozen=True, slots=True)
class AlertLine:
    """One raise or clear, for the alerts list.

    Attributes:
        time: When it happened (UTC).
        severity: Warning or critical.
        raised: ``True`` for a raise, ``False`` for a clear.
        metric: ``"memory"``, ``"cpu"`` or ``"latency"``.
        message: One line for people (the monitor's own log line when it is in this process).
    """

    time: datetime
    severity: Severity
    raised: bool
    metric: str
    message: str


@dataclass(frozen=True, slots=True)
class LatencyFigures:
    """Broker round-trip latency now.

    Attributes:
        p50_ms: Median, ``None`` without samples.
        p95_ms: 95th percentile.
        p99_ms: 99th percentile.
        samples: Round trips in the monitor's window.
        min_samples: Samples needed before latency may alert.
        timeouts_total: Timeouts since the monitor started.
    """

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    samples: int = 0
    min_samples: int = 0
    timeouts_total: int = 0


@dataclass(frozen=True, slots=True)
class History:
    """Series for the chart, oldest first; ``NaN`` marks a missing figure.

    Attributes:
        seconds_ago: Age of each sample relative to the snapshot.
        memory_pct: Memory % of the effective limit.
        cpu_pct: CPU % of the CPUs available.
    """

    seconds_ago: tuple[float, ...] = ()
    memory_pct: tuple[float, ...] = ()
    cpu_pct: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceSnapshot:
    """Everything the widget shows at one refresh.

    Attributes:
        source: Where the figures come from, for people.
        limits: The monitor's alert levels (the colours use these, never their own).
        latest: The last sample, ``None`` before the first (warming up).
        state: The monitor's health state (``STALE`` while warming up).
        healthy: What ``is_healthy()`` says (or said, for a log).
        reasons: Why it is not healthy, one line each.
        stale: No sample within ``stale_after_seconds``.
        last_sample_age_seconds: Seconds since the last sample.
        stale_after_seconds: The staleness limit.
        alert_levels: The worst active alert per metric (``memory``, ``cpu``, ``latency``).
        latency: Broker round-trip figures.
        breaker: The circuit breaker, ``None`` when there is none.
        alerts: Recent raises and clears, newest first.
        statistics: min/max/avg/p95 per history metric over ``statistics_window``.
        statistics_window: What the statistics cover, for people.
        history: Series for the chart.
    """

    source: str
    limits: ResourceLimits
    latest: ResourceMetrics | None = None
    state: HealthState = HealthState.STALE
    healthy: bool = False
    reasons: tuple[str, ...] = ()
    stale: bool = True
    last_sample_age_seconds: float | None = None
    stale_after_seconds: float = 90.0
    alert_levels: Mapping[str, Severity] = field(default_factory=dict)
    latency: LatencyFigures = LatencyFigures()
    breaker: BreakerStatus | None = None
    alerts: tuple[AlertLine, ...] = ()
    statistics: Mapping[str, MetricStatistics] = field(default_factory=dict)
    statistics_window: str = ""
    history: History = History()

    @property
    def warming_up(self) -> bool:
        """Return whether no sample has been taken yet."""
        return self.latest is None


class ResourceSource(Protocol):
    """What the widget asks of a source of figures."""

    @property
    def description(self) -> str:
        """Return where the figures come from, for people."""
        ...

    def default_node_info(self) -> str | None:
        """Return the node line to show when the caller gives none (``None``: no line)."""
        ...

    def snapshot(self) -> ResourceSnapshot:
        """Return the figures now; must be cheap (the GUI thread calls it every second)."""
        ...

    def close(self) -> None:
        """Release files (idempotent)."""
        ...


def describe_node(model: str) -> str:
    """Return e.g. ``"L2-4 (2 cores, 4GB RAM)"`` for a catalog model, else the model itself."""
    try:
        return DEFAULT_CATALOG.get(model).describe()
    except UnknownNodeError:  # an unknown model is only a label here
        return model


def duration_text(seconds: float) -> str:
    """Return a short human duration: ``"45 s"``, ``"12 min"``, ``"1 h"``, ``"1 h 30 min"``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if rest == 0 else f"{hours} h {rest} min"


def _window_text(samples: int, seconds: float) -> str:
    plural = "" if samples == 1 else "s"
    return f"last {duration_text(seconds)} · {samples} sample{plural}"


def _worst(levels: dict[str, Severity], metric: str, severity: Severity) -> None:
    current = levels.get(metric)
    if current is None or severity.rank > current.rank:
        levels[metric] = severity


# ----------------------------------------------------------------------------- live monitor
class MonitorSource:
    """Read an in-process :class:`~utils.resource_monitor.ResourceMonitor`; never sample it.

    Args:
        monitor: The monitor (sampled by its owner: the algorithm, or ``monitor.start()``).
        statistics_seconds: Statistics cover about this much of the newest history.
        history_seconds: The chart covers about this much.
        max_alerts: Alerts listed at most.
    """

    def __init__(
        self,
        monitor: ResourceMonitor,
        *,
        statistics_seconds: float = DEFAULT_STATISTICS_SECONDS,
        history_seconds: float = DEFAULT_HISTORY_SECONDS,
        max_alerts: int = DEFAULT_MAX_ALERTS,
    ) -> None:
        self.monitor = monitor
        interval = monitor.monitoring.check_interval_seconds
        self._interval = interval
        self._statistics_samples = max(1, math.ceil(statistics_seconds / interval))
        self._history_samples = max(2, math.ceil(history_seconds / interval))
        self._max_alerts = max_alerts

    @property
    def description(self) -> str:
        """Return ``"in-process monitor, sampled every N s"``."""
        return f"in-process monitor, sampled every {self._interval:g} s"

    def default_node_info(self) -> str | None:
        """Return the monitor's target node, if it has one."""
        target = self.monitor.monitoring.target_node
        return describe_node(target) if target else None

    def snapshot(self) -> ResourceSnapshot:
        """Return what the monitor has already sampled (locks and copies; no sampling)."""
        monitor = self.monitor
        health = monitor.health()
        latest = monitor.latest
        statistics = monitor.statistics(last=self._statistics_samples)
        memory = monitor.history("memory_pct", last=self._history_samples)
        cpu = monitor.history("cpu_pct", last=self._history_samples)
        latency = monitor.latency()
        breaker = monitor.circuit_breaker.status() if monitor.circuit_breaker else None
        alerts = monitor.recent_alerts(self._max_alerts)
        now = None
        if health.last_sample_at is not None and health.last_sample_age_seconds is not None:
            now = health.last_sample_at.timestamp() + health.last_sample_age_seconds
        levels: dict[str, Severity] = {}
        for alert in health.active_alerts:
            _worst(levels, alert.metric, alert.severity)
        covered = min(monitor.history_size, self._statistics_samples)
        return ResourceSnapshot(
            source=self.description,
            limits=monitor.limits,
            latest=latest,
            state=health.state,
            healthy=health.healthy,
            reasons=health.reasons,
            stale=health.stale,
            last_sample_age_seconds=health.last_sample_age_seconds,
            stale_after_seconds=monitor.monitoring.effective_stale_after_seconds,
            alert_levels=levels,
            latency=LatencyFigures(
                p50_ms=latency.p50_ms,
                p95_ms=latency.p95_ms,
                p99_ms=latency.p99_ms,
                samples=latency.samples,
                min_samples=latency.min_samples,
                timeouts_total=latency.timeouts_total,
            ),
            breaker=breaker,
            alerts=tuple(
                AlertLine(a.time, a.severity, a.raised, a.metric, a.message)
                for a in reversed(alerts)
            ),
            statistics=statistics,
            statistics_window=_window_text(covered, covered * self._interval),
            history=History(
                seconds_ago=tuple((now - t) if now is not None else 0.0 for t, _ in memory),
                memory_pct=tuple(math.nan if v is None else v for _, v in memory),
                cpu_pct=tuple(math.nan if v is None else v for _, v in cpu),
            ),
        )

    def close(self) -> None:
        """Do nothing: the monitor belongs to its owner."""


# ------------------------------------------------------------------------- metrics log file
def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _text(value: object, default: str = "unknown") -> str:
    return value if isinstance(value, str) else default


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def metrics_from_record(record: Mapping[str, Any]) -> ResourceMetrics | None:
    """Return one metrics-log record as a :class:`ResourceMetrics`; ``None`` if it is not one.

    Tolerant, since a log is outside input: a figure of the wrong type reads as missing, an
    unknown health state as ``degraded``, unknown keys are ignored. A record without a valid
    ``timestamp`` is not a sample.
    """
    stamp = record.get("timestamp")
    if not isinstance(stamp, str):
        return None
    try:
        timestamp = parse_utc(stamp)
    except ValueError:
        return None
    try:
        state = HealthState(str(record.get("health_state")))
    except ValueError:
        state = HealthState.DEGRADED
    memory_used = _count(record.get("memory_used_bytes"))
    memory_limit = _count(record.get("memory_limit_bytes"))
    return ResourceMetrics(
        sequence=_count(record.get("sequence")) or 0,
        timestamp=timestamp,
        memory_used_bytes=memory_used,
        memory_used_source=_text(record.get("memory_used_source")),
        memory_limit_bytes=memory_limit,
        memory_limit_source=_text(record.get("memory_limit_source")),
        memory_pct=_number(record.get("memory_pct")),
        memory_lean_average_pct=_number(record.get("memory_lean_average_pct")),
        process_rss_bytes=_count(record.get("process_rss_bytes")),
        cpu_pct=_number(record.get("cpu_pct")),
        cpu_process_pct=_number(record.get("cpu_process_pct")),
        cpus_available=_number(record.get("cpus_available")),
        cpu_source=_text(record.get("cpu_source")),
        latency_p50_ms=_number(record.get("latency_p50_ms")),
        latency_p95_ms=_number(record.get("latency_p95_ms")),
        latency_p99_ms=_number(record.get("latency_p99_ms")),
        latency_samples=_count(record.get("latency_samples")) or 0,
        latency_timeouts_total=_count(record.get("latency_timeouts_total")) or 0,
        active_securities=_count(record.get("active_securities")),
        active_positions=_count(record.get("active_positions")),
        missing_metrics=_strings(record.get("missing_metrics")),
        alerts_active=_strings(record.get("alerts_active")),
        health_state=state,
    )


def _parse_alert_key(key: str) -> tuple[str, str, Severity] | None:
    """Split ``metric.rule.severity`` (the metrics log's ``alerts_active`` entries)."""
    parts = key.split(".")
    if len(parts) != 3:
        return None
    try:
        return parts[0], parts[1], Severity(parts[2])
    except ValueError:
        return None


class MetricsLogSource:
    """Follow a metrics log written by a monitor in another process (across rotation).

    Args:
        path: The metrics log (it need not exist yet).
        limits: Alert levels for the colours (the settings the writer uses).
        monitoring: For the staleness limit and the latency minimum.
        breaker_state_path: The breaker's state file to show (``None``: no breaker shown).
        clock: Wall clock for the age of the last sample (tests inject one).
        statistics_seconds: Statistics cover the records of this many newest seconds.
        history_seconds: The chart covers this many seconds.
        max_alerts: Alerts listed at most.
        max_records: Records kept in memory at most.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        limits: ResourceLimits | None = None,
        monitoring: MonitoringSettings | None = None,
        breaker_state_path: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        statistics_seconds: float = DEFAULT_STATISTICS_SECONDS,
        history_seconds: float = DEFAULT_HISTORY_SECONDS,
        max_alerts: int = DEFAULT_MAX_ALERTS,
        max_records: int = 100_000,
    ) -> None:
        self.path = Path(path)
        self.limits = limits if limits is not None else ResourceLimits()
        self.monitoring = monitoring if monitoring is not None else MonitoringSettings()
        self.breaker_state_path = Path(breaker_state_path) if breaker_state_path else None
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._statistics_seconds = statistics_seconds
        self._history_seconds = history_seconds
        self._keep_seconds = max(statistics_seconds, history_seconds)
        self._follower = JsonLinesFollower(self.path, from_start=True)
        # (unix seconds, sample), oldest first: the float saves a datetime conversion per use.
        self._samples: deque[tuple[float, ResourceMetrics]] = deque(maxlen=max_records)
        self._alerts: deque[AlertLine] = deque(maxlen=max_alerts)
        self._active: tuple[str, ...] = ()
        self._skipped = 0
        self._statistics: tuple[int, dict[str, MetricStatistics], str] | None = None
        self._received = 0
        self._breaker_key: tuple[int, int, int] | None = None
        self._breaker: BreakerStatus | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, path: str | os.PathLike[str] | None = None, **options: Any
    ) -> MetricsLogSource:
        """Follow ``path`` (default: the settings' ``metrics_log_path``) with their levels and
        their breaker state file."""
        qc = settings.quantconnect
        options.setdefault("breaker_state_path", qc.monitoring.breaker_state_path)
        return cls(
            path if path is not None else qc.monitoring.metrics_log_path,
            limits=qc.resource_limits,
            monitoring=qc.monitoring,
            **options,
        )

    @property
    def received(self) -> int:
        """Return how many samples have been read from the log so far (across rotations)."""
        return self._received

    @property
    def description(self) -> str:
        """Return ``"following <path>"``."""
        return f"following {self.path}"

    def default_node_info(self) -> str | None:
        """Return the settings' target node, if they name one."""
        target = self.monitoring.target_node
        return describe_node(target) if target else None

    def snapshot(self) -> ResourceSnapshot:
        """Read what was appended since the last call and return the figures."""
        for record in self._follower.poll():
            sample = metrics_from_record(record)
            if sample is None:
                self._skipped += 1
                continue
            self._ingest(sample)
        return self._build()

    def _ingest(self, sample: ResourceMetrics) -> None:
        previous = self._samples[-1][1] if self._samples else None
        if previous is not None and sample.sequence < previous.sequence:
            self._active = ()  # the writer restarted: its alerts started over
        before, after = set(self._active), set(sample.alerts_active)
        for key in sample.alerts_active:
            if key not in before:
                self._alert(sample, key, raised=True)
        for key in self._active:
            if key not in after:
                self._alert(sample, key, raised=False)
        self._active = sample.alerts_active
        newest = sample.timestamp.timestamp()
        self._samples.append((newest, sample))
        self._received += 1
        while newest - self._samples[0][0] > self._keep_seconds:
            self._samples.popleft()

    def _alert(self, sample: ResourceMetrics, key: str, *, raised: bool) -> None:
        parsed = _parse_alert_key(key)
        if parsed is None:
            return
        metric, rule, severity = parsed
        figure, unit = _RULE_FIGURE.get((metric, rule), ("", ""))
        value = _number(getattr(sample, figure, None)) if figure else None
        shown = "" if value is None else f" at {format_figure(value, unit)}"
        done = "raised" if raised else "cleared"
        what = _alert_words(metric, rule, severity)
        message = f"{alert_prefix(severity, raised=raised)} {what} {done}{shown}"
        self._alerts.append(AlertLine(sample.timestamp, severity, raised, metric, message))

    def _current_statistics(self) -> tuple[dict[str, MetricStatistics], str]:
        if self._statistics is not None and self._statistics[0] == self._received:
            return self._statistics[1], self._statistics[2]
        window: list[ResourceMetrics] = []
        span = 0.0
        if self._samples:
            newest = self._samples[-1][0]
            oldest = newest - self._statistics_seconds
            window = [sample for t, sample in self._samples if t >= oldest]
            span = newest - window[0].timestamp.timestamp()
        # Samples were sanitised when read (metrics_from_record): a figure is a number or None.
        result = {
            name: MetricStatistics.of(name, map(attrgetter(name), window))
            for name in HISTORY_METRICS
        }
        label = _window_text(len(window), span)
        self._statistics = (self._received, result, label)
        return result, label

    def _read_breaker(self) -> BreakerStatus | None:
        path = self.breaker_state_path
        if path is None:
            return None
        try:
            status = path.stat()
        except FileNotFoundError:
            self._breaker_key = None
            return BreakerStatus(
                BreakerState.ACTIVE, reason=f"no state file at {path}: never tripped"
            )
        except OSError as error:
            problem = f"cannot read {path}: {error}"
            return BreakerStatus(BreakerState.HALTED, reason=problem, load_error=problem)
        key = (status.st_ino, status.st_mtime_ns, status.st_size)
        if key != self._breaker_key:
            self._breaker = read_state_file(path)
            self._breaker_key = key
        return self._breaker

    def _build(self) -> ResourceSnapshot:
        limits, monitoring = self.limits, self.monitoring
        stale_after = monitoring.effective_stale_after_seconds
        breaker = self._read_breaker()
        statistics, window = self._current_statistics()
        latest = self._samples[-1][1] if self._samples else None
        alerts = tuple(reversed(self._alerts))
        reasons: list[str] = []
        if latest is None:
            waiting = "" if self.path.exists() else " (the file does not exist yet)"
            reasons.append(f"no sample yet: waiting for {self.path}{waiting}")
            state, stale, age, healthy = HealthState.STALE, True, None, False
            levels: dict[str, Severity] = {}
            latency = LatencyFigures(min_samples=monitoring.latency_min_samples)
            history = History()
        else:
            now = self._clock.now()
            age = max(0.0, (now - latest.timestamp).total_seconds())
            stale = age > stale_after
            if stale:
                reasons.append(
                    f"last sample {duration_text(age)} ago (stale after {stale_after:g} s): "
                    "is the algorithm still running?"
                )
            levels = {}
            for parsed in filter(None, map(_parse_alert_key, latest.alerts_active)):
                metric, rule, severity = parsed
                _worst(levels, metric, severity)
                reasons.append(f"{_alert_words(metric, rule, severity)} active")
            if latest.missing_metrics:
                reasons.append(f"missing from the last sample: {', '.join(latest.missing_metrics)}")
            state = latest.health_state
            if stale and Severity.CRITICAL not in levels.values():
                state = HealthState.STALE
            healthy = (
                not stale
                and state in (HealthState.HEALTHY, HealthState.DEGRADED)
                and latest.memory_pct is not None
            )
            latency = LatencyFigures(
                p50_ms=latest.latency_p50_ms, p95_ms=latest.latency_p95_ms,
                p99_ms=latest.latency_p99_ms, samples=latest.latency_samples,
                min_samples=monitoring.latency_min_samples,
                timeouts_total=latest.latency_timeouts_total,
            )  # fmt: skip
            history = self._history(now.timestamp())
        if breaker is not None and breaker.state is not BreakerState.ACTIVE:
            reasons.append(f"circuit breaker is {breaker.state.value}: {breaker.reason}")
        corrupt = len(self._follower.corrupt) + self._skipped
        if corrupt:
            reasons.append(f"{corrupt} unreadable line(s) in {self.path} skipped")
        return ResourceSnapshot(
            source=self.description,
            limits=limits,
            latest=latest,
            state=state,
            healthy=healthy,
            reasons=tuple(reasons),
            stale=stale,
            last_sample_age_seconds=age,
            stale_after_seconds=stale_after,
            alert_levels=levels,
            latency=latency,
            breaker=breaker,
            alerts=alerts,
            statistics=statistics,
            statistics_window=window,
            history=history,
        )

    def _history(self, now: float) -> History:
        oldest = now - self._history_seconds
        shown = [(t, sample) for t, sample in self._samples if t >= oldest]
        nan = math.nan
        return History(
            tuple(now - t for t, _ in shown),
            tuple(nan if s.memory_pct is None else s.memory_pct for _, s in shown),
            tuple(nan if s.cpu_pct is None else s.cpu_pct for _, s in shown),
        )

    def close(self) -> None:
        """Close the followed file."""
        self._follower.close()
