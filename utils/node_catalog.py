"""QuantConnect's compute node models: one table, with where each figure comes from.

The table below is the only place node specifications and default prices live. Everything
else (settings validation, the optimizer, the monitor's node-RAM limit, the docs tables, the
deploy script's choices) reads it through :class:`NodeCatalog`.

Sources:
    Specifications: QuantConnect's documentation (Cloud Platform > Organizations > Resources),
    as collected in ``docs/infrastructure/COMPUTE_NODES.md``. Prices: the user's own figures
    from ``docs/infrastructure/SETUP_SUMMARY.md`` and its companion node guide, dated
    2025-11-30. QuantConnect publishes prices only on its pricing page, which changes (a
    2026-08 third-party list shows higher figures), so prices are data with an "as of" date
    and can be overridden in ``config/settings.json`` (``quantconnect.node_prices``, or the
    ``monthly_cost`` of a configured node).

This module is part of the runtime that ships into LEAN: standard library only.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from utils.errors import UnknownNodeError

PRICES_AS_OF = "2025-11-30"
PRICES_SOURCE = "docs/infrastructure/SETUP_SUMMARY.md (the user's figures) and its node guide"
SPECS_SOURCE = "QuantConnect docs: Cloud Platform > Organizations > Resources"


class Family(StrEnum):
    """What a node runs. The values are the keys of ``compute_nodes`` in the settings."""

    BACKTESTING = "backtesting"
    RESEARCH = "research"
    LIVE_TRADING = "live_trading"
    OPTIMIZATION = "optimization"

    @property
    def prefix(self) -> str:
        """Return the model-name letter of this family (``B``, ``R``, ``L``, ``O``)."""
        return _PREFIX[self]

    @property
    def label(self) -> str:
        """Return the family's name for people ("live trading")."""
        return self.value.replace("_", " ")


_PREFIX = {
    Family.BACKTESTING: "B",
    Family.RESEARCH: "R",
    Family.LIVE_TRADING: "L",
    Family.OPTIMIZATION: "O",
}


class PriceUnit(StrEnum):
    """What a price is per: live, backtest and research nodes by month, optimization by hour."""

    MONTH = "month"
    HOUR = "hour"


@dataclass(frozen=True, kw_only=True)
class NodeSpec:
    """One node model.

    Attributes:
        model: QuantConnect's name (the API's ``sku``), e.g. ``"B8-16"``.
        family: What the node runs.
        cores: CPU cores.
        ghz: Clock speed, ``None`` where QuantConnect does not publish it.
        ram_gb: RAM in GB (the memory cap of a job on this node).
        gpu_shared_by: ``None`` without a GPU, else how many nodes share one GPU.
        price: USD per ``price_unit``.
        price_unit: Month or hour.
        price_as_of: ISO date of the price.
        price_source: Where the price comes from.
        max_parallel: Optimization nodes only: how many the LEAN CLI lets run in parallel.
        free_tier: What the free tier allows on this model, if anything.
        notes: Anything else a buyer should know.
    """

    model: str
    family: Family
    cores: int
    ghz: float | None
    ram_gb: float
    gpu_shared_by: int | None = None
    price: float
    price_unit: PriceUnit = PriceUnit.MONTH
    price_as_of: str = PRICES_AS_OF
    price_source: str = PRICES_SOURCE
    max_parallel: int | None = None
    free_tier: str | None = None
    notes: str = ""

    @property
    def ram_mb(self) -> int:
        """Return the RAM in MB (1 GB = 1024 MB, as LEAN reports its cap)."""
        return round(self.ram_gb * 1024)

    @property
    def has_gpu(self) -> bool:
        """Return whether the node has a (shared) GPU."""
        return self.gpu_shared_by is not None

    @property
    def monthly_price(self) -> float | None:
        """Return the price per month, or ``None`` for nodes billed by the hour."""
        return self.price if self.price_unit is PriceUnit.MONTH else None

    @property
    def gpu_share(self) -> str | None:
        """Return the GPU share as a fraction (``"1/3"``), or ``None`` without a GPU."""
        return None if self.gpu_shared_by is None else f"1/{self.gpu_shared_by}"

    def describe(self) -> str:
        """Return the short form the seed logs, e.g. ``"L2-4 (2 cores, 4GB RAM)"``."""
        ram = f"{self.ram_gb:g}GB"
        core_word = "core" if self.cores == 1 else "cores"
        gpu = f", GPU {self.gpu_share}" if self.has_gpu else ""
        return f"{self.model} ({self.cores} {core_word}, {ram} RAM{gpu})"

    def price_text(self) -> str:
        """Return the price with its unit, e.g. ``"$28/month"`` or ``"$0.15/hour"``."""
        amount = f"{self.price:,.2f}" if self.price_unit is PriceUnit.HOUR else f"{self.price:,.0f}"
        return f"${amount}/{self.price_unit.value}"


