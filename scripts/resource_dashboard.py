"""Open the resource dashboard widget in a window: on a live local monitor, or on a metrics log.

Usage:
    # Watch an algorithm through the metrics log its monitor writes (survives rotation)
    python scripts/resource_dashboard.py --follow logs/resource_metrics.json

    # Watch a local process live (e.g. a local algorithm), memory % against an L2-4's 4 GB
    python scripts/resource_dashboard.py --pid 12345 --node L2-4

    # Render one frame offscreen to a PNG and exit (docs, tests, a headless check)
    python scripts/resource_dashboard.py --follow logs/resource_metrics.json --screenshot x.png

Without ``--follow`` the window shows a live monitor of ``--pid`` (default: this process),
sampled every ``--sample-interval`` seconds by the monitor's own thread. That monitor drives an
in-memory circuit breaker only and logs no metrics: it never touches your algorithm's breaker
state or metrics log. Exit codes: 0 success, 2 bad input (an option, the settings, a missing
PySide6), 1 anything else.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

if __package__ in (None, ""):  # run as a file: make the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer

from utils.cli import command_errors, error_console
from utils.errors import InputError

if TYPE_CHECKING:
    from ui.resource_sources import ResourceSource
    from utils.resource_monitor import ResourceMonitor
    from utils.settings import Settings

app = typer.Typer(add_completion=False, rich_markup_mode=None)

UI_HINT = "the dashboard needs PySide6 and pyqtgraph: pip install -e '.[ui]' (or `make test` once)"


@app.command()
def main(
    follow: Annotated[
        Path | None,
        typer.Option("--follow", help="Follow this metrics log (logs/resource_metrics.json)."),
    ] = None,
    pid: Annotated[
        int | None, typer.Option("--pid", help="Live mode: the process to watch (default: this).")
    ] = None,
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            help="Node model, e.g. L2-4: live mode measures memory % against "
            "its RAM; both modes show it in the header.",
        ),
    ] = None,
    node_info: Annotated[
        str | None, typer.Option("--node-info", help="Header text instead of the node's specs.")
    ] = None,
    settings_path: Annotated[
        Path | None,
        typer.Option("--settings", help="Settings file (default config/settings.json)."),
    ] = None,
    breaker_state: Annotated[
        Path | None,
        typer.Option(
            "--breaker-state",
            help="Follow mode: the breaker state file to show "
            "(default: the settings' breaker_state_path).",
        ),
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between window refreshes.")
    ] = 1.0,
    sample_interval: Annotated[
        float, typer.Option("--sample-interval", help="Live mode: seconds between samples.")
    ] = 1.0,
    screenshot: Annotated[
        Path | None,
        typer.Option("--screenshot", help="Render offscreen, save this PNG and exit."),
    ] = None,
    size: Annotated[str, typer.Option("--size", help="Window size WIDTHxHEIGHT.")] = "560x860",
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
) -> None:
    """Show memory, CPU, latency, health, breaker and alerts of a monitor, live."""
    with command_errors(verbose=verbose):
        width, height = _parse_size(size)
        if interval < 0.05:
            msg = f"--interval: {interval:g} s is too short; use 0.05 s or more"
            raise InputError(msg)
        if follow is not None and pid is not None:
            msg = "--follow and --pid exclude each other: follow a log, or watch a pid"
            raise InputError(msg)
        from utils.settings import load_settings

        settings = load_settings(settings_path)
        if screenshot is not None:
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _check_ui_installed()
        monitor = None
        if follow is not None:
            source = _follow_source(follow, settings, breaker_state)
        else:
            monitor = _live_monitor(settings, pid, node, sample_interval)
            from ui.resource_sources import MonitorSource

            source = MonitorSource(monitor)
        header = node_info
        if header is None and node is not None:
            from ui.resource_sources import describe_node

            header = describe_node(node.upper())
        from utils.system_probe import MIN_CPU_INTERVAL_SECONDS

        warmup = max(MIN_CPU_INTERVAL_SECONDS, min(sample_interval, 1.0))  # a CPU figure needs it
        _run_window(
            source, header, monitor, interval=interval, screenshot=screenshot,
            size=(width, height), warmup=warmup,
        )  # fmt: skip


def _parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or int(width) < 200 or int(height) < 200:
        msg = f"--size: {text!r} is not WIDTHxHEIGHT with both at least 200, e.g. 560x860"
        raise InputError(msg)
    return int(width), int(height)


def _check_ui_installed() -> None:
    try:
        import pyqtgraph  # noqa: F401
        import PySide6.QtWidgets  # noqa: F401 - fail early, with the install hint
    except ImportError as error:
        msg = f"{UI_HINT} ({error})"
        raise InputError(msg) from None


def _follow_source(path: Path, settings: Settings, breaker_state: Path | None) -> ResourceSource:
    from ui.resource_sources import MetricsLogSource

    if path.is_dir():
        msg = f"--follow {path}: is a folder; give the metrics log file"
        raise InputError(msg)
    if not path.exists():
        error_console().print(f"{path} does not exist yet: waiting for the first sample")
    options = {} if breaker_state is None else {"breaker_state_path": breaker_state}
    return MetricsLogSource.from_settings(settings, path, **options)


def _live_monitor(
    settings: Settings, pid: int | None, node: str | None, sample_interval: float
) -> ResourceMonitor:
    from utils.circuit_breaker import CircuitBreaker
    from utils.resource_monitor import create_resource_monitor
    from utils.system_probe import HostProbe

    probe = None
    if pid is not None:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        try:
            probe = HostProbe(process=psutil.Process(pid))
        except psutil.NoSuchProcess:
            msg = f"--pid {pid}: no such process"
            raise InputError(msg) from None
        except psutil.AccessDenied:
            msg = f"--pid {pid}: access denied (run as its user)"
            raise InputError(msg) from None
    config: dict[str, object] = {
        "enabled": True,
        "check_interval_seconds": sample_interval,
        "log_metrics": False,  # the user's metrics log belongs to the algorithm
    }
    if node is not None:
        config["target_node"] = node.upper()
    breaker = CircuitBreaker(state_path=None, log_path=None)  # in memory: never the real one
    return create_resource_monitor(
        config=config, circuit_breaker=breaker, settings=settings, probe=probe
    )


def _run_window(
    source: ResourceSource,
    node_info: str | None,
    monitor: ResourceMonitor | None,
    *,
    interval: float,
    screenshot: Path | None,
    size: tuple[int, int],
    warmup: float,
) -> None:
    from PySide6.QtWidgets import QApplication

    from ui.resource_monitor_widget import ResourceMonitorWidget

    app = QApplication.instance() or QApplication([sys.argv[0]])
    if monitor is not None:
        if screenshot is not None:  # two samples: the first CPU figure is "warming up"
            monitor.update()
            time.sleep(warmup)
            monitor.update()
        else:
            monitor.start()
    widget = ResourceMonitorWidget(
        source, node_info, interval_ms=round(interval * 1000), owns_source=True
    )
    widget.setWindowTitle(f"Resources · {node_info}" if node_info else "Resources")
    widget.resize(*size)
    try:
        widget.show()
        if screenshot is not None:
            app.processEvents()
            widget.refresh()
            app.processEvents()
            _save(widget.grab(), screenshot)
            print(f"saved {screenshot}")
            return
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl+C closes the window
        app.exec()
    finally:
        widget.shutdown()
        if monitor is not None:
            monitor.close()


def _save(pixmap: object, path: Path) -> None:
    from PySide6.QtGui import QPixmap

    assert isinstance(pixmap, QPixmap)  # noqa: S101 - narrowing for the type checker
    path.parent.mkdir(parents=True, exist_ok=True)
    if not pixmap.save(str(path)):
        msg = f"--screenshot {path}: cannot save an image there (use .png or .jpg)"
        raise InputError(msg)


if __name__ == "__main__":
    app()
