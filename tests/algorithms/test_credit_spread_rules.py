"""The bot's strategy rules (pure functions): which spread, how many, when to close."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.algorithms.lean_stand_in import OptionRight, Symbol

NOW = datetime(2024, 1, 2, 10, 30)  # noqa: DTZ001 (LEAN's algorithm time is naive)
SPY = Symbol("SPY")


def put(bot: ModuleType, strike: float, days: int, bid: float, ask: float) -> object:
    expiry = NOW + timedelta(days=days)
    return bot.PutQuote(
        Symbol.option(SPY, strike, expiry, OptionRight.PUT), strike, expiry, bid, ask
    )


def ladder(bot: ModuleType, days: int, strikes: range, bid: float = 1.0, ask: float = 1.1) -> list:
    """Return puts at ``strikes`` whose bids rise with the strike (as puts' values do)."""
    return [put(bot, k, days, bid + (k - strikes.start) * 0.3, ask + (k - strikes.start) * 0.3)
            for k in strikes]  # fmt: skip


def test_the_short_put_is_the_highest_strike_4_pct_below_and_the_long_5_strikes_lower(
    bot_module: ModuleType,
) -> None:
    choice = bot_module.choose_put_spread(ladder(bot_module, 45, range(400, 471)), 470.0, NOW)

    assert (choice.short.strike, choice.long.strike) == (451, 446)
    assert choice.width == 5


def test_the_expiry_closest_to_45_days_in_the_window_is_chosen(bot_module: ModuleType) -> None:
    puts = ladder(bot_module, 31, range(400, 471)) + ladder(bot_module, 50, range(400, 471))

    choice = bot_module.choose_put_spread(puts, 470.0, NOW)

    assert (choice.short.expiry - NOW).days == 50


@pytest.mark.parametrize("days", [29, 56])
def test_no_spread_outside_the_expiry_window(bot_module: ModuleType, days: int) -> None:
    assert (
        bot_module.choose_put_spread(ladder(bot_module, days, range(400, 471)), 470.0, NOW) is None
    )


def test_no_spread_without_five_strikes_below_the_short(bot_module: ModuleType) -> None:
    assert bot_module.choose_put_spread(ladder(bot_module, 45, range(448, 471)), 470.0, NOW) is None


def test_no_spread_when_the_credit_is_under_15_pct_of_the_width(bot_module: ModuleType) -> None:
    flat = [put(bot_module, k, 45, 1.0, 1.1) for k in range(400, 471)]  # credit -0.10

    assert bot_module.choose_put_spread(flat, 470.0, NOW) is None


def test_no_spread_when_the_long_put_has_no_ask(bot_module: ModuleType) -> None:
    puts = ladder(bot_module, 45, range(400, 471))
    puts = [p if p.strike != 446 else put(bot_module, 446, 45, 0.0, 0.0) for p in puts]

    assert bot_module.choose_put_spread(puts, 470.0, NOW) is None


@given(
    width=st.floats(0.5, 50),
    credit_share=st.floats(0.0, 0.95),
    portfolio=st.floats(1_000, 10_000_000),
    margin=st.floats(0, 10_000_000),
)
def test_the_quantity_never_risks_more_than_2_pct_nor_uses_more_than_half_the_margin(
    bot_module: ModuleType, width: float, credit_share: float, portfolio: float, margin: float
) -> None:
    credit = width * credit_share
    quantity = bot_module.spread_quantity(
        width=width, credit=credit, multiplier=100, portfolio_value=portfolio,
        margin_remaining=margin,
    )  # fmt: skip

    max_loss, needs = (width - credit) * 100, width * 100
    assert 0 <= quantity <= bot_module.MAX_SPREADS_PER_ENTRY
    assert quantity * max_loss <= portfolio * 0.02 + 1e-6
    assert quantity * needs <= margin * 0.5 + 1e-6
    more = quantity + 1
    assert (
        quantity == bot_module.MAX_SPREADS_PER_ENTRY
        or more * max_loss > portfolio * 0.02
        or more * needs > margin * 0.5
    )


def test_no_quantity_without_margin(bot_module: ModuleType) -> None:
    assert bot_module.spread_quantity(
        width=5, credit=1, multiplier=100, portfolio_value=100_000, margin_remaining=0
    ) == 0  # fmt: skip


@pytest.mark.parametrize(
    ("cost", "days", "expected"),
    [
        (0.50, 30, "PROFIT_TAKE"),  # half the credit captured, exactly
        (0.51, 30, None),
        (2.99, 30, None),
        (3.00, 30, "STOP_LOSS"),  # a loss of twice the credit, exactly
        (1.00, 8, None),
        (1.00, 7, "EXPIRY"),
        (None, 7, "EXPIRY"),  # no quote: still closed before expiry
        (None, 30, None),
    ],
)
def test_exit_rules_at_their_thresholds(
    bot_module: ModuleType, cost: float | None, days: int, expected: str | None
) -> None:
    reason = bot_module.exit_reason(1.00, cost, days)

    assert (reason.name if reason else None) == expected


def test_the_filter_constants_hold_at_most_one_monthly_expiry(bot_module: ModuleType) -> None:
    window = bot_module.MAX_DAYS_TO_EXPIRY - bot_module.MIN_DAYS_TO_EXPIRY

    assert window < 28  # consecutive monthly expiries are 28 or 35 days apart
    assert bot_module.FILTER_CONTRACTS_PER_CHAIN == bot_module.STRIKES_BELOW_ATM + 1
    assert math.isclose(bot_module.ORDER_TIMEOUT.total_seconds(), 2.5)
