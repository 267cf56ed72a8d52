"""The deploy command end to end: our script, the real LEAN CLI (PyPI 1.0.230), a fake API.

The CLI runs as a subprocess with ``QC_API=local`` against the fake QuantConnect API on
``127.0.0.1:5612`` and a home of its own (credentials, market-data refresh off, update checks
done); its modules cache file is provided here (it would download it). One server per module;
every test starts from a fresh service state and a workspace of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_command
from tests.fake_qc_api import FakeQuantConnect, FakeServer, fixed_port_lock, make_node
from tests.fake_qc_api.lean_cli_setup import (
    lean_package_dir,
    minimal_modules_file,
    prepare_lean_home,
    write_credentials,
)

pytestmark = pytest.mark.integration

SCRIPT = "scripts/deploy_with_nodes.py"
USER = "271828"
TOKEN = hashlib.sha256(b"integration-test-token").hexdigest()
CHANGES = {"projects/create", "projects/update", "projects/nodes/update", "backtests/create",
           "live/create", "optimizations/create"}  # fmt: skip

ALGORITHM = """\
from AlgorithmImports import *

from utils import CircuitBreaker, create_resource_monitor
from utils.settings import load_settings


class DeployedBot(QCAlgorithm):
    def initialize(self):
        self.set_start_date(2024, 1, 1)
        self.set_cash(100_000)
        self.add_equity("SPY", Resolution.MINUTE)
        option = self.add_option("SPY", Resolution.MINUTE)
        option.set_filter(lambda u: u.strikes(-5, 5).expiration(7, 45))
        self.node_settings = load_settings()
        self.monitor = create_resource_monitor(circuit_breaker=CircuitBreaker())
