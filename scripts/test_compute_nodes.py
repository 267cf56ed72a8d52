"""Check an installation and its settings: the seed's ``python scripts/test_compute_nodes.py``.

A self-check for the trader's own machine and settings, not the project's test suite
(that is ``make test``). It runs five groups of checks, the seed's:

* Configuration loading: ``config/settings.json`` (or ``--settings``) is valid; the configured
  nodes, the age of the node prices, the live node's latency, the monitoring switches.
* Node optimizer validation: the seed's example (5 chains x 100 contracts, LLM analysis) gets a
  recommendation, and whether the configured nodes fit it.
* Resource monitor functionality: psutil, where the memory limit comes from (cgroup, RAM, the
  target node), two real samples (the first CPU figure warms up, the second is a value), what a
  sample costs, and whether the metrics log can be written.
* Algorithm analysis tests: the bundled algorithm (or ``--algorithm``) is analysed and the
  configured nodes are checked against it.
* Integration verification: the circuit breaker's state file (a HALTED breaker left by a
  previous run is a failure, shown loudly: the algorithm would start without trading), the
  monitor halting an in-memory breaker on a simulated critical reading, the runtime importing
  without desktop packages, the dashboard's packages, the LEAN CLI and QuantConnect credentials
  (warnings only: offline is fine).

Nothing is written: logs are only checked for writability, and the breaker's state file is read
without being changed. Exit codes: 0 no failure (warnings allowed), 1 a failure, 2 bad input
(an invalid settings file, an algorithm that cannot be analysed). ``--json`` prints the checks
as one JSON document.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

if __package__ in (None, ""):  # run as a file: make the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer

from utils.cli import command_errors

if TYPE_CHECKING:
    from rich.console import Console

    from utils.circuit_breaker import BreakerStatus
    from utils.node_optimizer import AlgorithmRequirements, Recommendations
    from utils.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ALGORITHM = PROJECT_ROOT / "algorithms" / "options_trading_bot.py"
PRICES_STALE_AFTER_DAYS = 180
SAMPLE_COST_WARN_SECONDS = 0.005
DESKTOP_MODULES = ("rich", "typer", "PySide6", "pyqtgraph", "lean", "ui")
PRICING_URL = "https://www.quantconnect.com/pricing"

CONFIGURATION = "Configuration loading"
OPTIMIZER = "Node optimizer validation"
MONITOR = "Resource monitor functionality"
ANALYSIS = "Algorithm analysis tests"
INTEGRATION = "Integration verification"
SECTIONS = (CONFIGURATION, OPTIMIZER, MONITOR, ANALYSIS, INTEGRATION)

app = typer.Typer(add_completion=False, rich_markup_mode=None)


class Status(StrEnum):
    """A check's result."""

    PASS = "pass"  # noqa: S105 - a check result, not a password
    WARN = "warn"
    FAIL = "fail"


