"""Deploy an algorithm on the right QuantConnect node: analyse, stage, push, pin, run.

The steps, in order (each shown by ``--dry-run`` as a plan, executed otherwise)::

    analyse   read the algorithm, estimate its memory, recommend a node per environment
    node      take --node or the recommendation; check it against the catalog and the type
    stage     build the LEAN workspace: main.py, the runtime utils it imports, the settings
    check     credentials, the LEAN CLI, the API address (offline)
    find      nodes/read: a node of that model in the organisation (a free one for live)
    confirm   live only: node, monthly price, memory headroom; yes/no (or --yes)
    push      lean cloud push --project NAME (its output read for errors even on exit 0)
    pin       backtest/research: projects/nodes/update (the only way to choose these nodes)
    run       lean cloud backtest | lean cloud live deploy | lean cloud optimize;
              research prints how to open the notebook (there is no API to start one)

Everything that can be checked offline is checked before the first request, and everything the
API can refuse (no such node, all live nodes busy) is asked before anything is pushed, so a
refused deployment leaves nothing behind in the cloud. Live trading is never started without an
explicit yes: a prompt on a terminal, or ``--yes``; without either the command refuses.

Desktop code (rich): never shipped to LEAN.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from utils.console_report import plural
from utils.errors import InputError, ProjectError, UnknownNodeError
from utils.lean_cli import LeanCli, OutputCheck, ProcessRunner, stream_process
from utils.lean_project import (
    DEFAULT_WORKSPACE,
    LeanProjectPlan,
    cloud_project_id,
    default_project_name,
    plan_project,
)
from utils.node_catalog import Family, NodeCatalog, NodeSpec
from utils.node_optimizer import NodeOptimizer, environments
from utils.qc_api import (
    ORGANIZATION_ENV,
    CloudNode,
    Credentials,
    CredentialsError,
    QuantConnectAPI,
    api_base_url,
    load_credentials,
    read_lean_credentials,
)
from utils.settings import DEFAULT_SETTINGS_PATH, Settings

if TYPE_CHECKING:
    from utils.node_optimizer import (
        AlgorithmRequirements,
        EnvironmentRecommendation,
        NodeCheck,
        Recommendations,
    )
    from utils.qc_api import NodeList


# ------------------------------------------------------------------------------ requests


class DeploymentType(StrEnum):
    """What to deploy for (``--type``)."""

    BACKTEST = "backtest"
    RESEARCH = "research"
    LIVE = "live"
    OPTIMIZE = "optimize"

    @property
    def family(self) -> Family:
        """Return the node family this deployment runs on."""
        return _FAMILY[self]

    @property
    def api_family(self) -> str | None:
        """Return the key of ``nodes/read`` for this type (``None``: optimization cluster)."""
        return _API_FAMILY[self]


def parse_deployment_type(text: str | None) -> DeploymentType:
    """Return the deployment type named ``text`` (``--type``).

    Raises:
        InputError: Missing or not one of backtest, research, live, optimize.
    """
    choices = ", ".join(t.value for t in DeploymentType)
    if not text:
        msg = f"to deploy, give --type ({choices}); or --analyze-only to only analyse"
        raise InputError(msg)
    try:
        return DeploymentType(text.strip().lower())
    except ValueError:
        msg = f"--type {text!r}: choose one of {choices}"
        raise InputError(msg) from None


def parse_brokerage_option(text: str) -> tuple[str, str]:
    """Parse ``--brokerage-option NAME=VALUE`` into ``(NAME, VALUE)`` (``--NAME`` for the CLI).

    Raises:
        InputError: No ``=``, or a name that is not an option name.
    """
    name, eq, value = text.partition("=")
    name = name.strip().removeprefix("--")
    if not eq or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        msg = (
            f"--brokerage-option {name or text!r}: expected NAME=VALUE with the LEAN CLI's "
            "option name, e.g. --brokerage-option charles-schwab-account-number=12345678"
        )
        raise InputError(msg)
    return name, value


_FAMILY = {
    DeploymentType.BACKTEST: Family.BACKTESTING,
    DeploymentType.RESEARCH: Family.RESEARCH,
    DeploymentType.LIVE: Family.LIVE_TRADING,
    DeploymentType.OPTIMIZE: Family.OPTIMIZATION,
}
_API_FAMILY = {
    DeploymentType.BACKTEST: "backtest",
    DeploymentType.RESEARCH: "research",
    DeploymentType.LIVE: "live",
    DeploymentType.OPTIMIZE: None,
}

PAPER_TRADING = "Paper Trading"


@dataclass(frozen=True, kw_only=True)
class LiveOptions:
    """How to start live trading (passed to ``lean cloud live deploy``).

    Attributes:
        brokerage: The LEAN CLI's brokerage name; "Paper Trading" by default.
        data_providers: Live data providers (``--data-provider-live``), "QuantConnect" by default.
        auto_restart: Restart the algorithm automatically after a failure.
        notify_order_events: Send notifications on order events.
        notify_insights: Send notifications on insights.
        brokerage_options: The brokerage's own options, ``(name, value)``: passed as
            ``--name value``; values are masked wherever the command is shown.
    """

    brokerage: str = PAPER_TRADING
    data_providers: tuple[str, ...] = ("QuantConnect",)
    auto_restart: bool = True
    notify_order_events: bool = False
    notify_insights: bool = False
    brokerage_options: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def is_paper(self) -> bool:
        """Return whether orders are simulated."""
        return self.brokerage.strip().lower() == PAPER_TRADING.lower()


OPTIMIZATION_TARGETS = (
    "Sharpe Ratio",
    "Compounding Annual Return",
    "Probabilistic Sharpe Ratio",
    "Drawdown",
)


@dataclass(frozen=True)
class OptimizationParameter:
    """A parameter to optimise over a grid: ``name min max step``."""

    name: str
    minimum: float
    maximum: float
    step: float

    @classmethod
    def parse(cls, text: str) -> OptimizationParameter:
        """Parse ``"name min max step"`` (spaces or colons).

        Raises:
            InputError: Not four parts, not numbers, or an empty or backwards range.
        """
        parts = [p for p in re.split(r"[\s:]+", text.strip()) if p]
        usage = "--parameter 'NAME MIN MAX STEP', e.g. --parameter 'ema_fast 5 20 5'"
        if len(parts) != 4:
            msg = f"--parameter {text!r}: expected 4 parts; use {usage}"
            raise InputError(msg)
        try:
            low, high, step = (float(p) for p in parts[1:])
        except ValueError:
            msg = f"--parameter {text!r}: MIN, MAX and STEP must be numbers"
            raise InputError(msg) from None
        if step <= 0 or high < low:
            msg = f"--parameter {text!r}: need MIN <= MAX and STEP > 0"
            raise InputError(msg)
        return cls(parts[0], low, high, step)

    def count(self) -> int:
        """Return the grid size (the LEAN CLI's formula)."""
        return round((self.maximum - self.minimum) / self.step) + 1

    def cli_args(self) -> list[str]:
        """Return the ``--parameter`` arguments of ``lean cloud optimize``."""
        return [
            "--parameter",
            self.name,
            f"{self.minimum:g}",
            f"{self.maximum:g}",
            f"{self.step:g}",
        ]


@dataclass(frozen=True, kw_only=True)
class OptimizeOptions:
    """How to run an optimization (passed to ``lean cloud optimize``).

    Attributes:
        target: One of :data:`OPTIMIZATION_TARGETS`.
        direction: ``max`` or ``min``.
        parameters: The grid.
        constraints: ``"statistic operator value"`` strings.
        parallel_nodes: Nodes run at once (1 to the node's maximum).
        backtest_seconds: How long one backtest takes, for the cost estimate.
    """

    target: str = "Sharpe Ratio"
    direction: str = "max"
    parameters: tuple[OptimizationParameter, ...] = ()
    constraints: tuple[str, ...] = ()
    parallel_nodes: int = 1
    backtest_seconds: float = 60.0


@dataclass(frozen=True, kw_only=True)
class DeployRequest:
    """Everything the deploy command was asked to do.

    Attributes:
        algorithm: The LEAN algorithm file.
        deployment_type: Backtest, research, live or optimize.
        node: The node model (``--node``); ``None`` takes the recommendation.
        project_name: The cloud project (default: the algorithm's file name).
        dry_run: Show the plan, run nothing.
        assume_yes: Confirm live trading without asking (``--yes``).
        settings_path: The settings to ship (default ``config/settings.json``).
        workspace: The LEAN workspace folder (default ``build/lean``).
        organization_id: The organisation (default: ``QUANTCONNECT_ORGANIZATION_ID``, else
            the account's preferred organisation).
        run_name: The backtest or optimization name.
        timeout_seconds: Time limit of the run step (default per type).
        live: Live trading options.
        optimize: Optimization options.
    """

    algorithm: Path
    deployment_type: DeploymentType
    node: str | None = None
    project_name: str | None = None
    dry_run: bool = False
    assume_yes: bool = False
    settings_path: Path | None = None
    workspace: Path = DEFAULT_WORKSPACE
    organization_id: str | None = None
    run_name: str | None = None
    timeout_seconds: float | None = None
    live: LiveOptions = LiveOptions()
    optimize: OptimizeOptions = OptimizeOptions()


PUSH_TIMEOUT = 600.0
RUN_TIMEOUTS = {
    DeploymentType.BACKTEST: 12.5 * 3600,  # QuantConnect stops a backtest after 12 hours
    DeploymentType.LIVE: 900.0,  # compile and start; live trading itself runs in the cloud
    DeploymentType.OPTIMIZE: 24 * 3600.0,
}

# What each LEAN CLI command prints when it fails with exit code 0, and when it succeeds.
PUSH_CHECK = OutputCheck(
    failure_patterns=(r"Cannot push '", r"is not a Lean project"),
    success_patterns=(r"Successfully (created|updated) ", r"^\[\d+/\d+\] Pushing "),
    describe_success="'Pushing ...' / 'Successfully ...'",
)
BACKTEST_CHECK = OutputCheck(
    failure_patterns=(
        r"An error occurred during this backtest",
        r"We could not retrieve the complete backtest results",
        r"Something went wrong while compiling",
    ),
    success_patterns=(r"^Backtest id: \S+",),
    describe_success="'Backtest id: ...'",
)
LIVE_CHECK = OutputCheck(
    failure_patterns=(r"You have no live node", r"is already in use by", r"Something went wrong"),
    success_patterns=(r"^Live url: \S+",),
    describe_success="'Live url: ...'",
)
OPTIMIZE_CHECK = OutputCheck(
    failure_patterns=(r"Something went wrong while compiling",),
    success_patterns=(r"^Optimal parameters: ", r"No optimal parameter combination found"),
    describe_success="'Optimal parameters: ...'",
)


# ------------------------------------------------------------------------------ errors


class NodeUnavailableError(ProjectError):
    """The organisation has no usable node of the chosen model (none, or all busy)."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(message)


class LiveConfirmationError(InputError):
    """Live trading was not confirmed and cannot be asked for (no terminal, no ``--yes``)."""


class DeploymentCancelledError(ProjectError):
    """The user answered no; nothing was deployed."""


# ------------------------------------------------------------------------------ analysis


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """The analyzer's requirements and the optimizer that judges nodes against them (issue 3).

    Attributes:
        requirements: What the algorithm needs (``utils.algorithm_analyzer``).
        optimizer: The node optimizer built on the same settings.
    """

    requirements: AlgorithmRequirements
    optimizer: NodeOptimizer

    @cached_property
    def recommendations(self) -> Recommendations:
        """Return ``optimizer.recommend_nodes(requirements)`` (computed once)."""
        return self.optimizer.recommend_nodes(self.requirements)

    def recommended(self, family: Family) -> NodeSpec | None:
        """Return the recommended node of ``family`` (``None`` when nothing fits)."""
        if family is Family.OPTIMIZATION:
            check = self.optimizer.recommend_optimization_node(self.requirements)
            return None if check is None else check.node
        return self._recommendation(family)["node"]

    def reason(self, family: Family) -> str:
        """Return why the optimizer recommends what it does for ``family``."""
        if family is Family.OPTIMIZATION:
            return "cheapest optimization node that holds one backtest"
        return self._recommendation(family)["reason"]

    def _recommendation(self, family: Family) -> EnvironmentRecommendation:
        return next(
            r for r in environments(self.recommendations) if r["environment"] == family.value
        )

    def check(self, node: NodeSpec, family: Family) -> NodeCheck:
        """Return how ``node`` measures up (memory under the warning level, cores, GPU)."""
        return self.optimizer.check(node, self.requirements, family)

    def summary(self) -> str:
        """Return one line describing the algorithm's load."""
        r = self.requirements
        return (
            f"{plural(r.num_securities, 'security', 'securities')}, "
            f"{plural(r.num_option_chains, 'option chain')} x "
            f"{plural(r.contracts_per_chain, 'contract')}, {r.resolution} resolution"
        )


Analyser = Callable[[Path, Settings], Analysis]


def analyse_algorithm(algorithm: Path, settings: Settings) -> Analysis:
    """Analyse ``algorithm`` and recommend nodes with the project's analyzer and optimizer.

    Raises:
        AnalysisError: The file is missing, not Python, has a syntax error or no QCAlgorithm.
    """
    from utils.algorithm_analyzer import analyze_algorithm

    requirements = analyze_algorithm(algorithm, settings)
    return Analysis(requirements=requirements, optimizer=NodeOptimizer(settings=settings))


# ------------------------------------------------------------------------------ steps


class StepState(StrEnum):
    """Where a step stands."""

    PLANNED = "planned"
    DONE = "done"
    FAILED = "failed"


@dataclass
class Step:
    """One step of a deployment: what it will do (plan) and what it did (result)."""

    key: str
    title: str
    plan: list[str] = field(default_factory=list)
    result: str = ""
    state: StepState = StepState.PLANNED

    def record(self) -> dict[str, Any]:
        """Return the step as JSON-ready data."""
        return {
            "key": self.key, "title": self.title, "state": self.state.value,
            "plan": list(self.plan), "result": self.result,
        }  # fmt: skip


@dataclass
class DeploymentResult:
    """What a deployment planned and did (the ``--json`` document)."""

    request: DeployRequest
    node: NodeSpec | None = None
    node_source: str = ""
    check: NodeCheck | None = None
    steps: list[Step] = field(default_factory=list)
    staged_files: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    organization_id: str | None = None
    cloud_node: CloudNode | None = None
    cloud_project_id: int | None = None
    outcome: dict[str, str] = field(default_factory=dict)

    def step(self, key: str) -> Step:
        """Return the step called ``key``."""
        return next(s for s in self.steps if s.key == key)

    def record(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        node, check, cloud = self.node, self.check, self.cloud_node
        return {
            "dry_run": self.request.dry_run,
            "type": self.request.deployment_type.value,
            "algorithm": str(self.request.algorithm),
            "project": project_name(self.request),
            "node": None if node is None else {
                "model": node.model, "source": self.node_source, "cores": node.cores,
                "ram_gb": node.ram_gb, "price": node.price, "price_unit": node.price_unit.value,
                "price_as_of": node.price_as_of,
            },
            "memory": None if check is None else {
                "estimated_mb": round(check.estimate_mb), "node_mb": check.node.ram_mb,
                "warning_limit_mb": round(check.warning_limit_mb),
                "headroom_mb": round(check.headroom_mb), "used_pct": round(check.used_pct, 1),
                "fits": check.fits, "failures": [f.value for f in check.failures],
            },
            "cloud_node": None if cloud is None else {
                "id": cloud.id, "name": cloud.name, "sku": cloud.sku,
                "monthly_price": cloud.monthly_price,
            },
            "organization_id": self.organization_id,
            "cloud_project_id": self.cloud_project_id,
            "staged_files": list(self.staged_files),
            "commands": list(self.commands),
            "steps": [s.record() for s in self.steps],
            "outcome": dict(self.outcome),
        }  # fmt: skip


def project_name(request: DeployRequest) -> str:
    """Return the cloud project name of ``request``."""
    return request.project_name or default_project_name(request.algorithm)


def memory_verdict(check: NodeCheck) -> tuple[str, str]:
    """Return a sentence on ``check``'s memory and a rich style (red: LEAN would kill it)."""
    node = check.node
    line = (
        f"memory estimate {check.estimate_mb:,.0f} MB of {node.ram_mb:,} MB ({check.used_pct:.0f}%)"
    )
    if check.estimate_mb > node.ram_mb:
        short = check.estimate_mb - node.ram_mb
        return f"{line}: DOES NOT FIT, {short:,.0f} MB over the node's RAM", "bold red"
    if check.headroom_mb < 0:
        limit = check.warning_limit_mb
        return f"{line}: above the warning level ({limit:,.0f} MB): little headroom", "yellow"
    return f"{line}: fits, {check.headroom_mb:,.0f} MB below the warning level", ""


# ------------------------------------------------------------------------------ deployment


class Deployment:
    """Plan and run one deployment.

    Args:
        request: What to do.
        settings: The validated settings (prices, thresholds).
        console: Where the plan, the status lines and the CLI's output go.
        environ: The environment (credentials, ``QC_API``, ``PATH``); default ``os.environ``.
        home: The home folder holding ``.lean/credentials``; default ``Path.home()``.
        analyse: The analyzer and optimizer (default :func:`analyse_algorithm`).
        api_factory: Builds the API client from credentials.
        lean_runner: Runs the LEAN CLI process.
        lean_executable: The ``lean`` to run (default: found on PATH).
        confirm: Asks a yes/no question (default: a prompt on ``console``).
        is_terminal: Whether a person can answer a prompt (default: standard input and
            ``console`` are a terminal).
        clock: The current time (for run names).
    """

    def __init__(
        self,
        request: DeployRequest,
        *,
        settings: Settings,
        console: Console,
        environ: Mapping[str, str] | None = None,
        home: Path | None = None,
        analyse: Analyser = analyse_algorithm,
        api_factory: Callable[[Credentials], QuantConnectAPI] | None = None,
        lean_runner: ProcessRunner = stream_process,
        lean_executable: Path | None = None,
        confirm: Callable[[str], bool] | None = None,
        is_terminal: Callable[[], bool] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.request = request
        self.settings = settings
        self.console = console
        self.environ = dict(os.environ if environ is None else environ)
        self.home = home
        self._analyse = analyse
        self._api_factory = api_factory or self._default_api
        self._confirm = confirm or self._ask
        self._is_terminal = is_terminal or self._console_is_interactive
        self._clock = clock
        self.catalog: NodeCatalog = settings.quantconnect.catalog()
        self.result = DeploymentResult(request=request)
        self.result.steps = self._steps()
        self._credentials: Credentials | None = None
        self._optimization_line = ""
        self.lean = LeanCli(
            cwd=request.workspace, environ=self.environ, executable=lean_executable,
            runner=lean_runner, echo=self._echo_cli,
            secret_options=[f"--{name}" for name, _ in request.live.brokerage_options],
        )  # fmt: skip

    def _default_api(self, credentials: Credentials) -> QuantConnectAPI:
        return QuantConnectAPI(credentials, environ=self.environ)

    def run(self) -> DeploymentResult:
        """Plan the deployment; show it (dry run) or carry it out.

        Raises:
            ProjectError: A step failed; the message says which and why. Later steps did not
                run. Bad input (an ``InputError``) is always found before anything is sent.
        """
        request = self.request
        kind = request.deployment_type
        analysis = self._step("analyse", self._do_analyse)
        node = self._step("node", lambda: self._do_node(analysis))
        plan = self._step("stage", lambda: self._do_plan_stage(node))
        problems = self._preflight()
        self._describe_remaining(node, plan)

        if request.dry_run:
            self._show_plan(problems)
            if problems:
                raise problems[0]
            return self.result
        check = self.result.step("check")
        check.state = StepState.FAILED if problems else StepState.DONE
        self._status(check)
        if problems:
            raise problems[0]
        assert self._credentials is not None  # noqa: S101 - no problems means credentials
        api = self._api_factory(self._credentials)
        organization = self._organization(api)
        cloud_node = self._step("find", lambda: self._do_find(api, organization, node))
        if kind is DeploymentType.LIVE:
            self._step("confirm", lambda: self._do_confirm(node, cloud_node, plan))
        project_id = self._step("push", lambda: self._do_push(plan, organization))
        if cloud_node is not None and kind in (DeploymentType.BACKTEST, DeploymentType.RESEARCH):
            self._step("pin", lambda: self._do_pin(api, project_id, cloud_node))
        self._step("run", lambda: self._do_run(node, cloud_node, project_id))
        return self.result

    def _steps(self) -> list[Step]:
        kind = self.request.deployment_type
        titles = [("analyse", "analyse"), ("node", "node"), ("stage", "stage"),
                  ("check", "check"), ("find", "find node")]  # fmt: skip
        if kind is DeploymentType.LIVE:
            titles.append(("confirm", "confirm"))
        titles.append(("push", "push"))
        if kind in (DeploymentType.BACKTEST, DeploymentType.RESEARCH):
            titles.append(("pin", "pin node"))
        titles.append(("run", kind.value))
        return [Step(key=key, title=title) for key, title in titles]

    def _step(self, key: str, action: Callable[[], Any]) -> Any:
        step = self.result.step(key)
        executing = not self.request.dry_run
        try:
            if executing and key in ("find", "pin"):
                with self.console.status(f"{step.title}…", spinner="dots"):
                    value = action()
            else:
                value = action()
        except BaseException:
            step.state = StepState.FAILED
            self._status(step)
            raise
        if executing:
            step.state = StepState.DONE
            self._status(step)
        return value

    def _status(self, step: Step) -> None:
        """Print the step's status line (done, failed)."""
        mark = {StepState.DONE: "[green]✓[/]", StepState.FAILED: "[red]✗[/]"}.get(
            step.state, "[dim]·[/]"
        )
        text = step.result if step.state is StepState.DONE else "failed"
        self.console.print(f"{mark} [bold]{step.title:<9}[/] {escape(text)}")

    # -------------------------------------------------------------- offline steps

    def _do_analyse(self) -> Analysis:
        step = self.result.step("analyse")
        analysis = self._analyse(self.request.algorithm, self.settings)
        family = self.request.deployment_type.family
        recommended = analysis.recommended(family)
        choice = recommended.model if recommended is not None else "nothing fits"
        step.plan = [f"{self.request.algorithm}: {analysis.summary()}"]
        step.plan += [f"warning: {w}" for w in analysis.requirements.warnings]
        step.result = f"{self.request.algorithm.name}: {analysis.summary()}; {choice} recommended"
        return analysis

    def _do_node(self, analysis: Analysis) -> NodeSpec:
        step = self.result.step("node")
        kind = self.request.deployment_type
        family = kind.family
        if self.request.node:
            try:
                node = self.catalog.get(self.request.node, family)
            except UnknownNodeError as error:
                msg = f"--node {self.request.node} for --type {kind.value}: {error}"
                raise UnknownNodeError(self.request.node, msg) from None
            source = "--node"
        else:
            recommended = analysis.recommended(family)
            if recommended is None:
                msg = (
                    f"no {family.label} node fits this algorithm: {analysis.reason(family)}. "
                    "Reduce the load, or choose a node yourself with --node MODEL."
                )
                raise InputError(msg)
            node, source = recommended, "recommended"
        check = analysis.check(node, family)
        self.result.node, self.result.node_source, self.result.check = node, source, check
        if kind is DeploymentType.OPTIMIZE:
            self._check_optimize()
            self._optimization_line = self._optimization_cost(analysis, node)
        verdict, style = memory_verdict(check)
        line = f"{node.describe()}, {node.price_text()} (as of {node.price_as_of}), {source}"
        problems = [f.value for f in check.failures]
        step.plan = [line, verdict + (f"; fails: {', '.join(problems)}" if problems else "")]
        step.result = f"{line}; {step.plan[1]}"
        if style:
            self.console.print(Text(f"warning: {node.model}: {step.plan[1]}", style=style))
        return node

    def _check_optimize(self) -> None:
        options = self.request.optimize
        if not options.parameters:
            msg = (
                "--type optimize needs at least one --parameter 'NAME MIN MAX STEP' "
                "(the algorithm reads it with get_parameter)"
            )
            raise InputError(msg)
        if options.target not in OPTIMIZATION_TARGETS:
            msg = f"--target {options.target!r}: choose one of {', '.join(OPTIMIZATION_TARGETS)}"
            raise InputError(msg)
        if options.direction not in ("max", "min"):
            msg = f"--target-direction {options.direction!r}: choose max or min"
            raise InputError(msg)

    def _do_plan_stage(self, node: NodeSpec) -> LeanProjectPlan:
        step = self.result.step("stage")
        request = self.request
        plan = plan_project(
            request.algorithm,
            settings_path=request.settings_path or DEFAULT_SETTINGS_PATH,
            project_name=project_name(request),
            workspace=request.workspace,
            deployment_node=node.model,
            deployment_type=request.deployment_type.value,
        )
        self.result.staged_files = plan.paths()
        step.plan = [
            f"{plan.project_dir} (and {plan.workspace / 'lean.json'} with the organisation id)",
            f"files: {', '.join(plan.paths())}",
            f"settings: {plan.settings_note}",
        ]
        step.result = f"{plural(len(plan.files), 'file')} in {plan.project_dir}"
        return plan

    def _preflight(self) -> list[ProjectError]:
        """Check credentials and the LEAN CLI (offline); return the problems found."""
        step = self.result.step("check")
        problems: list[ProjectError] = []
        lines = []
        try:
            credentials = load_credentials(self.environ, self.home)
            self._check_cli_credentials(credentials)
            self._credentials = credentials
            self.lean.secrets = [credentials.api_token]
            lines.append(f"credentials: user {credentials.user_id} from {credentials.source}")
        except CredentialsError as error:
            problems.append(error)
            lines.append(f"credentials: MISSING: {error}")
        try:
            lines.append(f"LEAN CLI: {self.lean.locate()}")
        except ProjectError as error:
            problems.append(error)
            lines.append(f"LEAN CLI: MISSING: {error}")
        lines.append(f"API: {api_base_url(self.environ)}")
        step.plan = lines
        step.result = "; ".join(lines)
        return problems

    def _check_cli_credentials(self, credentials: Credentials) -> None:
        """The LEAN CLI reads only ~/.lean/credentials: it must hold the same account."""
        if not credentials.source.startswith("environment"):
            return
        try:
            cli: Credentials | None = read_lean_credentials(self.home)
        except CredentialsError:
            cli = None
        if cli is not None and credentials.same_account_as(cli):
            return
        state = "does not exist" if cli is None else f"holds other credentials (user {cli.user_id})"
        msg = (
            f"the credentials come from {credentials.source} (user {credentials.user_id}), but "
            f"the LEAN CLI reads only ~/.lean/credentials, which {state}. Run `lean login` with "
            "the same account, or unset the environment variables: otherwise the node would be "
            "chosen in one account and the code pushed to another"
        )
        raise CredentialsError(msg)

    def _describe_remaining(self, node: NodeSpec, plan: LeanProjectPlan) -> None:
        """Fill in the plan of the steps that need the network."""
        request = self.request
        kind = request.deployment_type
        organization = request.organization_id or self.environ.get(ORGANIZATION_ENV) or None
        self.result.organization_id = organization
        where = organization or "the account's preferred organisation (account/read)"
        find = self.result.step("find")
        if kind is DeploymentType.OPTIMIZE:
            find.plan = [f"none: optimizations run on QuantConnect's {node.model} cluster"]
        else:
            which = "a free" if kind is DeploymentType.LIVE else "a"
            find.plan = [f"POST nodes/read for {where}: {which} {node.model} node"]
        if kind is DeploymentType.LIVE:
            live = request.live
            mode = "paper trading" if live.is_paper else f"REAL MONEY via {live.brokerage}"
            how = "--yes given" if request.assume_yes else "a prompt (refused without a terminal)"
            self.result.step("confirm").plan = [
                f"{mode}: show the node, its monthly price and the memory headroom; {how}"
            ]
        push = self.lean.command_line(["cloud", "push", "--project", plan.project_name])
        self.result.step("push").plan = [f"{push}   (in {plan.workspace})"]
        self.result.commands = [push]
        if kind in (DeploymentType.BACKTEST, DeploymentType.RESEARCH):
            self.result.step("pin").plan = [
                "POST projects/nodes/read, then projects/nodes/update {projectId, nodes: "
                f"[the {node.model} node's id (other families' pins kept)]}}"
            ]
        run = self.result.step("run")
        args = self._run_args(node, None, plan.project_name)
        if args is None:
            run.plan = ["print how to open the notebook (QuantConnect has no API to start one)"]
            return
        command = self.lean.command_line(args)
        self.result.commands.append(command)
        run.plan = [f"{command}   (in {plan.workspace})"]
        if kind is DeploymentType.OPTIMIZE:
            run.plan.append(self._optimization_line)

    def _show_plan(self, problems: Sequence[ProjectError]) -> None:
        request = self.request
        self.console.print(
            Text(
                f"Deployment plan: --type {request.deployment_type.value} {request.algorithm} "
                "(dry run: nothing is run, written or sent)",
                style="bold",
            )
        )
        for number, step in enumerate(self.result.steps, start=1):
            first, *rest = step.plan or [""]
            self.console.print(f"{number:>2}. [bold]{step.title:<9}[/] {escape(first)}")
            for line in rest:
                self.console.print(f"    {'':<9} {escape(line)}")
        if problems:
            self.console.print(
                f"[bold red]The deployment would fail:[/] {len(problems)} problem(s), "
                "marked MISSING above"
            )

    def _optimization_cost(self, analysis: Analysis, node: NodeSpec) -> str:
        """Return the grid's cost by the LEAN CLI's formula (the optimizer checks the options).

        Raises:
            InputError: ``--parallel-nodes`` outside the node's range, or a negative
                ``--backtest-seconds``.
        """
        options = self.request.optimize
        try:
            estimate = analysis.optimizer.optimization_estimate(
                node.model,
                backtest_seconds=options.backtest_seconds,
                parallel_nodes=options.parallel_nodes,
                parameters=[(p.minimum, p.maximum, p.step) for p in options.parameters],
            )
        except InputError as error:
            msg = f"--parallel-nodes {options.parallel_nodes} --node {node.model}: {error}"
            raise InputError(msg) from None
        return (
            f"cost estimate: {estimate.backtests:,} backtests of ~{options.backtest_seconds:g} s "
            f"on {node.model} at {node.price_text()}: {estimate.hours:g} node-hours, about "
            f"${estimate.cost:,.2f}, {estimate.batch_hours:g} h on {estimate.parallel_nodes} "
            "parallel node(s) (the LEAN CLI's formula; it prints QuantConnect's own estimate "
            "before starting)"
        )

    # -------------------------------------------------------------- online steps

    def _organization(self, api: QuantConnectAPI) -> str:
        organization = self.result.organization_id
        if organization is None:
            organization = api.preferred_organization_id()
            self.result.organization_id = organization
        return organization

    def _do_find(self, api: QuantConnectAPI, organization: str, node: NodeSpec) -> CloudNode | None:
        step = self.result.step("find")
        kind = self.request.deployment_type
        family = kind.api_family
        if family is None:
            step.result = f"{node.model}: QuantConnect's optimization cluster (nothing to pick)"
            return None
        chosen = pick_node(api.read_nodes(organization), family, node, kind, organization)
        self.result.cloud_node = chosen
        price = f", ${chosen.monthly_price:,.0f}/month" if chosen.monthly_price is not None else ""
        busy = " (busy now: the run will queue)" if chosen.busy else ""
        step.result = f"{chosen.describe()}{price}{busy} in organisation {organization}"
        return chosen

    def _do_confirm(
        self, node: NodeSpec, cloud_node: CloudNode | None, plan: LeanProjectPlan
    ) -> None:
        step = self.result.step("confirm")
        assert cloud_node is not None  # noqa: S101 - live always finds a node first
        assert self.result.check is not None  # noqa: S101 - set by the node step
        live = self.request.live
        text = Text()
        if live.is_paper:
            text.append("PAPER TRADING (simulated orders)\n", style="bold yellow")
        else:
            text.append(f"REAL MONEY: orders go to {live.brokerage}\n", style="bold red")
        text.append(f"Project:  {plan.project_name}\n")
        text.append(f"Node:     {cloud_node.name} ({cloud_node.id}): {node.describe()}\n")
        charged = cloud_node.monthly_price
        price = f"${charged:,.0f}/month (QuantConnect)" if charged is not None else "unknown"
        if charged is None or charged != node.price:
            price += f"; catalog {node.price_text()} as of {node.price_as_of}"
        text.append(f"Price:    {price}\n")
        verdict, style = memory_verdict(self.result.check)
        text.append(f"Memory:   {verdict}", style=style)
        self.console.print(Panel(text, title="Live deployment", expand=False))
        if self.result.check.estimate_mb > node.ram_mb:
            self.console.print(
                f"[bold red]WARNING: the memory estimate does not fit {node.model}. LEAN stops an "
                "algorithm whose memory exceeds the node's RAM ('Memory Usage Maxed Out'), "
                "open positions and all. Choose a larger node with --node.[/]"
            )
        if self.request.assume_yes:
            step.result = "confirmed by --yes"
            return
        if not self._is_terminal():
            msg = (
                "refusing to start live trading without confirmation: there is no terminal to "
                "ask on. Check the plan (--dry-run), then re-run with --yes. Nothing was deployed."
            )
            raise LiveConfirmationError(msg)
        if not self._confirm(f"Start live trading of {plan.project_name} on {cloud_node.name}?"):
            msg = "live deployment cancelled: nothing was deployed"
            raise DeploymentCancelledError(msg)
        step.result = "confirmed at the prompt"

    def _do_push(self, plan: LeanProjectPlan, organization: str) -> int:
        step = self.result.step("push")
        project_dir = plan.write(organization)
        args = ["cloud", "push", "--project", plan.project_name]
        self.lean.run(args, timeout=PUSH_TIMEOUT, check=PUSH_CHECK)
        project_id = cloud_project_id(project_dir)
        if project_id is None:
            msg = (
                f"`{self.lean.command_line(args)}` printed no error, but "
                f"{project_dir / 'config.json'} has no cloud-id afterwards: the project was not "
                "created in the cloud"
            )
            raise ProjectError(msg)
        self.result.cloud_project_id = project_id
        files = plural(len(plan.files), "file")
        step.result = f"{files} to cloud project {plan.project_name!r} (id {project_id})"
        return project_id

    def _do_pin(self, api: QuantConnectAPI, project_id: int, node: CloudNode) -> None:
        step = self.result.step("pin")
        current = api.read_project_nodes(project_id)
        keep = [n.id for n in current.all() if n.active and n.family != node.family]
        api.update_project_nodes(project_id, [*keep, node.id])
        step.result = f"project {project_id} now runs on {node.describe()}"

    def _run_args(
        self, node: NodeSpec, cloud_node: CloudNode | None, project: str
    ) -> list[str] | None:
        request = self.request
        kind = request.deployment_type
        name = request.run_name or f"{project} on {node.model} {self._clock():%Y-%m-%d %H%M}"
        if kind is DeploymentType.BACKTEST:
            return ["cloud", "backtest", project, "--name", name]
        if kind is DeploymentType.LIVE:
            live = request.live
            target = cloud_node.id if cloud_node is not None else f"<free {node.model} node id>"
            args = ["cloud", "live", "deploy", project, "--brokerage", live.brokerage]
            for provider in live.data_providers:
                args += ["--data-provider-live", provider]
            args += [
                "--node", target,
                "--auto-restart", _yes_no(live.auto_restart),
                "--notify-order-events", _yes_no(live.notify_order_events),
                "--notify-insights", _yes_no(live.notify_insights),
            ]  # fmt: skip
            for option, value in live.brokerage_options:
                args += [f"--{option}", value]
            return args
        if kind is DeploymentType.OPTIMIZE:
            options = request.optimize
            args = ["cloud", "optimize", project, "--target", options.target,
                    "--target-direction", options.direction]  # fmt: skip
            for parameter in options.parameters:
                args += parameter.cli_args()
            for constraint in options.constraints:
                args += ["--constraint", constraint]
            args += ["--node", node.model, "--parallel-nodes", str(options.parallel_nodes)]
            return [*args, "--name", name]
        return None

    def _do_run(self, node: NodeSpec, cloud_node: CloudNode | None, project_id: int) -> None:
        step = self.result.step("run")
        kind = self.request.deployment_type
        args = self._run_args(node, cloud_node, project_name(self.request))
        if args is None:  # research: pinned; a person opens the notebook
            assert cloud_node is not None  # noqa: S101 - research always finds a node
            url = f"https://www.quantconnect.com/project/{project_id}"
            self.result.outcome = {"project_url": url, "research_node_id": cloud_node.id}
            step.result = (
                f"open {url} and start a Research notebook: it runs on {cloud_node.describe()} "
                "(QuantConnect has no API to start one)"
            )
            return
        timeout = self.request.timeout_seconds or RUN_TIMEOUTS[kind]
        self.result.commands[-1:] = [self.lean.command_line(args)]
        result = self.lean.run(args, timeout=timeout, check=RUN_CHECKS[kind])
        outcome: dict[str, str] = {}
        for key, pattern in (
            ("backtest_id", r"^Backtest id: (\S+)"),
            ("backtest_url", r"^Backtest url: (\S+)"),
            ("live_url", r"^Live url: (\S+)"),
            ("optimal_parameters", r"^Optimal parameters: (.+)$"),
            ("optimal_backtest_id", r"^Optimal backtest id: (\S+)"),
        ):
            match = result.find(pattern)
            if match:
                outcome[key] = match.group(1)
        self.result.outcome = outcome
        shown = (
            outcome.get("backtest_url")
            or outcome.get("live_url")
            or outcome.get("optimal_parameters", "finished")
        )
        step.result = f"{shown} ({result.seconds:.0f} s)"

    def _echo_cli(self, line: str) -> None:
        self.console.print(Text(f"  │ {line}", style="dim"))

    def _console_is_interactive(self) -> bool:
        return sys.stdin.isatty() and self.console.is_terminal

    def _ask(self, question: str) -> bool:
        from rich.prompt import Confirm

        return Confirm.ask(question, default=False, console=self.console)


RUN_CHECKS = {
    DeploymentType.BACKTEST: BACKTEST_CHECK,
    DeploymentType.LIVE: LIVE_CHECK,
    DeploymentType.OPTIMIZE: OPTIMIZE_CHECK,
}


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def pick_node(
    nodes: NodeList, family: str, node: NodeSpec, kind: DeploymentType, organization: str
) -> CloudNode:
    """Return the organisation's node of ``node.model`` to use: a free one for live trading.

    Raises:
        NodeUnavailableError: The organisation has none of that model, or (live) all are busy.
    """
    same = [n for n in nodes.family(family) if n.sku.upper() == node.model.upper()]
    resources = f"https://www.quantconnect.com/organization/{organization}/resources"
    label = kind.family.label
    if not same:
        have = ", ".join(sorted({n.sku for n in nodes.family(family)})) or "none"
        msg = (
            f"organisation {organization} has no {node.model} {label} node (its {label} "
            f"nodes: {have}). Add one on {resources}, or choose a model you have with --node. "
            "Nothing was deployed."
        )
        raise NodeUnavailableError(node.model, msg)
    if kind is not DeploymentType.LIVE:
        return sorted(same, key=lambda n: n.busy)[0]
    free = [n for n in same if not n.busy]
    if free:
        return free[0]
    busy = "; ".join(
        f"{n.describe()} runs {n.project_name or 'an algorithm'!r} for {n.used_by or 'someone'}"
        for n in same
    )
    others = sorted({n.sku for n in nodes.live if not n.busy})
    alternative = f" Free live nodes of other models: {', '.join(others)}." if others else ""
    msg = (
        f"every {node.model} live node of organisation {organization} is busy ({busy}); a live "
        "node runs exactly one algorithm. Stop one (`lean cloud live stop PROJECT`) or add a "
        f"node on {resources}.{alternative} Nothing was deployed."
    )
    raise NodeUnavailableError(node.model, msg)


def build_request(
    algorithm: Path,
    *,
    deploy_type: str | None,
    node: str | None = None,
    dry_run: bool = False,
    yes: bool = False,
    project: str | None = None,
    build_dir: Path | None = None,
    organization: str | None = None,
    run_name: str | None = None,
    timeout: float | None = None,
    settings_path: Path | None = None,
    brokerage: str = PAPER_TRADING,
    data_providers: Sequence[str] = (),
    brokerage_options: Sequence[str] = (),
    auto_restart: bool = True,
    notify_order_events: bool = False,
    notify_insights: bool = False,
    target: str = "Sharpe Ratio",
    target_direction: str = "max",
    parameters: Sequence[str] = (),
    constraints: Sequence[str] = (),
    parallel_nodes: int = 1,
    backtest_seconds: float = 60.0,
) -> DeployRequest:
    """Return the request the deploy command's options describe (see the script's --help).

    Raises:
        InputError: An option value is not valid (the message names it and what is allowed).
    """
    kind = parse_deployment_type(deploy_type)
    if timeout is not None and timeout <= 0:
        msg = f"--timeout {timeout:g}: must be a positive number of seconds"
        raise InputError(msg)
    live = LiveOptions(
        brokerage=brokerage,
        data_providers=tuple(data_providers) or ("QuantConnect",),
        auto_restart=auto_restart,
        notify_order_events=notify_order_events,
        notify_insights=notify_insights,
        brokerage_options=tuple(parse_brokerage_option(o) for o in brokerage_options),
    )
    optimize = OptimizeOptions(
        target=target,
        direction=target_direction.strip().lower(),
        parameters=tuple(OptimizationParameter.parse(p) for p in parameters),
        constraints=tuple(constraints),
        parallel_nodes=parallel_nodes,
        backtest_seconds=backtest_seconds,
    )
    return DeployRequest(
        algorithm=algorithm,
        deployment_type=kind,
        node=node,
        project_name=project,
        dry_run=dry_run,
        assume_yes=yes,
        settings_path=settings_path,
        workspace=build_dir.resolve() if build_dir is not None else DEFAULT_WORKSPACE,
        organization_id=organization,
        run_name=run_name,
        timeout_seconds=timeout,
        live=live,
        optimize=optimize,
    )
