"""The options bot's integration logic, driven through the LEAN stand-in.

initialize, scheduled events, data, order events and on_end_of_algorithm: what the bot
subscribes, how the monitor and the circuit breaker gate its orders, and what it reports.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest

from tests.algorithms.conftest import BotRun, StartBot
from tests.algorithms.lean_stand_in import OrderStatus, Resolution, Symbol
from utils import BreakerState, HealthState, SettingsError

# ------------------------------------------------------------------------------ start-up


def test_initialize_subscribes_the_first_max_option_chains_underlyings_at_minute(
    start_bot: StartBot, bot_module: ModuleType
) -> None:
    run = start_bot(settings={"resource_limits": {"max_option_chains": 2}})

    assert run.engine.subscriptions == [("SPY", Resolution.MINUTE), ("QQQ", Resolution.MINUTE)]
    assert bot_module.UNDERLYINGS[:2] == ("SPY", "QQQ")


def test_every_configured_chain_keeps_41_puts_of_one_monthly_expiry(start_bot: StartBot) -> None:
    run = start_bot()

    for ticker in run.engine.options:
        kept = run.engine.quote_chain(ticker, 470.0).contracts

        assert len(kept) == 41
        assert {c.right.name for c in kept} == {"PUT"}
        assert len({c.expiry for c in kept}) == 1


def test_a_contract_limit_below_what_a_chain_holds_stops_initialize_naming_the_field(
    start_bot: StartBot,
) -> None:
    with pytest.raises(SettingsError) as caught:
        start_bot(settings={"resource_limits": {"max_contracts_per_chain": 42}})

    assert "resource_limits.max_contracts_per_chain: 42 is below the 43 contracts" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("live", "node"),
    [(False, "B8-16 (8 cores, 16GB RAM)"), (True, "L2-4 (2 cores, 4GB RAM)")],
)
def test_startup_logs_the_node_of_the_run_from_the_settings(
    start_bot: StartBot, live: bool, node: str
) -> None:
    run = start_bot(live=live)

    assert run.engine.find(f"Compute node: {node}", "debug")


def test_the_monitor_is_measured_against_the_node_of_the_run(start_bot: StartBot) -> None:
    run = start_bot(live=True)

    assert run.bot.resource_monitor.monitoring.target_node == "L2-4"


# ------------------------------------------------------------------------------ monitoring


def test_the_scheduled_check_samples_the_monitor_every_check_interval(start_bot: StartBot) -> None:
    run = start_bot()
    assert run.probe is not None

    run.engine.advance(95)

    assert run.probe.reads == 3
    latest = run.bot.resource_monitor.latest
    assert latest.sequence == 3
    assert latest.active_securities == run.engine.securities.count


def test_an_unhealthy_monitor_gives_a_resource_warning_debug_message(start_bot: StartBot) -> None:
    run = start_bot()
    assert run.probe is not None
    run.probe.set_memory_pct(85)  # above the 80 % warning level

    run.check_resources(times=3)  # confirm_samples

    warnings = run.engine.find("RESOURCE WARNING", "debug")
    assert any("System under pressure (warning)" in w for w in warnings)
    assert run.bot.circuit_breaker.state is BreakerState.REDUCING


def test_the_resource_warning_is_not_repeated_on_every_check(start_bot: StartBot) -> None:
    run = start_bot()
    assert run.probe is not None
    run.probe.set_memory_pct(85)

    run.check_resources(times=3 + 10)  # five minutes of warnings

    assert len(run.engine.find("RESOURCE WARNING: System under pressure", "debug")) == 1


# ------------------------------------------------------------------------------ the breaker


def test_no_new_order_is_sent_while_the_breaker_is_halted(start_bot: StartBot) -> None:
    run = start_bot()
    run.bot.circuit_breaker.halt_all_trading("test halt")
    run.to_entry_window()

    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()

    assert run.engine.orders == {}
    assert run.bot.trades["denied"] == 1
    assert run.engine.find("ORDER DENIED (entry SPY): trading is HALTED", "debug")


def test_a_critical_memory_alert_halts_new_entries(start_bot: StartBot) -> None:
    run = start_bot()
    assert run.probe is not None
    run.probe.set_memory_pct(95)
    run.check_resources(times=3)
    run.to_entry_window()

    run.engine.quote_chain("QQQ", 400.0)
    run.engine.send_data()

    assert run.bot.circuit_breaker.state is BreakerState.HALTED
    assert run.engine.orders == {}


def test_reducing_refuses_an_entry_but_lets_a_profit_take_close(start_bot: StartBot) -> None:
    run = start_bot()
    entry = run.open_spread("SPY", 470.0)
    spread = run.bot._spreads[entry[0].symbol.underlying]
    run.bot.circuit_breaker.reduce_exposure_only("test: memory high")

    run.engine.quote_chain("QQQ", 400.0)
    run.engine.set_quote(spread.short_put, 0.10, 0.12)  # the spread is nearly worthless
    run.engine.set_quote(spread.long_put, 0.04, 0.06)
    run.engine.advance(60)
    run.engine.send_data()

    closes = run.engine.groups("combo_market")
    assert len(closes) == 1
    assert [(o.symbol, o.quantity) for o in closes[0]] == [
        (spread.short_put, spread.opened_quantity),
        (spread.long_put, -spread.opened_quantity),
    ]
    assert len(run.engine.groups("combo_limit")) == 1  # no QQQ entry
    assert run.bot.exits[_reason(run, "PROFIT_TAKE")] == 1


def test_cancels_are_sent_while_the_breaker_is_halted(start_bot: StartBot) -> None:
    run = start_bot()  # a backtest: no 1 s order sweep, so only the resource check cancels
    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()
    entry = run.engine.groups("combo_limit")[0]
    run.bot.circuit_breaker.halt_all_trading("test halt")

    run.check_resources()  # it cancels working entries when the breaker is not ACTIVE

    assert [o.status for o in entry] == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert run.bot.trades["cancelled_unfilled"] == 1
    assert run.bot.circuit_breaker.state is BreakerState.HALTED


# ------------------------------------------------------------------------------ orders


def test_an_entry_unfilled_after_2_5_seconds_is_cancelled_live(start_bot: StartBot) -> None:
    run = start_bot(live=True)
    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()
    entry = run.engine.groups("combo_limit")[0]

    run.engine.advance(2)
    assert all(o.status is OrderStatus.SUBMITTED for o in entry)
    run.engine.advance(1)

    assert all(o.status is OrderStatus.CANCELED for o in entry)
    assert "SPY" not in {s.value for s in run.bot._spreads}


def test_the_entry_is_a_combo_limit_selling_the_otm_put_and_buying_a_lower_one(
    start_bot: StartBot,
) -> None:
    run = start_bot()
    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()

    (entry,) = run.engine.groups("combo_limit")
    short, long = entry
    assert (short.symbol.strike, short.quantity < 0) == (451.0, True)
    assert (long.symbol.strike, long.quantity > 0) == (446.0, True)
    assert short.symbol.expiry == long.symbol.expiry
    assert short.quantity == -long.quantity
    assert short.limit_price is not None
    assert short.limit_price < 0  # a credit


def test_sizing_is_bounded_by_the_margin_remaining(start_bot: StartBot) -> None:
    run = start_bot()
    run.bot.portfolio.margin_remaining = 1_000.0  # 50 % of it holds one 5-wide spread

    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()

    (entry,) = run.engine.groups("combo_limit")
    assert entry[1].quantity == 1


def test_no_entry_when_the_margin_cannot_hold_one_spread(start_bot: StartBot) -> None:
    run = start_bot()
    run.bot.portfolio.margin_remaining = 900.0

    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()

    assert run.engine.orders == {}


def _reason(run: BotRun, name: str) -> object:
    """Return the bot's ExitReason member ``name``."""
    return getattr(type(next(iter(run.bot.exits))), name)