@dataclass
class Check:
    """One line of the report.

    Attributes:
        section: One of :data:`SECTIONS`.
        name: What was checked.
        status: Pass, warn or fail.
        detail: What was found (figures, paths, sources).
        fix: What to do about a warning or failure.
    """

    section: str
    name: str
    status: Status
    detail: str
    fix: str = ""

    def record(self) -> dict[str, str]:
        """Return the check as a JSON-ready dict."""
        return {
            "section": self.section,
            "name": self.name,
            "status": self.status.value,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass
class Context:
    """What the checks share."""

    settings: Settings
    settings_path: Path
    algorithm: Path
    algorithm_given: bool
    offline: bool
    checks: list[Check] = field(default_factory=list)
    halted: BreakerStatus | None = None

    def add(self, section: str, name: str, status: Status, detail: str, fix: str = "") -> None:
        """Record one check."""
        self.checks.append(Check(section, name, status, detail, fix))


@contextmanager
def quiet_logging() -> Iterator[None]:
    """Keep the monitor's and the breaker's log lines (real alerts, simulated ones) off the
    report: a simulated critical alert must not look like a real one."""
    root = logging.getLogger()
    previous = root.level
    handler = logging.NullHandler()
    root.addHandler(handler)
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        root.removeHandler(handler)
        root.setLevel(previous)


@app.command()
def main(
    settings_path: Annotated[
        Path | None,
        typer.Option("--settings", help="Settings file (default config/settings.json)."),
    ] = None,
    algorithm: Annotated[
        Path | None,
        typer.Option("--algorithm", help="Algorithm to analyse (default: the bundled bot)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    offline: Annotated[
        bool,
        typer.Option("--offline", help="Do not start the LEAN CLI (it downloads at start-up)."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
) -> None:
    """Check the installation, the settings, the monitor and the tools; exit 1 on a failure."""
    with command_errors(verbose=verbose):
        from utils.settings import DEFAULT_SETTINGS_PATH, load_settings

        settings = load_settings(settings_path)  # invalid: SettingsError, exit 2
        context = Context(
            settings=settings,
            settings_path=settings_path or DEFAULT_SETTINGS_PATH,
            algorithm=algorithm or DEFAULT_ALGORITHM,
            algorithm_given=algorithm is not None,
            offline=offline,
        )
        with quiet_logging():
            run_checks(context, verbose=verbose)
        failed = any(c.status is Status.FAIL for c in context.checks)
        exit_code = 1 if failed else 0
        if as_json:
            print(json.dumps(document(context, exit_code), indent=2))
        else:
            from rich.console import Console

            print_report(context, Console(highlight=False))
    raise typer.Exit(exit_code)


def run_checks(context: Context, *, verbose: bool) -> None:
    """Run every check in order; a check that breaks is a failure, not a crash."""
    from utils.errors import InputError

    steps: list[tuple[str, Callable[[Context], None]]] = [
        (CONFIGURATION, check_configuration),
        (OPTIMIZER, check_optimizer),
        (MONITOR, check_monitor),
        (ANALYSIS, check_analysis),
        (INTEGRATION, check_breaker),
        (INTEGRATION, check_monitor_drives_breaker),
        (INTEGRATION, check_runtime_imports),
        (INTEGRATION, check_dashboard),
        (INTEGRATION, check_lean_cli),
        (INTEGRATION, check_credentials),
    ]
    for section, step in steps:
        try:
            step(context)
        except InputError:
            raise  # bad input (an algorithm the user named): exit 2
        except Exception as error:
            if verbose:
                raise
            name = step.__name__.removeprefix("check_").replace("_", " ")
            context.add(
                section, name, Status.FAIL,
                f"the check itself failed: {type(error).__name__}: {error}",
                "run again with --verbose and report it",
            )  # fmt: skip


# ------------------------------------------------------------------------ configuration
def check_configuration(context: Context) -> None:
    """Settings valid, configured nodes, prices' age, live latency, monitoring switches."""
    from utils.node_catalog import Family
    from utils.node_optimizer import ENVIRONMENTS

    qc = context.settings.quantconnect
    limits = qc.resource_limits
    context.add(
        CONFIGURATION, "settings file", Status.PASS,
        f"{context.settings_path}: valid. Levels: memory {limits.memory_warning_pct:g}/"
        f"{limits.memory_critical_pct:g}%, CPU {limits.cpu_warning_pct:g}/"
        f"{limits.cpu_critical_pct:g}%, latency {limits.latency_warning_ms:g}/"
        f"{limits.latency_critical_ms:g} ms (warning/critical)",
    )  # fmt: skip
    nodes = [qc.configured_node(family) for family in ENVIRONMENTS]
    total = sum(node.price for node in nodes)
    listed = ", ".join(
        f"{f.label} {n.describe()} ${n.price:,.0f}"
        for f, n in zip(ENVIRONMENTS, nodes, strict=True)
    )
    context.add(
        CONFIGURATION, "configured nodes", Status.PASS,
        f"{listed}; total ${total:,.0f}/month",
    )  # fmt: skip

    catalog = qc.catalog()
    dates = sorted({node.price_as_of for node in catalog})
    oldest = dates[0]
    age = (datetime.now(UTC).date() - date.fromisoformat(oldest)).days
    detail = f"{len(catalog)} node models; prices as of {', '.join(dates)} ({age} days old)"
    if age > PRICES_STALE_AFTER_DAYS:
        context.add(
            CONFIGURATION, "node prices", Status.WARN, detail,
            f"QuantConnect changes its prices: compare with {PRICING_URL} and set "
            "quantconnect.node_prices and node_prices_as_of in the settings",
        )  # fmt: skip
    else:
        context.add(CONFIGURATION, "node prices", Status.PASS, detail)

    live = qc.compute_nodes.live_trading
    live_node = qc.configured_node(Family.LIVE_TRADING)
    where = "co-located (Equinix NY7)" if live.colocated else "not marked co-located"
    if live.max_latency_ms is not None and live.max_latency_ms >= limits.latency_warning_ms:
        context.add(
            CONFIGURATION, "live node latency", Status.WARN,
            f"{live_node.model}: expected broker round trip {live.max_latency_ms:g} ms is at or "
            f"above latency_warning_ms ({limits.latency_warning_ms:g} ms)",
            "every order would raise a latency warning: raise latency_warning_ms or lower "
            "max_latency_ms",
        )  # fmt: skip
    else:
        expected = (
            f", expected round trip < {live.max_latency_ms:g} ms"
            if live.max_latency_ms is not None
            else ""
        )
        context.add(
            CONFIGURATION, "live node latency", Status.PASS,
            f"{live_node.model}: {where}{expected}; latency warning at "
            f"{limits.latency_warning_ms:g} ms p95",
        )  # fmt: skip

    monitoring = qc.monitoring
    problems = []
    if not monitoring.enabled:
        problems.append("monitoring.enabled is false: the algorithm runs unmonitored and the "
                        "circuit breaker never trips on resources")  # fmt: skip
    if not monitoring.log_metrics:
        problems.append("monitoring.log_metrics is false: no metrics log to follow or analyse")
    target = monitoring.target_node or "none (memory % of this machine; the deploy command "
    target += "" if monitoring.target_node else "sets the deployment node)"
    detail = (
        f"sampling every {monitoring.check_interval_seconds:g} s, confirm "
        f"{monitoring.confirm_samples} samples, warning action {monitoring.warning_action}, "
        f"target node {target}"
    )
    if problems:
        context.add(CONFIGURATION, "monitoring", Status.WARN, "; ".join(problems), detail)
    else:
        context.add(CONFIGURATION, "monitoring", Status.PASS, detail)


# ---------------------------------------------------------------------------- optimizer
def _recommended(recommendations: Recommendations) -> str:
    from utils.node_optimizer import environments

    parts = []
    for rec in environments(recommendations):
        node = rec["node"]
        label = rec["environment"].replace("_", " ")
        parts.append(f"{label} {node.model if node else 'none fits'}")
    return ", ".join(parts) + f"; ${recommendations['total_monthly_cost']:,.0f}/month"


def _configured_fit(context: Context, section: str, what: str, recs: Recommendations) -> None:
    from utils.node_optimizer import environments

    misfits = [
        r["configured"]["message"] for r in environments(recs) if not r["configured"]["fits"]
    ]
    if misfits:
        context.add(
            section, f"configured vs {what}", Status.WARN, " ".join(misfits),
            "the estimate is a model, not a measurement: run it on the node with the monitor "
            "(target_node) and watch its memory, or take the suggested node",
        )  # fmt: skip
        return
    fits = "; ".join(
        f"{r['configured']['node'].model}: {r['configured']['estimated_memory_mb']:,.0f} MB "
        f"({r['configured']['headroom_mb']:,.0f} MB below the warning level)"
        for r in environments(recs)
    )
    context.add(section, f"configured vs {what}", Status.PASS, f"all fit: {fits}")


def check_optimizer(context: Context) -> None:
    """The seed's example gets a recommendation; do the configured nodes fit it?"""
    from utils.node_optimizer import AlgorithmRequirements, NodeOptimizer

    optimizer = NodeOptimizer(context.settings)
    requirements = AlgorithmRequirements(num_option_chains=5, use_llm_analysis=True)
    recs = optimizer.recommend_nodes(requirements)
    backtesting = recs["backtesting"]["node"]
    detail = f"5 chains x 100 contracts with LLM analysis: {_recommended(recs)}"
    if backtesting is not None and backtesting.model == "B8-16":
        context.add(OPTIMIZER, "seed example", Status.PASS, f"{detail} (the seed says B8-16)")
    else:
        context.add(
            OPTIMIZER, "seed example", Status.WARN,
            f"{detail}; the seed's documentation says B8-16 for backtesting",
            "your memory_model or node_prices settings differ from the seed's: check them",
        )  # fmt: skip
    _configured_fit(context, OPTIMIZER, "seed example", recs)


# ------------------------------------------------------------------------------ monitor
def check_monitor(context: Context) -> None:
    """psutil, the memory limit's source, real samples, a sample's cost, the metrics log."""
    from utils.resource_monitor import create_resource_monitor, format_figure
    from utils.system_probe import HostProbe, import_psutil

    psutil, why = import_psutil()
    if psutil is None:
        context.add(
            MONITOR, "psutil", Status.WARN, f"{why}: the monitor runs degraded "
            "(memory from /proc/self/statm, CPU from os.times)", "pip install psutil",
        )  # fmt: skip
    else:
        context.add(MONITOR, "psutil", Status.PASS, f"psutil {psutil.__version__}")

    probe = HostProbe()
    reading = probe.read()
    limits = sorted(reading.memory_limits, key=lambda limit: limit.value)
    cgroup = probe.cgroups.memory
    if cgroup is None:
        where = "no cgroup memory controller (not in a container)"
    else:
        limited = any(limit.source.startswith("cgroup") for limit in limits)
        where = f"cgroup v{cgroup.version} memory controller at {cgroup.directory}" + (
            "" if limited else " (no limit set there)"
        )
    listed = "; ".join(
        f"{format_figure(limit.value, 'bytes')} from {limit.source}" for limit in limits
    )
    target = context.settings.quantconnect.monitoring.target_node
    also = f"; the monitor also caps it at the target node {target}'s RAM" if target else ""
    if limits:
        context.add(MONITOR, "memory limit", Status.PASS, f"{where}; limits: {listed}{also}")
    else:
        context.add(
            MONITOR, "memory limit", Status.FAIL, f"{where}; no memory limit readable",
            "the monitor cannot compute memory %: check /proc and /sys/fs/cgroup access",
        )  # fmt: skip

    monitor = create_resource_monitor(
        config={"log_metrics": False, "enabled": True}, settings=context.settings
    )
    try:
        first = monitor.update()
        time.sleep(0.3)  # psutil measures CPU between two calls
        second = monitor.update()
        started = time.perf_counter()
        runs = 200
        for _ in range(runs):
            monitor.update()
        cost = (time.perf_counter() - started) / runs
        health = monitor.health()
    finally:
        monitor.close()
    if second.memory_pct is None:
        context.add(
            MONITOR, "samples", Status.FAIL,
            "memory % missing: " + "; ".join(health.reasons),
            "the monitor cannot see an out-of-memory kill coming; see the reasons",
        )  # fmt: skip
    else:
        memory = (
            f"memory {second.memory_pct:.1f}% ({format_figure(second.memory_used_bytes, 'bytes')}"
            f" of {format_figure(second.memory_limit_bytes, 'bytes')}, "
            f"{second.memory_limit_source})"
        )
        first_cpu = "warming up" if first.cpu_pct is None else f"{first.cpu_pct:.1f}%"
        second_cpu = "missing" if second.cpu_pct is None else f"{second.cpu_pct:.1f}%"
        cpus = f" of {second.cpus_available:g} CPUs" if second.cpus_available else ""
        detail = f"{memory}; CPU {first_cpu} on the first sample, then {second_cpu}{cpus}"
        if first.cpu_pct is not None or second.cpu_pct is None:
            context.add(
                MONITOR, "samples", Status.WARN, detail,
                "expected the first CPU figure to warm up and the second to be a value",
            )  # fmt: skip
        else:
            context.add(MONITOR, "samples", Status.PASS, f"{detail}; health {health.state}")
    status = Status.WARN if cost > SAMPLE_COST_WARN_SECONDS else Status.PASS
    context.add(
        MONITOR, "sample cost", status,
        f"one update() takes {cost * 1e6:,.0f} µs (mean of {runs})",
        "" if status is Status.PASS else "slow system calls here: sample less often",
    )  # fmt: skip
    _check_log_file(
        context, MONITOR, "metrics log", context.settings.quantconnect.monitoring.metrics_log_path
    )


def _writable(path: Path) -> str | None:
    """Return why ``path`` cannot be appended to or created, or ``None`` if it can."""
    if path.is_dir():
        return f"{path} is a folder"
    if path.exists():
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, so {path} cannot be created"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable, so {path} cannot be created"
    return None


def _check_log_file(context: Context, section: str, name: str, configured: str) -> None:
    from utils.metrics_log import read_log

    path = Path(configured).absolute()
    problem = _writable(path)
    if problem is not None:
        context.add(
            section, name, Status.FAIL, f"{configured}: {problem}",
            "fix the path in quantconnect.monitoring, or the folder's permissions",
        )  # fmt: skip
        return
    if not path.exists():
        context.add(section, name, Status.PASS, f"{path}: can be created (not written now)")
        return
    contents = read_log(path)
    count = len(contents.records)
    detail = f"{path}: writable, {count:,} record{'' if count == 1 else 's'}"
    last = contents.records[-1] if contents.records else None
    if last is not None and "timestamp" in last:
        detail += f", last at {last['timestamp']}"
        active = last.get("alerts_active") or []
        if active:
            detail += f" with alerts active: {', '.join(map(str, active))}"
    if contents.corrupt:
        context.add(
            section, name, Status.WARN,
            f"{detail}; {len(contents.corrupt)} corrupt line(s), first: {contents.corrupt[0]}",
            "a crash or another writer damaged the file; readers skip the bad lines",
        )  # fmt: skip
    else:
        context.add(section, name, Status.PASS, detail)


# ----------------------------------------------------------------------------- analysis
def _describe_requirements(requirements: AlgorithmRequirements) -> str:
    chains = (
        f"{requirements.num_option_chains} option chain(s) x {requirements.contracts_per_chain}"
        " contracts"
        if requirements.num_option_chains
        else "no option chains"
    )
    return f"{requirements.num_securities} securities, {chains}, {requirements.resolution}"


def check_analysis(context: Context) -> None:
    """Analyse the algorithm; do the configured nodes fit it?"""
    from utils.errors import AnalysisError
    from utils.node_optimizer import NodeOptimizer, environments

    path = context.algorithm
    try:
        from utils.algorithm_analyzer import analyze_algorithm

        requirements = analyze_algorithm(path, context.settings)
    except AnalysisError as error:
        if context.algorithm_given:
            raise  # the user's file: bad input, exit 2
        context.add(
            ANALYSIS, "bundled algorithm", Status.FAIL, str(error),
            "the installation's algorithms/ folder is damaged: restore it from the repository",
        )  # fmt: skip
        return
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    recs = NodeOptimizer(context.settings).recommend_nodes(requirements)
    live = recs["live_trading"]
    detail = (
        f"{shown}: {_describe_requirements(requirements)}; live estimate "
        f"{live['estimated_memory_mb']:,.0f} MB; recommended {_recommended(recs)}"
    )
    notes = [*requirements.warnings, *requirements.assumptions]
    if requirements.warnings:
        context.add(ANALYSIS, "analysis", Status.WARN, detail, " ".join(requirements.warnings))
    else:
        context.add(
            ANALYSIS, "analysis", Status.PASS, detail + (f" ({'; '.join(notes)})" if notes else "")
        )
    unfit = [r for r in environments(recs) if r["node"] is None]
    if unfit:
        context.add(ANALYSIS, "a node fits", Status.FAIL, " ".join(r["reason"] for r in unfit),
                    "reduce chains or contracts per chain, or split the algorithm")  # fmt: skip
    _configured_fit(context, ANALYSIS, "algorithm", recs)


# ---------------------------------------------------------------------------- integration
def check_breaker(context: Context) -> None:
    """Read the breaker's state file as an algorithm starting now would (changing nothing)."""
    from utils.circuit_breaker import BreakerState, read_state_file
    from utils.clock import format_utc

    monitoring = context.settings.quantconnect.monitoring
    path = Path(monitoring.breaker_state_path).absolute()
    log = Path(monitoring.breaker_log_path).absolute()
    status = read_state_file(path)
    if status is None:
        context.add(
            INTEGRATION, "circuit breaker state", Status.PASS,
            f"{path}: no state file; the breaker starts ACTIVE",
        )  # fmt: skip
    elif status.load_error is not None:
        context.halted = status
        context.add(
            INTEGRATION, "circuit breaker state", Status.FAIL, status.load_error,
            "look at the file; then move it aside or reset the breaker (see below)",
        )  # fmt: skip
    elif status.state is BreakerState.HALTED:
        context.halted = status
        when = format_utc(status.tripped_at) if status.tripped_at else "?"
        context.add(
            INTEGRATION, "circuit breaker state", Status.FAIL,
            f"{path}: HALTED since {when} by {status.actor}: {status.reason}. An algorithm "
            "started now comes back HALTED and sends no new orders",
            _reset_hint(path, log, status),
        )  # fmt: skip
    elif status.state is BreakerState.REDUCING:
        context.add(
            INTEGRATION, "circuit breaker state", Status.WARN,
            f"{path}: REDUCING by {status.actor}: {status.reason}; only exposure-reducing "
            "orders until the warning clears or a reset",
            _reset_hint(path, log, status),
        )  # fmt: skip
    else:
        context.add(INTEGRATION, "circuit breaker state", Status.PASS, f"{path}: ACTIVE")
    _check_log_file(context, INTEGRATION, "circuit breaker event log", monitoring.breaker_log_path)


def _reset_hint(state: Path, log: Path, status: BreakerStatus) -> str:
    from utils.clock import format_utc

    after = (
        f" (not before {format_utc(status.reset_not_before)})" if status.reset_not_before else ""
    )
    files = f"--state {shlex.quote(str(state))} --log {shlex.quote(str(log))}"
    script = "python scripts/circuit_breaker.py"
    return (
        f"find out why ({script} status {files}), then reset it{after}, in the project folder: "
        f'{script} reset {files} --actor "YOUR NAME" --reason "WHY"'
    )


class _CriticalProbe:
    """A probe reporting memory well above the critical level (for the wiring check only)."""

    def __init__(self, critical_pct: float) -> None:
        from utils.system_probe import Limit

        self.limit = Limit(1024.0**3, "simulated")
        self.used = int(self.limit.value * min(99.0, critical_pct + (100 - critical_pct) / 2) / 100)

    def read(self) -> Any:
        from utils.system_probe import Limit, ProbeReading

        return ProbeReading(
            memory_used_bytes=self.used, memory_used_source="simulated",
            process_rss_bytes=self.used, memory_limits=(self.limit,), cpu_process_pct=1.0,
            cpu_warming_up=False, cpus_available=Limit(1.0, "simulated"), cpu_source="simulated",
        )  # fmt: skip


def check_monitor_drives_breaker(context: Context) -> None:
    """A simulated critical memory reading halts an in-memory breaker; cancels stay allowed."""
    from utils.circuit_breaker import BreakerState, CircuitBreaker
    from utils.clock import ManualClock
    from utils.resource_monitor import create_resource_monitor

    qc = context.settings.quantconnect
    clock = ManualClock()
    breaker = CircuitBreaker(state_path=None, log_path=None, clock=clock)
    monitor = create_resource_monitor(
        config={"log_metrics": False, "enabled": True}, settings=context.settings,
        circuit_breaker=breaker, clock=clock,
        probe=_CriticalProbe(qc.resource_limits.memory_critical_pct),
    )  # fmt: skip
    samples = qc.monitoring.confirm_samples
    for _ in range(samples):
        clock.advance(qc.monitoring.check_interval_seconds)
        monitor.update()
    order, cancel = breaker.check_order(1, position=0), breaker.check_order(cancel=True)
    if breaker.state is BreakerState.HALTED and not order.allowed and cancel.allowed:
        context.add(
            INTEGRATION, "monitor halts the breaker", Status.PASS,
            f"simulated memory above {qc.resource_limits.memory_critical_pct:g}% for {samples} "
            "samples: breaker HALTED, new orders refused, cancels allowed (in memory only)",
        )  # fmt: skip
    else:
        context.add(
            INTEGRATION, "monitor halts the breaker", Status.FAIL,
            f"after {samples} critical samples the breaker is {breaker.state.value}; "
            f"order allowed: {order.allowed}; cancel allowed: {cancel.allowed}",
            "the installation's utils/ is inconsistent: reinstall from the repository",
        )  # fmt: skip


def check_runtime_imports(context: Context) -> None:
    """``from utils import create_resource_monitor`` loads no desktop or deploy package."""
    code = (
        "import sys, json\n"
        "from utils import create_resource_monitor, CircuitBreaker\n"
        f"heavy = {DESKTOP_MODULES!r}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, an argument list
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=PROJECT_ROOT, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        context.add(
            INTEGRATION, "runtime imports", Status.FAIL,
            f"`from utils import create_resource_monitor` failed: {last}",
            "reinstall: pip install -r requirements.txt",
        )  # fmt: skip
        return
    loaded = json.loads(done.stdout)
    if loaded:
        context.add(
            INTEGRATION, "runtime imports", Status.FAIL,
            f"the runtime loads {', '.join(loaded)}, which LEAN's cloud does not have",
            "a runtime module imports a desktop package: report it",
        )  # fmt: skip
    else:
        context.add(
            INTEGRATION, "runtime imports", Status.PASS,
            "`from utils import create_resource_monitor, CircuitBreaker` loads only the "
            "standard library, psutil and pydantic (what LEAN's cloud has)",
        )  # fmt: skip


def check_dashboard(context: Context) -> None:
    """The dashboard's packages are installed (a warning if not: the desktop part is optional)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for package in ("PySide6-Essentials", "pyqtgraph"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    missing = [p for p, v in versions.items() if v is None]
    if missing:
        context.add(
            INTEGRATION, "dashboard", Status.WARN, f"not installed: {', '.join(missing)}",
            "pip install -e '.[ui]' for scripts/resource_dashboard.py and ui/",
        )  # fmt: skip
        return
    pyside = versions["PySide6-Essentials"] or ""
    detail = f"PySide6 {pyside}, pyqtgraph {versions['pyqtgraph']}"
    if pyside.startswith("6.12.") and sys.version_info < (3, 12):
        context.add(
            INTEGRATION, "dashboard", Status.WARN,
            f"{detail}: PySide6 6.12 on Python 3.11 loses references to None and the dashboard "
            "aborts after a few minutes",
            "pip install 'PySide6-Essentials<6.12' (as requirements.txt says)",
        )  # fmt: skip
        return
    context.add(
        INTEGRATION, "dashboard", Status.PASS,
        f"{detail}: python scripts/resource_dashboard.py --follow "
        f"{context.settings.quantconnect.monitoring.metrics_log_path}",
    )  # fmt: skip


def check_lean_cli(context: Context) -> None:
    """The LEAN CLI is found and starts (a warning otherwise: analysis works without it)."""
    from utils.lean_cli import LeanCliMissingError, find_lean

    try:
        lean = find_lean()
    except LeanCliMissingError as error:
        context.add(INTEGRATION, "LEAN CLI", Status.WARN, str(error),
                    "needed only to deploy (scripts/deploy_with_nodes.py --type ...)")  # fmt: skip
        return
    if context.offline:
        context.add(INTEGRATION, "LEAN CLI", Status.PASS, f"{lean} (not started: --offline)")
        return
    try:
        done = subprocess.run(  # noqa: S603 - the user's LEAN CLI, an argument list
            [str(lean), "--version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        context.add(INTEGRATION, "LEAN CLI", Status.WARN, f"{lean} did not start: {error}")
        return
    output = (done.stdout + done.stderr).strip()
    if done.returncode == 0:
        version = output.splitlines()[-1] if output else "?"
        context.add(INTEGRATION, "LEAN CLI", Status.PASS, f"{lean}: {version}")
        return
    lines = output.splitlines()
    reason = next((line for line in reversed(lines) if "Error" in line or "error" in line),
                  lines[-1] if lines else "no output")  # fmt: skip
    fix = "see docs/infrastructure/COMPUTE_NODES.md, Deployment, Troubleshooting"
    if "Modules json not found" in output:
        reason = (
            "it could not download its modules file (modules-1.14.json) from QuantConnect at "
            "start-up: offline?"
        )
        fix = "run `lean --version` once online; analysis and monitoring work without it"
    context.add(
        INTEGRATION, "LEAN CLI", Status.WARN,
        f"{lean} --version exited {done.returncode}: {reason[:200]}", fix,
    )  # fmt: skip


def check_credentials(context: Context) -> None:
    """QuantConnect credentials are present (never shown; a warning if not)."""
    from utils.qc_api import CredentialsError, api_base_url, load_credentials

    try:
        credentials = load_credentials()
    except CredentialsError as error:
        context.add(INTEGRATION, "QuantConnect credentials", Status.WARN, str(error),
                    "needed only to deploy")  # fmt: skip
        return
    context.add(
        INTEGRATION, "QuantConnect credentials", Status.PASS,
        f"user {credentials.user_id} from {credentials.source} (token not shown; not checked "
        f"online); API {api_base_url()}",
    )  # fmt: skip


# ------------------------------------------------------------------------------- report
def document(context: Context, exit_code: int) -> dict[str, Any]:
    """Return the report as one JSON-ready document."""
    counts = {status.value: 0 for status in Status}
    for check in context.checks:
        counts[check.status.value] += 1
    return {
        "settings": str(context.settings_path),
        "checks": [check.record() for check in context.checks],
        "summary": counts,
        "exit_code": exit_code,
    }


_STYLE = {Status.PASS: ("✓ pass", "green"), Status.WARN: ("! warn", "yellow"),
          Status.FAIL: ("✗ FAIL", "bold red")}  # fmt: skip


def print_report(context: Context, console: Console) -> None:
    """Print the checks as a table, a loud panel for a halted breaker, and the summary."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console.print(Text("Compute node installation check", style="bold underline"))
    for section in SECTIONS:
        checks = [c for c in context.checks if c.section == section]
        if not checks:
            continue
        table = Table(title=section, title_style="bold", title_justify="left",
                      box=box.SIMPLE_HEAD, show_header=False)  # fmt: skip
        table.add_column("Check", width=24)
        table.add_column("Result", no_wrap=True)
        table.add_column("Details", ratio=1, overflow="fold")
        for check in checks:
            label, style = _STYLE[check.status]
            details = Text(check.detail)
            if check.fix:
                details.append(f"\n→ {check.fix}", style=style)
            table.add_row(check.name, Text(label, style=style), details)
        console.print(table)
    halted = context.halted
    if halted is not None:
        console.print(
            Panel(
                Text(
                    f"TRADING IS HALTED by the circuit breaker: {halted.reason}\n"
                    "An algorithm started with these settings sends no new orders "
                    "(cancels only) until a person resets the breaker.",
                    style="bold",
                ),
                title="CIRCUIT BREAKER HALTED",
                border_style="bold red",
            )
        )
    counts = document(context, 0)["summary"]
    line = Text()
    line.append(f"{counts['pass']} passed", style="green")
    line.append(", ")
    line.append(f"{counts['warn']} warnings", style="yellow" if counts["warn"] else "")
    line.append(", ")
    line.append(f"{counts['fail']} failed", style="bold red" if counts["fail"] else "")
    console.print(line)


if __name__ == "__main__":
    app()
