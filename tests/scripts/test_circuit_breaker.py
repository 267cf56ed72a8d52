"""The circuit breaker command as a trader runs it: real processes, real state and event files."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, run_command
from utils.circuit_breaker import CircuitBreaker
from utils.clock import ManualClock, format_utc
from utils.metrics_log import read_log

pytestmark = pytest.mark.integration

SCRIPT = str(PROJECT_ROOT / "scripts" / "circuit_breaker.py")
STATE, LOG = "circuit_breaker_state.json", "circuit_breaker_log.json"


def command(*args: str, cwd: Path) -> tuple[int, str, str]:
    done = run_command(sys.executable, SCRIPT, *args, cwd=cwd)
    return done.returncode, done.stdout, done.stderr


def halt(folder: Path, *, minutes_ago: float = 0, cooldown: float = 300) -> CircuitBreaker:
    """Halt a breaker on the default files in ``folder``, as the monitor does."""
    clock = ManualClock(start=datetime.now(UTC) - timedelta(minutes=minutes_ago))
    breaker = CircuitBreaker(
        folder / STATE, folder / LOG, clock=clock, reset_cooldown_seconds=cooldown
    )
    breaker.halt_all_trading(
        "Memory usage critical: 93.1% >= 90.0% (threshold)", metric="memory", value=93.1,
        threshold=90.0, unit="pct", actor="resource_monitor",
    )  # fmt: skip
    return breaker


def status_json(folder: Path, *args: str) -> dict[str, Any]:
    code, out, err = command("status", "--json", *args, cwd=folder)
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_status_without_a_state_file_is_active_from_the_settings_paths(tmp_path: Path) -> None:
    document = status_json(tmp_path)  # config/settings.json: files relative to the folder

    assert document["state"] == "ACTIVE"
    assert document["state_file"] == str(tmp_path / STATE)
    assert document["log_file"] == str(tmp_path / LOG)
    assert document["state_file_exists"] is False
    assert document["events"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # status writes nothing


def test_status_of_a_halted_breaker_shows_why_and_the_deadline(tmp_path: Path) -> None:
    breaker = halt(tmp_path)
    deadline = format_utc(breaker.reset_not_before)  # type: ignore[arg-type]

    code, out, err = command("status", cwd=tmp_path)
    document = status_json(tmp_path, "--events", "1")

    assert code == 0, err
    assert "Circuit breaker: HALTED" in out
    assert "Memory usage critical: 93.1%" in out
    assert "memory at 93.1% (threshold 90.0%)" in out
    assert f"not before {deadline}" in out
    assert (document["state"], document["metric"], document["value"], document["threshold"]) == (
        "HALTED", "memory", 93.1, 90.0,
    )  # fmt: skip
    assert document["tripped_at"] == format_utc(breaker.tripped_at)  # type: ignore[arg-type]
    assert document["reset_not_before"] == deadline
    assert document["reset_allowed_now"] is False
    assert [e["to_state"] for e in document["events"]] == ["HALTED"]


def test_status_of_a_corrupt_state_file_says_it_fails_closed_and_moves_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"format": 1, "state": "SIDEWAYS"}')

    document = status_json(tmp_path, "--state", str(state), "--log", str(tmp_path / "log.json"))

    assert document["state"] == "HALTED"
    assert "fails closed" in document["load_error"]
    assert "SIDEWAYS" in document["load_error"]
    assert state.read_text() == '{"format": 1, "state": "SIDEWAYS"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_reset_before_the_cooldown_is_refused_with_the_deadline_and_audited(
    tmp_path: Path,
) -> None:
    breaker = halt(tmp_path, cooldown=3600)
    deadline = format_utc(breaker.reset_not_before)  # type: ignore[arg-type]

    code, _, err = command(
        "reset", "--actor", "ana", "--reason", "looks fine", "--yes", cwd=tmp_path
    )

    assert code == 2
    assert f"may not be reset before {deadline}" in err
    assert "Traceback" not in err
    assert json.loads((tmp_path / STATE).read_text())["state"] == "HALTED"
    last = read_log(tmp_path / LOG).records[-1]
    assert (last["event"], last["actor"], last["to_state"]) == ("reset_refused", "ana", "HALTED")


def test_a_reset_after_the_cooldown_resumes_trading_and_writes_the_audited_event(
    tmp_path: Path,
) -> None:
    halt(tmp_path, minutes_ago=10, cooldown=300)

    code, out, err = command(
        "reset", "--actor", "ana", "--reason", "moved to an L8-16 node", "--yes", cwd=tmp_path
    )

    assert code == 0, err
    assert "HALTED -> ACTIVE by ana" in out
    assert json.loads((tmp_path / STATE).read_text())["state"] == "ACTIVE"
    last = read_log(tmp_path / LOG).records[-1]
    assert (last["event"], last["action"], last["from_state"], last["to_state"]) == (
        "transition", "reset", "HALTED", "ACTIVE",
    )  # fmt: skip
    assert (last["actor"], last["reason"]) == ("ana", "moved to an L8-16 node")


def test_a_reset_without_a_terminal_and_without_yes_is_refused_and_changes_nothing(
    tmp_path: Path,
) -> None:
    halt(tmp_path, minutes_ago=10)
    state, log = (tmp_path / STATE).read_bytes(), (tmp_path / LOG).read_bytes()

    code, _, err = command("reset", "--actor", "ana", "--reason", "checked", cwd=tmp_path)

    assert code == 2
    assert "without confirmation" in err
    assert "--yes" in err
    assert (tmp_path / STATE).read_bytes() == state
    assert (tmp_path / LOG).read_bytes() == log


def at_a_terminal(folder: Path, answer: str, *args: str) -> tuple[int, str]:
    """Run the command on a pseudo-terminal, answer its prompt, return (exit code, output)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, SCRIPT, *args], stdin=terminal, stdout=terminal, stderr=terminal,
        cwd=folder, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    os.close(terminal)
    output = b""
    answered = False
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/n]" in output:
            os.write(controller, f"{answer}\n".encode())
            answered = True
    os.close(controller)
    return process.wait(timeout=60), output.decode("utf-8", "replace")


