"""The resource monitor with an injected clock and a fake probe: no sleeps, no real system."""

from __future__ import annotations

import ast
import json
import logging
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.utils.fakes import GIB, FakeProbe, RaisingProbe, TickingProcess
from utils.cgroup import Cgroups
from utils.circuit_breaker import BreakerState, CircuitBreaker
from utils.clock import ManualClock
from utils.errors import SettingsError
from utils.memory_model import MemoryModel, Workload
from utils.metrics_log import read_log
from utils.resource_monitor import (
    METRIC_FIELDS,
    AlertRule,
    HealthState,
    ResourceMetrics,
    create_resource_monitor,
)
from utils.settings import (
    DEFAULT_SETTINGS_PATH,
    MonitoringSettings,
    ResourceLimits,
    settings_from_mapping,
)
from utils.system_probe import HostProbe, Limit, ProbeProblem
from utils.thresholds import Severity

INTERVAL = 30.0


class Rig:
    """A monitor wired to a fake probe, a manual clock and (optionally) a real breaker."""

    def __init__(
        self, tmp_path: Path, *, breaker: bool = True, probe: FakeProbe | None = None, **config: Any
    ) -> None:
        config.setdefault("log_metrics", False)
        self.clock = ManualClock()
        self.probe = probe or FakeProbe()
        self.breaker = (
            CircuitBreaker(
                state_path=tmp_path / "state.json",
                log_path=tmp_path / "breaker.json",
                clock=self.clock,
                reset_cooldown_seconds=0,
            )
            if breaker
            else None
        )
        self.monitor = create_resource_monitor(
            config=config, circuit_breaker=self.breaker, clock=self.clock, probe=self.probe
        )

    def sample(self, **counts: int) -> ResourceMetrics:
        self.clock.advance(INTERVAL)
        return self.monitor.update(**counts)

    def memory(self, *values: float) -> list[ResourceMetrics]:
        out = []
        for value in values:
            self.probe.set_memory_pct(value)
            out.append(self.sample())
        return out

    def cpu(self, *values: float) -> list[ResourceMetrics]:
        out = []
        for value in values:
            self.probe.set_cpu_pct(value)
            out.append(self.sample())
        return out

    def alerts(self) -> list[tuple[str, bool]]:
        return [(a.key, a.raised) for a in self.monitor.recent_alerts()]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Default settings write logs/resource_metrics.json relative to the working directory.
    monkeypatch.chdir(tmp_path)


# --------------------------------------------------------------------------------- configuration
def test_omitted_keys_take_the_settings_defaults() -> None:
    monitor = create_resource_monitor(config={"memory_warning_pct": 70}, probe=FakeProbe())

    assert monitor.limits == ResourceLimits(memory_warning_pct=70)
    assert monitor.monitoring == MonitoringSettings()