def _node(
    model: str,
    family: Family,
    cores: int,
    ghz: float | None,
    ram_gb: float,
    price: float,
    *,
    gpu_shared_by: int | None = None,
    price_unit: PriceUnit = PriceUnit.MONTH,
    max_parallel: int | None = None,
    free_tier: str | None = None,
    notes: str = "",
) -> NodeSpec:
    return NodeSpec(
        model=model, family=family, cores=cores, ghz=ghz, ram_gb=ram_gb, price=price,
        gpu_shared_by=gpu_shared_by, price_unit=price_unit, max_parallel=max_parallel,
        free_tier=free_tier, notes=notes,
    )  # fmt: skip


_B, _R, _L, _O = Family.BACKTESTING, Family.RESEARCH, Family.LIVE_TRADING, Family.OPTIMIZATION
_HOUR = PriceUnit.HOUR

# fmt: off
# model          family cores  GHz   RAM GB  USD   extra
NODES: tuple[NodeSpec, ...] = (
    _node("B-MICRO",   _B, 2, 3.0,  8,   0,   free_tier="free: 20 s delay, 200 backtests/day"),
    _node("B2-8",      _B, 2, 4.9,  8,   14),
    _node("B4-12",     _B, 4, 4.9,  12,  20),
    _node("B4-16-GPU", _B, 4, 3.0,  16,  400, gpu_shared_by=3, notes="GPU shared by up to 3 nodes"),
    _node("B8-16",     _B, 8, 4.9,  16,  28),
    _node("R1-4",      _R, 1, 2.4,  4,   5,   free_tier="free: first research node"),
    _node("R2-8",      _R, 2, 2.4,  8,   10),
    _node("R4-12",     _R, 4, 2.4,  12,  14),
    _node("R4-16-GPU", _R, 4, 3.0,  16,  400, gpu_shared_by=3, notes="GPU shared by up to 3 nodes"),
    _node("R8-16",     _R, 8, 2.4,  16,  14),
    _node("L-MICRO",   _L, 1, 2.6,  0.5, 20),
    _node("L1-1",      _L, 1, 2.6,  1,   25),
    _node("L1-2",      _L, 1, 2.6,  2,   35),
    _node("L2-4",      _L, 2, 2.6,  4,   50),
    _node("L8-16-GPU", _L, 8, 3.1,  16,  400, gpu_shared_by=2, notes="GPU shared by up to 2 nodes"),
    _node("O2-8",      _O, 2, None, 8,   0.15, price_unit=_HOUR, max_parallel=24,
          notes="< 100 assets; docs: cluster max 6"),
    _node("O4-12",     _O, 4, None, 12,  0.30, price_unit=_HOUR, max_parallel=12,
          notes="< 500 assets; docs: cluster max 4"),
    _node("O8-16",     _O, 8, None, 16,  0.60, price_unit=_HOUR, max_parallel=6,
          notes="complex / ML; docs: cluster max 4"),
)
# fmt: on