def test_a_reset_confirmed_at_the_terminal_resumes_trading(tmp_path: Path) -> None:
    halt(tmp_path, minutes_ago=10)

    code, output = at_a_terminal(tmp_path, "y", "reset", "--actor", "ana", "--reason", "checked")

    assert code == 0, output
    assert "Resume trading (HALTED -> ACTIVE) as ana?" in output
    assert json.loads((tmp_path / STATE).read_text())["state"] == "ACTIVE"


def test_a_reset_declined_at_the_terminal_exits_1_and_changes_nothing(tmp_path: Path) -> None:
    halt(tmp_path, minutes_ago=10)
    state, log = (tmp_path / STATE).read_bytes(), (tmp_path / LOG).read_bytes()

    code, output = at_a_terminal(tmp_path, "n", "reset", "--actor", "ana", "--reason", "checked")

    assert code == 1
    assert "reset cancelled: nothing was changed" in output
    assert (tmp_path / STATE).read_bytes() == state
    assert (tmp_path / LOG).read_bytes() == log


def test_a_reset_of_a_corrupt_state_file_keeps_it_aside_and_resumes(tmp_path: Path) -> None:
    (tmp_path / STATE).write_text("{not json")

    code, out, err = command(
        "reset", "--actor", "ana", "--reason", "checked", "--yes", cwd=tmp_path
    )

    assert code == 0, err
    assert "unreadable" in out
    assert json.loads((tmp_path / STATE).read_text())["state"] == "ACTIVE"
    assert len(list(tmp_path.glob(f"{STATE}.corrupt-*"))) == 1
    events = [(e["event"], e["to_state"]) for e in read_log(tmp_path / LOG).records]
    assert events == [("state_file_unreadable", "HALTED"), ("transition", "ACTIVE")]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["reset", "--actor", " ", "--reason", "why", "--yes"], "--actor and --reason"),
        (["status", "--state", ".", "--log", "log.json"], "is a folder"),
        (["status", "--settings", "missing.json"], "missing.json"),
    ],
    ids=["blank-actor", "state-is-a-folder", "missing-settings"],
)
def test_bad_input_exits_2_with_one_message(tmp_path: Path, args: list[str], named: str) -> None:
    code, out, err = command(*args, cwd=tmp_path)

    assert code == 2
    assert named in err
    assert "Traceback" not in out + err
