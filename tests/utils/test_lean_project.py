"""Staging a LEAN workspace: what ships to QuantConnect, the settings module, and refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from utils.errors import SettingsError
from utils.lean_project import (
    SETTINGS_MODULE_FILE,
    LeanProjectPlan,
    StagingError,
    check_project_name,
    cloud_project_id,
    plan_project,
)
from utils.settings import DEFAULT_SETTINGS_PATH, parse_settings

ALGORITHM = """\
from AlgorithmImports import *
from utils import create_resource_monitor
from utils.settings import load_settings


class Bot(QCAlgorithm):
    def initialize(self):
        self.settings_ = load_settings()
"""

FIXED_TIME = datetime(2025, 11, 30, 12, 0, tzinfo=UTC)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def fake_utils(tmp_path: Path) -> Path:
    """A small utils package: a runtime chain, a desktop module, an export table."""
    utils = tmp_path / "fake_utils"
    write(
        utils / "__init__.py",
        "import importlib\nfrom typing import TYPE_CHECKING\n"
        "_EXPORTS = {'create_resource_monitor': 'utils.resource_monitor',\n"
        "            'NodeOptimizer': 'utils.node_optimizer'}\n"
        "if TYPE_CHECKING:\n    from utils.node_optimizer import NodeOptimizer\n",
    )
    write(utils / "errors.py", "class ProjectError(Exception):\n    pass\n")
    write(
        utils / "settings.py",
        "import json\nfrom pydantic import BaseModel\nfrom utils.errors import ProjectError\n",
    )
    write(
        utils / "resource_monitor.py",
        "import psutil\nfrom utils.settings import load_settings\n"
        "def later():\n    from .metrics_log import append\n",
    )
    write(utils / "metrics_log.py", "import os\n")
    write(utils / "node_optimizer.py", "from rich.table import Table\n")
    write(utils / "console_report.py", "from rich.table import Table\n")
    return utils


def plan(algorithm: Path, utils: Path | None = None, **kwargs: object) -> LeanProjectPlan:
    options: dict[str, object] = {
        "settings_path": DEFAULT_SETTINGS_PATH,
        "project_name": "Bot",
        "workspace": algorithm.parent / "build",
        "deployment_node": "L2-4",
        "deployment_type": "live",
        "clock": lambda: FIXED_TIME,
    }
    if utils is not None:
        options["utils_dir"] = utils
    options.update(kwargs)
    return plan_project(algorithm, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- what ships


def test_the_algorithm_becomes_main_py_and_its_runtime_imports_ship(
    tmp_path: Path, fake_utils: Path
) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    staged = plan(algorithm, fake_utils)

    files = {f.path: f for f in staged.files}
    assert files["main.py"].content == ALGORITHM
    assert sorted(p for p in files if p.startswith("utils/")) == [
        "utils/__init__.py",
        "utils/deployed_settings.py",
        "utils/errors.py",
        "utils/metrics_log.py",  # imported lazily inside a function: still needed
        "utils/resource_monitor.py",
        "utils/settings.py",
    ]


def test_desktop_modules_named_only_under_type_checking_do_not_ship(
    tmp_path: Path, fake_utils: Path
) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    paths = plan(algorithm, fake_utils).paths()

    assert "utils/node_optimizer.py" not in paths
    assert "utils/console_report.py" not in paths


def test_an_algorithm_that_imports_no_utils_ships_alone(tmp_path: Path, fake_utils: Path) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", "from AlgorithmImports import *\n")

    staged = plan(algorithm, fake_utils)

    assert staged.paths() == ["main.py"]
    assert "not shipped" in staged.settings_note


def test_helper_files_of_the_algorithm_folder_ship_with_it(
    tmp_path: Path, fake_utils: Path
) -> None:
    write(tmp_path / "algo" / "base_strategy.py", "from helpers import clamp\nclass Base: ...\n")
    write(tmp_path / "algo" / "helpers.py", "def clamp(x):\n    return x\n")
    write(tmp_path / "algo" / "unrelated.py", "X = 1\n")
    algorithm = write(tmp_path / "algo" / "bot.py", "from base_strategy import Base\n")

    paths = plan(algorithm, fake_utils).paths()

    assert paths == ["main.py", "base_strategy.py", "helpers.py"]


def test_a_file_with_a_bom_is_staged_without_it(tmp_path: Path, fake_utils: Path) -> None:
    algorithm = tmp_path / "algo" / "bot.py"
    algorithm.parent.mkdir()
    algorithm.write_bytes(b"\xef\xbb\xbffrom AlgorithmImports import *\n")

    assert plan(algorithm, fake_utils).files[0].content == "from AlgorithmImports import *\n"


def test_the_real_runtime_ships_without_desktop_or_deploy_code(tmp_path: Path) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    paths = plan(algorithm).paths()

    assert {"utils/__init__.py", "utils/settings.py", "utils/errors.py",
            "utils/node_catalog.py", "utils/resource_monitor.py",
            f"utils/{SETTINGS_MODULE_FILE}"} <= set(paths)  # fmt: skip
    for desktop in ("cli", "console_report", "deployment", "qc_api", "lean_cli", "lean_project"):
        assert f"utils/{desktop}.py" not in paths


# ---------------------------------------------------------------------------- refusals


def test_an_algorithm_importing_desktop_code_is_refused_with_file_and_line(
    tmp_path: Path, fake_utils: Path
) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", "import os\nfrom utils import NodeOptimizer\n")

    with pytest.raises(StagingError) as caught:
        plan(algorithm, fake_utils)

    message = str(caught.value)
    assert f"{algorithm}:2" in message
    assert "utils.node_optimizer" in message
    assert "`from utils import NodeOptimizer`" in message


def test_a_runtime_module_importing_rich_is_refused(tmp_path: Path, fake_utils: Path) -> None:
    write(fake_utils / "metrics_log.py", "import os\nimport rich\n")
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    with pytest.raises(StagingError, match=r"metrics_log.py:2: imports 'rich'"):
        plan(algorithm, fake_utils)


def test_a_missing_runtime_module_is_refused(tmp_path: Path, fake_utils: Path) -> None:
    (fake_utils / "metrics_log.py").unlink()
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    with pytest.raises(StagingError, match=r"utils/metrics_log.py does not exist"):
        plan(algorithm, fake_utils)


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path, fake_utils: Path) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", "class Bot(:\n")

    with pytest.raises(StagingError, match=r"bot.py:1: syntax error"):
        plan(algorithm, fake_utils)


@pytest.mark.parametrize("name", ["", "a/b", "CON", "live", " lead", "x" * 65, "bad:name"])
def test_project_names_the_lean_cli_would_rename_are_refused(name: str) -> None:
    with pytest.raises(StagingError, match="--project"):
        check_project_name(name)


@pytest.mark.parametrize("name", ["options_trading_bot", "Bot 2", "a", "v1.2-x"])
def test_plain_project_names_are_kept(name: str) -> None:
    assert check_project_name(name) == name


# ---------------------------------------------------------------------------- settings module


def deployed_settings(staged_files: dict[str, str]) -> dict[str, object]:
    namespace: dict[str, object] = {}
    exec(staged_files[f"utils/{SETTINGS_MODULE_FILE}"], namespace)  # noqa: S102 - our own output
    return namespace


def test_the_settings_module_holds_the_validated_settings_and_the_node(tmp_path: Path) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    staged = {f.path: f.content for f in plan(algorithm).files}

    module = deployed_settings(staged)
    assert module["DEPLOYMENT_NODE"] == "L2-4"
    assert module["DEPLOYMENT_TYPE"] == "live"
    assert module["GENERATED_AT"] == "2025-11-30T12:00:00+00:00"
    text = module["SETTINGS_JSON"]
    assert isinstance(text, str)
    settings = parse_settings(text)
    assert settings.quantconnect.monitoring.target_node == "L2-4"
    original = json.loads(DEFAULT_SETTINGS_PATH.read_text())
    assert (
        json.loads(text)["quantconnect"]["compute_nodes"]
        == original["quantconnect"]["compute_nodes"]
    )


def test_a_target_node_set_by_the_user_is_kept(tmp_path: Path) -> None:
    data = json.loads(DEFAULT_SETTINGS_PATH.read_text())
    data["quantconnect"]["monitoring"]["target_node"] = "L1-2"
    settings_path = write(tmp_path / "settings.json", json.dumps(data))
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    staged = {f.path: f.content for f in plan(algorithm, settings_path=settings_path).files}

    text = deployed_settings(staged)["SETTINGS_JSON"]
    assert isinstance(text, str)
    assert parse_settings(text).quantconnect.monitoring.target_node == "L1-2"


def test_invalid_settings_stop_the_staging(tmp_path: Path) -> None:
    settings_path = write(
        tmp_path / "settings.json",
        '{"quantconnect": {"resource_limits": {"memory_warning_pct": 120}}}',
    )
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    with pytest.raises(SettingsError, match="memory_warning_pct"):
        plan(algorithm, settings_path=settings_path)


@pytest.mark.integration
def test_the_staged_runtime_loads_its_settings_without_config_json(tmp_path: Path) -> None:
    """What LEAN's cloud does: import utils from the project folder; no config/settings.json."""
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)
    project = plan(algorithm).write("org-1")
    script = (
        "import sys; sys.path.insert(0, '.')\n"
        "from utils.settings import load_settings\n"
        "s = load_settings()\n"
        "qc = s.quantconnect\n"
        "print(qc.monitoring.target_node, qc.compute_nodes.live_trading.model)"
    )

    done = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=project, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["L2-4", "L2-4"]
    assert not (project / "config").exists()


