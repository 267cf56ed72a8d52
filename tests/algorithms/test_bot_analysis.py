"""What `make run` says about the bot matches what the bot subscribes when it runs.

The analyzer reads algorithms/options_trading_bot.py without running it; the LEAN stand-in runs
its ``initialize`` and its option filter. Both must give the same chains, contracts per chain,
resolution and components, and the configured nodes must be judged on those figures.
"""

from __future__ import annotations

import ast
import sys
from datetime import date, datetime, timedelta
from types import ModuleType

import pytest

from tests.algorithms.conftest import BOT_PATH, StartBot
from tests.algorithms.lean_stand_in import (
    OptionContract,
    OptionFilterUniverse,
    OptionRight,
    Symbol,
    third_friday,
)
from utils import AlgorithmRequirements, Family, load_settings
from utils.algorithm_analyzer import analyze_algorithm
from utils.node_optimizer import NodeOptimizer


@pytest.fixture(scope="module")
def requirements() -> AlgorithmRequirements:
    """Return the analyzer's reading of the bot with the repository's settings."""
    return analyze_algorithm(BOT_PATH, settings=load_settings())


def dense_chain(underlying: Symbol, spot: float, today: date, step: float) -> list[OptionContract]:
    """Return calls and puts every ``step`` from 45 steps below ``spot`` to 5 above, expiring
    every Friday for 10 weeks (weeklies and the monthly third Fridays among them)."""
    fridays = [today + timedelta(days=(4 - today.weekday()) % 7 + 7 * i) for i in range(10)]
    center = round(spot / step) * step
    contracts = []
    for friday in fridays:
        expiry = datetime(friday.year, friday.month, friday.day, 16)  # noqa: DTZ001 (naive, as LEAN)
        for k in range(-45, 6):
            strike = round(center + k * step, 2)
            for right in (OptionRight.CALL, OptionRight.PUT):
                symbol = Symbol(f"{underlying.value} {friday} {right.name} {strike}", underlying)
                contracts.append(OptionContract(symbol, strike, expiry, right, 1.0, 1.1))
    return contracts


@pytest.fixture(scope="module")
def kept_by_day(bot_module: ModuleType) -> dict[date, list[OptionContract]]:
    """Return what the bot's filter keeps of a dense SPY-like chain on every day of 2024."""
    bot = bot_module.OptionsTradingBot()  # the filter reads only the module's constants
    kept = {}
    for offset in range(366):
        day = date(2024, 1, 1) + timedelta(days=offset)
        chain = dense_chain(Symbol("SPY"), 470.0, day, 1.0)
        kept[day] = bot._contract_filter(OptionFilterUniverse(chain, 470.0, day)).result()
    return kept


def test_the_analyzer_counts_the_chains_initialize_subscribes(
    requirements: AlgorithmRequirements, start_bot: StartBot
) -> None:
    run = start_bot()
    assert requirements.analysis is not None

    subscribed = [ticker for ticker, _ in run.engine.subscriptions]
    analysed = [chain.underlying for chain in requirements.analysis.option_chains]
    assert analysed == subscribed == ["SPY", "QQQ", "IWM", "DIA", "GLD"]
    assert requirements.num_option_chains == len(subscribed)
    assert all(chain.exact for chain in requirements.analysis.option_chains)


def test_the_analyzer_counts_each_underlying_once_as_a_security(
    requirements: AlgorithmRequirements, start_bot: StartBot
) -> None:
    run = start_bot()

    equities = [s for s in run.engine.securities if s.underlying is None]
    assert requirements.num_securities == len(equities) == 5


def test_the_resolution_is_the_one_subscribed(
    requirements: AlgorithmRequirements, start_bot: StartBot
) -> None:
    run = start_bot()

    assert {resolution.name.lower() for _, resolution in run.engine.subscriptions} == {"minute"}
    assert requirements.resolution == "minute"


