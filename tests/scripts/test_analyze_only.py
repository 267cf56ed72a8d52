"""``deploy_with_nodes.py ALGORITHM --analyze-only`` (and ``--json``) as a trader uses it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from scripts.deploy_with_nodes import app
from tests.conftest import run_command

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "algorithms"
SEED_BOT = FIXTURES / "snake" / "seed_bot.py"
DOCS = (
    Path(__file__).resolve().parent.parent.parent / "docs" / "infrastructure" / "COMPUTE_NODES.md"
)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args], env={"COLUMNS": "100"})
    return result.exit_code, result.output


def _document(algorithm: Path) -> dict[str, Any]:
    code, out = _run(str(algorithm), "--analyze-only", "--json")
    assert code == 0, out
    document: dict[str, Any] = json.loads(out)
    return document


# -- the human report -------------------------------------------------------------------------


def test_the_report_reproduces_the_seeds_breakdown_and_flags_the_l2_4() -> None:
    code, out = _run(str(SEED_BOT), "--analyze-only")
    assert code == 0, out
    for text in (
        "Memory Requirements Breakdown",
        "Option contracts (500)",
        "2,500",
        "UI dashboard",
        "TOTAL",
        "4,750 MB (4.6 GB)",
        "Node Capacity (L2-4, configured)",
        "4,096 MB (4.0 GB)",
        "BACKTESTING: B8-16",
        "RESEARCH: R8-16",
        "LIVE TRADING: L8-16-GPU",
        "Configured L2-4: DOES NOT FIT",
        "at most 56 contracts per chain",
        "TOTAL MONTHLY COST: $442/month",
        "Budget (development): $34/month",
    ):
        assert text in out, text


def test_the_report_shows_the_source_line_behind_each_figure() -> None:
    code, out = _run(str(SEED_BOT), "--analyze-only")
    assert code == 0
    assert re.search(r"line 35\s+option = self\.add_option\(ticker", out)
    assert "line 40  self.risk = RiskManager()" in out


def test_assumptions_name_the_bound_used() -> None:
    code, out = _run(str(FIXTURES / "snake" / "dynamic.py"), "--analyze-only")
    assert code == 0
    assert "Assumptions (what the code does not show)" in out
    assert "resource_limits.max_option_chains" in out


# -- the JSON document ------------------------------------------------------------------------


def test_json_has_the_fields_the_issue_asks_for() -> None:
    document = _document(SEED_BOT)
    requirements = document["requirements"]
    assert (
        requirements["num_securities"],
        requirements["num_option_chains"],
        requirements["contracts_per_chain"],
    ) == (10, 5, 100)
    assert requirements["resolution"] == "minute"
    assert requirements["use_llm_analysis"] is True
    assert requirements["use_ml_training"] is False
    backtesting = document["recommendations"]["backtesting"]
    assert (backtesting["node"], backtesting["monthly_cost"]) == ("B8-16", 28)
    assert backtesting["estimated_memory_mb"] == 11125
    assert backtesting["fits"] is True
    live = document["recommendations"]["live_trading"]
    assert live["node"] == "L8-16-GPU"
    assert live["configured_node_fits"] is False
    assert live["configured"]["max_contracts_per_chain"] == 56
    assert document["total_monthly_cost"] == 442
    assert document["memory"]["total_mb"] == 4750


def test_json_sources_give_file_line_and_code() -> None:
    document = _document(FIXTURES / "project_snake")
    chains = document["requirements"]["sources"]["num_option_chains"]
    assert chains[0]["file"].endswith("project_snake/base.py")
    assert chains[0]["line"] == 14
    assert "add_option" in chains[0]["code"]


def test_json_is_one_document_on_stdout_and_nothing_else() -> None:
    code, out = _run(str(SEED_BOT), "--analyze-only", "--json")
    assert code == 0
    assert out.lstrip().startswith("{")
    json.loads(out)  # a second document or a table would make this fail


@pytest.mark.parametrize(
    "algorithm",
    [
        SEED_BOT,
        FIXTURES / "snake" / "dynamic.py",
        FIXTURES / "snake" / "universes.py",
        FIXTURES / "snake" / "ml_llm.py",
        FIXTURES / "project_snake",
    ],
)
def test_every_field_of_the_json_document_is_documented(algorithm: Path) -> None:
    document = _document(algorithm)
    schema = DOCS.read_text(encoding="utf-8").split("## Analysis JSON schema", 1)[1]
    schema = schema.split("\n## ", 1)[0]
    paths = dict.fromkeys(_shape(path) for path in _paths(document))
    missing = [path for path in paths if f"`{path}`" not in schema]
    assert not missing, f"document these in COMPUTE_NODES.md: {missing}"


_FINDINGS = (
    r"requirements\.(?:history_requests|warm_ups|scheduled_events|ml_libraries|llm_apis)\[\]"
)


def _shape(path: str) -> str:
    """Return the documented name of a path: shared shapes (a source line, a finding) once."""
    path = re.sub(
        r"^.*(?:\.source|\.filter_source|\.<field>\[\])\.(file|line|code|note)$",
        r"<source>.\1",
        path,
    )
    return re.sub(f"^{_FINDINGS}", "<finding>", path)


def _paths(value: Any, prefix: str = "") -> list[str]:
    """Return the dotted paths of a document's keys (lists as ``[]``, environments as ``<env>``)."""
    paths: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = key
            if prefix in ("recommendations", "memory.by_environment"):
                name = "<environment>"
            elif prefix.endswith("sources"):
                name = "<field>"
            path = f"{prefix}.{name}" if prefix else name
            if path not in paths:
                paths.append(path)
            paths.extend(p for p in _paths(item, path) if p not in paths)
    elif isinstance(value, list) and value:
        paths.extend(p for p in _paths(value[0], prefix + "[]") if p not in paths)
    return paths


