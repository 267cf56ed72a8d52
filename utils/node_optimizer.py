"""Recommend QuantConnect nodes from an algorithm's requirements: the cheapest node that fits.

The answer comes from one model, not an if-chain: :mod:`utils.memory_model` estimates what
each environment must hold, and for every family (backtesting, research, live trading) the
optimizer walks the catalog from the cheapest node up and takes the first that satisfies every
constraint:

* memory with headroom: the estimate must stay under ``memory_warning_pct`` of the node's RAM
  (the level where the monitor starts warning and LEAN logs "Memory usage over 80% capacity");
* cores: live trading needs a second core when scanners run beside the trading loop (the seed's
  "Core 1 for trading loop, Core 2 for scanners"), and never fewer than ``min_cores``;
* GPU: only when the algorithm trains a deep-learning model in-process (``needs_gpu``).

It names the constraint that ruled out the cheaper nodes, checks the configured node of each
family against the same rules (saying by how much it misses and how many contracts per chain
would fit on it), and computes the seed's alternative configurations and the LEAN CLI's cost
of an optimization run.

Usage (the seed's example)::

    from utils import NodeOptimizer, AlgorithmRequirements

    recommendations = NodeOptimizer().recommend_nodes(
        AlgorithmRequirements(num_option_chains=5, use_llm_analysis=True)
    )
    print(recommendations["backtesting"]["node"].model)  # B8-16

Standard library only at import time (settings are loaded lazily).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, TypedDict

from utils.errors import InputError
from utils.memory_model import MemoryEstimate, MemoryModel, Workload
from utils.node_catalog import Family, NodeCatalog, NodeSpec

if TYPE_CHECKING:
    from utils.algorithm_analyzer import AlgorithmAnalysis
    from utils.settings import Settings

#: LEAN's resolutions, finest first.
RESOLUTIONS = ("tick", "second", "minute", "hour", "daily")

#: The families a trader configures (optimization nodes are chosen per run).
ENVIRONMENTS = (Family.BACKTESTING, Family.RESEARCH, Family.LIVE_TRADING)

#: Figures above this are saturated, so absurd inputs stay finite floats.
MAX_COUNT = 1_000_000


@dataclass(frozen=True, kw_only=True)
class SourceLine:
    """A line of the algorithm's source behind a figure.

    Attributes:
        file: The file, relative to the algorithm's project folder.
        line: 1-based line number.
        code: The line's code, stripped.
        note: What this line contributes, e.g. ``"3 tickers"``; empty if it speaks for itself.
    """

    file: str
    line: int
    code: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, kw_only=True)
class AlgorithmRequirements:
    """What an algorithm needs, as the memory model and the optimizer count it.

    Every field has a default, and the defaults are the seed's workload (10 stocks, 5 option
    chains x 100 contracts, every component of the seed's bot on), so
    ``AlgorithmRequirements().to_workload() == Workload()``. The analyzer
    (:func:`utils.algorithm_analyzer.analyze_algorithm`) fills every field from the code and
    says where each figure comes from in ``sources``.

    Attributes:
        num_securities: Equity, forex, crypto, future, CFD, index and custom-data
            subscriptions, option underlyings and universe members (option contracts apart).
        num_option_chains: Option chains subscribed.
        contracts_per_chain: Contracts each chain holds after its filter (when chains differ,
            the largest: every chain is counted at that size, a bound).
        single_option_contracts: Contracts added one by one (``add_option_contract``).
        resolution: The finest data resolution used (``tick`` ... ``daily``).
        use_greeks: The algorithm reads Greeks or implied volatility (or sets a pricing model).
        use_scanners: Scanners run beside the trading loop (the seed's options/movement scanners).
        use_llm_analysis: The algorithm calls an LLM API.
        use_ml_training: The algorithm trains a model in-process.
        use_risk_management: A risk manager or circuit breaker runs in the algorithm.
        use_spread_tracker: Multi-leg positions are tracked (the seed's two-part spread tracker).
        use_profit_taking: A profit-taking engine runs in the algorithm.
        ui_dashboard: The desktop dashboard is used (its memory is on the desktop, not the node).
        needs_gpu: Training needs a GPU (deep-learning libraries training in-process).
        min_cores: Cores every node must have at least.
        sources: Requirement field name -> the source lines behind it.
        assumptions: Figures the code does not show, each with the bound used.
        warnings: Things a trader should look at (limits exceeded, unbounded filters, ...).
        analysis: The analyzer's full detail, ``None`` for hand-made requirements.
    """

    num_securities: int = 10
    num_option_chains: int = 5
    contracts_per_chain: int = 100
    single_option_contracts: int = 0
    resolution: str = "minute"
    use_greeks: bool = True
    use_scanners: bool = True
    use_llm_analysis: bool = True
    use_ml_training: bool = False
    use_risk_management: bool = True
    use_spread_tracker: bool = True
    use_profit_taking: bool = True
    ui_dashboard: bool = True
    needs_gpu: bool = False
    min_cores: int = 1
    sources: Mapping[str, tuple[SourceLine, ...]] = field(
        default_factory=dict, hash=False, compare=False
    )
    assumptions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    analysis: AlgorithmAnalysis | None = field(default=None, hash=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("num_securities", "num_option_chains", "contracts_per_chain",
                     "single_option_contracts"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                msg = f"AlgorithmRequirements.{name} must be a whole number >= 0, got {value!r}"
                raise InputError(msg)
        if not isinstance(self.min_cores, int) or self.min_cores < 1:
            msg = f"AlgorithmRequirements.min_cores must be >= 1, got {self.min_cores!r}"
            raise InputError(msg)
        if self.resolution not in RESOLUTIONS:
            msg = (
                f"AlgorithmRequirements.resolution must be one of {', '.join(RESOLUTIONS)}, "
                f"got {self.resolution!r}"
            )
            raise InputError(msg)

    @property
    def total_option_contracts(self) -> int:
        """Return every option contract held: chains x contracts per chain + single contracts."""
        total = self.num_option_chains * self.contracts_per_chain + self.single_option_contracts
        return min(total, MAX_COUNT)

    def to_workload(self) -> Workload:
        """Return these requirements as the memory model's workload."""
        return Workload(
            num_securities=min(self.num_securities, MAX_COUNT),
            num_option_contracts=self.total_option_contracts,
            greeks=self.use_greeks,
            scanners=self.use_scanners,
            llm_analysis=self.use_llm_analysis,
            ml_training=self.use_ml_training,
            risk_management=self.use_risk_management,
            spread_tracker=self.use_spread_tracker,
            profit_taking=self.use_profit_taking,
            ui_dashboard=self.ui_dashboard,
        )

    def with_contracts_per_chain(self, contracts: int) -> AlgorithmRequirements:
        """Return a copy with another number of contracts per chain (everything else kept)."""
        return replace(self, contracts_per_chain=contracts)


class Constraint(StrEnum):
    """What can rule a node out; ``NONE``: nothing did (the family's cheapest node fits)."""

    MEMORY = "memory"
    CORES = "cores"
    GPU = "gpu"
    NONE = "none"


@dataclass(frozen=True, kw_only=True)
class NodeCheck:
    """One node measured against one environment's needs.

    Attributes:
        node: The node.
        estimate_mb: What the node must hold (the family's multiplier applied).
        warning_limit_mb: ``memory_warning_pct`` of the node's RAM.
        required_cores: Cores needed.
        requires_gpu: Whether a GPU is needed.
    """

    node: NodeSpec
    estimate_mb: float
    warning_limit_mb: float
    required_cores: int
    requires_gpu: bool

    @property
    def failures(self) -> tuple[Constraint, ...]:
        """Return the constraints this node fails, memory first."""
        failed = []
        if self.estimate_mb > self.warning_limit_mb:
            failed.append(Constraint.MEMORY)
        if self.node.cores < self.required_cores:
            failed.append(Constraint.CORES)
        if self.requires_gpu and not self.node.has_gpu:
            failed.append(Constraint.GPU)
        return tuple(failed)

    @property
    def fits(self) -> bool:
        """Return whether the node satisfies every constraint."""
        return not self.failures

    @property
    def headroom_mb(self) -> float:
        """Return the MB left below the warning level (negative when over it)."""
        return self.warning_limit_mb - self.estimate_mb

    @property
    def used_pct(self) -> float:
        """Return the estimate as a percentage of the node's RAM."""
        return 100 * self.estimate_mb / self.node.ram_mb


class ConfiguredNodeCheck(TypedDict):
    """The configured node of an environment, checked like any candidate."""

    node: NodeSpec
    fits: bool
    failures: list[str]
    estimated_memory_mb: float
    warning_limit_mb: float
    headroom_mb: float
    max_contracts_per_chain: int | None
    monthly_cost: float
    message: str


class EnvironmentRecommendation(TypedDict):
    """One environment's recommendation (``recommend_nodes(...)["backtesting"]``)."""

    environment: str
    node: NodeSpec | None
    fits: bool
    reason: str
    binding_constraint: str
    memory: MemoryEstimate
    estimated_memory_mb: float
    multiplier: float
    required_cores: int
    requires_gpu: bool
    warning_pct: float
    warning_limit_mb: float | None
    headroom_mb: float | None
    used_pct: float | None
    monthly_cost: float | None
    annual_cost: float | None
    configured: ConfiguredNodeCheck
    configured_node_fits: bool


class Recommendations(TypedDict):
    """What :meth:`NodeOptimizer.recommend_nodes` returns (the seed's shape)."""

    backtesting: EnvironmentRecommendation
    research: EnvironmentRecommendation
    live_trading: EnvironmentRecommendation
    total_monthly_cost: float


@dataclass(frozen=True, kw_only=True)
class AlternativeLine:
    """One line of an alternative configuration, e.g. ``Backtesting (B8-16) x2 $56``."""

    role: str
    family: Family
    node: NodeSpec | None
    count: int
    note: str = ""

    @property
    def monthly_cost(self) -> float:
        """Return the line's cost per month (0 without a node)."""
        return 0.0 if self.node is None else self.node.price * self.count


@dataclass(frozen=True, kw_only=True)
class AlternativeConfiguration:
    """One of the seed's alternative configurations, computed from the model and the catalog.

    Attributes:
        key: ``budget``, ``premium`` or ``enterprise``.
        title: The seed's heading.
        rule: How the nodes were chosen.
        lines: The nodes.
        fits: Whether every line found a node under its rule.
    """

    key: str
    title: str
    rule: str
    lines: tuple[AlternativeLine, ...]
    fits: bool

    @property
    def total_monthly_cost(self) -> float:
        """Return the configuration's cost per month."""
        return sum(line.monthly_cost for line in self.lines)


@dataclass(frozen=True, kw_only=True)
class OptimizationEstimate:
    """The cost of an optimization run, by the LEAN CLI's own formula.

    Attributes:
        node: The optimization node (O2-8, O4-12, O8-16).
        parallel_nodes: Nodes running at once.
        backtests: Backtests in the grid.
        hours: Node hours of the whole run (the LEAN CLI's ``hours``).
        batch_hours: Wall-clock hours with ``parallel_nodes`` (the CLI's "batch time").
        cost: USD (the CLI's "batch cost").
    """

    node: NodeSpec
    parallel_nodes: int
    backtests: int
    hours: float
    batch_hours: float
    cost: float


@dataclass(frozen=True, kw_only=True)
class NodePlan:
    """Everything the optimizer says about one set of requirements.

    Attributes:
        requirements: What was planned for.
        recommendations: The seed's dict (per environment and the monthly total).
        alternatives: Budget, premium and enterprise configurations.
        optimization: The cheapest optimization node that fits a backtest of this algorithm.
    """

    requirements: AlgorithmRequirements
    recommendations: Recommendations
    alternatives: tuple[AlternativeConfiguration, ...]
    optimization: NodeCheck | None

    @property
    def configured_monthly_cost(self) -> float:
        """Return what the configured nodes cost per month."""
        return sum(rec["configured"]["monthly_cost"] for rec in environments(self.recommendations))

    @property
    def warnings(self) -> tuple[str, ...]:
        """Return what a trader must not miss: configured nodes that do not fit, no node fits."""
        warnings: list[str] = []
        for rec in environments(self.recommendations):
            if not rec["configured"]["fits"]:
                warnings.append(rec["configured"]["message"])
            if rec["node"] is None:
                warnings.append(rec["reason"])
        return tuple(warnings)


class NodeOptimizer:
    """Pick the cheapest node per environment that fits an algorithm's requirements.

    Args:
        settings: The settings (configured nodes, price overrides, memory coefficients, memory
            warning level). ``None`` reads ``config/settings.json``.
        catalog: The node catalog; ``None`` for the settings' catalog (with its prices).
        memory_model: The memory model; ``None`` for the settings' coefficients.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        catalog: NodeCatalog | None = None,
        memory_model: MemoryModel | None = None,
    ) -> None:
        if settings is None:
            from utils.settings import load_settings

            settings = load_settings()
        self.settings = settings
        qc = settings.quantconnect
        self.catalog = catalog if catalog is not None else qc.catalog()
        self.memory_model = (
            memory_model if memory_model is not None else MemoryModel(qc.memory_model)
        )
        self.warning_pct = qc.resource_limits.memory_warning_pct

    # -- the model ---------------------------------------------------------------------------

    def estimate(self, requirements: AlgorithmRequirements, family: Family) -> MemoryEstimate:
        """Return the memory breakdown of ``requirements`` for a node of ``family``."""
        return self.memory_model.estimate(requirements.to_workload(), family)

    def required_cores(self, requirements: AlgorithmRequirements, family: Family) -> int:
        """Return the cores a node of ``family`` needs.

        Live trading runs the trading loop on one core and, when scanners run beside it, needs
        a second (the seed's reasoning for the L2-4). Backtests and notebooks run the
        algorithm's time loop on one thread, so only ``min_cores`` applies there.
        """
        if family is Family.LIVE_TRADING and requirements.use_scanners:
            return max(2, requirements.min_cores)
        return requirements.min_cores

    def warning_limit_mb(self, node: NodeSpec) -> float:
        """Return the memory warning level of ``node`` in MB."""
        return node.ram_mb * self.warning_pct / 100

    def check(
        self, node: NodeSpec, requirements: AlgorithmRequirements, family: Family | None = None
    ) -> NodeCheck:
        """Return how ``node`` measures up to ``requirements`` (as a node of ``family``)."""
        family = node.family if family is None else family
        return self._checks(requirements, family, (node,))[0]

    def _checks(
        self,
        requirements: AlgorithmRequirements,
        family: Family,
        nodes: Sequence[NodeSpec] | None = None,
    ) -> list[NodeCheck]:
        """Return ``nodes`` (default: the family, cheapest first) checked on one estimate."""
        estimate_mb = self.estimate(requirements, family).node_mb
        cores = self.required_cores(requirements, family)
        return [
            NodeCheck(
                node=node,
                estimate_mb=estimate_mb,
                warning_limit_mb=self.warning_limit_mb(node),
                required_cores=cores,
                requires_gpu=requirements.needs_gpu,
            )
            for node in (self.catalog.family(family) if nodes is None else nodes)
        ]

    def max_contracts_per_chain(
        self, requirements: AlgorithmRequirements, node: NodeSpec, family: Family | None = None
    ) -> int | None:
        """Return the most contracts per chain that stay under ``node``'s memory warning level.

        ``None`` when the algorithm has no option chains or when even zero contracts per chain
        do not fit (the rest of the workload is already too big).
        """
        if requirements.num_option_chains == 0:
            return None
        family = node.family if family is None else family
        workload = requirements.to_workload()
        most = self.memory_model.max_contracts_fitting(
            workload, family, self.warning_limit_mb(node)
        )
        if most is None:
            return None
        chain_contracts = most - requirements.single_option_contracts
        if chain_contracts < 0:
            return None
        return chain_contracts // requirements.num_option_chains

    # -- recommendations ---------------------------------------------------------------------

    def recommend(
        self, requirements: AlgorithmRequirements, family: Family
    ) -> EnvironmentRecommendation:
        """Return the recommendation for one environment (backtesting, research or live)."""
        estimate = self.estimate(requirements, family)
        checks = self._checks(requirements, family)
        chosen_index = next((i for i, c in enumerate(checks) if c.fits), None)
        binding: Sequence[Constraint]
        if chosen_index is None:
            chosen = None
            binding = sorted({f for c in checks for f in c.failures}, key=list(Constraint).index)
            reason = self._nothing_fits(requirements, family, checks)
        else:
            chosen = checks[chosen_index]
            binding = _binding_constraints(checks[:chosen_index])
            reason = self._reason(family, estimate, chosen, checks[:chosen_index], binding)
        node = None if chosen is None else chosen.node
        monthly = None if node is None else node.monthly_price
        configured = self._configured(requirements, family)
        return EnvironmentRecommendation(
            environment=family.value,
            node=node,
            fits=chosen is not None,
            reason=reason,
            binding_constraint=", ".join(c.value for c in binding),
            memory=estimate,
            estimated_memory_mb=estimate.node_mb,
            multiplier=estimate.multiplier,
            required_cores=checks[0].required_cores,
            requires_gpu=checks[0].requires_gpu,
            warning_pct=self.warning_pct,
            warning_limit_mb=None if chosen is None else chosen.warning_limit_mb,
            headroom_mb=None if chosen is None else chosen.headroom_mb,
            used_pct=None if chosen is None else chosen.used_pct,
            monthly_cost=monthly,
            annual_cost=None if monthly is None else 12 * monthly,
            configured=configured,
            configured_node_fits=configured["fits"],
        )

    def recommend_nodes(self, requirements: AlgorithmRequirements) -> Recommendations:
        """Return the recommendation for backtesting, research and live trading, and the total.

        ``total_monthly_cost`` adds the recommended nodes (an environment where nothing fits
        adds nothing; its ``fits`` is ``False``).
        """
        backtesting = self.recommend(requirements, Family.BACKTESTING)
        research = self.recommend(requirements, Family.RESEARCH)
        live = self.recommend(requirements, Family.LIVE_TRADING)
        total = sum(r["monthly_cost"] or 0.0 for r in (backtesting, research, live))
        return Recommendations(
            backtesting=backtesting,
            research=research,
            live_trading=live,
            total_monthly_cost=total,
        )

    def recommend_optimization_node(self, requirements: AlgorithmRequirements) -> NodeCheck | None:
        """Return the cheapest optimization node that fits one backtest, or ``None``."""
        return next((c for c in self._checks(requirements, Family.OPTIMIZATION) if c.fits), None)

    def plan(self, requirements: AlgorithmRequirements, *, strategies: int = 2) -> NodePlan:
        """Return the recommendations, the alternatives and the optimization node."""
        return NodePlan(
            requirements=requirements,
            recommendations=self.recommend_nodes(requirements),
            alternatives=self.alternatives(requirements, strategies=strategies),
            optimization=self.recommend_optimization_node(requirements),
        )

    # -- alternatives ------------------------------------------------------------------------

    def alternatives(
        self, requirements: AlgorithmRequirements, *, strategies: int = 2
    ) -> tuple[AlternativeConfiguration, ...]:
        """Return the seed's budget, premium and enterprise configurations, computed.

        * Budget (development): backtesting and research on the cheapest nodes whose RAM holds
          the estimate with no headroom at all (it runs, but the memory warning fires and a
          spike can kill it); no live node.
        * Premium (multiple strategies): the recommended nodes, with ``strategies``
          backtesting and live nodes (one live node runs exactly one algorithm) and one
          research node.
        * Enterprise (GPU): the cheapest GPU node of each family that fits with headroom.
        """
        if strategies < 1:
            msg = f"strategies must be at least 1, got {strategies}"
            raise InputError(msg)
        budget_lines = []
        for f in (Family.BACKTESTING, Family.RESEARCH):
            node = self._cheapest(requirements, f, headroom=False)
            under_warning = node is not None and self.check(node, requirements, f).fits
            budget_lines.append(AlternativeLine(
                role=f.label.capitalize(), family=f, node=node, count=1,
                note="" if under_warning else "no headroom: the memory warning will fire",
            ))  # fmt: skip
        budget_lines.append(AlternativeLine(
            role="Live trading", family=Family.LIVE_TRADING, node=None, count=0,
            note="no live node while developing (cloud paper trading also needs one)",
        ))  # fmt: skip
        premium_lines = [
            AlternativeLine(role=f.label.capitalize(), family=f,
                            node=self._cheapest(requirements, f),
                            count=1 if f is Family.RESEARCH else strategies,
                            note="" if f is Family.RESEARCH else f"one per strategy ({strategies})")
            for f in ENVIRONMENTS
        ]  # fmt: skip
        enterprise_lines = [
            AlternativeLine(role=f.label.capitalize(), family=f,
                            node=self._cheapest(requirements, f, gpu=True), count=1,
                            note="GPU node")
            for f in ENVIRONMENTS
        ]  # fmt: skip
        pct = f"{self.warning_pct:g} %"
        return (
            AlternativeConfiguration(
                key="budget",
                title="Budget (development)",
                rule=(
                    "Cheapest backtesting and research nodes whose RAM holds the estimate with no "
                    f"headroom (above the {pct} warning level); no live node."
                ),
                lines=tuple(budget_lines),
                fits=all(line.node is not None for line in budget_lines if line.count),
            ),
            AlternativeConfiguration(
                key="premium",
                title=f"Premium ({strategies} strategies)",
                rule=(
                    f"The recommended nodes: {strategies} backtesting and {strategies} live "
                    "nodes (one live node runs one algorithm), one research node."
                ),
                lines=tuple(premium_lines),
                fits=all(line.node is not None for line in premium_lines),
            ),
            AlternativeConfiguration(
                key="enterprise",
                title="Enterprise (GPU)",
                rule=(
                    f"Cheapest GPU node of each family that fits under the {pct} warning level. "
                    "Only worth it when training models locally."
                ),
                lines=tuple(enterprise_lines),
                fits=all(line.node is not None for line in enterprise_lines),
            ),
        )

    # -- optimization ------------------------------------------------------------------------

    def optimization_estimate(
        self,
        node_model: str,
        *,
        backtest_seconds: float,
        parallel_nodes: int,
        parameters: Sequence[tuple[float, float, float]] = (),
        backtests: int | None = None,
    ) -> OptimizationEstimate:
        """Return the cost of an optimization run, exactly as ``lean cloud optimize`` shows it.

        Reproduces ``_display_estimate`` of the LEAN CLI 1.0.230
        (``lean/commands/cloud/optimize.py``): a grid of ``prod(round((max - min) / step) + 1)``
        backtests; ``hours = max(0.1, ceil((30 + 1.5 * backtest_seconds) * backtests * 100 /
        3600) / 100)`` (30 s deployment per backtest, 1.5 CPU factor); batch time
        ``ceil(hours * 100 / parallel_nodes) / 100``; cost ``max(0.01, ceil(price * hours * 100)
        / 100)``. The CLI takes ``backtest_seconds`` from QuantConnect's estimate API.

        Args:
            node_model: O2-8, O4-12 or O8-16.
            backtest_seconds: How long one backtest takes.
            parallel_nodes: Nodes at once (1 up to the node's LEAN CLI maximum).
            parameters: ``(min, max, step)`` of every optimized parameter.
            backtests: The number of backtests, instead of ``parameters``.

        Raises:
            InputError: Unknown or non-optimization node, parallel nodes out of range, a step
                that is not positive, or neither/both of ``parameters`` and ``backtests``.
        """
        node = self.catalog.get(node_model, Family.OPTIMIZATION)
        most = node.max_parallel or 1
        if not 1 <= parallel_nodes <= most:
            msg = f"{node.model} runs 1 to {most} parallel nodes, got {parallel_nodes}"
            raise InputError(msg)
        if backtest_seconds < 0:
            msg = f"backtest_seconds must be >= 0, got {backtest_seconds:g}"
            raise InputError(msg)
        if (backtests is None) == (not parameters):
            msg = "give either the optimization parameters or the number of backtests"
            raise InputError(msg)
        if backtests is None:
            for low, high, step in parameters:
                if step <= 0 or high < low:
                    msg = f"parameter range {low:g}..{high:g} step {step:g} is not a valid grid"
                    raise InputError(msg)
            backtests = math.prod(round((high - low) / step) + 1 for low, high, step in parameters)
        if backtests < 1:
            msg = f"backtests must be at least 1, got {backtests}"
            raise InputError(msg)
        deploy_seconds, cpu_factor = 30, 1.5
        seconds = (deploy_seconds + backtest_seconds * cpu_factor) * backtests
        hours = max(0.1, math.ceil((seconds * 100) / 3600) / 100)
        batch_hours = math.ceil((hours * 100) / parallel_nodes) / 100
        cost = max(0.01, math.ceil(node.price * hours * 100) / 100)
        return OptimizationEstimate(
            node=node, parallel_nodes=parallel_nodes, backtests=backtests, hours=hours,
            batch_hours=batch_hours, cost=cost,
        )  # fmt: skip

    # -- helpers -----------------------------------------------------------------------------

    def _cheapest(
        self,
        requirements: AlgorithmRequirements,
        family: Family,
        *,
        headroom: bool = True,
        gpu: bool = False,
    ) -> NodeSpec | None:
        for check in self._checks(requirements, family):
            if gpu and not check.node.has_gpu:
                continue
            failures = set(check.failures)
            if not headroom and check.estimate_mb <= check.node.ram_mb:
                failures.discard(Constraint.MEMORY)
            if not failures:
                return check.node
        return None

    def _configured(
        self, requirements: AlgorithmRequirements, family: Family
    ) -> ConfiguredNodeCheck:
        configured = self.settings.quantconnect.compute_nodes.for_family(family)
        node = self.catalog.get(configured.model, family)
        if configured.monthly_cost is not None:  # what the user says they pay for it
            node = replace(node, price=configured.monthly_cost)
        check = self.check(node, requirements, family)
        most = self.max_contracts_per_chain(requirements, node, family)
        return ConfiguredNodeCheck(
            node=node,
            fits=check.fits,
            failures=[c.value for c in check.failures],
            estimated_memory_mb=check.estimate_mb,
            warning_limit_mb=check.warning_limit_mb,
            headroom_mb=check.headroom_mb,
            max_contracts_per_chain=most,
            monthly_cost=node.price,
            message=self._configured_message(requirements, family, check, most),
        )

    def _configured_message(
        self,
        requirements: AlgorithmRequirements,
        family: Family,
        check: NodeCheck,
        most: int | None,
    ) -> str:
        node = check.node
        name = f"{family.label.capitalize()}: the configured {node.model}"
        if check.fits:
            return (
                f"{name} fits: {_mb(check.estimate_mb)} estimated, "
                f"{_mb(check.headroom_mb)} below its {self.warning_pct:g} % warning level."
            )
        parts = []
        if Constraint.MEMORY in check.failures:
            over_ram = check.estimate_mb > node.ram_mb
            parts.append(
                f"the estimate {_mb(check.estimate_mb)} exceeds its {self.warning_pct:g} % "
                f"warning level {_mb(check.warning_limit_mb)}"
                + (
                    f" and its {_mb(node.ram_mb)} of RAM: LEAN would stop the algorithm "
                    "(Memory Usage Maxed Out)"
                    if over_ram
                    else f" (it is {check.used_pct:.0f} % of the node's {_mb(node.ram_mb)})"
                )
            )
        if Constraint.CORES in check.failures:
            parts.append(f"it has {node.cores} core(s), {check.required_cores} are needed")
        if Constraint.GPU in check.failures:
            parts.append("it has no GPU, and the algorithm trains a deep-learning model")
        text = f"{name} does not fit: " + "; ".join(parts) + "."
        if Constraint.MEMORY in check.failures and requirements.num_option_chains:
            chains = requirements.num_option_chains
            if most is None:
                text += f" Even with no option contracts it would not fit on {_a(node.model)}."
            else:
                text += (
                    f" On {_a(node.model)}, at most {most:,} contracts per chain fit "
                    f"({chains} chain{'s' if chains != 1 else ''}; now "
                    f"{requirements.contracts_per_chain:,})."
                )
        fitting = self._cheapest(requirements, family)
        if fitting is not None:
            price = fitting.price_text()
            text += f" The cheapest {family.label} node that fits: {fitting.model} ({price})."
        return text

    def _reason(
        self,
        family: Family,
        estimate: MemoryEstimate,
        chosen: NodeCheck,
        rejected: Sequence[NodeCheck],
        binding: Sequence[Constraint],
    ) -> str:
        node = chosen.node
        pct = f"{self.warning_pct:g} %"
        multiplier = (
            f" ({_mb(estimate.node_components_mb)} x {estimate.multiplier:g}: "
            f"{_why_multiplier(family)})"
            if estimate.multiplier != 1
            else ""
        )
        text = (
            f"{node.model}: {_mb(chosen.estimate_mb)} estimated{multiplier} stays under {pct} of "
            f"its {node.ram_gb:g} GB ({_mb(chosen.warning_limit_mb)})"
        )
        if chosen.required_cores > 1:
            text += f", {chosen.required_cores} cores needed"
        if chosen.requires_gpu:
            text += ", GPU for in-process model training"
        text += "."
        if not rejected:
            text += f" It is the cheapest {family.label} node. Binding constraint: none."
        else:
            nearest = rejected[-1]
            why = _failure_text(nearest, pct)
            text += f" {nearest.node.model} ({nearest.node.price_text()}) {why}."
            names = ", ".join(c.value for c in binding)
            text += f" Binding constraint: {names}."
        if node.free_tier:
            text += f" ({node.free_tier}.)"
        return text

    def _nothing_fits(
        self, requirements: AlgorithmRequirements, family: Family, checks: Sequence[NodeCheck]
    ) -> str:
        """Return why no node of ``family`` fits, naming the largest and what it lacks."""
        largest = max(checks, key=lambda c: (c.node.ram_gb, c.node.cores))
        pct = f"{self.warning_pct:g} %"
        reason = (
            f"No {family.label} node fits: {_mb(largest.estimate_mb)} estimated; the largest, "
            f"{largest.node.model}, {_failure_text(largest, pct)}."
        )
        most = self.max_contracts_per_chain(requirements, largest.node, family)
        if Constraint.MEMORY in largest.failures and requirements.num_option_chains:
            if most is None:
                reason += " Even without option contracts the rest does not fit."
            else:
                reason += f" At most {most:,} contracts per chain fit on {_a(largest.node.model)}."
        return reason


def environments(recommendations: Recommendations) -> tuple[EnvironmentRecommendation, ...]:
    """Return the backtesting, research and live recommendations, in that order."""
    return (
        recommendations["backtesting"],
        recommendations["research"],
        recommendations["live_trading"],
    )


def _binding_constraints(rejected: Sequence[NodeCheck]) -> tuple[Constraint, ...]:
    """Return the constraints that ruled out the cheaper nodes.

    A constraint is binding when dropping it alone would have let a cheaper node through. When
    no single constraint does (the cheaper nodes fail several), every constraint the nearest
    cheaper node fails is named.
    """
    if not rejected:
        return (Constraint.NONE,)
    single = [
        c
        for c in (Constraint.MEMORY, Constraint.CORES, Constraint.GPU)
        if any(set(r.failures) == {c} for r in rejected)
    ]
    if single:
        return tuple(single)
    return rejected[-1].failures


def _failure_text(check: NodeCheck, pct: str) -> str:
    parts = []
    if Constraint.MEMORY in check.failures:
        parts.append(
            f"holds only {_mb(check.warning_limit_mb)} below the {pct} warning level "
            f"({check.node.ram_gb:g} GB)"
        )
    if Constraint.CORES in check.failures:
        parts.append(f"has {check.node.cores} core(s), {check.required_cores} needed")
    if Constraint.GPU in check.failures:
        parts.append("has no GPU")
    return " and ".join(parts) if parts else "fits"


def _why_multiplier(family: Family) -> str:
    if family is Family.RESEARCH:
        return "notebooks hold history in memory"
    return "backtests cache the data they read"


def _a(model: str) -> str:
    """Return the model with its article as it is read aloud ("an L2-4", "a B8-16")."""
    return f"{'an' if model[:1] in 'AEFHILMNORSX' else 'a'} {model}"


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"
