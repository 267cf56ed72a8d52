"""The resource dashboard widget: memory, CPU, latency, health, breaker, alerts, statistics.

Usage (the seed's)::

    from ui import create_resource_widget

    widget = create_resource_widget(
        resource_monitor=monitor,
        node_info="L2-4 (2 cores, 4GB RAM)",
    )
    layout.addWidget(widget)

or, to watch an algorithm running elsewhere through its metrics log::

    widget = create_resource_widget(metrics_log="logs/resource_metrics.json")

The widget refreshes itself every second (``interval_ms``) on a :class:`QTimer` in the GUI
thread. A refresh asks its source for one :class:`~ui.resource_sources.ResourceSnapshot` and
draws it; it never samples the monitor (see :mod:`ui.resource_sources` for why and what it
costs). Colours come from the monitor's own levels and alerts: a bar is amber at or above the
warning level or while a warning alert on that metric is active (hysteresis keeps it active a
little below the level), red likewise for critical, grey when the figures are stale. If the
source raises, the widget keeps the last figures, says so, and tries again on the next tick.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.resource_sources import (
    AlertLine,
    MetricsLogSource,
    MonitorSource,
    ResourceSnapshot,
    ResourceSource,
    duration_text,
)
from utils.circuit_breaker import BreakerState
from utils.resource_monitor import HealthState, format_figure
from utils.thresholds import Severity

if TYPE_CHECKING:
    from utils.resource_monitor import ResourceMonitor
    from utils.settings import Settings

logger = logging.getLogger(__name__)

__all__ = ["COLOURS", "ResourceMonitorWidget", "create_resource_widget"]

#: Display levels and their colours (the ``level`` property drives the style sheet).
COLOURS: dict[str, str] = {
    "ok": "#2f9e44",
    "info": "#1c7ed6",
    "warning": "#f08c00",
    "critical": "#e03131",
    "stale": "#868e96",
    "unknown": "#adb5bd",
}
_MEMORY_PEN = "#1c7ed6"
_CPU_PEN = "#7048e8"
_MISSING = "–"

_STATE_LEVELS: dict[HealthState, str] = {
    HealthState.HEALTHY: "ok",
    HealthState.DEGRADED: "info",
    HealthState.WARNING: "warning",
    HealthState.CRITICAL: "critical",
    HealthState.STALE: "stale",
    HealthState.DISABLED: "stale",
}
_BREAKER_LEVELS: dict[BreakerState, str] = {
    BreakerState.ACTIVE: "ok",
    BreakerState.REDUCING: "warning",
    BreakerState.HALTED: "critical",
}
_STATISTICS_ROWS: tuple[tuple[str, str, str], ...] = (
    ("memory_pct", "Memory %", "pct"),
    ("memory_used_bytes", "Memory used", "bytes"),
    ("cpu_pct", "CPU %", "pct"),
    ("latency_p95_ms", "Latency p95", "ms"),
)


def _style_sheet() -> str:
    rules = [
        "ResourceMonitorWidget { background: #ffffff; }",
        "QLabel#title { font-size: 15px; font-weight: 600; color: #212529; }",
        "QLabel#node { color: #495057; }",
        "QLabel#reasons { color: #495057; }",
        "QLabel#section { font-weight: 600; color: #343a40; margin-top: 4px; }",
        "QLabel#detail, QLabel#footer { color: #6c757d; font-size: 11px; }",
        "QLabel#metric { font-weight: 600; color: #343a40; }",
        "QLabel#badge { color: white; border-radius: 8px; padding: 2px 9px; font-weight: 700;"
        " font-size: 11px; }",
        "QProgressBar { border: 1px solid #ced4da; border-radius: 5px; background: #f1f3f5;"
        " text-align: center; color: #212529; min-height: 20px; max-height: 20px; }",
        "QProgressBar::chunk { border-radius: 4px; }",
        "QTableWidget { border: 1px solid #e9ecef; gridline-color: #f1f3f5; }",
        "QListWidget { border: 1px solid #e9ecef; }",
        "QFrame#rule { color: #e9ecef; }",
    ]
    for level, colour in COLOURS.items():
        rules.append(f'QLabel#badge[level="{level}"] {{ background: {colour}; }}')
        rules.append(f'QProgressBar[level="{level}"]::chunk {{ background: {colour}; }}')
    return "\n".join(rules)


def _set_level(widget: QWidget, level: str) -> None:
    """Set the ``level`` property that the style sheet colours by (re-polish only on change)."""
    if widget.property("level") == level:
        return
    widget.setProperty("level", level)
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


def _value_severity(value: float, warning: float, critical: float) -> Severity | None:
    """Return the level ``value`` is at: at or above a level counts, as in the monitor."""
    if value >= critical:
        return Severity.CRITICAL
    if value >= warning:
        return Severity.WARNING
    return None


def _bar_level(
    value: float | None, warning: float, critical: float, alert: Severity | None, *, stale: bool
) -> str:
    if value is None:
        return "unknown"
    if stale:
        return "stale"
    found = [s for s in (_value_severity(value, warning, critical), alert) if s is not None]
    if not found:
        return "ok"
    return max(found, key=lambda s: s.rank).value


def _figure(value: float | None, unit: str) -> str:
    return format_figure(value, unit, _MISSING)


def _levels_text(warning: float, critical: float, unit: str) -> str:
    """Return e.g. ``"warning 80% · critical 90%"`` (``unit``: ``"%"`` or ``" ms"``)."""
    return f"warning {warning:g}{unit} · critical {critical:g}{unit}"


def _short(message: str) -> str:
    """Return a monitor message without its log prefix and details (the tooltip has them)."""
    for prefix in ("RESOURCE WARNING: CRITICAL ", "RESOURCE WARNING: ", "RESOURCE OK: "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
            break
    return message.split("; ", 1)[0]


def _local_time(when: datetime) -> str:
    return when.astimezone().strftime("%H:%M:%S")


def _hline() -> QFrame:
    line = QFrame()
    line.setObjectName("rule")
    line.setFrameShape(QFrame.Shape.HLine)
    return line


class ResourceMonitorWidget(QWidget):
    """A live resource panel for a trading dashboard.

    Args:
        source: Where the figures come from (:class:`~ui.resource_sources.MonitorSource` or
            :class:`~ui.resource_sources.MetricsLogSource`).
        node_info: The node line in the header (default: the source's target node, if any).
        interval_ms: Refresh period in milliseconds (at least 50).
        owns_source: Close the source when the widget is shut down.
        parent: Parent widget.

    Raises:
        ValueError: ``interval_ms`` is below 50.
    """

    def __init__(
        self,
        source: ResourceSource,
        node_info: str | None = None,
        *,
        interval_ms: int = 1000,
        owns_source: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if interval_ms < 50:
            msg = f"interval_ms must be at least 50, got {interval_ms}"
            raise ValueError(msg)
        self.source = source
        self._owns_source = owns_source
        self.snapshot: ResourceSnapshot | None = None
        self.last_error: str | None = None
        self.error_count = 0
        self._logged_errors: set[str] = set()
        self._shown_alerts: tuple[AlertLine, ...] | None = None
        self.setObjectName("ResourceMonitorWidget")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(_style_sheet())
        self.setMinimumWidth(440)
        self._build(node_info if node_info is not None else source.default_node_info())
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.refresh)
        self.refresh()
        self.timer.start()

    # ---------------------------------------------------------------------------- layout
    def _build(self, node_info: str | None) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(12, 10, 12, 10)
        root.setSpacing(6)

        header = QHBoxLayout()
        title_box = QVBoxLayout()
        title_box.setSpacing(0)
        self.title_label = QLabel("Resources")
        self.title_label.setObjectName("title")
        title_box.addWidget(self.title_label)
        self.node_label = QLabel(node_info or "")
        self.node_label.setObjectName("node")
        self.node_label.setVisible(bool(node_info))
        title_box.addWidget(self.node_label)
        header.addLayout(title_box)
        header.addStretch(1)
        self.health_badge = QLabel()
        self.health_badge.setObjectName("badge")
        self.breaker_badge = QLabel()
        self.breaker_badge.setObjectName("badge")
        header.addWidget(self.health_badge, 0, Qt.AlignmentFlag.AlignTop)
        header.addWidget(self.breaker_badge, 0, Qt.AlignmentFlag.AlignTop)
        root.addLayout(header)

        self.reasons_label = QLabel()
        self.reasons_label.setObjectName("reasons")
        self.reasons_label.setWordWrap(True)
        self.reasons_label.setTextFormat(Qt.TextFormat.PlainText)
        self.reasons_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        root.addWidget(self.reasons_label)
        self.breaker_label = QLabel()
        self.breaker_label.setObjectName("detail")
        self.breaker_label.setWordWrap(True)
        root.addWidget(self.breaker_label)
        root.addWidget(_hline())

        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        self.memory_bar, self.memory_detail = self._bar_row(grid, 0, "Memory")
        self.cpu_bar, self.cpu_detail = self._bar_row(grid, 2, "CPU")
        latency_name = QLabel("Latency")
        latency_name.setObjectName("metric")
        grid.addWidget(latency_name, 4, 0)
        self.latency_label = QLabel()
        self.latency_label.setTextFormat(Qt.TextFormat.RichText)
        grid.addWidget(self.latency_label, 4, 1)
        self.latency_detail = QLabel()
        self.latency_detail.setObjectName("detail")
        self.latency_detail.setWordWrap(True)
        grid.addWidget(self.latency_detail, 5, 1)
        grid.setColumnStretch(1, 1)
        root.addLayout(grid)

        self.history_title = QLabel()
        self.history_title.setObjectName("section")
        self.history_title.setTextFormat(Qt.TextFormat.RichText)
        root.addWidget(self.history_title)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(130)
        self.plot.setMaximumHeight(170)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=False, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "minutes ago")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen("#495057")
            self.plot.getAxis(axis).setPen("#adb5bd")
        self.memory_curve = self.plot.plot(
            name="memory %", pen=pg.mkPen(_MEMORY_PEN, width=2), connect="finite"
        )
        self.cpu_curve = self.plot.plot(
            name="CPU %", pen=pg.mkPen(_CPU_PEN, width=1.5), connect="finite"
        )
        dash = Qt.PenStyle.DashLine
        self.warning_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(COLOURS["warning"], width=1, style=dash)
        )
        self.critical_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(COLOURS["critical"], width=1, style=dash)
        )
        self.plot.addItem(self.warning_line)
        self.plot.addItem(self.critical_line)
        root.addWidget(self.plot)

        self.statistics_title = QLabel("Statistics")
        self.statistics_title.setObjectName("section")
        root.addWidget(self.statistics_title)
        self.statistics_table = self._statistics_table()
        root.addWidget(self.statistics_table)

        alerts_title = QLabel("Recent alerts")
        alerts_title.setObjectName("section")
        root.addWidget(alerts_title)
        self.alerts_list = QListWidget()
        self.alerts_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.alerts_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.alerts_list.setMinimumHeight(70)
        self.alerts_list.setWordWrap(True)
        self.alerts_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        root.addWidget(self.alerts_list, 1)  # the list takes whatever height is left

        self.footer_label = QLabel()
        self.footer_label.setObjectName("footer")
        self.footer_label.setWordWrap(True)
        root.addWidget(self.footer_label)

    def _bar_row(self, grid: QGridLayout, row: int, name: str) -> tuple[QProgressBar, QLabel]:
        label = QLabel(name)
        label.setObjectName("metric")
        grid.addWidget(label, row, 0)
        bar = QProgressBar()
        bar.setRange(0, 1000)
        bar.setTextVisible(True)
        bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        grid.addWidget(bar, row, 1)
        detail = QLabel()
        detail.setObjectName("detail")
        detail.setWordWrap(True)
        grid.addWidget(detail, row + 1, 1)
        return bar, detail

    def _statistics_table(self) -> QTableWidget:
        table = QTableWidget(len(_STATISTICS_ROWS), 4)
        table.setHorizontalHeaderLabels(["Min", "Avg", "Max", "P95"])
        table.setVerticalHeaderLabels([title for _, title, _ in _STATISTICS_ROWS])
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.verticalHeader().setDefaultSectionSize(22)
        table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for row in range(len(_STATISTICS_ROWS)):
            for column in range(4):
                item = QTableWidgetItem("–")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, column, item)
        table.horizontalHeader().setFixedHeight(24)
        table.setFixedHeight(24 + 22 * len(_STATISTICS_ROWS) + 2 * table.frameWidth())
        return table

    # --------------------------------------------------------------------------- refresh
    @property
    def interval_ms(self) -> int:
        """Return the refresh period in milliseconds."""
        return self.timer.interval()

    def set_interval_ms(self, interval_ms: int) -> None:
        """Change the refresh period (at least 50 ms)."""
        if interval_ms < 50:
            msg = f"interval_ms must be at least 50, got {interval_ms}"
            raise ValueError(msg)
        self.timer.setInterval(interval_ms)

    def refresh(self) -> None:
        """Read the source once and redraw; never raises (errors are shown and logged once)."""
        try:
            snapshot = self.source.snapshot()
        except Exception as error:
            self._show_error(f"cannot read {self.source.description}", error)
            return
        try:
            self._show(snapshot)
        except Exception as error:  # a display bug must not take the dashboard down
            self._show_error("cannot display the figures", error)
            return
        self.snapshot = snapshot
        self.last_error = None

    def _show_error(self, what: str, error: Exception) -> None:
        self.error_count += 1
        text = f"{what}: {type(error).__name__}: {error}"
        self.last_error = text
        if text not in self._logged_errors:
            self._logged_errors.add(text)
            logger.error("resource widget: %s", text, exc_info=error)
        self.health_badge.setText("ERROR")
        _set_level(self.health_badge, "critical")
        kept = "; showing the last figures" if self.snapshot is not None else ""
        retry = duration_text(self.timer.interval() / 1000)
        self.reasons_label.setText(f"{text}{kept}. Retrying every {retry}.")

    def _show(self, snap: ResourceSnapshot) -> None:
        self._show_health(snap)
        self._show_bars(snap)
        self._show_latency(snap)
        self._show_plot(snap)
        self._show_statistics(snap)
        self._show_alerts(snap.alerts)
        self._show_footer(snap)

    def _show_health(self, snap: ResourceSnapshot) -> None:
        if snap.warming_up and snap.state is not HealthState.DISABLED:
            self.health_badge.setText("WARMING UP")
            _set_level(self.health_badge, "info")
        else:
            self.health_badge.setText(snap.state.value.upper())
            _set_level(self.health_badge, _STATE_LEVELS.get(snap.state, "unknown"))
        breaker = snap.breaker
        reasons = list(snap.reasons)
        if breaker is not None:  # the breaker has its own line below
            reasons = [r for r in reasons if not r.startswith("circuit breaker is ")]
        shown = [_short(reason) for reason in reasons[:4]]
        if len(reasons) > 4:
            shown.append(f"... and {len(reasons) - 4} more")
        self.reasons_label.setText("\n".join(shown) if shown else "All figures within limits.")
        self.reasons_label.setToolTip("\n".join(reasons))
        if breaker is None:
            self.breaker_badge.setVisible(False)
            self.breaker_label.setVisible(False)
            return
        self.breaker_badge.setVisible(True)
        self.breaker_badge.setText(f"BREAKER {breaker.state.value}")
        level = "critical" if breaker.load_error else _BREAKER_LEVELS[breaker.state]
        _set_level(self.breaker_badge, level)
        if breaker.state is BreakerState.ACTIVE and not breaker.load_error:
            self.breaker_label.setVisible(False)
            return
        parts = [f"Breaker {breaker.state.value}: {breaker.reason}"]
        if breaker.tripped_at is not None:
            parts.append(f"since {_local_time(breaker.tripped_at)}")
        if breaker.actor:
            parts.append(f"by {breaker.actor}")
        if breaker.state is BreakerState.HALTED:
            if breaker.reset_not_before is not None:
                parts.append(f"manual reset not before {_local_time(breaker.reset_not_before)}")
            else:
                parts.append("manual reset required")
        self.breaker_label.setText(" · ".join(parts))
        self.breaker_label.setVisible(True)

    def _show_bars(self, snap: ResourceSnapshot) -> None:
        limits, latest = snap.limits, snap.latest
        memory = latest.memory_pct if latest is not None else None
        cpu = latest.cpu_pct if latest is not None else None
        stale = snap.stale and not snap.warming_up
        levels_memory = _levels_text(limits.memory_warning_pct, limits.memory_critical_pct, "%")
        levels_cpu = _levels_text(limits.cpu_warning_pct, limits.cpu_critical_pct, "%")
        for bar, metric, value, warning, critical in (
            (self.memory_bar, "memory", memory, limits.memory_warning_pct,
             limits.memory_critical_pct),
            (self.cpu_bar, "cpu", cpu, limits.cpu_warning_pct, limits.cpu_critical_pct),
        ):  # fmt: skip
            alert = snap.alert_levels.get(metric)
            _set_level(bar, _bar_level(value, warning, critical, alert, stale=stale))
        if latest is None:
            self._set_bar(self.memory_bar, None, "warming up")
            self._set_bar(self.cpu_bar, None, "warming up")
            self.memory_detail.setText(levels_memory)
            self.cpu_detail.setText(levels_cpu)
            return
        if memory is None:
            self._set_bar(self.memory_bar, None, "not measured")
        else:
            used = _figure(latest.memory_used_bytes, "bytes")
            text = f"{used} of {_figure(latest.memory_limit_bytes, 'bytes')}"
            self._set_bar(self.memory_bar, memory, f"{text} · {memory:.1f}%")
        memory_parts = [f"limit: {latest.memory_limit_source}"]
        if latest.memory_lean_average_pct is not None:
            memory_parts.append(f"LEAN average {latest.memory_lean_average_pct:.1f}%")
        memory_parts.append(levels_memory)
        self.memory_detail.setText(" · ".join(memory_parts))
        self.memory_bar.setToolTip(f"working set: {latest.memory_used_source}")
        cpus = latest.cpus_available
        of_cpus = f" of {cpus:g} CPU{'' if cpus == 1 else 's'}" if cpus else ""
        if cpu is None:
            warming = "cpu" not in latest.missing_metrics
            self._set_bar(self.cpu_bar, None, "warming up" if warming else "not measured")
        else:
            self._set_bar(self.cpu_bar, cpu, f"{cpu:.1f}%{of_cpus}")
        cpu_parts = []
        if latest.cpu_process_pct is not None:
            cpu_parts.append(f"process {latest.cpu_process_pct:.0f}% of one CPU")
        cpu_parts.append(levels_cpu)
        self.cpu_detail.setText(" · ".join(cpu_parts))
        self.cpu_bar.setToolTip(latest.cpu_source)

    @staticmethod
    def _set_bar(bar: QProgressBar, pct: float | None, text: str) -> None:
        bar.setValue(0 if pct is None else round(min(max(pct, 0.0), 100.0) * 10))
        bar.setFormat(text)  # only %p, %v and %m are placeholders; none follows a % here

    def _show_latency(self, snap: ResourceSnapshot) -> None:
        lat, limits = snap.latency, snap.limits
        level = _bar_level(
            lat.p95_ms, limits.latency_warning_ms, limits.latency_critical_ms,
            snap.alert_levels.get("latency"), stale=snap.stale and not snap.warming_up,
        )  # fmt: skip
        self.latency_label.setProperty("level", level)
        if lat.samples == 0:
            self.latency_label.setText("no broker round trips recorded")
        else:
            style = f"color:{COLOURS[level]}; font-weight:600"
            p95 = f'<span style="{style}">p95 {_figure(lat.p95_ms, "ms")}</span>'
            self.latency_label.setText(
                f"p50 {_figure(lat.p50_ms, 'ms')} &nbsp;·&nbsp; {p95} &nbsp;·&nbsp; "
                f"p99 {_figure(lat.p99_ms, 'ms')}"
            )
        parts = [f"{lat.samples} round trip{'' if lat.samples == 1 else 's'}"]
        parts.append(f"{lat.timeouts_total} timeout{'' if lat.timeouts_total == 1 else 's'}")
        if lat.samples < lat.min_samples:
            parts.append(f"alerts from {lat.min_samples} samples")
        parts.append(_levels_text(limits.latency_warning_ms, limits.latency_critical_ms, " ms"))
        self.latency_detail.setText(" · ".join(parts))

    def _show_plot(self, snap: ResourceSnapshot) -> None:
        history, limits = snap.history, snap.limits
        span = f" (last {duration_text(max(history.seconds_ago))})" if history.seconds_ago else ""
        key = (
            f'<span style="color:{_MEMORY_PEN}">&#9644; memory %</span> &nbsp; '
            f'<span style="color:{_CPU_PEN}">&#9644; CPU %</span> &nbsp; '
            f'<span style="color:{COLOURS["warning"]}">- - warning</span> &nbsp; '
            f'<span style="color:{COLOURS["critical"]}">- - critical</span>'
        )
        self.history_title.setText(
            f"History{span} &nbsp;&nbsp;<span style='font-weight:400'>{key}</span>"
        )
        self.warning_line.setValue(limits.memory_warning_pct)
        self.critical_line.setValue(limits.memory_critical_pct)
        if not history.seconds_ago:
            self.memory_curve.setData([], [])
            self.cpu_curve.setData([], [])
            self.plot.setXRange(-5, 0, padding=0)
            self.plot.setYRange(0, 100, padding=0.02)
            return
        x = [-age / 60 for age in history.seconds_ago]
        for curve, values in ((self.memory_curve, history.memory_pct),
                              (self.cpu_curve, history.cpu_pct)):  # fmt: skip
            if any(math.isfinite(v) for v in values):
                curve.setData(x, list(values), connect="finite")
            else:
                curve.setData([], [])
        finite = [v for v in (*history.memory_pct, *history.cpu_pct) if math.isfinite(v)]
        top = max([100.0, *finite])
        self.plot.setYRange(0, top, padding=0.02)
        self.plot.setXRange(min(min(x), -1.0), 0, padding=0.01)

    def _show_statistics(self, snap: ResourceSnapshot) -> None:
        window = f" ({snap.statistics_window})" if snap.statistics_window else ""
        self.statistics_title.setText(f"Statistics{window}")
        for row, (metric, _, unit) in enumerate(_STATISTICS_ROWS):
            stats = snap.statistics.get(metric)
            values: Sequence[float | None] = (
                (stats.min, stats.avg, stats.max, stats.p95) if stats else (None,) * 4
            )
            for column, value in enumerate(values):
                item = self.statistics_table.item(row, column)
                if item is not None:
                    item.setText(_figure(value, unit))

    def _show_alerts(self, alerts: tuple[AlertLine, ...]) -> None:
        if alerts == self._shown_alerts:
            return
        self._shown_alerts = alerts
        self.alerts_list.clear()
        if not alerts:
            item = QListWidgetItem("No alerts")
            item.setForeground(QBrush(QColor(COLOURS["stale"])))
            self.alerts_list.addItem(item)
            return
        bold = QFont()
        bold.setBold(True)
        for alert in alerts:
            if alert.raised:
                word, colour = alert.severity.value.upper(), COLOURS[alert.severity.value]
            else:
                word, colour = "CLEARED", COLOURS["ok"]
            item = QListWidgetItem(f"{_local_time(alert.time)}  {word}  {_short(alert.message)}")
            item.setForeground(QBrush(QColor(colour)))
            item.setToolTip(f"{alert.time.isoformat()}\n{alert.message}")
            if alert.raised and alert.severity is Severity.CRITICAL:
                item.setFont(bold)
            self.alerts_list.addItem(item)

    def _show_footer(self, snap: ResourceSnapshot) -> None:
        latest = snap.latest
        parts = []
        if latest is not None:
            age = snap.last_sample_age_seconds
            ago = f" ({duration_text(age)} ago)" if age is not None else ""
            parts.append(f"sample #{latest.sequence} at {_local_time(latest.timestamp)}{ago}")
            if latest.active_securities is not None:
                parts.append(f"{latest.active_securities} securities")
            if latest.active_positions is not None:
                parts.append(f"{latest.active_positions} positions")
        parts.append(snap.source)
        self.footer_label.setText(" · ".join(parts))

    # -------------------------------------------------------------------------- shutdown
    def shutdown(self) -> None:
        """Stop refreshing, and close the source if the widget owns it (idempotent)."""
        self.timer.stop()
        if self._owns_source:
            self.source.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Stop refreshing when the window closes."""
        self.shutdown()
        super().closeEvent(event)


def create_resource_widget(
    resource_monitor: ResourceMonitor | None = None,
    node_info: str | None = None,
    *,
    metrics_log: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    source: ResourceSource | None = None,
    interval_ms: int = 1000,
    parent: QWidget | None = None,
) -> ResourceMonitorWidget:
    """Return the resource panel for a dashboard (``layout.addWidget(widget)``).

    Give exactly one of:

    * ``resource_monitor``: a monitor in this process (the widget reads what it samples);
    * ``metrics_log``: a metrics log written by a monitor elsewhere, followed across rotation,
      coloured with ``settings`` (default: ``config/settings.json``);
    * ``source``: any :class:`~ui.resource_sources.ResourceSource`.

    Args:
        resource_monitor: The monitor to show.
        node_info: Header line, e.g. ``"L2-4 (2 cores, 4GB RAM)"`` (default: the target node).
        metrics_log: The metrics log file to follow.
        settings: Settings for ``metrics_log`` (levels, staleness, breaker state file).
        source: A ready source.
        interval_ms: Refresh period (default one second).
        parent: Parent widget.

    Raises:
        TypeError: Not exactly one of ``resource_monitor``, ``metrics_log``, ``source``.
        SettingsError: ``metrics_log`` without ``settings`` and an invalid settings file.
    """
    given = [x for x in (resource_monitor, metrics_log, source) if x is not None]
    if len(given) != 1:
        msg = "give exactly one of resource_monitor, metrics_log or source"
        raise TypeError(msg)
    owns = source is None
    if resource_monitor is not None:
        source = MonitorSource(resource_monitor)
    elif metrics_log is not None:
        if settings is None:
            from utils.settings import load_settings

            settings = load_settings()
        source = MetricsLogSource.from_settings(settings, metrics_log)
    assert source is not None  # noqa: S101 - narrowed above
    return ResourceMonitorWidget(
        source, node_info, interval_ms=interval_ms, owns_source=owns, parent=parent
    )