LIVE_NODE_NOTES = (
    "Live nodes are co-located in Equinix NY7 (also Toronto and Warsaw); one live node runs "
    "exactly one live algorithm; the free tier has no live node."
)

_MODEL_NAME = re.compile(
    r"^(?P<prefix>[BRLO])(?:-MICRO|(?P<cores>\d+)-(?P<ram>\d+)(?P<gpu>-GPU)?)$"
)


def parse_model_name(model: str) -> tuple[str, int | None, int | None, bool]:
    """Split a model name into (family letter, cores, RAM GB, GPU); MICRO gives ``None`` figures.

    Raises:
        ValueError: The name does not follow QuantConnect's ``{B|R|L|O}{cores}-{ram}[-GPU]`` form.
    """
    match = _MODEL_NAME.match(model.upper())
    if match is None:
        msg = f"{model!r} is not a node model name ({{B|R|L|O}}{{cores}}-{{ram_gb}}[-GPU])"
        raise ValueError(msg)
    cores = match["cores"]
    ram = match["ram"]
    return (
        match["prefix"],
        int(cores) if cores else None,
        int(ram) if ram else None,
        match["gpu"] is not None,
    )


class NodeCatalog:
    """Look-ups over the node table: by model (case-insensitive) and by family.

    A catalog is immutable; :meth:`with_prices` returns a new one with overridden prices.
    """

    def __init__(self, nodes: Iterable[NodeSpec] = NODES) -> None:
        self._nodes: dict[str, NodeSpec] = {}
        for node in nodes:
            key = node.model.upper()
            if key in self._nodes:
                msg = f"node model {node.model} appears twice in the catalog"
                raise ValueError(msg)
            self._nodes[key] = node

    def __iter__(self) -> Iterator[NodeSpec]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and model.upper() in self._nodes

    def models(self, family: Family | None = None) -> list[str]:
        """Return the model names, of one family or all, in table order."""
        return [n.model for n in self if family is None or n.family is family]

    def family(self, family: Family) -> list[NodeSpec]:
        """Return the nodes of a family, cheapest first (then smallest RAM, fewest cores)."""
        nodes = [n for n in self if n.family is family]
        return sorted(nodes, key=lambda n: (n.price, n.ram_gb, n.cores))

    def get(self, model: str, family: Family | None = None) -> NodeSpec:
        """Return the node named ``model`` (any case), optionally checking its family.

        Raises:
            UnknownNodeError: No such model, or it belongs to another family. The message
                lists the valid choices and the closest names.
        """
        node = self._nodes.get(model.strip().upper())
        if node is None:
            choices = self.models(family)
            close = difflib.get_close_matches(model.upper(), [c.upper() for c in choices], n=2)
            hint = f" Did you mean {' or '.join(close)}?" if close else ""
            scope = f"{family.label} " if family else ""
            msg = f"unknown node model {model!r}.{hint} Valid {scope}models: {', '.join(choices)}."
            raise UnknownNodeError(model, msg)
        if family is not None and node.family is not family:
            msg = (
                f"{node.model} is a {node.family.label} node, not a {family.label} node. "
                f"Valid {family.label} models: {', '.join(self.models(family))}."
            )
            raise UnknownNodeError(model, msg)
        return node

    def with_prices(self, prices: Mapping[str, float], *, as_of: str, source: str) -> NodeCatalog:
        """Return a catalog where the named models cost ``prices`` (per their usual unit).

        Raises:
            UnknownNodeError: A model in ``prices`` is not in the catalog.
        """
        overridden = {self.get(model).model.upper(): price for model, price in prices.items()}
        return NodeCatalog(
            replace(n, price=overridden[n.model.upper()], price_as_of=as_of, price_source=source)
            if n.model.upper() in overridden
            else n
            for n in self
        )


DEFAULT_CATALOG = NodeCatalog()
