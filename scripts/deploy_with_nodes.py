"""Analyse a LEAN algorithm, recommend compute nodes, and deploy it through the LEAN CLI.

Usage (the seed's commands):
    python scripts/deploy_with_nodes.py algorithms/options_trading_bot.py --analyze-only
    python scripts/deploy_with_nodes.py algorithms/options_trading_bot.py --type backtest
    python scripts/deploy_with_nodes.py algorithms/options_trading_bot.py --type live --node L2-4
    python scripts/deploy_with_nodes.py --list-nodes [--json]
    python scripts/deploy_with_nodes.py ALGORITHM --type live --dry-run   (the plan; runs nothing)

Deployment steps, options and troubleshooting: docs/infrastructure/COMPUTE_NODES.md, Deployment.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

if __package__ in (None, ""):  # run as a file: make the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer

from utils.cli import command_errors

if TYPE_CHECKING:  # imported where used: --help and --list-nodes stay fast
    from rich.console import Console

    from utils.deployment import DeployRequest
    from utils.settings import Settings

app = typer.Typer(add_completion=False, rich_markup_mode=None)


@app.command()
def main(
    algorithm: Annotated[
        Path | None, typer.Argument(help="The LEAN algorithm file to analyse or deploy.")
    ] = None,
    analyze_only: Annotated[
        bool, typer.Option("--analyze-only", help="Analyse and recommend nodes; deploy nothing.")
    ] = False,
    list_nodes: Annotated[
        bool, typer.Option("--list-nodes", help="Print every QuantConnect node model and exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    settings_path: Annotated[
        Path | None,
        typer.Option("--settings", help="Settings file (default config/settings.json)."),
    ] = None,
    # -- deployment (issue 5; utils/deployment.py) --
    deploy_type: Annotated[
        str | None,
        typer.Option("--type", help="Deploy for: backtest, research, live or optimize."),
    ] = None,
    node: Annotated[
        str | None, typer.Option("--node", help="Node model, instead of the recommendation.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show every step; run, write and send nothing.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Confirm live trading without a prompt.")
    ] = False,
    project: Annotated[
        str | None, typer.Option("--project", help="Cloud project name (default: file name).")
    ] = None,
    build_dir: Annotated[
        Path | None, typer.Option("--build-dir", help="LEAN workspace (default build/lean).")
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option("--organization", help="Organisation id (default: your preferred one)."),
    ] = None,
    run_name: Annotated[
        str | None, typer.Option("--name", help="Backtest or optimization name.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds the run step may take.")
    ] = None,
    brokerage: Annotated[
        str, typer.Option("--brokerage", help="Live: the LEAN CLI's brokerage name.")
    ] = "Paper Trading",
    data_provider_live: Annotated[
        list[str] | None,
        typer.Option("--data-provider-live", help="Live: data provider(s) [QuantConnect]."),
    ] = None,
    brokerage_option: Annotated[
        list[str] | None,
        typer.Option(
            "--brokerage-option",
            help="Live: NAME=VALUE passed as --NAME VALUE to lean cloud live deploy (masked).",
        ),
    ] = None,
    auto_restart: Annotated[
        bool, typer.Option("--auto-restart/--no-auto-restart", help="Live: restart on failure.")
    ] = True,
    notify_order_events: Annotated[
        bool, typer.Option("--notify-order-events", help="Live: notify on order events.")
    ] = False,
    notify_insights: Annotated[
        bool, typer.Option("--notify-insights", help="Live: notify on insights.")
    ] = False,
    target: Annotated[
        str, typer.Option("--target", help="Optimize: statistic to optimise.")
    ] = "Sharpe Ratio",
    target_direction: Annotated[
        str, typer.Option("--target-direction", help="Optimize: max or min.")
    ] = "max",
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", help="Optimize: 'NAME MIN MAX STEP' (repeatable)."),
    ] = None,
    constraint: Annotated[
        list[str] | None,
        typer.Option("--constraint", help="Optimize: 'STATISTIC OPERATOR VALUE' (repeatable)."),
    ] = None,
    parallel_nodes: Annotated[
        int, typer.Option("--parallel-nodes", help="Optimize: nodes at once.")
    ] = 1,
    backtest_seconds: Annotated[
        float, typer.Option("--backtest-seconds", help="Optimize: one backtest's time (cost).")
    ] = 60.0,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")] = False,
) -> None:
    """Analyse an algorithm, recommend QuantConnect nodes and deploy it."""
    with command_errors(verbose=verbose):
        from rich.console import Console

        from utils.settings import load_settings

        console = Console(highlight=False)
        settings = load_settings(settings_path)
        if list_nodes:
            _print_catalog(settings, console, as_json=as_json)
            return
        if algorithm is None:
            msg = "give an ALGORITHM file, or --list-nodes"
            raise typer.BadParameter(msg)
        if analyze_only:
            _print_analysis(algorithm, settings, console, as_json=as_json)
            return
        from utils.deployment import build_request

        request = build_request(
            algorithm, deploy_type=deploy_type, node=node, dry_run=dry_run, yes=yes,
            project=project, build_dir=build_dir, organization=organization,
            run_name=run_name, timeout=timeout, settings_path=settings_path,
            brokerage=brokerage, data_providers=data_provider_live or [],
            brokerage_options=brokerage_option or [], auto_restart=auto_restart,
            notify_order_events=notify_order_events, notify_insights=notify_insights,
            target=target, target_direction=target_direction, parameters=parameter or [],
            constraints=constraint or [], parallel_nodes=parallel_nodes,
            backtest_seconds=backtest_seconds,
        )  # fmt: skip
        _deploy(request, settings, as_json=as_json)


def _print_catalog(settings: Settings, console: Console, *, as_json: bool) -> None:
    from utils.console_report import catalog_table, node_record

    catalog = settings.quantconnect.catalog()
    if as_json:
        print(json.dumps({"nodes": [node_record(n) for n in catalog]}, indent=2))
    else:
        console.print(catalog_table(catalog))


def _print_analysis(
    algorithm: Path, settings: Settings, console: Console, *, as_json: bool
) -> None:
    """Analyse the algorithm and print the recommendations (utils/analysis_report.py)."""
    from utils.analysis_report import plan_for, print_analysis

    print_analysis(plan_for(algorithm, settings), console, as_json=as_json)


def _deploy(request: DeployRequest, settings: Settings, *, as_json: bool) -> None:
    """Run the deployment (utils/deployment.py); with --json, print its record on stdout."""
    from rich.console import Console

    from utils.deployment import Deployment

    console = Console(highlight=False, stderr=as_json)
    result = Deployment(request, settings=settings, console=console).run()
    if as_json:
        print(json.dumps(result.record(), indent=2))


if __name__ == "__main__":
    app()