def test_contracts_per_chain_is_the_most_the_filter_keeps_on_any_day_of_a_year(
    requirements: AlgorithmRequirements, kept_by_day: dict[date, list[OptionContract]]
) -> None:
    counts = [len(kept) for kept in kept_by_day.values()]

    assert all({c.right for c in kept} <= {OptionRight.PUT} for kept in kept_by_day.values())
    assert all(len({c.expiry for c in kept}) <= 1 for kept in kept_by_day.values())
    assert requirements.contracts_per_chain == max(counts) == 41
    assert requirements.analysis is not None
    assert all(chain.contracts_exact for chain in requirements.analysis.option_chains)
    assert requirements.warnings == ()


@pytest.mark.parametrize(("spot", "step"), [(470.0, 1.0), (183.5, 0.5), (47.0, 5.0)])
def test_the_filter_keeps_41_strikes_whatever_the_strike_spacing(
    bot_module: ModuleType, spot: float, step: float
) -> None:
    day = date(2024, 1, 2)  # 2024-02-16, a monthly expiry, is 45 days away
    chain = dense_chain(Symbol("SPY"), spot, day, step)

    kept = bot_module.OptionsTradingBot()._contract_filter(OptionFilterUniverse(chain, spot, day))

    assert len(kept.result()) == 41


def test_days_without_a_monthly_expiry_in_the_window_keep_nothing(
    kept_by_day: dict[date, list[OptionContract]],
) -> None:
    """Monthly expiries 35 days apart leave gaps in a 25-day window: the bot then waits."""
    empty = [day for day, kept in kept_by_day.items() if not kept]

    assert empty
    for day in empty:
        for year, month in ((day.year, day.month), _next_month(day), _next_month(day, 2)):
            assert not 30 <= (third_friday(year, month) - day).days <= 55


def _next_month(day: date, months: int = 1) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def test_no_llm_ml_or_greeks_and_the_components_the_bot_has(
    requirements: AlgorithmRequirements, bot_module: ModuleType
) -> None:
    assert not requirements.use_llm_analysis
    assert not requirements.use_ml_training
    assert not requirements.needs_gpu
    assert not requirements.use_greeks
    assert not requirements.use_scanners
    assert requirements.use_risk_management  # the circuit breaker
    assert requirements.use_spread_tracker  # CreditSpread
    assert requirements.use_profit_taking  # PROFIT_TAKE_PCT
    assert hasattr(bot_module, "CreditSpread")
    assert hasattr(bot_module, "PROFIT_TAKE_PCT")


def test_the_bot_imports_only_the_standard_library_lean_and_the_runtime() -> None:
    tree = ast.parse(BOT_PATH.read_text(encoding="utf-8"))
    roots = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }

    assert roots - set(sys.stdlib_module_names) == {"AlgorithmImports", "utils"}


def test_the_configured_nodes_fit_the_bot_the_live_one_with_room(
    requirements: AlgorithmRequirements,
) -> None:
    recommendations = NodeOptimizer(load_settings()).recommend_nodes(requirements)

    live = recommendations["live_trading"]["configured"]
    assert live["node"].model == "L2-4"
    assert live["fits"]
    assert live["estimated_memory_mb"] == pytest.approx(2550)
    assert live["max_contracts_per_chain"] is not None
    assert requirements.contracts_per_chain <= live["max_contracts_per_chain"]
    assert recommendations["backtesting"]["configured"]["fits"]
    assert recommendations["research"]["configured"]["fits"]


def test_the_seeds_five_chains_of_100_would_not_fit_the_configured_l2_4() -> None:
    """The decision in the bot's docstring: 5 x 100 contracts do not fit an L2-4, ~56 do."""
    optimizer = NodeOptimizer(load_settings())
    seed = AlgorithmRequirements()  # the seed's workload: 5 chains x 100 contracts, 10 stocks

    check = optimizer.recommend(seed, Family.LIVE_TRADING)["configured"]

    assert not check["fits"]
    assert check["estimated_memory_mb"] == pytest.approx(4450)
    assert check["warning_limit_mb"] == pytest.approx(3276.8)
    assert check["max_contracts_per_chain"] == 56
