"""What the commands print alike: amounts, counts, the node catalog as a table or as JSON.

Only commands import this module (it needs rich); the runtime never does.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from utils.node_catalog import LIVE_NODE_NOTES, Family, NodeCatalog, NodeSpec


def money(amount: float) -> str:
    """Return ``amount`` as whole US dollars, e.g. ``$1,104``."""
    return f"${amount:,.0f}"


def plural(count: int, word: str, words: str | None = None) -> str:
    """Return ``count`` with its noun, e.g. ``1 file``, ``3 files``, ``2 securities``."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


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
