"""The deployment steps: plan, refusals before anything is sent, pinning, live confirmation.

The API is the fake service, in process; the LEAN CLI is a scripted stand-in that does what the
real one does to the workspace and the service (the real CLI runs in
tests/scripts/test_deploy_integration.py). The optimizer is the real one, on stated workloads.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from rich.console import Console

from tests.fake_qc_api import FakeQuantConnect, in_process_transport, make_node
from tests.fake_qc_api.lean_cli_setup import write_credentials
from utils.deployment import (
    Analysis,
    Deployment,
    DeploymentCancelledError,
    DeploymentType,
    DeployRequest,
    LiveConfirmationError,
    LiveOptions,
    NodeUnavailableError,
    OptimizationParameter,
    OptimizeOptions,
    build_request,
    parse_brokerage_option,
)
from utils.errors import InputError, ProjectError, UnknownNodeError
from utils.lean_cli import LeanCliError
from utils.node_optimizer import AlgorithmRequirements, NodeOptimizer
from utils.qc_api import LOCAL_API_URL, Credentials, CredentialsError, QuantConnectAPI
from utils.settings import Settings, load_settings

TOKEN = "c0ffee" * 10 + "c0de"
USER = "424242"
LIGHT = AlgorithmRequirements(
    num_securities=2, num_option_chains=1, contracts_per_chain=50, use_llm_analysis=False
)  # recommends B-MICRO, R2-8, L2-4, O2-8
HEAVY = AlgorithmRequirements(num_securities=20, num_option_chains=10, contracts_per_chain=200)


@dataclass
class ScriptedLean:
    """Does to the workspace and the service what the LEAN CLI does, and prints its lines."""

    fake: FakeQuantConnect
    push_lines: Sequence[str] | None = None
    write_cloud_id: bool = True
    calls: list[list[str]] = field(default_factory=list)

    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        on_line: Callable[[str], None],
    ) -> int:
        command = list(args[1:])
        self.calls.append(command)
        lines: list[str] = []
        if command[:2] == ["cloud", "push"]:
            project = cwd / command[3]
            if self.push_lines is not None:
                lines = list(self.push_lines)
            else:
                project_id = self.fake.create_project(command[3])
                files = {
                    p.relative_to(project).as_posix(): p.read_text() for p in project.rglob("*.py")
                }
                self.fake.projects[project_id].files = files
                if self.write_cloud_id:
                    config = json.loads((project / "config.json").read_text())
                    config["cloud-id"] = project_id
                    (project / "config.json").write_text(json.dumps(config))
                lines = [f"[1/1] Pushing '{command[3]}'", "Successfully created cloud project"]
        elif command[:2] == ["cloud", "backtest"]:
            lines = ["Backtest id: abc123", "Backtest url: https://www.quantconnect.com/x/abc123"]
        elif command[:3] == ["cloud", "live", "deploy"]:
            lines = ["Live url: https://www.quantconnect.com/project/1/live"]
        elif command[:2] == ["cloud", "optimize"]:
            lines = ["Optimal parameters: fast: 5.0"]
        for line in lines:
            on_line(line)
        return 0

    def commands(self) -> list[str]:
        return [" ".join(c[:3]) for c in self.calls]


@dataclass
class Harness:
    fake: FakeQuantConnect
    lean: ScriptedLean
    output: io.StringIO
    questions: list[str]
    answers: bool = True
    terminal: bool = True

    def text(self) -> str:
        return self.output.getvalue()


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def algorithm(tmp_path: Path) -> Path:
    path = tmp_path / "algos" / "bot.py"
    path.parent.mkdir()
    path.write_text("from AlgorithmImports import *\nfrom utils.settings import load_settings\n")
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    write_credentials(tmp_path / "home", user_id=USER, api_token=TOKEN)
    return tmp_path / "home"


@pytest.fixture
def harness() -> Harness:
    fake = FakeQuantConnect(user_id=USER, api_token=TOKEN)
    return Harness(fake=fake, lean=ScriptedLean(fake), output=io.StringIO(), questions=[])


def analysis_for(requirements: AlgorithmRequirements) -> Callable[[Path, Settings], Analysis]:
    def analyse(path: Path, settings: Settings) -> Analysis:
        return Analysis(requirements=requirements, optimizer=NodeOptimizer(settings=settings))

    return analyse


def deploy(
    harness: Harness,
    settings: Settings,
    home: Path,
    algorithm: Path,
    kind: DeploymentType,
    *,
    requirements: AlgorithmRequirements = LIGHT,
    environ: dict[str, str] | None = None,
    **options: object,
) -> Deployment:
    request = DeployRequest(
        algorithm=algorithm,
        deployment_type=kind,
        workspace=algorithm.parent.parent / "build",
        **options,  # type: ignore[arg-type]
    )

    def ask(question: str) -> bool:
        harness.questions.append(question)
        return harness.answers

    def api(credentials: Credentials) -> QuantConnectAPI:
        return QuantConnectAPI(
            credentials, base_url=LOCAL_API_URL, transport=in_process_transport(harness.fake)
        )

    return Deployment(
        request,
        settings=settings,
        console=Console(file=harness.output, width=200, highlight=False),
        environ={"PATH": "", "QC_API": "local", **(environ or {})},
        home=home,
        analyse=analysis_for(requirements),
        api_factory=api,
        lean_runner=harness.lean,
        lean_executable=Path("/opt/lean/bin/lean"),
        confirm=ask,
        is_terminal=lambda: harness.terminal,
    )


def deployed_anything(fake: FakeQuantConnect) -> bool:
    """Whether the service saw anything that changes the cloud."""
    changing = {"projects/create", "projects/update", "projects/nodes/update", "live/create",
                "backtests/create", "optimizations/create"}  # fmt: skip
    return any(r.endpoint in changing for r in fake.requests) or bool(fake.projects)


# ---------------------------------------------------------------------------- dry run


def test_a_dry_run_sends_nothing_runs_nothing_and_writes_nothing(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, dry_run=True)

    result = deployment.run()

    assert harness.fake.requests == []
    assert harness.lean.calls == []
    assert not (algorithm.parent.parent / "build").exists()
    assert [s.key for s in result.steps] == [
        "analyse", "node", "stage", "check", "find", "push", "pin", "run",
    ]  # fmt: skip
    assert all(s.state.value == "planned" and s.plan for s in result.steps)


def test_a_dry_run_shows_every_step_with_the_commands_it_would_run(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, dry_run=True,
           run_name="nightly").run()  # fmt: skip

    text = harness.text()
    assert "dry run: nothing is run, written or sent" in text
    assert "B-MICRO" in text  # the recommendation for this load
    assert "lean cloud push --project bot" in text
    assert "lean cloud backtest bot --name nightly" in text
    assert "projects/nodes/update" in text
    assert "utils/deployed_settings.py" in text


def test_a_dry_run_without_credentials_shows_the_plan_then_fails(
    harness: Harness, settings: Settings, tmp_path: Path, algorithm: Path
) -> None:
    deployment = deploy(harness, settings, tmp_path / "nohome", algorithm, DeploymentType.BACKTEST,
                        dry_run=True)  # fmt: skip

    with pytest.raises(CredentialsError):
        deployment.run()

    assert "credentials: MISSING" in harness.text()
    assert "lean cloud backtest" in harness.text()
    assert harness.fake.requests == []


def test_the_json_record_of_a_dry_run_names_node_memory_and_commands(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    result = deploy(harness, settings, home, algorithm, DeploymentType.LIVE, dry_run=True).run()

    record = json.loads(json.dumps(result.record()))
    assert record["dry_run"] is True
    assert record["node"]["model"] == "L2-4"
    assert record["node"]["source"] == "recommended"
    assert record["memory"]["node_mb"] == 4096
    assert record["memory"]["fits"] is True
    assert record["commands"][0] == "lean cloud push --project bot"
    assert "lean cloud live deploy bot --brokerage 'Paper Trading'" in record["commands"][1]


# ---------------------------------------------------------------------------- node choice


def test_a_live_node_for_a_backtest_is_refused_with_the_valid_choices(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="L2-4")

    with pytest.raises(UnknownNodeError) as caught:
        deployment.run()

    message = str(caught.value)
    assert "--node L2-4 for --type backtest" in message
    assert "Valid backtesting models: B-MICRO, B2-8, B4-12, B4-16-GPU, B8-16" in message
    assert harness.fake.requests == []
    assert harness.lean.calls == []


def test_an_unknown_model_is_refused_with_a_suggestion(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B8-61")

    with pytest.raises(UnknownNodeError, match="Did you mean B8-16"):
        deployment.run()

    assert harness.fake.requests == []


def test_a_node_the_organisation_does_not_have_is_refused_before_any_push(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B4-12")

    with pytest.raises(
        NodeUnavailableError, match=r"has no B4-12 backtesting node.*B-MICRO, B8-16"
    ):
        deployment.run()

    assert harness.lean.calls == []
    assert not deployed_anything(harness.fake)


# ---------------------------------------------------------------------------- backtest / research


def test_a_backtest_is_pushed_then_pinned_to_the_node_then_run(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    result = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B8-16").run()

    fake = harness.fake
    pin = fake.requests_to("projects/nodes/update")[0].params
    project = fake.project_named("bot")
    assert pin == {"projectId": project.project_id, "nodes": [fake.node("B8-16").id]}
    assert project.active_nodes == {fake.node("B8-16").id}
    assert harness.lean.commands() == ["cloud push --project", "cloud backtest bot"]
    assert result.outcome["backtest_id"] == "abc123"
    assert result.cloud_project_id == project.project_id
    assert "utils/deployed_settings.py" in project.files
    assert all(s.state.value == "done" for s in result.steps)


def test_pinning_a_backtest_node_keeps_the_projects_research_pin(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    fake = harness.fake
    research = fake.node("R8-16").id
    lean = harness.lean

    def push_then_pin_research(*args: object, **kwargs: object) -> int:
        code = ScriptedLean.__call__(lean, *args, **kwargs)  # type: ignore[arg-type]
        if fake.projects and not fake.projects[min(fake.projects)].active_nodes:
            fake.projects[min(fake.projects)].active_nodes = {research}
        return code

    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B8-16")
    deployment.lean.runner = push_then_pin_research

    deployment.run()

    assert fake.project_named("bot").active_nodes == {research, fake.node("B8-16").id}


def test_research_pins_the_research_node_and_says_how_to_open_the_notebook(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    result = deploy(harness, settings, home, algorithm, DeploymentType.RESEARCH, node="R8-16").run()

    fake = harness.fake
    assert fake.project_named("bot").active_nodes == {fake.node("R8-16").id}
    assert harness.lean.commands() == ["cloud push --project"]
    assert "start a Research notebook" in harness.text()
    assert result.outcome["project_url"].endswith(str(result.cloud_project_id))


def test_a_push_that_prints_an_error_and_exits_zero_stops_before_pinning(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    harness.lean.push_lines = ["[1/1] Pushing 'bot'", "Cannot push 'bot': Project not found"]
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B8-16")

    with pytest.raises(LeanCliError, match="exited 0 but printed"):
        deployment.run()

    assert harness.fake.requests_to("projects/nodes/update") == []
    assert harness.lean.commands() == ["cloud push --project"]
    assert "✗ push" in harness.text()


def test_a_push_that_leaves_no_cloud_id_is_a_failure(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    harness.lean.write_cloud_id = False
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B8-16")

    with pytest.raises(ProjectError, match="has no cloud-id afterwards"):
        deployment.run()

    assert harness.lean.commands() == ["cloud push --project"]


# ---------------------------------------------------------------------------- live


def test_live_without_a_terminal_or_yes_is_refused_and_nothing_is_deployed(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    harness.terminal = False
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.LIVE)

    with pytest.raises(LiveConfirmationError, match="re-run with --yes"):
        deployment.run()

    assert harness.lean.calls == []
    assert not deployed_anything(harness.fake)
    assert harness.questions == []


def test_live_declined_at_the_prompt_deploys_nothing(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    harness.answers = False
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.LIVE)

    with pytest.raises(DeploymentCancelledError):
        deployment.run()

    assert len(harness.questions) == 1
    assert harness.lean.calls == []
    assert not deployed_anything(harness.fake)


def test_the_live_prompt_shows_node_monthly_price_and_memory_headroom(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    deploy(harness, settings, home, algorithm, DeploymentType.LIVE).run()

    text = harness.text()
    node = harness.fake.node("L2-4")
    assert f"{node.name} ({node.id})" in text
    assert "$50/month (QuantConnect)" in text
    assert "memory estimate 1,930 MB of 4,096 MB (47%)" in text
    assert "PAPER TRADING" in text
    assert harness.questions == [f"Start live trading of bot on {node.name}?"]


def test_live_deploys_on_the_free_nodes_id_with_the_brokerage_options(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    live = LiveOptions(brokerage_options=(("paper-currency", "USD"),))
    result = deploy(harness, settings, home, algorithm, DeploymentType.LIVE, live=live).run()

    deploy_args = harness.lean.calls[-1]
    node_id = harness.fake.node("L2-4").id
    assert deploy_args[:4] == ["cloud", "live", "deploy", "bot"]
    assert deploy_args[deploy_args.index("--node") + 1] == node_id
    assert deploy_args[deploy_args.index("--brokerage") + 1] == "Paper Trading"
    assert deploy_args[deploy_args.index("--data-provider-live") + 1] == "QuantConnect"
    assert deploy_args[-2:] == ["--paper-currency", "USD"]
    assert harness.fake.requests_to("projects/nodes/update") == []  # live/create takes the node
    assert result.outcome["live_url"].endswith("/live")


def test_yes_confirms_live_without_asking(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    harness.terminal = False
    deploy(harness, settings, home, algorithm, DeploymentType.LIVE, assume_yes=True).run()

    assert harness.questions == []
    assert harness.lean.commands()[-1] == "cloud live deploy"


def test_live_warns_loudly_when_the_estimate_does_not_fit_the_node(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    harness.fake.nodes.append(make_node("L1-1"))
    harness.answers = False
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.LIVE, node="L1-1",
                        requirements=HEAVY)  # fmt: skip

    with pytest.raises(DeploymentCancelledError):
        deployment.run()

    text = harness.text()
    assert "DOES NOT FIT" in text
    assert "WARNING: the memory estimate does not fit L1-1" in text


def test_no_free_live_node_is_refused_naming_who_uses_them(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    busy = make_node("L2-4", busy=True, used_by="ann@example.com")
    harness.fake.nodes = [n for n in harness.fake.nodes if n.sku != "L2-4"] + [busy]
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.LIVE)

    with pytest.raises(NodeUnavailableError) as caught:
        deployment.run()

    assert "every L2-4 live node" in str(caught.value)
    assert "ann@example.com" in str(caught.value)
    assert harness.lean.calls == []
    assert not deployed_anything(harness.fake)


def test_brokerage_option_values_never_appear_in_the_plan(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    secret = "hunter2-password"  # noqa: S105 - test data
    live = LiveOptions(brokerage="Charles Schwab", brokerage_options=(("schwab-password", secret),))

    result = deploy(harness, settings, home, algorithm, DeploymentType.LIVE, dry_run=True,
                    live=live).run()  # fmt: skip

    assert secret not in harness.text()
    assert secret not in json.dumps(result.record())
    assert "--schwab-password '***'" in harness.text()
    assert "REAL MONEY via Charles Schwab" in harness.text()


# ---------------------------------------------------------------------------- optimize


def test_optimize_runs_on_the_o_node_with_the_cost_estimate_in_the_plan(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    options = OptimizeOptions(
        parameters=(OptimizationParameter.parse("fast 5 20 5"),), parallel_nodes=2
    )
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.OPTIMIZE,
                        optimize=options)  # fmt: skip

    result = deployment.run()

    args = harness.lean.calls[-1]
    assert args[:3] == ["cloud", "optimize", "bot"]
    assert args[args.index("--node") + 1] == "O2-8"
    assert args[args.index("--parallel-nodes") + 1] == "2"
    assert args[args.index("--parameter") : args.index("--parameter") + 5] == [
        "--parameter", "fast", "5", "20", "5",
    ]  # fmt: skip
    assert "cost estimate: 4 backtests" in result.step("run").plan[1]
    assert harness.fake.requests_to("nodes/read") == []  # the cluster needs no node of ours


def test_optimize_without_parameters_is_refused(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    with pytest.raises(InputError, match="at least one --parameter"):
        deploy(harness, settings, home, algorithm, DeploymentType.OPTIMIZE).run()


def test_optimize_beyond_the_nodes_parallel_limit_is_refused(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    options = OptimizeOptions(
        parameters=(OptimizationParameter.parse("a 1 2 1"),), parallel_nodes=7
    )

    with pytest.raises(InputError, match="--parallel-nodes 7 --node O8-16: O8-16 runs 1 to 6"):
        deploy(harness, settings, home, algorithm, DeploymentType.OPTIMIZE, node="O8-16",
               optimize=options).run()  # fmt: skip


# ---------------------------------------------------------------------------- credentials


def test_environment_credentials_must_be_the_account_the_lean_cli_uses(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    env = {"QUANTCONNECT_USER_ID": "777", "QUANTCONNECT_API_TOKEN": "d" * 64}
    deployment = deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, environ=env)

    with pytest.raises(CredentialsError, match=r"holds other credentials \(user 424242\)"):
        deployment.run()

    assert harness.fake.requests == []


def test_the_organisation_option_skips_the_account_lookup(
    harness: Harness, settings: Settings, home: Path, algorithm: Path
) -> None:
    org = harness.fake.organization_id
    deploy(harness, settings, home, algorithm, DeploymentType.BACKTEST, node="B8-16",
           organization_id=org).run()  # fmt: skip

    assert harness.fake.requests_to("account/read") == []
    lean_json = algorithm.parent.parent / "build" / "lean.json"
    assert json.loads(lean_json.read_text()) == {"organization-id": org}


# ---------------------------------------------------------------------------- options


def test_build_request_needs_a_type_and_names_the_choices(algorithm: Path) -> None:
    with pytest.raises(InputError, match="give --type \\(backtest, research, live, optimize\\)"):
        build_request(algorithm, deploy_type=None)
    with pytest.raises(InputError, match="--type 'paper'"):
        build_request(algorithm, deploy_type="paper")


def test_build_request_collects_live_and_optimize_options(algorithm: Path) -> None:
    request = build_request(
        algorithm, deploy_type="LIVE", node="l2-4", brokerage_options=["schwab-account=1"],
        parameters=["fast:5:20:5"], data_providers=[],
    )  # fmt: skip

    assert request.deployment_type is DeploymentType.LIVE
    assert request.live.brokerage_options == (("schwab-account", "1"),)
    assert request.live.data_providers == ("QuantConnect",)
    assert request.optimize.parameters[0].count() == 4
    assert replace(request, dry_run=True).dry_run


@pytest.mark.parametrize("text", ["novalue", "=1", "Bad Name=1"])
def test_a_malformed_brokerage_option_is_refused_without_echoing_its_value(text: str) -> None:
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_brokerage_option(text)


@pytest.mark.parametrize("text", ["fast 5 20", "fast a b c", "fast 20 5 1", "fast 1 2 0"])
def test_a_malformed_parameter_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="--parameter"):
        OptimizationParameter.parse(text)