"""


@dataclass
class Cloud:
    server: FakeServer
    home: Path
    lean: Path
    algorithm: Path

    @property
    def fake(self) -> FakeQuantConnect:
        return self.server.fake


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    lean = Path(sysconfig.get_paths()["scripts"]) / "lean"
    assert lean.is_file(), f"the LEAN CLI is not installed at {lean}"
    root = tmp_path_factory.mktemp("deploy")
    home = root / "home"
    prepare_lean_home(home, user_id=USER, api_token=TOKEN)
    algorithm = root / "algorithms" / "deployed_bot.py"
    algorithm.parent.mkdir()
    algorithm.write_text(ALGORITHM)
    fake = FakeQuantConnect(user_id=USER, api_token=TOKEN)
    with (
        fixed_port_lock(),
        minimal_modules_file(lean_package_dir()),
        FakeServer(fake, port=5612) as server,
    ):
        yield Cloud(server=server, home=home, lean=lean, algorithm=algorithm)


@pytest.fixture
def fake(cloud: Cloud) -> FakeQuantConnect:
    """A fresh service state for each test."""
    cloud.server.fake = FakeQuantConnect(user_id=USER, api_token=TOKEN)
    return cloud.server.fake


def deploy(
    cloud: Cloud, build: Path, *args: str, algorithm: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        "HOME": str(cloud.home),
        "QC_API": "local",
        "LEAN_CLI": str(cloud.lean),
        "QUANTCONNECT_USER_ID": "",
        "QUANTCONNECT_API_TOKEN": "",
        "QUANTCONNECT_ORGANIZATION_ID": "",
        "COLUMNS": "200",
        **env,
    }
    target = str(algorithm or cloud.algorithm)
    return run_command(
        sys.executable, SCRIPT, target, "--build-dir", str(build), *args, env=environment,
        timeout=120,
    )  # fmt: skip


def changes(fake: FakeQuantConnect) -> list[str]:
    return [r.endpoint for r in fake.requests if r.endpoint in CHANGES]


def stand_in_lean(folder: Path, *, lines: str = "", code: int = 0) -> tuple[Path, Path]:
    """Write a recording `lean` that prints ``lines`` and exits ``code``; return it and its log."""
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "calls.log"
    lean = folder / "lean"
    lean.write_text(f'#!/bin/sh\necho "$@" >> "{record}"\nprintf "{lines}"\nexit {code}\n')
    lean.chmod(0o755)
    return lean, record


# ---------------------------------------------------------------------------- deployments


def test_backtest_pushes_the_project_pins_the_node_and_runs(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    done = deploy(cloud, tmp_path / "build", "--type", "backtest", "--node", "B8-16", "--json")

    assert done.returncode == 0, done.stderr + done.stdout
    project = fake.project_named("deployed_bot")
    update = fake.requests_to("projects/update")[0]
    assert update.encoding == "form"
    assert {"main.py", "utils/__init__.py", "utils/settings.py", "utils/deployed_settings.py",
            "utils/resource_monitor.py", "utils/circuit_breaker.py", "utils/metrics_log.py",
            "utils/errors.py", "utils/node_catalog.py", "utils/memory_model.py",
            } <= set(project.files)  # fmt: skip
    assert not {"utils/deployment.py", "utils/qc_api.py", "utils/console_report.py",
                "utils/cli.py", "utils/lean_cli.py"} & set(project.files)  # fmt: skip
    assert project.files["main.py"] == ALGORITHM
    pin = fake.requests_to("projects/nodes/update")[0]
    assert pin.params == {"projectId": project.project_id, "nodes": [fake.node("B8-16").id]}
    endpoints = fake.endpoints()
    assert endpoints.index("projects/update") < endpoints.index("projects/nodes/update")
    assert endpoints.index("projects/nodes/update") < endpoints.index("backtests/create")
    record = json.loads(done.stdout)
    assert record["outcome"]["backtest_id"] in fake.backtests
    assert record["cloud_project_id"] == project.project_id
    assert record["cloud_node"]["id"] == fake.node("B8-16").id
    assert all(r.authenticated for r in fake.requests)


def test_the_pushed_settings_module_carries_the_validated_settings(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    done = deploy(cloud, tmp_path / "build", "--type", "backtest", "--node", "B8-16")

    assert done.returncode == 0, done.stderr
    module: dict[str, object] = {}
    exec(fake.project_named("deployed_bot").files["utils/deployed_settings.py"], module)  # noqa: S102
    settings = json.loads(str(module["SETTINGS_JSON"]))
    assert settings["quantconnect"]["monitoring"]["target_node"] == "B8-16"
    assert module["DEPLOYMENT_TYPE"] == "backtest"


def test_live_deploys_on_the_free_node_of_the_chosen_model(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    done = deploy(cloud, tmp_path / "build", "--type", "live", "--node", "L2-4", "--yes")

    assert done.returncode == 0, done.stderr + done.stdout
    create = fake.requests_to("live/create")[0].params
    assert create["nodeId"] == fake.node("L2-4").id
    assert create["brokerage"] == {"id": "QuantConnectBrokerage"}
    assert create["automaticRedeploy"] is True
    assert "QuantConnectBrokerage" in create["dataProviders"]
    assert fake.requests_to("projects/nodes/update") == []
    assert "Live url:" in done.stdout
    assert "$50/month (QuantConnect)" in done.stdout
    assert "memory estimate" in done.stdout


def test_optimize_runs_on_the_chosen_optimization_node(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    done = deploy(cloud, tmp_path / "build", "--type", "optimize", "--node", "O4-12",
                  "--parameter", "fast 5 20 5", "--parallel-nodes", "3")  # fmt: skip

    assert done.returncode == 0, done.stderr + done.stdout
    create = fake.requests_to("optimizations/create")[0].params
    assert (create["nodeType"], create["parallelNodes"]) == ("O4-12", "3")
    assert create["parameters[0][key]"] == "fast"
    assert "Optimal parameters" in done.stdout


def test_a_second_deploy_updates_the_same_cloud_project(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    build = tmp_path / "build"
    first = deploy(cloud, build, "--type", "backtest", "--node", "B8-16")
    second = deploy(cloud, build, "--type", "backtest", "--node", "B-MICRO")

    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert len(fake.projects) == 1
    assert len(fake.requests_to("projects/create")) == 1
    (project,) = fake.projects.values()
    assert project.active_nodes == {fake.node("B-MICRO").id}


# ---------------------------------------------------------------------------- dry run


def test_dry_run_runs_nothing_sends_nothing_and_writes_nothing(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    lean, record = stand_in_lean(tmp_path / "bin")
    env = {"LEAN_CLI": "", "PATH": f"{lean.parent}{os.pathsep}{os.environ['PATH']}"}

    done = deploy(cloud, tmp_path / "build", "--type", "live", "--dry-run", **env)

    assert done.returncode == 0, done.stderr
    assert fake.requests == []
    assert not record.exists()
    assert not (tmp_path / "build").exists()
    assert f"LEAN CLI: {lean}" in done.stdout
    assert "lean cloud live deploy deployed_bot" in done.stdout
    # The same command without --dry-run does reach the stand-in (so the check above can fail).
    deploy(cloud, tmp_path / "build", "--type", "backtest", "--node", "B8-16", **env)
    assert record.read_text().startswith("cloud push --project deployed_bot")


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "does-not-exist.py"),
        ("from AlgorithmImports import *\n\nclass Bot(QCAlgorithm:\n    pass\n", "bot.py:3"),
        ("from AlgorithmImports import *\n\nclass Bot:\n    pass\n", "QCAlgorithm"),
    ],
    ids=["unknown file", "syntax error", "no QCAlgorithm"],
)
def test_a_bad_algorithm_exits_2_with_the_file_and_deploys_nothing(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path, source: str | None, expected: str
) -> None:
    algorithm = tmp_path / ("does-not-exist.py" if source is None else "bot.py")
    if source is not None:
        algorithm.write_text(source)

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", algorithm=algorithm)

    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert fake.requests == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--type", "backtest", "--node", "L2-4"], "Valid backtesting models: B-MICRO"),
        (["--type", "live", "--node", "L3-9"], "unknown node model 'L3-9'"),
        (["--node", "B8-16"], "give --type"),
    ],
    ids=["live node for a backtest", "unknown model", "no type"],
)
def test_a_bad_node_or_type_exits_2_before_anything_runs(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path, args: list[str], expected: str
) -> None:
    done = deploy(cloud, tmp_path / "build", *args)

    assert done.returncode == 2
    assert expected in done.stderr
    assert fake.requests == []


def test_missing_credentials_exit_2_saying_how_to_log_in(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    done = deploy(cloud, tmp_path / "build", "--type", "backtest", HOME=str(tmp_path / "empty"))

    assert done.returncode == 2
    assert "lean login" in done.stderr
    assert fake.requests == []


def test_a_missing_lean_cli_exits_2_saying_how_to_install_it(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "lean"

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", LEAN_CLI=str(missing))

    assert done.returncode == 2
    assert "pip install lean==1.0.230" in done.stderr
    assert fake.requests == []


@pytest.mark.parametrize(
    ("lines", "code", "expected"),
    [
        (r"Error: simulated failure\n", 1, "simulated failure"),
        (r"[1/1] Pushing 'deployed_bot'\nCannot push 'deployed_bot': disk full\n", 0,
         "exited 0 but printed \"Cannot push 'deployed_bot': disk full\""),
        ("", 0, "never printed"),
    ],
    ids=["non-zero exit", "error printed with exit 0", "silent exit 0"],
)  # fmt: skip
def test_a_failing_lean_cli_exits_1_and_deploys_nothing(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path, lines: str, code: int, expected: str
) -> None:
    lean, record = stand_in_lean(tmp_path / "bin", lines=lines, code=code)

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", "--node", "B8-16",
                  LEAN_CLI=str(lean))  # fmt: skip

    assert done.returncode == 1
    assert expected in done.stderr
    assert record.read_text().startswith("cloud push")
    assert changes(fake) == []


def test_a_backtest_runtime_error_is_a_failure_although_the_cli_exits_0(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    fake.backtest_error = "Runtime Error: division by zero in on_data"

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", "--node", "B8-16")

    assert done.returncode == 1
    assert "An error occurred during this backtest" in done.stderr
    assert "division by zero" in done.stdout  # the CLI's own output, streamed


def test_a_rejected_token_exits_1_without_showing_it(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    wrong_home = tmp_path / "home"
    prepare_lean_home(wrong_home, user_id=USER, api_token="e" * 64)

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", HOME=str(wrong_home))

    assert done.returncode == 1
    assert "rejected the credentials of user 271828" in done.stderr
    assert "HTTP 401" in done.stderr
    assert "e" * 64 not in done.stderr + done.stdout
    assert changes(fake) == []


def test_an_api_server_error_exits_1_and_deploys_nothing(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    fake.fail("nodes/read", 500, errors=["Internal Server Error"])

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", "--node", "B8-16")

    assert done.returncode == 1
    assert "nodes/read failed twice with HTTP 500" in done.stderr
    assert changes(fake) == []


def test_no_free_live_node_exits_1_and_deploys_nothing(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    fake.nodes = [make_node("L2-4", busy=True, used_by="bob@example.com"), make_node("B8-16")]

    done = deploy(cloud, tmp_path / "build", "--type", "live", "--node", "L2-4", "--yes")

    assert done.returncode == 1
    assert "every L2-4 live node" in done.stderr
    assert "bob@example.com" in done.stderr
    assert changes(fake) == []


def test_live_without_a_terminal_and_without_yes_is_refused(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    done = deploy(cloud, tmp_path / "build", "--type", "live", "--node", "L2-4")

    assert done.returncode == 2
    assert "refusing to start live trading without confirmation" in done.stderr
    assert changes(fake) == []


# ---------------------------------------------------------------------------- secrets


def test_no_output_ever_contains_the_token_or_its_signatures(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    started = int(time.time())
    build = tmp_path / "build"
    runs = [
        deploy(cloud, build, "--type", "backtest", "--node", "B8-16", "--verbose"),
        deploy(cloud, build, "--type", "live", "--node", "L2-4", "--yes", "--json", "--verbose"),
        deploy(cloud, build, "--type", "live", "--dry-run", "--json"),
    ]
    fake.fail("projects/nodes/read", 500)
    runs.append(deploy(cloud, build, "--type", "research", "--node", "R8-16", "--verbose"))
    finished = int(time.time())

    assert [r.returncode for r in runs] == [0, 0, 0, 1]
    output = "".join(r.stdout + r.stderr for r in runs)
    signatures = {
        hashlib.sha256(f"{TOKEN}:{t}".encode()).hexdigest()
        for t in range(started - 10, finished + 10)
    }
    assert TOKEN not in output
    assert not [s for s in signatures if s in output]
    staged = "".join(p.read_text() for p in build.rglob("*") if p.is_file())
    assert TOKEN not in staged
    assert fake.requests  # the runs did talk to the service with that token


def test_environment_credentials_that_differ_from_the_lean_cli_login_are_refused(
    cloud: Cloud, fake: FakeQuantConnect, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_credentials(home, user_id="1", api_token="a" * 64)

    done = deploy(cloud, tmp_path / "build", "--type", "backtest", HOME=str(home),
                  QUANTCONNECT_USER_ID=USER, QUANTCONNECT_API_TOKEN=TOKEN)  # fmt: skip

    assert done.returncode == 2
    assert "the LEAN CLI reads only ~/.lean/credentials" in done.stderr
    assert TOKEN not in done.stderr
    assert fake.requests == []
