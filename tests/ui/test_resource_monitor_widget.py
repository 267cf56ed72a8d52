"""The dashboard widget, offscreen, over a real monitor with a fake probe and a manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QProgressBar, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from tests.ui.conftest import MonitorRig
from ui import create_resource_widget
from ui.resource_monitor_widget import COLOURS, ResourceMonitorWidget
from ui.resource_sources import MetricsLogSource
from utils.metrics_log import rotated_files
from utils.resource_monitor import HealthStatus
from utils.settings import Settings

pytestmark = pytest.mark.qt


def make_widget(qtbot: QtBot, rig: MonitorRig, **options: object) -> ResourceMonitorWidget:
    widget = create_resource_widget(resource_monitor=rig.monitor, **options)  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    widget.timer.stop()  # the tests refresh by hand: deterministic, no waiting
    return widget


def sample_and_refresh(widget: ResourceMonitorWidget, rig: MonitorRig, **values: float) -> None:
    rig.sample(**values)
    widget.refresh()


def alert_texts(widget: ResourceMonitorWidget) -> list[str]:
    return [widget.alerts_list.item(i).text() for i in range(widget.alerts_list.count())]


def chunk_colour(bar: QProgressBar) -> QColor:
    """Return the colour actually drawn inside the bar's filled part (left edge, middle)."""
    image = bar.grab().toImage()
    return image.pixelColor(6, image.height() // 2)


def test_the_seeds_usage_gives_a_widget_a_dashboard_layout_can_hold(
    qtbot: QtBot, rig: MonitorRig
) -> None:
    dashboard = QWidget()
    qtbot.addWidget(dashboard)
    layout = QVBoxLayout(dashboard)

    widget = create_resource_widget(
        resource_monitor=rig.monitor,
        node_info="L2-4 (2 cores, 4GB RAM)",
    )
    layout.addWidget(widget)

    assert isinstance(widget, QWidget)
    assert widget.parent() is dashboard
    assert widget.node_label.text() == "L2-4 (2 cores, 4GB RAM)"
    assert widget.timer.isActive()
    assert widget.interval_ms == 1000


def test_memory_bar_colour_follows_the_monitors_own_levels(qtbot: QtBot) -> None:
    rig = MonitorRig(memory_warning_pct=60, memory_critical_pct=70)  # not the defaults
    widget = make_widget(qtbot, rig)
    seen = []
    for pct in (50, 62, 75):
        sample_and_refresh(widget, rig, memory=pct)
        seen.append((widget.memory_bar.property("level"), widget.memory_bar.value()))

    assert seen == [("ok", 500), ("warning", 620), ("critical", 750)]
    assert "warning 60% · critical 70%" in widget.memory_detail.text()


def test_the_bar_colour_is_really_drawn(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    widget.resize(560, 860)
    widget.show()
    colours = {}
    for pct in (40, 85, 95):
        sample_and_refresh(widget, rig, memory=pct)
        colours[pct] = chunk_colour(widget.memory_bar).name()

    assert colours == {40: COLOURS["ok"], 85: COLOURS["warning"], 95: COLOURS["critical"]}


def test_the_bar_stays_amber_while_the_monitors_warning_is_active_below_the_level(
    qtbot: QtBot, rig: MonitorRig
) -> None:
    widget = make_widget(qtbot, rig)
    for _ in range(3):
        rig.sample(memory=82)  # raises the warning (3 consecutive samples)

    sample_and_refresh(widget, rig, memory=78)  # below 80, above the clear level 75

    assert widget.memory_bar.property("level") == "warning"
    assert widget.health_badge.text() == "WARNING"


def test_cpu_bar_shows_the_cpus_and_its_own_levels(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)

    sample_and_refresh(widget, rig, cpu=80)

    assert widget.cpu_bar.property("level") == "warning"
    assert widget.cpu_bar.format() == "80.0% of 2 CPUs"
    assert "warning 75% · critical 85%" in widget.cpu_detail.text()


def test_the_first_cpu_sample_reads_warming_up_not_zero(qtbot: QtBot, rig: MonitorRig) -> None:
    rig.probe.cpu_process_pct = None
    rig.probe.cpu_warming_up = True
    widget = make_widget(qtbot, rig)

    sample_and_refresh(widget, rig)

    assert widget.cpu_bar.format() == "warming up"
    assert widget.cpu_bar.property("level") == "unknown"


def test_a_monitor_without_samples_shows_warming_up(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)

    assert widget.health_badge.text() == "WARMING UP"
    assert widget.memory_bar.format() == "warming up"
    assert "no sample yet" in widget.reasons_label.text()
    assert widget.last_error is None


def test_alerts_appear_newest_first_with_their_severity(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    sample_and_refresh(widget, rig)
    assert alert_texts(widget) == ["No alerts"]

    for pct in (85, 85, 85, 95, 95, 95):
        sample_and_refresh(widget, rig, memory=pct)

    texts = alert_texts(widget)
    assert "CRITICAL" in texts[0]
    assert "memory at 95.0% >= critical level 90.0%" in texts[0]
    assert "WARNING" in texts[-1]
    assert widget.alerts_list.item(0).foreground().color().name() == COLOURS["critical"]


def test_a_cleared_alert_is_listed_as_cleared(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)

    for pct in (85, 85, 85, 60, 60, 60):
        sample_and_refresh(widget, rig, memory=pct)

    newest = widget.alerts_list.item(0)
    assert "CLEARED" in newest.text()
    assert "memory warning cleared at 60.0%" in newest.text()
    assert newest.foreground().color().name() == COLOURS["ok"]


def test_statistics_update_with_each_sample(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    table = widget.statistics_table

    sample_and_refresh(widget, rig, memory=40)
    first = [table.item(0, c).text() for c in range(4)]
    sample_and_refresh(widget, rig, memory=60)
    second = [table.item(0, c).text() for c in range(4)]

    assert first == ["40.0%", "40.0%", "40.0%", "40.0%"]
    assert second == ["40.0%", "50.0%", "60.0%", "60.0%"]  # min, avg, max, p95
    assert "2 samples" in widget.statistics_title.text()


def test_a_stale_monitor_is_shown_grey_with_the_age(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    sample_and_refresh(widget, rig, memory=85)

    rig.clock.advance(300)  # stale after 3 intervals (30 s)
    widget.refresh()

    assert widget.health_badge.text() == "STALE"
    assert widget.memory_bar.property("level") == "stale"
    assert "last sample 300 s ago (stale after 30 s)" in widget.reasons_label.text()
    assert "(5 min ago)" in widget.footer_label.text()


def test_a_monitor_that_raises_does_not_crash_the_widget(
    qtbot: QtBot, rig: MonitorRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    widget = make_widget(qtbot, rig)
    sample_and_refresh(widget, rig, memory=50)

    def broken() -> HealthStatus:
        msg = "monitor lock poisoned"
        raise RuntimeError(msg)

    monkeypatch.setattr(rig.monitor, "health", broken)
    widget.refresh()
    widget.refresh()

    assert widget.health_badge.text() == "ERROR"
    assert "RuntimeError: monitor lock poisoned" in widget.reasons_label.text()
    assert "showing the last figures" in widget.reasons_label.text()
    assert widget.memory_bar.value() == 500  # the last figures stay
    assert widget.error_count == 2

    monkeypatch.undo()
    sample_and_refresh(widget, rig, memory=55)
    assert widget.last_error is None
    assert widget.health_badge.text() == "HEALTHY"


def test_latency_shows_percentiles_samples_and_timeouts(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    for ms in range(100, 1100, 100):
        rig.monitor.record_latency(ms)
    rig.monitor.record_timeout()

    sample_and_refresh(widget, rig)

    text = widget.latency_label.text()
    assert "p50 600 ms" in text  # nearest rank over 11 samples: the 6th
    assert "p95 5000 ms" in text  # a timeout is a sample at the timeout value
    assert "p99 5000 ms" in text
    detail = widget.latency_detail.text()
    assert "11 round trips" in detail
    assert "1 timeout" in detail
    assert "alerts from 20 samples" in detail
    assert widget.latency_label.property("level") == "critical"


def test_the_breaker_state_and_reason_are_shown(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    sample_and_refresh(widget, rig)
    assert widget.breaker_badge.text() == "BREAKER ACTIVE"

    for _ in range(3):
        sample_and_refresh(widget, rig, memory=95)

    assert widget.breaker_badge.text() == "BREAKER HALTED"
    assert widget.breaker_badge.property("level") == "critical"
    assert "Memory usage critical" in widget.breaker_label.text()
    assert "by resource_monitor" in widget.breaker_label.text()


def test_the_plot_holds_the_monitors_history(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    for pct in (30, 40, 50):
        sample_and_refresh(widget, rig, memory=pct)

    x, y = widget.memory_curve.getData()

    assert list(y) == pytest.approx([30, 40, 50])
    assert list(x) == pytest.approx([-20 / 60, -10 / 60, 0])  # minutes before the last sample
    assert widget.warning_line.value() == 80
    assert widget.critical_line.value() == 90


def test_the_timer_refreshes_on_its_own(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = create_resource_widget(resource_monitor=rig.monitor, interval_ms=50)
    qtbot.addWidget(widget)
    rig.sample(memory=42)

    qtbot.waitUntil(lambda: widget.memory_bar.value() == 420, timeout=5000)


def test_the_refresh_interval_is_configurable_but_not_below_50_ms(
    qtbot: QtBot, rig: MonitorRig
) -> None:
    widget = make_widget(qtbot, rig, interval_ms=250)
    assert widget.interval_ms == 250
    widget.set_interval_ms(2000)
    assert widget.timer.interval() == 2000
    with pytest.raises(ValueError, match="at least 50"):
        widget.set_interval_ms(10)


def test_the_widget_never_samples_the_monitor(qtbot: QtBot, rig: MonitorRig) -> None:
    widget = make_widget(qtbot, rig)
    rig.sample()
    reads = rig.probe.reads

    for _ in range(5):
        widget.refresh()

    assert rig.probe.reads == reads


def test_the_node_line_defaults_to_the_monitors_target_node(qtbot: QtBot) -> None:
    widget = make_widget(qtbot, MonitorRig(target_node="L2-4"))

    assert widget.node_label.text() == "L2-4 (2 cores, 4GB RAM)"


def test_exactly_one_source_is_required(rig: MonitorRig, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="exactly one"):
        create_resource_widget()
    with pytest.raises(TypeError, match="exactly one"):
        create_resource_widget(resource_monitor=rig.monitor, metrics_log=tmp_path / "m.json")


def test_follower_mode_shows_a_log_being_appended_and_rotated(qtbot: QtBot, tmp_path: Path) -> None:
    log = tmp_path / "resource_metrics.json"
    writer = MonitorRig(
        log_metrics=True, metrics_log_path=str(log), metrics_log_max_bytes=4096,
        memory_warning_pct=70, memory_critical_pct=95,
    )  # fmt: skip
    source = MetricsLogSource(
        log, limits=writer.monitor.limits, monitoring=writer.monitor.monitoring,
        clock=writer.clock,
    )  # fmt: skip
    widget = create_resource_widget(source=source, node_info="L2-4 (2 cores, 4GB RAM)")
    qtbot.addWidget(widget)
    widget.timer.stop()

    for pct in (50, 52, 54, 72, 74, 76, 78, 80):
        writer.sample(memory=pct)
        widget.refresh()

    assert rotated_files(log), "the writer rotated the log while it was followed"
    assert source.received == 8
    assert widget.memory_bar.value() == 800
    assert widget.memory_bar.property("level") == "warning"  # the settings' 70, not 80
    assert "memory warning raised at 76.0%" in alert_texts(widget)[0]
    assert "8 samples" in widget.statistics_title.text()
    assert f"following {log}" in widget.footer_label.text()


def test_follower_mode_waits_for_a_log_that_does_not_exist(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default breaker state file is relative
    widget = create_resource_widget(
        metrics_log=tmp_path / "logs" / "resource_metrics.json", settings=Settings()
    )
    qtbot.addWidget(widget)

    assert widget.health_badge.text() == "WARMING UP"
    assert "does not exist yet" in widget.reasons_label.text()
    assert widget.breaker_badge.text() == "BREAKER ACTIVE"
