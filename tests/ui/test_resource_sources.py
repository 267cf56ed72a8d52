"""The widget's data sources, without Qt: a live monitor, and a metrics log being written."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.ui.conftest import INTERVAL, MonitorRig
from tests.utils.fakes import FakeProbe
from ui.resource_sources import MetricsLogSource, MonitorSource, metrics_from_record
from utils.circuit_breaker import BreakerState, CircuitBreaker
from utils.clock import ManualClock
from utils.metrics_log import rotated_files
from utils.resource_monitor import HealthState, ResourceMonitor, create_resource_monitor
from utils.settings import MonitoringSettings, ResourceLimits
from utils.thresholds import Severity


class LogRig:
    """A real monitor writing a real metrics log, and a source following it (one manual clock)."""

    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.path = tmp_path / "logs" / "resource_metrics.json"
        self.clock = ManualClock()
        self.probe = FakeProbe()
        config = {"check_interval_seconds": INTERVAL, "metrics_log_path": str(self.path), **config}
        self.monitor: ResourceMonitor = create_resource_monitor(
            config=config, clock=self.clock, probe=self.probe
        )
        self.source = MetricsLogSource(
            self.path,
            limits=self.monitor.limits,
            monitoring=self.monitor.monitoring,
            clock=self.clock,
        )

    def write(self, *memory: float) -> None:
        for pct in memory:
            self.probe.set_memory_pct(pct)
            self.clock.advance(INTERVAL)
            self.monitor.update(active_securities=3)


@pytest.fixture
def log(tmp_path: Path) -> LogRig:
    return LogRig(tmp_path)


def test_the_source_reads_records_as_they_are_appended(log: LogRig) -> None:
    log.write(40, 41, 42)
    first = log.source.snapshot()
    log.write(43, 44)
    second = log.source.snapshot()

    assert first.latest is not None
    assert first.latest.sequence == 3
    assert second.latest is not None
    assert (second.latest.sequence, second.latest.memory_pct) == (5, pytest.approx(44))
    assert second.latest.active_securities == 3
    assert log.source.received == 5


def test_the_source_follows_the_log_across_rotation_without_losing_a_sample(
    tmp_path: Path,
) -> None:
    log = LogRig(tmp_path, metrics_log_max_bytes=4096, metrics_log_backups=3)
    for step in range(20):
        log.write(30 + step, 30 + step)
        log.source.snapshot()

    snapshot = log.source.snapshot()

    assert len(rotated_files(log.path)) == 3  # the writer really rotated
    assert log.source.received == 40
    assert snapshot.latest is not None
    assert snapshot.latest.sequence == 40
    assert snapshot.statistics["memory_pct"].samples == 40
    assert len(snapshot.history.memory_pct) == 40


def test_a_log_that_does_not_exist_yet_is_waited_for(tmp_path: Path) -> None:
    source = MetricsLogSource(tmp_path / "logs" / "resource_metrics.json")

    snapshot = source.snapshot()

    assert snapshot.warming_up
    assert snapshot.state is HealthState.STALE
    assert "waiting for" in snapshot.reasons[0]
    assert "does not exist yet" in snapshot.reasons[0]


def test_the_last_sample_goes_stale_after_the_settings_limit(log: LogRig) -> None:
    log.write(40)
    assert not log.source.snapshot().stale

    log.clock.advance(3 * INTERVAL + 1)
    snapshot = log.source.snapshot()

    assert snapshot.stale
    assert snapshot.state is HealthState.STALE
    assert not snapshot.healthy
    assert snapshot.last_sample_age_seconds == pytest.approx(3 * INTERVAL + 1)
    assert "stale after 30 s" in snapshot.reasons[0]


def test_a_critical_alert_outranks_staleness(log: LogRig) -> None:
    log.write(95, 95, 95)
    log.clock.advance(600)

    snapshot = log.source.snapshot()

    assert snapshot.state is HealthState.CRITICAL
    assert snapshot.alert_levels["memory"] is Severity.CRITICAL


def test_alerts_are_the_raises_and_clears_in_the_log(log: LogRig) -> None:
    log.write(85, 85, 85, 60, 60, 60)

    alerts = log.source.snapshot().alerts

    assert [(a.metric, a.severity, a.raised) for a in alerts] == [
        ("memory", Severity.WARNING, False),
        ("memory", Severity.WARNING, True),  # LEAN-mirror average (still active)
        ("memory", Severity.WARNING, True),
    ]
    assert alerts[0].message == "RESOURCE OK: memory warning cleared at 60.0%"
    assert alerts[-1].message == "RESOURCE WARNING: memory warning raised at 85.0%"
    assert "LEAN-mirror average" in alerts[1].message


def test_statistics_cover_the_window_and_update(log: LogRig) -> None:
    log.write(10, 20, 30, 40)
    stats = log.source.snapshot().statistics["memory_pct"]
    assert (stats.samples, stats.min, stats.max, stats.avg) == pytest.approx((4, 10, 40, 25))

    log.write(90)
    stats = log.source.snapshot().statistics["memory_pct"]
    assert (stats.samples, stats.max, stats.p95) == pytest.approx((5, 90, 90))


def test_statistics_leave_out_samples_older_than_the_window(tmp_path: Path) -> None:
    log = LogRig(tmp_path)
    log.source = MetricsLogSource(log.path, clock=log.clock, statistics_seconds=3 * INTERVAL)
    log.write(90, 5, 10, 20, 30)

    stats = log.source.snapshot().statistics["memory_pct"]

    assert (stats.samples, stats.min, stats.max) == pytest.approx((4, 5, 30))  # 30 s back
    log.write(40)
    stats = log.source.snapshot().statistics["memory_pct"]
    assert (stats.samples, stats.min, stats.max) == pytest.approx((4, 10, 40))


def test_the_breaker_state_file_is_shown_and_reread_when_it_changes(
    log: LogRig, tmp_path: Path
) -> None:
    state = tmp_path / "circuit_breaker_state.json"
    breaker = CircuitBreaker(state, None, clock=log.clock, reset_cooldown_seconds=0)
    log.source.breaker_state_path = state
    log.write(40)
    first = log.source.snapshot().breaker

    breaker.halt_all_trading("Memory usage critical: 93.0%", actor="resource_monitor")
    halted = log.source.snapshot()
    log.clock.advance(1)
    breaker.reset("ana", "restarted with fewer chains")
    after = log.source.snapshot().breaker

    assert first is not None
    assert first.state is BreakerState.ACTIVE
    assert "never tripped" in first.reason
    assert halted.breaker is not None
    assert halted.breaker.state is BreakerState.HALTED
    assert halted.breaker.reason == "Memory usage critical: 93.0%"
    assert any(r.startswith("circuit breaker is HALTED") for r in halted.reasons)
    assert after is not None
    assert after.state is BreakerState.ACTIVE


def test_a_corrupt_breaker_state_file_reads_halted_and_is_left_alone(
    log: LogRig, tmp_path: Path
) -> None:
    state = tmp_path / "circuit_breaker_state.json"
    state.write_text("{not json")
    log.source.breaker_state_path = state

    breaker = log.source.snapshot().breaker

    assert breaker is not None
    assert breaker.state is BreakerState.HALTED
    assert breaker.load_error is not None
    assert "fails closed" in breaker.load_error
    assert state.read_text() == "{not json"  # a reader moves nothing aside
    assert list(tmp_path.glob("*.corrupt-*")) == []


def test_unreadable_lines_are_counted_and_skipped(log: LogRig) -> None:
    log.write(40)
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write("garbage\n")
        handle.write(json.dumps({"sequence": 9}) + "\n")  # no timestamp: not a sample
    log.write(41)

    snapshot = log.source.snapshot()

    assert log.source.received == 2
    assert any("2 unreadable line(s)" in r for r in snapshot.reasons)


def test_a_monitor_sample_survives_the_round_trip_through_the_log(rig: MonitorRig) -> None:
    rig.monitor.record_latency(120)
    sample = rig.sample(memory=55, cpu=30, active_securities=7, active_positions=2)

    parsed = metrics_from_record(json.loads(json.dumps(sample.to_record())))

    assert parsed == sample


def test_a_record_with_wrong_types_reads_as_missing_figures() -> None:
    record = {
        "timestamp": "2025-11-30T14:30:00.000Z",
        "memory_pct": "high",
        "cpu_pct": True,
        "latency_samples": None,
        "alerts_active": "memory.threshold.warning",
        "health_state": "on fire",
    }

    parsed = metrics_from_record(record)

    assert parsed is not None
    assert (parsed.memory_pct, parsed.cpu_pct, parsed.latency_samples) == (None, None, 0)
    assert parsed.alerts_active == ()
    assert parsed.health_state is HealthState.DEGRADED
    assert metrics_from_record({"timestamp": "yesterday"}) is None


def test_the_monitor_source_reads_without_sampling(rig: MonitorRig) -> None:
    rig.sample(memory=40)
    source = MonitorSource(rig.monitor)
    reads = rig.probe.reads

    snapshot = source.snapshot()

    assert rig.probe.reads == reads
    assert snapshot.latest is rig.monitor.latest
    assert snapshot.breaker is not None
    assert snapshot.history.seconds_ago == (0.0,)


def test_the_monitor_source_bounds_its_statistics_to_a_window(rig: MonitorRig) -> None:
    source = MonitorSource(rig.monitor, statistics_seconds=5 * INTERVAL)
    for pct in (95, 10, 20, 30, 40, 50):
        rig.sample(memory=pct)

    snapshot = source.snapshot()

    stats = snapshot.statistics["memory_pct"]
    assert (stats.samples, stats.max) == pytest.approx((5, 50))
    assert snapshot.statistics_window == "last 50 s · 5 samples"


def test_the_monitor_source_reports_a_stale_monitor(rig: MonitorRig) -> None:
    rig.sample(memory=40)
    rig.clock.advance(timedelta(minutes=5).total_seconds())

    snapshot = MonitorSource(rig.monitor).snapshot()

    assert snapshot.stale
    assert snapshot.history.seconds_ago == (300.0,)


def test_source_levels_come_from_the_settings_given() -> None:
    limits = ResourceLimits(memory_warning_pct=50, memory_critical_pct=60)
    source = MetricsLogSource("missing.json", limits=limits, monitoring=MonitoringSettings())

    assert source.snapshot().limits.memory_warning_pct == 50


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)
FIELDS = st.sampled_from([
    "timestamp", "sequence", "memory_pct", "memory_used_bytes", "cpu_pct", "alerts_active",
    "missing_metrics", "health_state", "latency_samples", "cpus_available", "memory_limit_source",
])  # fmt: skip


@given(
    st.dictionaries(FIELDS | st.text(max_size=10), JSON_VALUES | st.just("2025-11-30T14:30:00Z"))
)
def test_any_json_record_reads_as_a_sample_or_nothing_never_an_error(
    record: dict[str, Any],
) -> None:
    parsed = metrics_from_record(record)

    assert parsed is None or parsed.timestamp.tzinfo is not None
    if parsed is not None:
        assert parsed.memory_pct is None or isinstance(parsed.memory_pct, float)
        assert all(isinstance(key, str) for key in parsed.alerts_active)
