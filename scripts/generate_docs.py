"""Regenerate the data tables of docs/infrastructure/COMPUTE_NODES.md from the node catalog.

The guide's node table is data: it is rendered from ``utils/node_catalog.py`` (the one place
node specifications and prices live) between ``<!-- generated:node-table -->`` markers.

Usage:
    python scripts/generate_docs.py           # rewrite the tables in place
    python scripts/generate_docs.py --check   # exit 1 if the guide is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils.node_catalog import DEFAULT_CATALOG, Family, NodeCatalog

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "infrastructure" / "COMPUTE_NODES.md"
START = "<!-- generated:node-table (scripts/generate_docs.py; do not edit by hand) -->"
END = "<!-- /generated:node-table -->"


def node_table(catalog: NodeCatalog = DEFAULT_CATALOG) -> str:
    """Return the catalog as a Markdown table, family by family, cheapest first."""
    rows = [
        "| model | family | cores | GHz | RAM | GPU share | price | as of | notes |",
        "|---|---|---:|---:|---:|:---:|---:|---|---|",
    ]
    for family in Family:
        for node in catalog.family(family):
            ghz = f"{node.ghz:.1f}" if node.ghz is not None else "?"
            notes = "; ".join(x for x in (node.free_tier, node.notes) if x)
            rows.append(
                f"| {node.model} | {family.label} | {node.cores} | {ghz} | {node.ram_gb:g} GB "
                f"| {node.gpu_share or '-'} | {node.price_text()} | {node.price_as_of} | {notes} |"
            )
    return "\n".join(rows)


def render(text: str) -> str:
    """Return ``text`` (the guide) with its generated block replaced by the current table."""
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        msg = f"{GUIDE}: the markers {START!r} and {END!r} are missing"
        raise SystemExit(msg)
    return f"{head}{START}\n{node_table()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    """Rewrite the guide, or with ``--check`` report whether it is up to date."""
    current = GUIDE.read_text(encoding="utf-8")
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{GUIDE} is out of date: run `python scripts/generate_docs.py`")
            return 1
        return 0
    if current != wanted:
        GUIDE.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