@pytest.mark.parametrize(
    ("quotes", "reason"),
    [
        (((0.10, 0.12), (0.04, 0.06)), "PROFIT_TAKE"),
        (((12.00, 12.20), (8.00, 8.20)), "STOP_LOSS"),
    ],
)
def test_an_exit_rule_closes_the_spread_with_a_combo_market_order(
    start_bot: StartBot, quotes: tuple[tuple[float, float], tuple[float, float]], reason: str
) -> None:
    run = start_bot()
    entry = run.open_spread("SPY", 470.0)
    spread = run.bot._spreads[entry[0].symbol.underlying]
    run.engine.set_quote(spread.short_put, *quotes[0])
    run.engine.set_quote(spread.long_put, *quotes[1])

    run.engine.advance(60)
    run.engine.send_data()

    (close,) = run.engine.groups("combo_market")
    assert [(o.symbol, o.quantity, o.status) for o in close] == [
        (spread.short_put, spread.opened_quantity, OrderStatus.FILLED),
        (spread.long_put, -spread.opened_quantity, OrderStatus.FILLED),
    ]
    assert run.bot.exits[_reason(run, reason)] == 1
    assert run.bot.portfolio[spread.short_put].quantity == 0
    assert run.bot.portfolio[spread.long_put].quantity == 0
    assert entry[0].symbol.underlying not in run.bot._spreads


