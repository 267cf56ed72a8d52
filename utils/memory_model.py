"""How much memory an algorithm needs: one model for the optimizer, the monitor and the docs.

The coefficients are the seed's "Memory Requirements Breakdown"
(``docs/infrastructure/SETUP_SUMMARY.md``); with its workload (5 option chains of 100
contracts, 10 stocks, every component on) the model reproduces the seed's table exactly:
4,750 MB. They live in ``config/settings.json`` under ``quantconnect.memory_model`` (defaults
in :class:`utils.settings.MemoryModelSettings`).

Two decisions the seed leaves open, made here:

* Where a component runs. The UI dashboard runs on the trader's desktop, not on a
  QuantConnect node, so it is shown in the breakdown but does not count against a node's RAM.
  The seed's own total (4,750 MB) therefore overstates what an L2-4 must hold (4,450 MB).
* Backtests and research need more than live. LEAN caches the data a backtest reads and a
  notebook holds history in pandas; QuantConnect's docs say backtests use far more RAM than live
  and users report several times the live figure. The node part of the estimate is multiplied
  by ``backtest_multiplier`` / ``research_multiplier`` (2.5 by default) for those families.

Standard library only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from utils.node_catalog import Family

if TYPE_CHECKING:
    from utils.settings import MemoryModelSettings


class RunsOn(StrEnum):
    """Where a component's memory is spent."""

    NODE = "node"
    DESKTOP = "desktop"


@dataclass(frozen=True, kw_only=True)
class Workload:
    """What an algorithm holds in memory, as the memory model counts it.

    The defaults are the seed's workload: 10 stocks, 5 option chains x 100 contracts, every
    component on. ``num_securities`` counts equities, forex, crypto and futures subscriptions;
    option contracts are counted separately.
    """

    num_securities: int = 10
    num_option_contracts: int = 500
    greeks: bool = True
    scanners: bool = True
    llm_analysis: bool = True
    ml_training: bool = False
    risk_management: bool = True
    spread_tracker: bool = True
    profit_taking: bool = True
    ui_dashboard: bool = True


@dataclass(frozen=True, kw_only=True)
class MemoryLine:
    """One row of a breakdown."""

    key: str
    label: str
    mb: float
    runs_on: RunsOn


@dataclass(frozen=True, kw_only=True)
class MemoryEstimate:
    """A component breakdown and what it means for one node family.

    Attributes:
        lines: The components in the seed's order (zero-sized components left out).
        family: The node family the estimate is for.
        multiplier: The factor applied to the node part for this family (1 for live).
    """

    lines: tuple[MemoryLine, ...]
    family: Family
    multiplier: float

    @property
    def components_mb(self) -> float:
        """Return the sum of every component, desktop included (the seed's TOTAL)."""
        return sum(line.mb for line in self.lines)

    @property
    def node_components_mb(self) -> float:
        """Return the sum of the components that run on the node (before the multiplier)."""
        return sum(line.mb for line in self.lines if line.runs_on is RunsOn.NODE)

    @property
    def desktop_mb(self) -> float:
        """Return the memory spent on the trader's desktop (not on the node)."""
        return sum(line.mb for line in self.lines if line.runs_on is RunsOn.DESKTOP)

    @property
    def node_mb(self) -> float:
        """Return what the node must hold: the node components times the family multiplier."""
        return self.node_components_mb * self.multiplier


class MemoryModel:
    """The seed's component model with configurable coefficients.

    Args:
        coefficients: ``quantconnect.memory_model`` from the settings; ``None`` for the defaults.
    """

    def __init__(self, coefficients: MemoryModelSettings | None = None) -> None:
        if coefficients is None:
            from utils.settings import MemoryModelSettings

            coefficients = MemoryModelSettings()
        self.coefficients = coefficients

    def multiplier(self, family: Family) -> float:
        """Return the factor applied to the node part of the estimate for ``family``."""
        c = self.coefficients
        if family is Family.BACKTESTING or family is Family.OPTIMIZATION:
            return c.backtest_multiplier
        if family is Family.RESEARCH:
            return c.research_multiplier
        return 1.0

    def lines(self, workload: Workload) -> tuple[MemoryLine, ...]:
        """Return the breakdown of ``workload`` in the seed's order, zero rows left out."""
        c = self.coefficients
        w = workload
        node, desktop = RunsOn.NODE, RunsOn.DESKTOP
        contracts = w.num_option_contracts
        rows = (
            ("base", "Base overhead", c.base_overhead_mb, node),
            ("securities", f"Securities ({w.num_securities})",
             w.num_securities * c.per_security_mb, node),
            ("option_contracts", f"Option contracts ({contracts})",
             contracts * c.per_option_contract_mb, node),
            ("greeks", "Greeks calculations",
             contracts * c.greeks_mb_per_contract if w.greeks else 0.0, node),
            ("scanners", "Scanners (options+movement)", c.scanners_mb if w.scanners else 0.0, node),
            ("llm", "LLM API calls", c.llm_mb if w.llm_analysis else 0.0, node),
            ("ml_training", "ML model training", c.ml_training_mb if w.ml_training else 0.0, node),
            ("risk_management", "Risk management",
             c.risk_management_mb if w.risk_management else 0.0, node),
            ("spread_tracker", "Two-part spread tracker",
             c.spread_tracker_mb if w.spread_tracker else 0.0, node),
            ("profit_taking", "Profit-taking engine",
             c.profit_taking_mb if w.profit_taking else 0.0, node),
            ("ui_dashboard", "UI dashboard", c.ui_dashboard_mb if w.ui_dashboard else 0.0, desktop),
        )  # fmt: skip
        return tuple(
            MemoryLine(key=key, label=label, mb=float(mb), runs_on=where)
            for key, label, mb, where in rows
            if mb > 0 or key in ("base", "securities")
        )

    def estimate(self, workload: Workload, family: Family = Family.LIVE_TRADING) -> MemoryEstimate:
        """Return the breakdown of ``workload`` and what a node of ``family`` must hold."""
        return MemoryEstimate(
            lines=self.lines(workload), family=family, multiplier=self.multiplier(family)
        )

    def max_contracts_fitting(
        self, workload: Workload, family: Family, capacity_mb: float
    ) -> int | None:
        """Return the most option contracts ``workload`` can hold within ``capacity_mb``.

        Everything else in the workload stays as it is. ``None`` when even zero contracts
        do not fit.
        """
        base = self.estimate(replace(workload, num_option_contracts=0), family).node_mb
        if base > capacity_mb:
            return None
        c = self.coefficients
        per_contract = c.per_option_contract_mb + (
            c.greeks_mb_per_contract if workload.greeks else 0
        )
        per_contract *= self.multiplier(family)
        if per_contract <= 0:
            return None
        return int((capacity_mb - base) // per_contract)
