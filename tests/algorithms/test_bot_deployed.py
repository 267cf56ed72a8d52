"""The bot as QuantConnect's cloud runs it: staged by the deploy command, or without the runtime.

Each runs the bot on the LEAN stand-in in a fresh Python process (run_on_stand_in.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.algorithms.conftest import BOT_PATH, CONFIG_PATH, PROJECT_ROOT
from tests.conftest import run_command
from utils.lean_project import plan_project

STAND_IN_DIR = Path(__file__).resolve().parent
DRIVER = STAND_IN_DIR / "run_on_stand_in.py"


def run_on_stand_in(
    algorithm: Path,
    store: Path,
    *,
    path: list[Path],
    live: bool = False,
    block: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run the driver with only ``path`` (and the venv's packages) importable; return its JSON."""
    args = [sys.executable, str(DRIVER), str(algorithm), str(store)]
    args += ["--live"] if live else []
    for name in block:
        args += ["--block", name]
    done = run_command(
        *args,
        env={"PYTHONPATH": os.pathsep.join(str(p) for p in path)},
        cwd=store.parent,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def texts(result: dict[str, Any], kind: str) -> list[str]:
    return [text for k, text in result["messages"] if k == kind]


@pytest.fixture(scope="module")
def staged_live_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Stage the bot for a live L2-4 deployment and run main.py from the staged folder."""
    root = tmp_path_factory.mktemp("staged")
    plan = plan_project(
        BOT_PATH,
        settings_path=CONFIG_PATH,
        project_name="options_trading_bot",
        workspace=root / "workspace",
        deployment_node="L2-4",
        deployment_type="live",
    )
    project = plan.write("org-1")
    store = root / "store"
    store.mkdir()
    result = run_on_stand_in(project / "main.py", store, path=[project, STAND_IN_DIR], live=True)
    result["project"] = str(project)
    result["paths"] = plan.paths()
    return result


@pytest.mark.integration
def test_the_staged_bot_ships_its_runtime_and_settings_and_nothing_else(
    staged_live_run: dict[str, Any],
) -> None:
    paths = set(staged_live_run["paths"])

    assert {"main.py", "utils/__init__.py", "utils/resource_monitor.py",
            "utils/circuit_breaker.py", "utils/settings.py",
            "utils/deployed_settings.py"} <= paths  # fmt: skip
    assert not paths & {"utils/algorithm_analyzer.py", "utils/deployment.py", "utils/cli.py"}


@pytest.mark.integration
def test_the_staged_bot_imports_its_own_copy_of_the_runtime(
    staged_live_run: dict[str, Any],
) -> None:
    project = staged_live_run["project"]

    modules = staged_live_run["modules"]
    assert modules["utils.settings"].startswith(project)
    assert modules["utils.deployed_settings"].startswith(project)
    assert not (Path(project) / "config" / "settings.json").exists()


@pytest.mark.integration
def test_the_staged_bot_logs_the_node_it_was_deployed_to_and_trades(
    staged_live_run: dict[str, Any],
) -> None:
    debug = texts(staged_live_run, "debug")

    assert (
        "Compute node: L2-4 (2 cores, 4GB RAM) (monitoring.target_node: the node deployed to)"
        in debug
    )
    assert [kind for kind, _, _ in staged_live_run["orders"]] == ["combo_limit", "combo_limit"]
    report = texts(staged_live_run, "log")
    assert any(line.startswith("  memory_pct: min") for line in report)


@pytest.mark.integration
def test_without_its_runtime_the_bot_still_trades_and_reports_the_monitor_unavailable(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    store.mkdir()

    result = run_on_stand_in(
        BOT_PATH, store, path=[PROJECT_ROOT, STAND_IN_DIR], block=("pydantic",)
    )

    errors = texts(result, "error")
    assert any(
        e.startswith("RESOURCE MONITOR unavailable: the monitor's modules cannot be imported")
        and "pydantic" in e
        for e in errors
    )
    assert len(result["orders"]) == 2  # the two legs of the SPY entry
    report = texts(result, "log")
    assert "  Monitor: unavailable: the monitor's modules cannot be imported" in "\n".join(report)
    assert "  Circuit breaker: none (the monitor is unavailable)" in report