def test_a_spread_is_closed_seven_days_before_expiry(start_bot: StartBot) -> None:
    run = start_bot(settings={"monitoring": {"check_interval_seconds": 3600}})  # weeks pass
    entry = run.open_spread("SPY", 470.0)
    spread = run.bot._spreads[entry[0].symbol.underlying]
    days = (spread.expiry.date() - run.engine.time.date()).days - 7

    run.engine.advance(timedelta(days=days).total_seconds())
    run.engine.send_data()

    (close,) = run.engine.groups("combo_market")
    assert {o.status for o in close} == {OrderStatus.FILLED}
    assert run.bot.exits[_reason(run, "EXPIRY")] == 1


def test_a_spread_between_the_rules_is_held(start_bot: StartBot) -> None:
    run = start_bot()
    run.open_spread("SPY", 470.0)

    run.engine.advance(60)
    run.engine.send_data()  # same quotes: cost to close = the credit

    assert run.engine.groups("combo_market") == []


def test_the_breaker_holds_an_exit_when_halted_and_says_the_loss_is_capped(
    start_bot: StartBot,
) -> None:
    run = start_bot()
    entry = run.open_spread("SPY", 470.0)
    spread = run.bot._spreads[entry[0].symbol.underlying]
    run.bot.circuit_breaker.halt_all_trading("test halt")
    run.engine.set_quote(spread.short_put, 12.00, 12.20)
    run.engine.set_quote(spread.long_put, 8.00, 8.20)

    run.engine.advance(60)
    run.engine.send_data()

    assert run.engine.groups("combo_market") == []
    assert run.engine.find("spread held: the circuit breaker denies its stop-loss close", "debug")


def test_an_early_assignment_sells_the_stock_and_the_long_put(start_bot: StartBot) -> None:
    run = start_bot()
    entry = run.open_spread("SPY", 470.0)
    spread = run.bot._spreads[entry[0].symbol.underlying]

    run.engine.assign(spread.short_put)
    run.engine.advance(60)
    run.engine.send_data()

    assert run.bot.portfolio[spread.underlying].quantity == 0
    assert run.bot.portfolio[spread.long_put].quantity == 0
    assert run.bot.exits[_reason(run, "ASSIGNMENT")] == 1
    assert run.engine.find("ASSIGNED: SPY short put assigned early", "error")


# ------------------------------------------------------------------------------ latency


def test_broker_latency_is_the_time_from_submission_to_the_first_answer(
    start_bot: StartBot,
) -> None:
    run = start_bot(live=True, answer_on_submit=False)
    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()
    entry = run.engine.groups("combo_limit")[0]

    run.engine.clock.advance(0.25)
    run.engine.answer([o.order_id for o in entry])
    run.engine.clock.advance(0.5)
    run.engine.fill([o.order_id for o in entry])  # a later fill is not a second sample

    latency = run.bot.resource_monitor.latency()
    assert latency.samples == 2  # one per leg
    assert latency.p50_ms == pytest.approx(250.0)


def test_answers_and_fills_during_the_order_call_are_one_sample_per_order(
    start_bot: StartBot,
) -> None:
    run = start_bot()  # backtest-like: SUBMITTED (and a market fill) arrive inside the call
    entry = run.open_spread("SPY", 470.0)  # a limit order: SUBMITTED inside the call
    spread = run.bot._spreads[entry[0].symbol.underlying]
    run.engine.set_quote(spread.short_put, 0.10, 0.12)
    run.engine.set_quote(spread.long_put, 0.04, 0.06)

    run.engine.advance(60)
    run.engine.send_data()  # the profit-take: a market order, SUBMITTED and FILLED inside

    latency = run.bot.resource_monitor.latency()
    assert latency.samples == 4  # two orders of two legs
    assert latency.p99_ms == pytest.approx(0.0)


def test_a_backtest_entry_unfilled_by_the_next_data_is_cancelled(start_bot: StartBot) -> None:
    run = start_bot()
    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()
    entry = run.engine.groups("combo_limit")[0]

    run.engine.advance(60)
    run.engine.send_data()

    assert [o.status for o in entry] == [OrderStatus.CANCELED, OrderStatus.CANCELED]
    assert len(run.engine.groups("combo_limit")) == 1  # the retry waits 30 minutes