# -- bad input --------------------------------------------------------------------------------


def test_a_syntax_error_exits_2_with_file_and_line_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("class A(QCAlgorithm):\n    def initialize(self)\n", encoding="utf-8")
    code, out = _run(str(path), "--analyze-only")
    assert code == 2
    assert f"{path}:2: syntax error" in " ".join(out.split())
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.py", None, "file not found"),
        ("algo.cs", "class A {}", "C# algorithm"),
        ("plain.py", "x = 1\n", "no class derives from QCAlgorithm"),
    ],
)
def test_bad_algorithms_exit_2_with_a_clear_message(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    code, out = _run(str(path), "--analyze-only")
    assert code == 2
    assert message in " ".join(out.split())


# -- the real command, as `make run` runs it --------------------------------------------------


@pytest.mark.integration
def test_the_bundled_algorithm_is_analysed_as_make_run_does() -> None:
    done = run_command(
        sys.executable,
        "scripts/deploy_with_nodes.py",
        "algorithms/options_trading_bot.py",
        "--analyze-only",
    )
    assert done.returncode == 0, done.stderr
    for text in (
        "Algorithm analysis: algorithms/options_trading_bot.py",
        "Requirements",
        "Memory Requirements Breakdown",
        "Recommended nodes",
        "Cost breakdown",
    ):
        assert text in done.stdout


@pytest.mark.integration
def test_json_from_the_real_command_parses() -> None:
    done = run_command(
        sys.executable,
        "scripts/deploy_with_nodes.py",
        "algorithms/options_trading_bot.py",
        "--analyze-only",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document["recommendations"]) == {"backtesting", "research", "live_trading"}


@pytest.mark.integration
def test_the_analysis_path_loads_no_qt_pandas_lean_or_psutil() -> None:
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['deploy_with_nodes.py', 'algorithms/options_trading_bot.py',"
        " '--analyze-only', '--json']\n"
        "try:\n"
        "    runpy.run_path('scripts/deploy_with_nodes.py', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "banned = ('PySide6', 'pyqtgraph', 'pandas', 'lean', 'psutil')\n"
        "sys.stderr.write('LOADED=' + ','.join(sorted({m.split('.')[0] for m in sys.modules"
        " if m.split('.')[0] in banned})))\n"
    )
    done = run_command(sys.executable, "-c", probe)
    assert "LOADED=" in done.stderr, done.stderr
    assert done.stderr.rsplit("LOADED=", 1)[1].strip() == ""