# ---------------------------------------------------------------------------- the workspace


def test_write_creates_the_workspace_the_lean_cli_needs(tmp_path: Path, fake_utils: Path) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)
    staged = plan(algorithm, fake_utils)

    project = staged.write("org-123")

    assert json.loads((staged.workspace / "lean.json").read_text()) == {
        "organization-id": "org-123"
    }
    assert json.loads((project / "config.json").read_text()) == {"algorithm-language": "Python"}
    assert (project / "main.py").read_text() == ALGORITHM
    assert (project / "utils" / "resource_monitor.py").is_file()


def test_restaging_keeps_the_cloud_id_and_removes_stale_files(
    tmp_path: Path, fake_utils: Path
) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)
    staged = plan(algorithm, fake_utils)
    project = staged.write("org-1")
    config = json.loads((project / "config.json").read_text())
    (project / "config.json").write_text(
        json.dumps({**config, "cloud-id": 77, "organization-id": "org-1"})
    )
    write(project / "old_helper.py", "X = 1\n")

    staged.write("org-1")

    assert cloud_project_id(project) == 77
    assert not (project / "old_helper.py").exists()
    assert (project / "main.py").exists()


def test_restaging_for_another_organisation_forgets_the_cloud_id(
    tmp_path: Path, fake_utils: Path
) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)
    staged = plan(algorithm, fake_utils)
    project = staged.write("org-1")
    (project / "config.json").write_text(
        json.dumps({"algorithm-language": "Python", "cloud-id": 77, "organization-id": "org-1"})
    )

    staged.write("org-2")

    assert cloud_project_id(project) is None


def test_a_folder_that_is_not_a_staged_project_is_never_cleared(
    tmp_path: Path, fake_utils: Path
) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)
    staged = plan(algorithm, fake_utils)
    precious = write(staged.project_dir / "notes.txt", "mine")

    with pytest.raises(StagingError, match="not a LEAN project staged by this command"):
        staged.write("org-1")

    assert precious.read_text() == "mine"


def test_planning_writes_nothing(tmp_path: Path, fake_utils: Path) -> None:
    algorithm = write(tmp_path / "algo" / "bot.py", ALGORITHM)

    staged = plan(algorithm, fake_utils)

    assert not staged.workspace.exists()
