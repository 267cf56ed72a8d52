"""The dashboard command as a user runs it: real process, Qt offscreen, real files."""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

import pytest

from tests.conftest import run_command
from tests.ui.demo_log import write_demo_log

pytestmark = [pytest.mark.integration, pytest.mark.qt]

SCRIPT = "scripts/resource_dashboard.py"
OFFSCREEN = {"QT_QPA_PLATFORM": "offscreen"}


def dashboard(*args: str) -> tuple[int, str, str]:
    done = run_command(sys.executable, SCRIPT, *args, env=OFFSCREEN, timeout=120)
    return done.returncode, done.stdout, done.stderr


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


def test_a_screenshot_of_a_followed_log_is_saved(tmp_path: Path) -> None:
    demo = write_demo_log(tmp_path / "demo")
    image = tmp_path / "img" / "widget.png"

    code, out, err = dashboard(
        "--follow", str(demo.metrics_log), "--breaker-state", str(demo.breaker_state),
        "--node", "L2-4", "--screenshot", str(image), "--size", "600x900",
    )  # fmt: skip

    assert code == 0, err
    assert f"saved {image}" in out
    assert png_size(image) == (600, 900)


def test_a_screenshot_of_a_live_local_monitor_is_saved(tmp_path: Path) -> None:
    image = tmp_path / "live.png"

    code, _, err = dashboard("--node", "L2-4", "--screenshot", str(image))

    assert code == 0, err
    assert png_size(image) == (560, 860)
    assert not (tmp_path / "circuit_breaker_state.json").exists()


def test_the_live_monitor_writes_neither_breaker_state_nor_metrics(tmp_path: Path) -> None:
    image = tmp_path / "live.png"

    done = run_command(
        sys.executable, str(Path(SCRIPT).resolve()), "--screenshot", str(image),
        env=OFFSCREEN, cwd=tmp_path, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.png"]


def test_an_unknown_node_exits_2_naming_the_field() -> None:
    code, out, err = dashboard("--node", "X9-99", "--screenshot", os.devnull)

    assert code == 2
    assert "target_node" in err
    assert "X9-99" in err
    assert "Traceback" not in out + err


def test_a_process_that_does_not_exist_exits_2() -> None:
    code, _, err = dashboard("--pid", "999999999", "--screenshot", os.devnull)

    assert code == 2
    assert "--pid 999999999: no such process" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size", "big"], "--size: 'big' is not WIDTHxHEIGHT"),
        (["--interval", "0"], "--interval: 0 s is too short"),
        (["--follow", ".", "--screenshot", "x.png"], "is a folder"),
        (["--follow", "m.json", "--pid", "1"], "exclude each other"),
    ],
)
def test_bad_options_exit_2_with_one_message(args: list[str], message: str) -> None:
    code, out, err = dashboard(*args)

    assert code == 2
    assert message in err
    assert "Traceback" not in out + err


def test_a_broken_settings_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"quantconnect": {"resource_limits": {"cpu_critical_pct": 0}}}')

    code, _, err = dashboard("--settings", str(settings), "--screenshot", os.devnull)

    assert code == 2
    assert "quantconnect.resource_limits.cpu_critical_pct" in err
