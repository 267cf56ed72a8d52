"""Rich renderings shared by the commands: node tables, configured nodes, cost breakdowns.

Only commands import this module (it needs rich); the runtime never does.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from utils.node_catalog import LIVE_NODE_NOTES, Family, NodeCatalog, NodeSpec, PriceUnit
from utils.settings import Settings

CONFIGURED_FAMILIES = (Family.BACKTESTING, Family.RESEARCH, Family.LIVE_TRADING)


def money(amount: float, *, cents: bool = False) -> str:
    """Return ``amount`` as USD, e.g. ``$1,104`` (``$0.15`` with ``cents``)."""
    return f"${amount:,.2f}" if cents else f"${amount:,.0f}"


def node_record(node: NodeSpec) -> dict[str, Any]:
    """Return a node as a JSON-ready record (the schema of ``--list-nodes --json``)."""
    return {
        "model": node.model,
        "family": node.family.value,
        "cores": node.cores,
        "ghz": node.ghz,
        "ram_gb": node.ram_gb,
        "gpu_share": node.gpu_share,
        "price": node.price,
        "price_unit": node.price_unit.value,
        "price_as_of": node.price_as_of,
        "price_source": node.price_source,
        "max_parallel": node.max_parallel,
        "free_tier": node.free_tier,
        "notes": node.notes,
    }


def catalog_table(catalog: NodeCatalog) -> Table:
    """Return every node model as one table, family by family, cheapest first."""
    table = Table(title="QuantConnect compute nodes", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Model", no_wrap=True)
    table.add_column("Cores", justify="right")
    table.add_column("GHz", justify="right")
    table.add_column("RAM", justify="right", no_wrap=True)
    table.add_column("GPU", justify="center")
    table.add_column("Price", justify="right", no_wrap=True)
    table.add_column("Notes", ratio=1)
    dates: set[str] = set()
    for family in Family:
        table.add_row(Text(family.label.title(), style="bold"))
        for node in catalog.family(family):
            dates.add(node.price_as_of)
            table.add_row(
                node.model,
                str(node.cores),
                f"{node.ghz:.1f}" if node.ghz is not None else "?",
                f"{node.ram_gb:g} GB",
                node.gpu_share or "-",
                node.price_text(),
                "; ".join(x for x in (node.free_tier, node.notes) if x),
            )
        table.add_section()
    table.caption = f"Prices as of {', '.join(sorted(dates))}. {LIVE_NODE_NOTES}"
    table.caption_justify = "left"
    return table


def configured_nodes_panel(settings: Settings) -> Panel:
    """Return the seed's "Recommended Configuration" box for the configured nodes."""
    qc = settings.quantconnect
    parts: list[RenderableType] = []
    for family in CONFIGURED_FAMILIES:
        node = qc.configured_node(family)
        text = Text()
        text.append(f"{family.label.upper()}: {node.model}\n", style="bold")
        ghz = f" @ {node.ghz:.1f} GHz" if node.ghz is not None else ""
        text.append(f"  {node.cores} cores{ghz}\n")
        text.append(f"  {node.ram_gb:g} GB RAM\n")
        text.append(f"  {money(node.price)}/month\n")
        if family is Family.LIVE_TRADING:
            live = qc.compute_nodes.live_trading
            if live.colocated:
                text.append("  Co-located (Equinix NY7)")
                if live.max_latency_ms is not None:
                    text.append(f", expected broker round trip < {live.max_latency_ms:g} ms")
                text.append("\n")
        parts.append(text)
    total = sum(qc.configured_node(f).price for f in CONFIGURED_FAMILIES)
    parts.append(Text(f"TOTAL MONTHLY COST: {money(total)}/month", style="bold green"))
    return Panel(Group(*parts), title="Configured compute nodes", expand=False)


def cost_breakdown_table(settings: Settings) -> Table:
    """Return the seed's "Cost Breakdown" (monthly and annual) for the configured nodes."""
    qc = settings.quantconnect
    table = Table(title="Cost breakdown", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("Service")
    table.add_column("Cost/Month", justify="right")
    table.add_column("Annual", justify="right")
    total = 0.0
    for family in CONFIGURED_FAMILIES:
        node = qc.configured_node(family)
        assert node.price_unit is PriceUnit.MONTH  # noqa: S101 - configured families bill monthly
        total += node.price
        table.add_row(f"{family.label.title()} ({node.model})", money(node.price),
                      money(12 * node.price))  # fmt: skip
    table.add_section()
    table.add_row("TOTAL", money(total), money(12 * total), style="bold")
    return table
