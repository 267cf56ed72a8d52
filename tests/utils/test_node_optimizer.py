"""The optimizer picks the cheapest node that really fits, and says why, with numbers."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utils import AlgorithmRequirements, Family, InputError, NodeOptimizer, Workload
from utils.node_optimizer import Constraint, environments
from utils.settings import Settings, settings_from_mapping


@pytest.fixture
def optimizer() -> NodeOptimizer:
    """Return an optimizer with the default settings (the seed's configuration)."""
    return NodeOptimizer(Settings())


SEED = AlgorithmRequirements(num_option_chains=5, use_llm_analysis=True)
#: One security, no option chains, only the scanners of the seed's components.
LIGHT = AlgorithmRequirements(
    num_securities=1,
    num_option_chains=0,
    use_llm_analysis=False,
    use_risk_management=False,
    use_spread_tracker=False,
    use_profit_taking=False,
)
SMALL = replace(LIGHT, use_scanners=False)


# -- the seed ---------------------------------------------------------------------------------


def test_the_seeds_example_recommends_b8_16_for_backtesting() -> None:
    recommendations = NodeOptimizer().recommend_nodes(SEED)
    assert recommendations["backtesting"]["node"] is not None
    assert recommendations["backtesting"]["node"].model == "B8-16"


def test_the_default_requirements_are_the_seeds_workload() -> None:
    assert AlgorithmRequirements().to_workload() == Workload()
    assert AlgorithmRequirements().total_option_contracts == 500


def test_backtests_need_b8_16_because_b4_12_holds_too_little(optimizer: NodeOptimizer) -> None:
    backtesting = optimizer.recommend(SEED, Family.BACKTESTING)
    assert backtesting["estimated_memory_mb"] == pytest.approx(4450 * 2.5)
    assert backtesting["binding_constraint"] == "memory"
    assert "B4-12 ($20/month) holds only 9,830 MB" in backtesting["reason"]
    assert backtesting["headroom_mb"] == pytest.approx(16384 * 0.8 - 11125)


def test_the_configured_l2_4_does_not_fit_the_seeds_workload(optimizer: NodeOptimizer) -> None:
    live = optimizer.recommend(SEED, Family.LIVE_TRADING)
    configured = live["configured"]
    assert not configured["fits"]
    assert configured["estimated_memory_mb"] == 4450
    assert configured["warning_limit_mb"] == pytest.approx(3276.8)
    assert configured["max_contracts_per_chain"] == 56
    message = configured["message"]
    for text in (
        "L2-4 does not fit",
        "4,450 MB",
        "3,277 MB",
        "Memory Usage Maxed Out",
        "at most 56 contracts per chain",
        "L8-16-GPU ($400/month)",
    ):
        assert text in message


def test_the_cheapest_live_node_that_fits_the_seed_is_l8_16_gpu(optimizer: NodeOptimizer) -> None:
    live = optimizer.recommend(SEED, Family.LIVE_TRADING)
    assert live["node"] is not None
    assert live["node"].model == "L8-16-GPU"
    assert live["binding_constraint"] == "memory"
    assert "L2-4 ($50/month) holds only 3,277 MB" in live["reason"]


def test_fifty_six_contracts_per_chain_is_the_most_an_l2_4_holds(optimizer: NodeOptimizer) -> None:
    fits = optimizer.recommend(SEED.with_contracts_per_chain(56), Family.LIVE_TRADING)
    too_many = optimizer.recommend(SEED.with_contracts_per_chain(57), Family.LIVE_TRADING)
    assert fits["configured"]["fits"]
    assert not too_many["configured"]["fits"]


def test_totals_add_the_recommended_nodes(optimizer: NodeOptimizer) -> None:
    recommendations = optimizer.recommend_nodes(SEED)
    models = [r["node"].model for r in environments(recommendations) if r["node"]]
    assert models == ["B8-16", "R8-16", "L8-16-GPU"]
    assert recommendations["total_monthly_cost"] == 28 + 14 + 400
    assert recommendations["live_trading"]["annual_cost"] == 4800


# -- constraints ------------------------------------------------------------------------------


def test_a_small_algorithm_gets_the_cheapest_node_and_no_binding_constraint(
    optimizer: NodeOptimizer,
) -> None:
    backtesting = optimizer.recommend(SMALL, Family.BACKTESTING)
    assert backtesting["node"] is not None
    assert backtesting["node"].model == "B-MICRO"
    assert backtesting["binding_constraint"] == Constraint.NONE


def test_scanners_beside_the_trading_loop_need_a_second_core(optimizer: NodeOptimizer) -> None:
    live = optimizer.recommend(LIGHT, Family.LIVE_TRADING)
    assert live["node"] is not None
    assert live["node"].model == "L2-4"  # L1-2 holds the memory but has one core
    assert live["binding_constraint"] == "cores"
    without = optimizer.recommend(SMALL, Family.LIVE_TRADING)
    assert without["node"] is not None
    assert without["node"].model == "L1-2"


def test_a_gpu_only_when_training_needs_one(optimizer: NodeOptimizer) -> None:
    cpu = optimizer.recommend_nodes(AlgorithmRequirements(num_option_chains=1))
    gpu = optimizer.recommend_nodes(AlgorithmRequirements(num_option_chains=1, needs_gpu=True))
    assert not any(r["node"] and r["node"].has_gpu for r in environments(cpu)[:2])
    assert [r["node"].model for r in environments(gpu) if r["node"]] == [
        "B4-16-GPU",
        "R4-16-GPU",
        "L8-16-GPU",
    ]
    assert gpu["backtesting"]["binding_constraint"] == "gpu"


def test_when_nothing_fits_it_says_so_with_numbers(optimizer: NodeOptimizer) -> None:
    huge = AlgorithmRequirements(num_option_chains=20, contracts_per_chain=500)
    recommendations = optimizer.recommend_nodes(huge)
    live = recommendations["live_trading"]
    assert live["node"] is None
    assert not live["fits"]
    assert "No live trading node fits" in live["reason"]
    assert "the largest, L8-16-GPU, holds only 13,107 MB" in live["reason"]
    # (13,107 MB - 1,750 MB for the rest) / 5.4 MB per contract / 20 chains
    assert "At most 105 contracts per chain fit on an L8-16-GPU" in live["reason"]
    assert recommendations["total_monthly_cost"] == 0


def test_the_warning_level_comes_from_the_settings() -> None:
    strict = NodeOptimizer(
        settings_from_mapping({"quantconnect": {"resource_limits": {"memory_warning_pct": 50}}})
    )
    backtesting = strict.recommend(SEED, Family.BACKTESTING)
    assert backtesting["node"] is None  # 11,125 MB is more than half of 16 GB
    assert backtesting["warning_pct"] == 50


def test_requirements_reject_impossible_figures() -> None:
    with pytest.raises(InputError, match="num_option_chains"):
        AlgorithmRequirements(num_option_chains=-1)
    with pytest.raises(InputError, match="resolution"):
        AlgorithmRequirements(resolution="weekly")


# -- costs and alternatives -------------------------------------------------------------------


def test_alternatives_are_computed_from_the_model(optimizer: NodeOptimizer) -> None:
    budget, premium, enterprise = optimizer.alternatives(SEED)
    # Budget: the RAM holds the estimate with no headroom: B4-12 (12,288 MB) and R4-12.
    assert [(line.node.model if line.node else None) for line in budget.lines] == [
        "B4-12",
        "R4-12",
        None,
    ]
    assert budget.total_monthly_cost == 34  # the seed's figure, now from the model
    assert premium.total_monthly_cost == 2 * 28 + 14 + 2 * 400
    assert [line.node.model for line in enterprise.lines if line.node] == [
        "B4-16-GPU",
        "R4-16-GPU",
        "L8-16-GPU",
    ]
    assert enterprise.total_monthly_cost == 1200


def test_budget_warns_only_where_the_node_is_above_the_warning_level(
    optimizer: NodeOptimizer,
) -> None:
    seed_budget = optimizer.alternatives(SEED)[0]
    assert [line.note for line in seed_budget.lines[:2]] == [
        "no headroom: the memory warning will fire"
    ] * 2
    small = AlgorithmRequirements(num_securities=1, num_option_chains=0)
    small_budget = optimizer.alternatives(small)[0]
    assert [line.note for line in small_budget.lines[:2]] == ["", ""]


def test_prices_in_the_settings_change_every_cost() -> None:
    settings = settings_from_mapping(
        {
            "quantconnect": {
                "node_prices": {"B4-12": 48, "R4-12": 48, "L8-16-GPU": 420},
                "node_prices_as_of": "2026-08-01",
            }
        }
    )
    optimizer = NodeOptimizer(settings)
    budget, _, enterprise = optimizer.alternatives(SEED)
    # B4-12 and R4-12 now cost more than B8-16 and R8-16, which also hold the estimate
    assert [line.node.model for line in budget.lines if line.node] == ["B8-16", "R8-16"]
    assert budget.total_monthly_cost == 28 + 14
    assert enterprise.total_monthly_cost == 400 + 400 + 420
    assert optimizer.recommend_nodes(SEED)["total_monthly_cost"] == 28 + 14 + 420


def test_the_configured_nodes_cost_what_the_settings_say(optimizer: NodeOptimizer) -> None:
    plan = optimizer.plan(SEED)
    assert plan.configured_monthly_cost == 92
    assert any("L2-4 does not fit" in w for w in plan.warnings)


@pytest.mark.parametrize(
    ("node", "seconds", "backtests", "parallel", "hours", "batch", "cost"),
    [
        # (30 + 1.5 * 60) * 50 s = 6,000 s: ceil(166.67) / 100 = 1.67 h
        ("O2-8", 60, 50, 4, 1.67, 0.42, 0.26),
        ("O8-16", 600, 1000, 6, 258.34, 43.06, 155.01),  # 930,000 s
        ("O4-12", 1, 1, 1, 0.1, 0.1, 0.03),  # at least 0.1 hour
    ],
)
def test_optimization_cost_follows_the_lean_cli_formula(
    optimizer: NodeOptimizer,
    node: str,
    seconds: float,
    backtests: int,
    parallel: int,
    hours: float,
    batch: float,
    cost: float,
) -> None:
    estimate = optimizer.optimization_estimate(
        node, backtest_seconds=seconds, parallel_nodes=parallel, backtests=backtests
    )
    assert (estimate.hours, estimate.batch_hours, estimate.cost) == (hours, batch, cost)


def test_optimization_grid_size_is_the_product_of_parameter_steps(
    optimizer: NodeOptimizer,
) -> None:
    estimate = optimizer.optimization_estimate(
        "O2-8", backtest_seconds=60, parallel_nodes=2, parameters=[(1, 10, 1), (0.1, 0.5, 0.1)]
    )
    assert estimate.backtests == 10 * 5


def test_optimization_rejects_bad_input(optimizer: NodeOptimizer) -> None:
    with pytest.raises(InputError, match="1 to 6"):
        optimizer.optimization_estimate("O8-16", backtest_seconds=1, parallel_nodes=7, backtests=1)
    with pytest.raises(InputError, match=r"B8-16 is a backtesting node"):
        optimizer.optimization_estimate("B8-16", backtest_seconds=1, parallel_nodes=1, backtests=1)


def test_the_optimization_node_is_the_cheapest_that_fits_a_backtest(
    optimizer: NodeOptimizer,
) -> None:
    check = optimizer.recommend_optimization_node(SEED)
    assert check is not None
    assert check.node.model == "O8-16"  # 11,125 MB: O4-12 holds 9,830 MB


# -- properties -------------------------------------------------------------------------------

requirements_strategy = st.builds(
    AlgorithmRequirements,
    num_securities=st.integers(0, 2000),
    num_option_chains=st.integers(0, 40),
    contracts_per_chain=st.integers(0, 1000),
    single_option_contracts=st.integers(0, 500),
    use_greeks=st.booleans(),
    use_scanners=st.booleans(),
    use_llm_analysis=st.booleans(),
    use_ml_training=st.booleans(),
    needs_gpu=st.booleans(),
    min_cores=st.integers(1, 8),
)
_OPTIMIZER = NodeOptimizer(Settings())


@settings(max_examples=300, deadline=None)
@given(requirements=requirements_strategy)
def test_the_recommended_node_always_fits_and_is_the_cheapest_that_does(
    requirements: AlgorithmRequirements,
) -> None:
    for rec in environments(_OPTIMIZER.recommend_nodes(requirements)):
        family = Family(rec["environment"])
        checks = [
            _OPTIMIZER.check(n, requirements, family) for n in _OPTIMIZER.catalog.family(family)
        ]
        node = rec["node"]
        if node is None:
            assert not any(c.fits for c in checks)
            continue
        check = _OPTIMIZER.check(node, requirements, family)
        assert check.fits
        assert check.estimate_mb <= node.ram_mb * _OPTIMIZER.warning_pct / 100
        assert node.cores >= check.required_cores
        assert node.has_gpu or not requirements.needs_gpu
        assert not any(c.fits and c.node.price < node.price for c in checks)


@settings(max_examples=300, deadline=None)
@given(requirements=requirements_strategy, more=st.integers(1, 400))
def test_more_contracts_never_get_a_smaller_node(
    requirements: AlgorithmRequirements, more: int
) -> None:
    bigger = requirements.with_contracts_per_chain(requirements.contracts_per_chain + more)
    for small, large in zip(
        environments(_OPTIMIZER.recommend_nodes(requirements)),
        environments(_OPTIMIZER.recommend_nodes(bigger)),
        strict=True,
    ):
        if small["node"] is None:
            assert large["node"] is None
        elif large["node"] is not None:
            assert large["node"].ram_gb >= small["node"].ram_gb
            assert large["node"].price >= small["node"].price


@settings(max_examples=200, deadline=None)
@given(requirements=requirements_strategy)
def test_max_contracts_per_chain_is_exactly_the_edge_of_fitting(
    requirements: AlgorithmRequirements,
) -> None:
    node = _OPTIMIZER.catalog.get("L2-4")
    most = _OPTIMIZER.max_contracts_per_chain(requirements, node)
    if most is None:
        return
    limit = _OPTIMIZER.warning_limit_mb(node)
    at = _OPTIMIZER.check(node, requirements.with_contracts_per_chain(most)).estimate_mb
    over = _OPTIMIZER.check(node, requirements.with_contracts_per_chain(most + 1)).estimate_mb
    assert at <= limit + 1e-6
    assert over > limit or math.isclose(over, limit)
