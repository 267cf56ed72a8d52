"""The installation check (scripts/test_compute_nodes.py) as a trader runs it: real process,
real monitor samples, real files; nothing it checks may be changed by checking it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, run_command
from utils.circuit_breaker import CircuitBreaker

pytestmark = pytest.mark.integration

SCRIPT = str(PROJECT_ROOT / "scripts" / "test_compute_nodes.py")
SECTIONS = [
    "Configuration loading",
    "Node optimizer validation",
    "Resource monitor functionality",
    "Algorithm analysis tests",
    "Integration verification",
]


def check_suite(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    done = run_command(sys.executable, SCRIPT, *args, cwd=cwd, timeout=120)
    return done.returncode, done.stdout, done.stderr


def write_settings(folder: Path, quantconnect: dict[str, Any] | None = None) -> Path:
    path = folder / "settings.json"
    path.write_text(json.dumps({"quantconnect": quantconnect or {}}), encoding="utf-8")
    return path


def checks_by_name(stdout: str) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_the_seeds_command_runs_as_written() -> None:
    code, out, err = check_suite()

    assert code == 0, out + err
    for section in SECTIONS:
        assert section in out
    assert "0 failed" in out


def test_json_lists_every_section_and_real_samples_and_writes_nothing(tmp_path: Path) -> None:
    settings = write_settings(tmp_path)

    code, out, err = check_suite("--settings", str(settings), "--json", "--offline", cwd=tmp_path)

    assert code == 0, err
    document = json.loads(out)
    assert [s for s in SECTIONS if s in {c["section"] for c in document["checks"]}] == SECTIONS
    assert document["summary"]["fail"] == 0
    assert document["exit_code"] == 0
    checks = checks_by_name(out)
    assert checks["samples"]["status"] == "pass"
    assert "CPU warming up on the first sample, then" in checks["samples"]["detail"]
    assert checks["monitor halts the breaker"]["status"] == "pass"
    assert checks["runtime imports"]["status"] == "pass"
    assert "can be created (not written now)" in checks["metrics log"]["detail"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_a_broken_settings_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {"resource_limits": {"memory_critical_pct": 150}})

    code, out, err = check_suite("--settings", str(settings), "--offline")

    assert code == 2
    assert "quantconnect.resource_limits.memory_critical_pct" in err
    assert "150" in err
    assert "Traceback" not in out + err


def test_a_halted_breaker_from_a_previous_run_fails_loudly(tmp_path: Path) -> None:
    state = tmp_path / "circuit_breaker_state.json"
    breaker = CircuitBreaker(state, tmp_path / "circuit_breaker_log.json")
    breaker.halt_all_trading("Memory usage critical: 93.0%", actor="resource_monitor")
    before = state.read_bytes()
    settings = write_settings(tmp_path)

    code, out, _ = check_suite("--settings", str(settings), "--offline", cwd=tmp_path)

    assert code == 1
    assert "CIRCUIT BREAKER HALTED" in out
    assert "TRADING IS HALTED by the circuit breaker: Memory usage critical: 93.0%" in out
    assert "✗ FAIL" in out
    assert "scripts/circuit_breaker.py" in out
    assert state.read_bytes() == before


def test_a_halted_breaker_is_a_failure_in_json_too(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    CircuitBreaker(state, None).halt_all_trading("manual halt", actor="ana")
    settings = write_settings(tmp_path, {"monitoring": {"breaker_state_path": str(state)}})

    code, out, _ = check_suite("--settings", str(settings), "--offline", "--json", cwd=tmp_path)

    assert code == 1
    check = checks_by_name(out)["circuit breaker state"]
    assert check["status"] == "fail"
    assert "HALTED" in check["detail"]
    assert "by ana: manual halt" in check["detail"]
    log = tmp_path / "circuit_breaker_log.json"
    reset = f'reset --state {state} --log {log} --actor "YOUR NAME" --reason "WHY"'
    assert f"python scripts/circuit_breaker.py {reset}" in check["fix"]


def test_a_corrupt_breaker_state_fails_closed_and_is_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "circuit_breaker_state.json"
    state.write_text('{"format": 1, "state": "SIDEWAYS"}')
    settings = write_settings(tmp_path)

    code, out, _ = check_suite("--settings", str(settings), "--offline", "--json", cwd=tmp_path)

    assert code == 1
    check = checks_by_name(out)["circuit breaker state"]
    assert check["status"] == "fail"
    assert "fails closed" in check["detail"]
    assert state.read_text() == '{"format": 1, "state": "SIDEWAYS"}'
    assert list(tmp_path.glob("*.corrupt-*")) == []


def test_a_reducing_breaker_is_a_warning(tmp_path: Path) -> None:
    state = tmp_path / "circuit_breaker_state.json"
    CircuitBreaker(state, None).reduce_exposure_only("CPU usage high: 80%")
    settings = write_settings(tmp_path)

    code, out, _ = check_suite("--settings", str(settings), "--offline", "--json", cwd=tmp_path)

    assert code == 0
    assert checks_by_name(out)["circuit breaker state"]["status"] == "warn"


def test_a_metrics_log_that_cannot_be_created_fails(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    settings = write_settings(
        tmp_path, {"monitoring": {"metrics_log_path": str(tmp_path / "blocker" / "m.json")}}
    )

    code, out, _ = check_suite("--settings", str(settings), "--offline", "--json", cwd=tmp_path)

    assert code == 1
    check = checks_by_name(out)["metrics log"]
    assert check["status"] == "fail"
    assert "is a file" in check["detail"]


def test_an_existing_metrics_log_is_summarised(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "resource_metrics.json"
    log.parent.mkdir()
    log.write_text(
        '{"sequence": 1, "timestamp": "2025-11-30T14:30:00.000Z", "alerts_active": []}\n'
        "not json\n"
        '{"sequence": 2, "timestamp": "2025-11-30T14:30:30.000Z",'
        ' "alerts_active": ["memory.threshold.warning"]}\n'
    )
    settings = write_settings(tmp_path)

    code, out, _ = check_suite("--settings", str(settings), "--offline", "--json", cwd=tmp_path)

    assert code == 0
    check = checks_by_name(out)["metrics log"]
    assert check["status"] == "warn"
    assert "2 records, last at 2025-11-30T14:30:30.000Z" in check["detail"]
    assert "alerts active: memory.threshold.warning" in check["detail"]
    assert "1 corrupt line(s)" in check["detail"]


def test_a_configured_node_too_small_for_the_algorithm_is_a_warning(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {"compute_nodes": {"live_trading": {"model": "L1-1"}}})

    code, out, _ = check_suite("--settings", str(settings), "--offline", "--json", cwd=tmp_path)

    assert code == 0
    check = checks_by_name(out)["configured vs algorithm"]
    assert check["status"] == "warn"
    assert "the configured L1-1 does not fit" in check["detail"]


def test_an_algorithm_that_cannot_be_analysed_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.py"

    code, out, err = check_suite("--algorithm", str(missing), "--offline")

    assert code == 2
    assert str(missing) in err
    assert "Traceback" not in out + err
