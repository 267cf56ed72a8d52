"""The deploy command as a user runs it: real processes, real output, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_command

pytestmark = pytest.mark.integration

SCRIPT = "scripts/deploy_with_nodes.py"


def _deploy(*args: str) -> tuple[int, str, str]:
    import sys

    done = run_command(sys.executable, SCRIPT, *args)
    return done.returncode, done.stdout, done.stderr


def test_list_nodes_json_lists_every_model_with_price_unit_and_date() -> None:
    code, out, _ = _deploy("--list-nodes", "--json")
    assert code == 0
    nodes = {n["model"]: n for n in json.loads(out)["nodes"]}
    assert len(nodes) == 18
    assert nodes["B8-16"]["cores"] == 8
    assert nodes["O2-8"]["price_unit"] == "hour"
    assert all(n["price_as_of"] for n in nodes.values())


def test_list_nodes_prints_a_table_of_every_family() -> None:
    code, out, _ = _deploy("--list-nodes")
    assert code == 0
    for word in ("Backtesting", "Research", "Live Trading", "Optimization", "L8-16-GPU"):
        assert word in out


def test_bad_settings_exit_2_with_the_field_and_no_traceback(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"quantconnect": {"resource_limits": {"memory_warning_pct": 101}}}')
    code, out, err = _deploy("--list-nodes", "--settings", str(settings))
    assert code == 2
    assert "quantconnect.resource_limits.memory_warning_pct" in err
    assert "Traceback" not in err + out


def test_verbose_shows_the_traceback(tmp_path: Path) -> None:
    code, _, err = _deploy(
        "--list-nodes", "--settings", str(tmp_path / "missing.json"), "--verbose"
    )
    assert code == 2
    assert "Traceback" in err


def test_a_reader_that_goes_away_is_not_an_internal_error() -> None:
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write gets EPIPE
    done = subprocess.run(
        [sys.executable, SCRIPT, "--list-nodes", "--json"],
        stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60, check=False,
    )  # fmt: skip
    os.close(write_end)
    assert "internal error" not in done.stderr
    assert done.returncode == 0