def test_an_order_never_answered_counts_as_a_timeout(start_bot: StartBot) -> None:
    run = start_bot(live=True, answer_on_submit=False)
    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()

    run.check_resources(times=1)  # 30 s > the 5 s latency timeout

    assert run.bot.resource_monitor.latency().timeouts_total == 2


# ------------------------------------------------------------------------------ the report


def test_the_final_report_holds_the_statistics_and_the_breaker_history(
    start_bot: StartBot,
) -> None:
    run = start_bot()
    assert run.probe is not None
    run.probe.set_memory_pct(50)
    run.check_resources(times=2)
    run.probe.set_memory_pct(95)
    run.check_resources(times=3)

    run.engine.end()

    report = "\n".join(run.engine.texts("log"))
    assert "RESOURCE REPORT" in report
    assert "Node: B8-16 (8 cores, 16GB RAM)" in report
    assert "memory_pct: min 50.0, avg 77.0, max 95.0, p95 95.0 (5 samples)" in report
    assert "Circuit breaker: HALTED" in report
    assert "#1 " in report
    assert "ACTIVE -> HALTED (halt by resource_monitor): Memory usage critical" in report


def test_the_final_report_holds_the_trading_summary(start_bot: StartBot) -> None:
    run = start_bot()
    run.open_spread("SPY", 470.0)

    run.engine.end()

    report = "\n".join(run.engine.texts("log"))
    assert "Trading: 1 spreads opened, 0 closed" in report
    assert "1 still held, 0 entries working" in report


# ------------------------------------------------------------------------------ the cloud


def test_a_live_halt_survives_a_restart_through_the_object_store(start_bot: StartBot) -> None:
    first = start_bot(live=True)
    first.bot.circuit_breaker.halt_all_trading("memory critical before the crash")
    first.engine.end()
    state = first.bot.circuit_breaker.state_path

    second = start_bot(live=True, store=state.parents[2])

    assert second.bot.circuit_breaker.state is BreakerState.HALTED
    assert second.engine.find("CIRCUIT BREAKER HALTED since", "debug")
    assert state.relative_to(state.parents[2]).as_posix() == (
        "options_trading_bot/live/circuit_breaker_state.json"
    )


def test_a_backtest_keeps_the_breaker_in_memory(start_bot: StartBot) -> None:
    run = start_bot()

    assert run.bot.circuit_breaker.state_path is None


def test_the_live_metrics_log_is_an_object_store_file(start_bot: StartBot) -> None:
    run = start_bot(live=True)
    run.check_resources(times=2)
    run.engine.end()

    path = run.bot.resource_monitor.monitoring.metrics_log_path
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert "options_trading_bot/live/logs/resource_metrics.json" in path
    assert [r["sequence"] for r in records] == [1, 2]


def test_without_psutil_the_monitor_is_degraded_and_the_bot_still_trades(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # `import psutil` now fails
    run = start_bot(probe=None)
    run.check_resources(times=2)

    run.to_entry_window()
    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()
    run.engine.end()

    assert run.bot.resource_monitor.health().state is HealthState.DEGRADED
    assert run.engine.find("RESOURCE MONITOR degraded: psutil is not importable", "debug")
    assert len(run.engine.groups("combo_limit")) == 1
    assert any("Monitor: degraded" in line for line in run.engine.texts("log"))


def test_entries_wait_for_the_entry_window(start_bot: StartBot) -> None:
    run = start_bot()  # 09:30

    run.engine.quote_chain("SPY", 470.0)
    run.engine.send_data()

    assert run.engine.orders == {}


def test_the_symbols_of_the_legs_are_the_chains_contracts(start_bot: StartBot) -> None:
    run = start_bot()
    entry = run.open_spread("SPY", 470.0)

    assert {o.symbol.underlying for o in entry} == {Symbol("SPY")}


def test_with_monitoring_disabled_nothing_is_sampled_and_the_report_says_so(
    start_bot: StartBot,
) -> None:
    run = start_bot(settings={"monitoring": {"enabled": False}})
    assert run.probe is not None

    run.engine.advance(300)
    run.engine.end()

    assert run.probe.reads == 0
    assert "  Monitor: disabled (monitoring is disabled (monitoring.enabled = false))" in (
        run.engine.texts("log")
    )