def test_an_unknown_key_is_named_with_the_allowed_keys() -> None:
    with pytest.raises(SettingsError) as error:
        create_resource_monitor(config={"memory_warn_pct": 80}, probe=FakeProbe())

    message = str(error.value)
    assert "config.memory_warn_pct: unknown key" in message
    assert "memory_warning_pct" in message
    assert "check_interval_seconds" in message


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"memory_warning_pct": 120}, "config.memory_warning_pct"),
        ({"memory_warning_pct": 95}, "config.memory_warning_pct: 95 must be below"),
        ({"confirm_samples": 0}, "config.confirm_samples"),
        ({"warning_action": "panic"}, "config.warning_action"),
        ({"target_node": "L3-9"}, "config.target_node"),
        ({"check_interval_seconds": "often"}, "config.check_interval_seconds"),
        ({"latency_min_samples": 600}, "config.latency_min_samples"),
        ({"stale_after_seconds": 10}, "config.stale_after_seconds"),
        ({"lean_average_samples": 1}, "config.lean_average_samples"),
        ({"clear_margin_pct": 50}, "config.clear_margin_pct"),
        ({"latency_timeout_ms": 0}, "config.latency_timeout_ms"),
    ],
)
def test_a_bad_value_is_named(config: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        create_resource_monitor(config=config, probe=FakeProbe())


def test_config_must_be_a_mapping() -> None:
    with pytest.raises(SettingsError, match="expected a mapping"):
        create_resource_monitor(config=[("memory_warning_pct", 80)], probe=FakeProbe())  # type: ignore[arg-type]


def test_every_key_of_the_settings_file_sections_is_accepted() -> None:
    data = json.loads(DEFAULT_SETTINGS_PATH.read_text())["quantconnect"]
    flat = {**data["resource_limits"], **data["monitoring"], "log_metrics": False}

    monitor = create_resource_monitor(config=flat, probe=FakeProbe())

    assert monitor.limits.memory_critical_pct == data["resource_limits"]["memory_critical_pct"]


def test_loaded_settings_are_the_base_and_config_overrides_them() -> None:
    settings = settings_from_mapping(
        {"quantconnect": {"monitoring": {"target_node": "L2-4", "confirm_samples": 5}}}
    )

    monitor = create_resource_monitor(
        config={"confirm_samples": 2, "log_metrics": False}, settings=settings, probe=FakeProbe()
    )

    assert monitor.monitoring.target_node == "L2-4"
    assert monitor.monitoring.confirm_samples == 2


# ------------------------------------------------------------------------------------- memory
def test_memory_pct_is_the_working_set_against_the_smallest_limit(rig: Rig) -> None:
    metrics = rig.sample()

    assert metrics.memory_used_bytes == GIB
    assert metrics.memory_limit_bytes == 4 * GIB
    assert metrics.memory_pct == pytest.approx(25.0)
    assert metrics.memory_used_source == "fake working set"
    assert metrics.memory_limit_source == "fake cgroup memory.max"


def test_the_target_node_ram_caps_the_limit_with_its_source(tmp_path: Path) -> None:
    rig = Rig(tmp_path, target_node="L1-2")

    metrics = rig.sample()

    assert metrics.memory_limit_bytes == 2 * GIB
    assert metrics.memory_limit_source == "target node L1-2 RAM (2 GB, utils.node_catalog)"
    assert metrics.memory_pct == pytest.approx(50.0)


def test_a_bigger_target_node_does_not_lift_a_tighter_cgroup_limit(tmp_path: Path) -> None:
    rig = Rig(tmp_path, target_node="L8-16-GPU")

    metrics = rig.sample()

    assert metrics.memory_limit_bytes == 4 * GIB
    assert metrics.memory_limit_source == "fake cgroup memory.max"


def test_physical_ram_is_the_limit_without_cgroup_or_target(tmp_path: Path) -> None:
    probe = FakeProbe()
    probe.memory_limits = (Limit(8.0 * GIB, "physical RAM (psutil.virtual_memory)"),)

    metrics = Rig(tmp_path, probe=probe).sample()

    assert metrics.memory_limit_source == "physical RAM (psutil.virtual_memory)"
    assert metrics.memory_pct == pytest.approx(12.5)


def test_unreadable_memory_is_missing_and_makes_the_monitor_unhealthy(rig: Rig) -> None:
    rig.probe.memory_used_bytes = None
    rig.probe.problems = (ProbeProblem("memory", "AccessDenied", "process RSS: AccessDenied"),)

    metrics = rig.sample()
    health = rig.monitor.health()

    assert metrics.memory_pct is None
    assert metrics.missing_metrics == ("memory",)
    assert health.state is HealthState.DEGRADED
    assert not health.healthy
    assert "memory" in health.degraded_metrics
    assert any("cannot see an out-of-memory" in r for r in health.reasons)


# ---------------------------------------------------------------------------------------- CPU
def test_cpu_is_normalised_by_the_cpus_available(rig: Rig) -> None:
    rig.probe.cpu_process_pct = 150.0  # 1.5 CPUs busy out of 2

    metrics = rig.sample()

    assert metrics.cpu_process_pct == 150.0
    assert metrics.cpu_pct == pytest.approx(75.0)
    assert metrics.cpus_available == 2.0
    assert "fake affinity" in metrics.cpu_source


def test_a_warming_up_cpu_is_none_not_zero_and_not_missing(rig: Rig) -> None:
    rig.probe.cpu_process_pct = None
    rig.probe.cpu_warming_up = True

    metrics = rig.sample()

    assert metrics.cpu_pct is None
    assert "cpu" not in metrics.missing_metrics
    assert rig.monitor.health().state is HealthState.HEALTHY


def test_samples_milliseconds_apart_never_read_cpu_above_100_pct(tmp_path: Path) -> None:
    clock = ManualClock()
    process = TickingProcess()
    probe = HostProbe(process=process, cgroups=Cgroups(), clock=clock)
    monitor = create_resource_monitor(config={"log_metrics": False}, clock=clock, probe=probe)
    samples = [monitor.update()]
    for step in range(1, 1000):  # a backtest loop: one sample every 0.37 ms
        clock.advance(0.00037)
        if step % 27 == 0:
            process.cpu_seconds += 0.01  # one busy CPU: a 10 ms tick every 27 samples
        samples.append(monitor.update())

    measured = [s.cpu_pct for s in samples if s.cpu_pct is not None]

    assert len(measured) >= 3
    assert all(0.0 <= pct <= 100.0 for pct in measured)
    assert all("cpu" not in s.missing_metrics for s in samples)


def test_cpu_over_its_warning_level_raises_a_cpu_warning(rig: Rig) -> None:
    rig.cpu(76, 76, 76)

    assert rig.alerts() == [("cpu.threshold.warning", True)]


# ------------------------------------------------------------------- hysteresis, confirmation
def test_one_memory_spike_neither_alerts_nor_trips(rig: Rig) -> None:
    rig.memory(50, 99, 50, 50, 50)

    assert rig.alerts() == []
    assert rig.breaker is not None
    assert rig.breaker.state is BreakerState.ACTIVE


def test_three_consecutive_samples_over_warning_raise_it_on_the_third(rig: Rig) -> None:
    first, second, third = rig.memory(85, 85, 85)

    assert first.alerts_active == second.alerts_active == ()
    assert third.alerts_active == ("memory.threshold.warning", "memory.lean_average.warning")


def test_exactly_at_the_warning_level_counts_as_over_it(rig: Rig) -> None:
    rig.memory(80.0, 80.0, 80.0)

    assert ("memory.threshold.warning", True) in rig.alerts()


def test_a_flapping_series_gives_one_raise_and_one_clear(rig: Rig) -> None:
    rig.memory(85, 85, 85)
    rig.memory(*[78, 82] * 10)
    rig.memory(60, 60, 60)
    rig.memory(*[79, 81] * 10)

    threshold = [a for a in rig.alerts() if a[0] == "memory.threshold.warning"]
    assert threshold == [("memory.threshold.warning", True), ("memory.threshold.warning", False)]


def test_confirmation_is_configurable(tmp_path: Path) -> None:
    rig = Rig(tmp_path, confirm_samples=1)

    rig.memory(85)

    assert ("memory.threshold.warning", True) in rig.alerts()


def test_the_clear_margin_is_configurable(tmp_path: Path) -> None:
    rig = Rig(tmp_path, clear_margin_pct=0)
    rig.memory(85, 85, 85)

    rig.memory(79.9, 79.9, 79.9)

    assert ("memory.threshold.warning", False) in rig.alerts()


# --------------------------------------------------------------------------------- LEAN mirror
def test_lean_average_catches_a_spiky_series_the_per_sample_rule_forgives(rig: Rig) -> None:
    rig.memory(99, 85, 99, 85, 99, 85)

    keys = {key for key, raised in rig.alerts() if raised}
    assert "memory.threshold.critical" not in keys  # never 3 samples in a row at 90 %
    assert "memory.lean_average.critical" in keys  # but the average sits at 92 %
    assert rig.breaker is not None
    assert rig.breaker.state is BreakerState.HALTED


def test_lean_average_is_the_mean_of_the_last_60_samples(rig: Rig) -> None:
    rig.memory(*[10.0] * 30, *[40.0] * 30)
    metrics = rig.memory(70.0)[0]  # the first 10 % drops out

    assert metrics.memory_lean_average_pct == pytest.approx((29 * 10 + 30 * 40 + 70) / 60)


def test_lean_peak_trips_on_one_sample_near_twice_the_cap(tmp_path: Path) -> None:
    probe = FakeProbe()
    probe.memory_limits = (Limit(16.0 * GIB, "fake physical RAM"),)
    rig = Rig(tmp_path, probe=probe, target_node="L1-1")  # a 1 GB cap for a local run
    probe.memory_used_bytes = int(1.85 * GIB)  # 185 % of the cap: LEAN kills above 200 %

    metrics = rig.sample()

    assert "memory.lean_peak.critical" in metrics.alerts_active
    assert rig.breaker is not None
    assert rig.breaker.state is BreakerState.HALTED
    assert rig.breaker.status().metric == "memory"


def test_lean_peak_needs_the_doubled_level(tmp_path: Path) -> None:
    probe = FakeProbe()
    rig = Rig(tmp_path, probe=probe)

    rig.memory(179.9)

    assert rig.alerts() == [("memory.lean_peak.warning", True)]


# ------------------------------------------------------------------------------------ latency
def test_latency_never_alerts_below_the_minimum_samples(tmp_path: Path) -> None:
    rig = Rig(tmp_path, latency_min_samples=20)
    for _ in range(19):
        rig.monitor.record_latency(3_000)

    rig.sample(), rig.sample(), rig.sample()
    before = rig.alerts()
    rig.monitor.record_latency(3_000)
    rig.sample(), rig.sample(), rig.sample()

    assert before == []
    assert ("latency.threshold.critical", True) in rig.alerts()


def test_latency_percentiles_are_reported_in_the_sample(rig: Rig) -> None:
    for value in range(1, 101):
        rig.monitor.record_latency(float(value))

    metrics = rig.sample()

    assert (metrics.latency_p50_ms, metrics.latency_p95_ms, metrics.latency_p99_ms) == (
        50.0,
        95.0,
        99.0,
    )
    assert metrics.latency_samples == 100


def test_a_timeout_is_counted_as_a_sample_at_the_timeout_value(rig: Rig) -> None:
    rig.monitor.record_latency(100)
    rig.monitor.record_timeout()
    rig.monitor.record_latency(9_000)  # slower than latency_timeout_ms (5000)

    metrics = rig.sample()

    assert metrics.latency_timeouts_total == 2
    assert metrics.latency_samples == 3
    assert metrics.latency_p99_ms == 5_000


def test_the_latency_timer_uses_the_monotonic_clock(rig: Rig) -> None:
    rig.clock.set_now(rig.clock.now().replace(year=2030))  # wall clock jumps: must not matter
    with rig.monitor.latency_timer():
        rig.clock.advance(0.25)

    assert rig.monitor.latency().p50_ms == pytest.approx(250.0)


def test_the_latency_timer_records_a_timeout_on_timeout_error(rig: Rig) -> None:
    def broker_call_that_times_out() -> None:
        with rig.monitor.latency_timer():
            rig.clock.advance(1)
            raise TimeoutError

    with pytest.raises(TimeoutError):
        broker_call_that_times_out()

    snapshot = rig.monitor.latency()
    assert snapshot.timeouts_total == 1
    assert snapshot.p50_ms == 5_000


def test_an_invalid_latency_is_ignored_and_logged_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        rig.monitor.record_latency(-5)
        rig.monitor.record_latency(float("nan"))

    assert rig.monitor.latency().samples == 0
    assert caplog.text.count("ignored a latency sample") == 1


# ------------------------------------------------------------------------------------- health
def test_before_the_first_sample_the_monitor_is_not_healthy(rig: Rig) -> None:
    health = rig.monitor.health()

    assert health.state is HealthState.STALE
    assert not health.healthy
    assert health.reasons == ("no sample yet",)


def test_a_monitor_that_stopped_sampling_is_stale(rig: Rig) -> None:
    rig.sample()
    rig.clock.advance(3 * INTERVAL)
    fresh = rig.monitor.health()
    rig.clock.advance(1)

    stale = rig.monitor.health()

    assert fresh.healthy
    assert stale.state is HealthState.STALE
    assert not rig.monitor.is_healthy()
    assert stale.last_sample_age_seconds == pytest.approx(3 * INTERVAL + 1)
    assert "stale after 90 s" in stale.reasons[0]


def test_health_lists_active_alerts_with_their_start_times(rig: Rig) -> None:
    rig.memory(85, 85)
    raised_at = rig.clock.now() + timedelta(seconds=INTERVAL)
    rig.memory(85, 85)

    health = rig.monitor.health()

    assert health.state is HealthState.WARNING
    assert not health.healthy
    assert [a.started_at for a in health.active_alerts] == [raised_at, raised_at]
    assert health.breaker_state is BreakerState.REDUCING


def test_health_names_the_source_of_each_figure(rig: Rig) -> None:
    rig.sample()

    sources = rig.monitor.health().sources

    assert sources["memory_used"] == "fake working set"
    assert sources["memory_limit"] == "fake cgroup memory.max"
    assert "fake cpu" in sources["cpu"]


def test_a_missing_cpu_is_degraded_but_still_healthy(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.probe.cpu_process_pct = None
    rig.probe.problems = (ProbeProblem("cpu", "AccessDenied", "process CPU: AccessDenied"),)

    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            metrics = rig.sample()
    health = rig.monitor.health()

    assert metrics.missing_metrics == ("cpu",)
    assert health.state is HealthState.DEGRADED
    assert health.healthy
    assert health.degraded_metrics == ("cpu",)
    assert caplog.text.count("cpu missing from this sample") == 1


def test_without_psutil_the_monitor_constructs_and_reports_itself_degraded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)
    monitor = create_resource_monitor(config={"log_metrics": False}, clock=ManualClock())

    monitor.update()
    health = monitor.health()

    assert health.state is HealthState.DEGRADED
    assert any("psutil is not importable" in r for r in health.reasons)


# ----------------------------------------------------------------------------- circuit breaker
def test_a_warning_moves_the_breaker_to_reducing(rig: Rig) -> None:
    rig.memory(85, 85, 85)

    assert rig.breaker is not None
    status = rig.breaker.status()
    assert status.state is BreakerState.REDUCING
    assert (status.actor, status.metric, status.threshold, status.unit) == (
        "resource_monitor",
        "memory",
        80.0,
        "pct",
    )


def test_with_warning_action_log_a_warning_only_logs(tmp_path: Path) -> None:
    rig = Rig(tmp_path, warning_action="log")

    rig.memory(85, 85, 85)

    assert rig.breaker is not None
    assert rig.breaker.state is BreakerState.ACTIVE
    assert rig.alerts()


def test_a_critical_alert_halts_trading_with_the_seeds_reason(rig: Rig) -> None:
    rig.memory(95, 95, 95)

    assert rig.breaker is not None
    status = rig.breaker.status()
    assert status.state is BreakerState.HALTED
    assert status.reason.startswith("Memory usage critical: 95.0% >= 90.0%")
    assert status.value == pytest.approx(95.0)


def test_a_halt_latches_when_memory_recovers(rig: Rig) -> None:
    rig.memory(95, 95, 95)

    rig.memory(*[40] * 10)

    assert rig.breaker is not None
    assert rig.breaker.state is BreakerState.HALTED
    assert rig.monitor.active_alerts() == []


def test_when_the_warning_clears_the_monitor_restores_trading(rig: Rig) -> None:
    rig.memory(85, 85, 85)

    rig.memory(*[40] * 60)

    assert rig.breaker is not None
    assert rig.breaker.state is BreakerState.ACTIVE


def test_the_monitor_does_not_undo_someone_elses_reducing(rig: Rig) -> None:
    assert rig.breaker is not None
    rig.breaker.reduce_exposure_only("earnings day", actor="alice")

    rig.memory(40, 40, 40)

    assert rig.breaker.state is BreakerState.REDUCING


def test_a_reset_while_memory_is_still_critical_is_undone_by_the_next_sample(rig: Rig) -> None:
    rig.memory(95, 95, 95)
    assert rig.breaker is not None
    rig.breaker.reset("alice", "I need to close positions")

    rig.memory(95)

    assert rig.breaker.state is BreakerState.HALTED


def test_a_failing_breaker_does_not_break_update(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenBreaker(CircuitBreaker):
        def halt_all_trading(self, reason: str, **details: Any) -> BreakerState:
            msg = "disk gone"
            raise OSError(msg)

    probe = FakeProbe()
    breaker = BrokenBreaker(state_path=None, log_path=None)
    monitor = create_resource_monitor(
        config={"log_metrics": False, "confirm_samples": 1},
        circuit_breaker=breaker,
        clock=ManualClock(),
        probe=probe,
    )
    probe.set_memory_pct(95)

    with caplog.at_level(logging.ERROR):
        metrics = monitor.update()

    assert metrics.memory_pct == pytest.approx(95)
    assert "the circuit breaker failed" in caplog.text


# ------------------------------------------------------------------------------ never raises
def test_update_never_raises_even_when_the_probe_breaks_its_contract(
    caplog: pytest.LogCaptureFixture,
) -> None:
    monitor = create_resource_monitor(
        config={"log_metrics": False}, probe=RaisingProbe(), clock=ManualClock()
    )

    with caplog.at_level(logging.ERROR):
        first = monitor.update(active_securities=3)
        monitor.update(active_securities=3)

    assert first.memory_pct is None
    assert first.active_securities == 3
    assert set(first.missing_metrics) == {"memory", "cpu"}
    assert caplog.text.count("update failed") == 1


# ------------------------------------------------------------------------------------ logging
def test_alerts_are_logged_with_the_seeds_wording(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="utils.resource_monitor"):
        rig.memory(85, 85, 85, 95, 95, 95, *[40] * 6)

    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    warning = next(m for lvl, m in lines if lvl == logging.WARNING)
    critical = next(m for lvl, m in lines if lvl == logging.CRITICAL)
    cleared = next(m for lvl, m in lines if lvl == logging.INFO)
    assert warning.startswith("RESOURCE WARNING: memory at 85.0% >= warning level 80.0%")
    assert "working set 3.40 GB of 4.00 GB (fake cgroup memory.max)" in warning
    assert critical.startswith("RESOURCE WARNING: CRITICAL memory at 95.0% >= critical level")
    assert critical.endswith("halting new trading")
    assert cleared.startswith("RESOURCE OK: memory ")


def test_alert_listeners_get_raises_and_clears(rig: Rig) -> None:
    got: list[tuple[str, bool]] = []
    rig.monitor.add_alert_listener(lambda alert: got.append((alert.key, alert.raised)))

    rig.memory(85, 85, 85, 40, 40, 40)

    assert ("memory.threshold.warning", True) in got
    assert ("memory.threshold.warning", False) in got


def test_a_cleared_alert_keeps_its_start_time(rig: Rig) -> None:
    rig.memory(85, 85, 85)
    raised = rig.monitor.active_alerts()[0]
    rig.memory(40, 40, 40)

    cleared = next(a for a in rig.monitor.recent_alerts() if not a.raised)

    assert cleared.started_at == raised.started_at
    assert cleared.time > raised.time
    assert cleared.rule is AlertRule.THRESHOLD
    assert cleared.severity is Severity.WARNING


# -------------------------------------------------------------------------------- metrics log
def test_each_sample_is_one_metrics_log_record_with_the_same_names(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "resource_metrics.json"
    rig = Rig(tmp_path, log_metrics=True, metrics_log_path=str(log))

    samples = [rig.sample(active_securities=10, active_positions=5) for _ in range(3)]
    records = read_log(log).records

    assert [list(r) for r in records] == [list(METRIC_FIELDS)] * 3
    assert records == [s.to_record() for s in samples]
    assert records[0]["memory_used_bytes"] == GIB
    assert records[0]["timestamp"].endswith("Z")


def test_numeric_metric_names_carry_their_unit() -> None:
    unitless_counts = {
        "sequence", "cpus_available", "latency_samples", "latency_timeouts_total",
        "active_securities", "active_positions",
    }  # fmt: skip
    numeric = [
        name
        for name, kind in ResourceMetrics.__annotations__.items()
        if "float" in str(kind) or "int" in str(kind)
    ]

    assert set(numeric) - unitless_counts == {
        name for name in numeric if name.endswith(("_bytes", "_pct", "_ms", "_seconds"))
    }


def test_a_metrics_log_that_cannot_be_written_degrades_health_only(tmp_path: Path) -> None:
    rig = Rig(tmp_path, log_metrics=True, metrics_log_path=str(tmp_path))  # a folder

    metrics = rig.sample()
    health = rig.monitor.health()

    assert metrics.memory_pct is not None
    assert health.state is HealthState.DEGRADED
    assert "metrics_log" in health.degraded_metrics


# ------------------------------------------------------------------------- statistics, history
def test_statistics_are_min_max_avg_and_exact_p95(rig: Rig) -> None:
    rig.memory(*range(1, 21))  # 1 % .. 20 %

    stats = rig.monitor.statistics()["memory_pct"]

    assert stats.samples == 20
    assert stats.min == pytest.approx(1)
    assert stats.max == pytest.approx(20)
    assert stats.avg == pytest.approx(10.5)
    assert stats.p95 == pytest.approx(19)


def test_statistics_leave_out_missing_samples(rig: Rig) -> None:
    rig.probe.cpu_process_pct = None
    rig.sample()
    rig.cpu(10, 30)

    stats = rig.monitor.statistics()["cpu_pct"]

    assert (stats.samples, stats.min, stats.max) == (2, 10, 30)


def test_history_keeps_the_newest_history_size_samples(tmp_path: Path) -> None:
    rig = Rig(tmp_path, history_size=60)

    rig.memory(*range(1, 71))
    history = rig.monitor.history("memory_pct")

    assert rig.monitor.history_size == 60
    assert [round(v or 0) for _, v in history] == list(range(11, 71))
    assert history[-1][0] == rig.clock.now().timestamp()


def test_history_rejects_an_unknown_metric(rig: Rig) -> None:
    with pytest.raises(ValueError, match="unknown history metric"):
        rig.monitor.history("memory_mb")


# ---------------------------------------------------------------------------- memory estimate
def test_memory_estimate_is_the_memory_models(rig: Rig) -> None:
    expected = MemoryModel().estimate(Workload(num_securities=10, num_option_contracts=500))

    assert rig.monitor.estimate_memory_mb(10, 500) == expected.node_mb == 4_450


def test_memory_estimate_uses_the_settings_coefficients() -> None:
    settings = settings_from_mapping({"quantconnect": {"memory_model": {"per_security_mb": 50}}})
    monitor = create_resource_monitor(
        config={"log_metrics": False}, settings=settings, probe=FakeProbe()
    )

    assert monitor.estimate_memory_mb(10, 0, greeks=False) - monitor.estimate_memory_mb(
        0, 0, greeks=False
    ) == pytest.approx(500)


# ---------------------------------------------------------------------------- background mode
def test_start_samples_in_a_thread_and_stop_ends_it(tmp_path: Path) -> None:
    sampled = threading.Event()

    class SignallingProbe(FakeProbe):
        def read(self) -> Any:
            sampled.set()
            return super().read()

    rig = Rig(tmp_path, probe=SignallingProbe(), check_interval_seconds=3600)
    rig.monitor.update(active_securities=7)
    sampled.clear()  # wait for the thread's own sample, not this one

    assert rig.monitor.start() is True
    assert sampled.wait(timeout=10)
    running_while_started = rig.monitor.running
    assert rig.monitor.stop(timeout=10) is True
    assert running_while_started
    assert not rig.monitor.running
    assert rig.probe.reads == 2
    latest = rig.monitor.latest
    assert latest is not None
    assert latest.active_securities == 7  # the counts last passed to update


def test_a_disabled_monitor_neither_samples_nor_starts(tmp_path: Path) -> None:
    rig = Rig(tmp_path, enabled=False)

    metrics = rig.sample()

    assert rig.monitor.start() is False
    assert rig.probe.reads == 0
    assert metrics.health_state is HealthState.DISABLED
    assert rig.monitor.health().state is HealthState.DISABLED
    assert rig.monitor.is_healthy()


def test_statistics_follow_each_new_sample(rig: Rig) -> None:
    rig.memory(10, 20)
    first = rig.monitor.statistics()["memory_pct"]
    again = rig.monitor.statistics()["memory_pct"]
    rig.memory(90)

    latest = rig.monitor.statistics()["memory_pct"]

    assert first == again
    assert (first.samples, latest.samples) == (2, 3)
    assert latest.max == pytest.approx(90)


RUNTIME_MODULES = (
    "resource_monitor", "circuit_breaker", "metrics_log", "system_probe", "cgroup", "clock",
    "latency", "thresholds",
)  # fmt: skip


@pytest.mark.parametrize("module", RUNTIME_MODULES)
def test_the_runtime_imports_only_the_standard_library_psutil_and_pydantic(module: str) -> None:
    source = (Path(__file__).resolve().parents[2] / "utils" / f"{module}.py").read_text()
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])

    assert roots - sys.stdlib_module_names - {"utils", "psutil", "pydantic"} == set()


@pytest.mark.parametrize(("given", "recorded"), [(3.0, 3), ("many", None), (-1, None), (2.5, None)])
def test_counts_that_are_not_counts_are_recorded_as_null(
    rig: Rig, given: object, recorded: int | None
) -> None:
    metrics = rig.monitor.update(active_securities=given)  # type: ignore[arg-type]

    assert metrics.active_securities == recorded
    assert metrics.memory_pct is not None


@pytest.mark.parametrize("samples", [30, 60, 75, 130])
def test_the_last_n_samples_are_the_newest_before_and_after_the_ring_wraps(
    tmp_path: Path, samples: int
) -> None:
    rig = Rig(tmp_path, history_size=60)
    rig.memory(*range(1, samples + 1))

    recent = [round(v or 0) for _, v in rig.monitor.history("memory_pct", last=25)]
    stats = rig.monitor.statistics(last=10)["memory_pct"]

    assert recent == list(range(samples - 24, samples + 1))
    assert stats.samples == 10
    assert (stats.min, stats.max) == (pytest.approx(samples - 9), pytest.approx(samples))
    assert rig.monitor.statistics()["memory_pct"].samples == min(samples, 60)
