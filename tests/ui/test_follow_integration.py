"""The widget follows a metrics log that another process is writing and rotating (real Qt
event loop, real writer process, real files)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from tests.conftest import PROJECT_ROOT
from ui import create_resource_widget
from ui.resource_sources import MetricsLogSource
from utils.metrics_log import rotated_files

pytestmark = [pytest.mark.integration, pytest.mark.qt]

SAMPLES = 150

# A real monitor (real probe, real clock) writing every sample to a small, rotating log.
WRITER = """
import sys, time
from utils.resource_monitor import create_resource_monitor
monitor = create_resource_monitor(config={
    "check_interval_seconds": 1, "metrics_log_path": sys.argv[1],
    "metrics_log_max_bytes": 4096, "metrics_log_backups": 50,
})
for _ in range(int(sys.argv[2])):
    monitor.update(active_securities=1)
    time.sleep(0.01)
monitor.close()
"""


def test_the_widget_follows_a_log_another_process_appends_and_rotates(
    qtbot: QtBot, tmp_path: Path
) -> None:
    log = tmp_path / "resource_metrics.json"
    source = MetricsLogSource(log)
    widget = create_resource_widget(source=source, interval_ms=50)
    qtbot.addWidget(widget)

    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log), str(SAMPLES)], cwd=PROJECT_ROOT
    )
    try:
        qtbot.waitUntil(lambda: source.received == SAMPLES, timeout=30_000)
    finally:
        writer.wait(timeout=30)

    assert writer.returncode == 0
    assert len(rotated_files(log)) > 5, "the writer rotated several times while followed"
    snapshot = widget.snapshot
    assert snapshot is not None
    assert snapshot.latest is not None
    assert snapshot.latest.sequence == SAMPLES
    assert snapshot.statistics["memory_pct"].samples == SAMPLES
    assert widget.memory_bar.value() > 0
