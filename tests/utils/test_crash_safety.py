"""Kill tests with real processes: SIGKILL mid-write, restart, check nothing complete was lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from utils.circuit_breaker import BreakerState, CircuitBreaker
from utils.metrics_log import JsonLinesWriter, read_log

pytestmark = pytest.mark.integration


def start_child(code: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_lines_until(child: subprocess.Popen[str], count: int) -> list[str]:
    assert child.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while len(lines) < count:
        line = child.stdout.readline()
        if not line:
            assert child.stderr is not None
            pytest.fail(f"child ended early: {child.stderr.read()}")
        lines.append(line.strip())
        assert time.monotonic() < deadline, "child too slow"
    return lines


def kill(child: subprocess.Popen[str]) -> list[str]:
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return out.split()


MONITOR_CHILD = """
    import sys
    from utils import create_resource_monitor
    monitor = create_resource_monitor(config={{
        "metrics_log_path": {log!r}, "metrics_log_max_bytes": 4096, "metrics_log_backups": 100,
    }})
    print("ready", flush=True)
    while True:
        metrics = monitor.update(active_securities=10, active_positions=5)
        print(metrics.sequence, flush=True)  # update returned: the record is written
"""


def test_a_monitor_killed_mid_stream_loses_no_complete_record(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "resource_metrics.json"
    child = start_child(MONITOR_CHILD.format(log=str(log)))
    read_lines_until(child, 1 + 300)  # "ready" and 300 samples: several rotations

    confirmed = [int(n) for n in kill(child) if n.isdigit()]

    contents = read_log(log, include_rotated=True)
    sequences = [r["sequence"] for r in contents.records]
    assert contents.corrupt == []
    assert len(contents.files) > 3  # rotated while writing
    assert sequences == list(range(1, len(sequences) + 1))  # whole, in order, no gap
    assert len(sequences) >= 300 + len(confirmed)  # every sample update returned is there


WRITER_CHILD = """
    import sys
    from utils.metrics_log import JsonLinesWriter
    run = int(sys.argv[1])
    writer = JsonLinesWriter({log!r}, max_bytes=8192, backups=1000)
    i = 0
    while True:
        writer.write({{"run": run, "i": i, "pad": "x" * 200}})
        print(i, flush=True)
        i += 1
"""


def test_repeated_kills_and_restarts_keep_every_record_of_every_run(tmp_path: Path) -> None:
    log = tmp_path / "m.json"
    code = textwrap.dedent(WRITER_CHILD.format(log=str(log)))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for run in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(run)],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        read_lines_until(child, 200)
        kill(child)

    contents = read_log(log, include_rotated=True)

    assert contents.corrupt == []
    for run in range(3):
        indices = [r["i"] for r in contents.records if r["run"] == run]
        assert indices == list(range(len(indices)))
        assert len(indices) >= 200
    with JsonLinesWriter(log) as writer:  # a restart after the last kill appends cleanly
        writer.write({"run": 3, "i": 0})
    assert read_log(log).records[-1] == {"run": 3, "i": 0}


TRIP_CHILD = """
    import time
    from utils.circuit_breaker import CircuitBreaker
    from utils.clock import format_utc
    breaker = CircuitBreaker(state_path={state!r}, log_path={log!r}, reset_cooldown_seconds=600)
    breaker.halt_all_trading("Memory usage critical: 93.1%", metric="memory", value=93.1,
                             threshold=90.0, unit="pct", actor="resource_monitor")
    print(format_utc(breaker.tripped_at), flush=True)
    while True:
        breaker.check_order(1, position=0)
        time.sleep(0.01)
"""

STATUS_CHILD = """
    import json
    from utils.circuit_breaker import CircuitBreaker
    from utils.clock import format_utc
    breaker = CircuitBreaker(state_path={state!r}, log_path={log!r})
    status = breaker.status()
    print(json.dumps({{
        "state": status.state.value, "tripped_at": format_utc(status.tripped_at),
        "allowed": breaker.check_order(1).allowed,
        "cancel": breaker.check_order(cancel=True).allowed,
        "load_error": status.load_error,
    }}), flush=True)
"""


def test_a_process_killed_after_a_trip_restarts_halted(tmp_path: Path) -> None:
    paths = {"state": str(tmp_path / "state.json"), "log": str(tmp_path / "log.json")}
    child = start_child(TRIP_CHILD.format(**paths))
    (tripped_at,) = read_lines_until(child, 1)
    kill(child)

    restarted = start_child(STATUS_CHILD.format(**paths))
    out, err = restarted.communicate(timeout=60)

    assert restarted.returncode == 0, err
    status = json.loads(out)
    assert status == {
        "state": "HALTED",
        "tripped_at": tripped_at,
        "allowed": False,
        "cancel": True,
        "load_error": None,
    }


STORM_CHILD = """
    from utils.circuit_breaker import CircuitBreaker
    breaker = CircuitBreaker(state_path={state!r}, log_path={log!r}, reset_cooldown_seconds=0)
    n = 0
    while True:
        breaker.halt_all_trading(f"storm {{n}}")
        breaker.reset("storm", f"round {{n}}")
        n += 1
        print(n, flush=True)
"""


def test_a_breaker_killed_during_a_storm_of_transitions_reloads_cleanly(tmp_path: Path) -> None:
    paths = {"state": str(tmp_path / "state.json"), "log": str(tmp_path / "log.json")}
    child = start_child(STORM_CHILD.format(**paths))
    read_lines_until(child, 50)
    kill(child)

    saved = json.loads((tmp_path / "state.json").read_text())  # never half-written
    events = read_log(tmp_path / "log.json")
    breaker = CircuitBreaker(state_path=paths["state"], log_path=paths["log"])

    assert breaker.load_error is None
    assert events.corrupt == []
    sequences = [e["sequence"] for e in events.records]
    assert sequences == list(range(1, len(sequences) + 1))
    # The state is saved before its event is logged: at most that one event can be missing.
    assert saved["sequence"] - sequences[-1] in (0, 1)
    if saved["sequence"] == sequences[-1]:
        assert events.records[-1]["to_state"] == saved["state"]
    assert breaker.state is BreakerState(saved["state"])
