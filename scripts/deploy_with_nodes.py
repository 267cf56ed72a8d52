"""Analyse a LEAN algorithm, recommend compute nodes, and deploy it through the LEAN CLI.

Usage (the seed's commands):
    python scripts/deploy_with_nodes.py algorithms/options_trading_bot.py --analyze-only
    python scripts/deploy_with_nodes.py algorithms/options_trading_bot.py --type backtest
    python scripts/deploy_with_nodes.py algorithms/options_trading_bot.py --type live --node L2-4
    python scripts/deploy_with_nodes.py --list-nodes [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

if __package__ in (None, ""):  # run as a file: make the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer

from utils.cli import command_errors

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
            _print_configuration(settings, console)
            return
        from utils.errors import InputError

        msg = "deployment is not available yet; use --analyze-only"
        raise InputError(msg)


def _print_catalog(settings: object, console: object, *, as_json: bool) -> None:
    from rich.console import Console

    from utils.console_report import catalog_table, node_record
    from utils.settings import Settings

    assert isinstance(settings, Settings)  # noqa: S101 - narrowing for the type checker
    assert isinstance(console, Console)  # noqa: S101
    catalog = settings.quantconnect.catalog()
    if as_json:
        print(json.dumps({"nodes": [node_record(n) for n in catalog]}, indent=2))
    else:
        console.print(catalog_table(catalog))


def _print_configuration(settings: object, console: object) -> None:
    from rich.console import Console

    from utils.console_report import configured_nodes_panel, cost_breakdown_table
    from utils.settings import Settings

    assert isinstance(settings, Settings)  # noqa: S101
    assert isinstance(console, Console)  # noqa: S101
    console.print(configured_nodes_panel(settings))
    console.print(cost_breakdown_table(settings))


if __name__ == "__main__":
    app()
