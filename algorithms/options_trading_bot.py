"""Put credit spreads on up to five ETFs, with the resource monitor and circuit breaker built in.

Strategy (defined risk, deliberately simple)
    For each underlying in :data:`UNDERLYINGS` (the first ``resource_limits.max_option_chains``
    of them): between 10:00 and 15:30 New York time, when it holds no spread, sell the put
    :data:`SHORT_PUT_OTM_PCT` below the underlying price and buy the put
    :data:`SPREAD_WIDTH_STRIKES` listed strikes below it, same monthly expiry 30-55 days out, as
    one combo limit order at the natural credit (short bid - long ask). The credit must be at
    least :data:`MIN_CREDIT_TO_WIDTH` of the width. An entry not filled within
    :data:`ORDER_TIMEOUT` (2.5 s, the seed's cancel rule) is cancelled and retried after
    :data:`ENTRY_RETRY_AFTER`; after a close, the next entry waits for the next day. Size: the
    most spreads whose maximum loss ((width - credit) x 100 each) stays within
    :data:`RISK_PER_ENTRY_PCT` of the portfolio and whose margin (width x 100 each) stays within
    :data:`MAX_MARGIN_USE_PCT` of the margin remaining, at most :data:`MAX_SPREADS_PER_ENTRY`.
    An open spread is closed with one combo market order when the cost to close (short ask -
    long bid) has fallen to half the credit (profit-take, :data:`PROFIT_TAKE_PCT`), when the
    loss reaches twice the credit (stop, :data:`STOP_LOSS_MULTIPLE`), or
    :data:`CLOSE_DAYS_BEFORE_EXPIRY` days before expiry. The long put caps the loss of every
    spread, so a position the breaker forbids closing stays bounded. An early assignment of the
    short put is flattened on the next data: the stock received and the long put are sold.

What it subscribes, and the memory decision
    Per underlying: the equity and one option chain at minute resolution, filtered to puts
    only, strikes -40..0 around the money (41 strikes) and the standard (monthly) expiries in
    30-55 days, of which there is at most one (monthly expiries are 28 or 35 days apart): at
    most 41 contracts per chain. The spread held on an underlying (at most one, 2 contracts)
    stays subscribed after it leaves the filter, so a chain holds at most 43 contracts, within
    ``resource_limits.max_contracts_per_chain`` (100). Set below 43, ``initialize`` stops
    with a settings error naming the field: the bot never holds more than the limit. The
    filter uses constants only, so ``make run`` reads exactly these figures from the code.

    Why 41 and not 100: with the memory model's coefficients (``config/settings.json``), 5
    chains x 100 contracts need more than the configured live node, an L2-4, can hold below
    its 80 % warning level (3,277 MB), so the bot would start in the monitor's REDUCING state
    or worse. The bundled bot is meant to run on the node it ships configured for: 5 chains x
    41 contracts plus 5 underlyings, the circuit breaker (risk management), the spread tracker
    and the profit-taking rules come to about 2,550 MB live (62 % of 4 GB) and 6,375 MB in a
    backtest (2.5x; the configured B8-16 holds 13,107 MB below its warning level). ``make run``
    analyses this file and shows those figures and whether each configured node fits.

Resource monitor and circuit breaker (the seed's integration)
    ``initialize`` loads the settings (``config/settings.json``; in QuantConnect's cloud the
    ``utils/deployed_settings.py`` the deploy command ships), logs the node the run is meant
    for (the live trading node when ``live_mode``, the backtesting node otherwise, or the node
    it was deployed to), builds the :class:`~utils.circuit_breaker.CircuitBreaker` and the
    monitor (``create_resource_monitor(config=..., circuit_breaker=...)``), and schedules
    :meth:`OptionsTradingBot._check_resources` every ``monitoring.check_interval_seconds``
    with LEAN's scheduler. Every new order goes through the breaker, leg by leg: nothing new
    when HALTED, only orders that reduce a position when REDUCING; cancels are always allowed.
    When the breaker leaves ACTIVE, working entry orders are cancelled. An unhealthy monitor
    gives a ``RESOURCE WARNING`` debug message (repeated at most every 10 minutes while it
    lasts); alerts and breaker transitions are shown as they happen. Broker latency is
    measured on the monotonic clock from each order's submission to the broker's first answer
    (submitted, filled, partly filled or rejected) and fed to the monitor; an order unanswered
    after ``monitoring.latency_timeout_ms`` counts as a timeout. ``on_end_of_algorithm`` logs
    the resource statistics, the alerts, the breaker's history and the trading summary.

Files inside LEAN
    Live: the breaker's state and event log, and the metrics log, are Object Store files
    (``object_store.get_file_path`` of ``options_trading_bot/live/<settings path>``; LEAN's
    store keeps files written there, and the bot never calls ``save`` on those keys, which would
    make the store write its own copy back over them), so a HALT survives a restart or redeploy
    of the live algorithm (the container's own disk does not). The metrics log counts against
    the Object Store quota: ``metrics_log_max_bytes`` x (``metrics_log_backups`` + 1), 60 MB by
    default, said at start-up. Backtests: the breaker lives in memory (a backtest never starts
    HALTED because of an earlier run, and never touches the live state) and the metrics log goes
    to a temporary folder that disappears with the run; the statistics reach the final report.
    Absolute paths in the settings are used as they are.

Degraded mode
    Without psutil the monitor reads ``/proc`` and ``os.times`` and reports itself degraded;
    if the monitor's modules cannot be imported at all (a cloud image without pydantic), the
    bot still trades its :data:`UNDERLYINGS` with the filter above, no breaker gates its
    orders, and the start-up message and final report say the monitor is unavailable.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from AlgorithmImports import (
    Leg,
    OptionChain,
    OptionFilterUniverse,
    OptionRight,
    OrderEvent,
    OrderStatus,
    OrderTicket,
    QCAlgorithm,
    Resolution,
    Slice,
    Symbol,
)

if TYPE_CHECKING:
    from utils import (
        BreakerEvent,
        CircuitBreaker,
        Clock,
        Family,
        NodeSpec,
        ResourceAlert,
        ResourceMonitor,
        Settings,
        SystemProbe,
    )

#: The underlyings, in order of preference; the first ``max_option_chains`` are traded.
UNDERLYINGS = ("SPY", "QQQ", "IWM", "DIA", "GLD")

# -- the option filter (what each chain subscribes) -------------------------------------------
#: Listed strikes kept below the at-the-money strike (the filter keeps -40..0: 41 strikes).
STRIKES_BELOW_ATM = 40
#: Expiry window in days. Standard (monthly) expiries are 28 or 35 days apart, so a window
#: of 25 days holds at most one of them.
MIN_DAYS_TO_EXPIRY = 30
MAX_DAYS_TO_EXPIRY = 55
#: Contracts one chain's filter keeps at most: 41 strikes x 1 expiry x puts only.
FILTER_CONTRACTS_PER_CHAIN = STRIKES_BELOW_ATM + 1
#: Contracts of the open spread, which stay subscribed after they leave the filter.
HELD_LEGS_PER_CHAIN = 2

# -- entries ----------------------------------------------------------------------------------
#: The short put's strike: the highest listed strike at or below price x (1 - this).
SHORT_PUT_OTM_PCT = 0.04
#: The long put: this many listed strikes below the short put.
SPREAD_WIDTH_STRIKES = 5
#: The natural credit must be at least this fraction of the width.
MIN_CREDIT_TO_WIDTH = 0.15
#: Preferred days to expiry when the window holds several expiries.
TARGET_DAYS_TO_EXPIRY = 45
#: Entries only between these New York times.
ENTRY_START = clock_time(10, 0)
ENTRY_END = clock_time(15, 30)
#: Cancel an entry order not filled within this time (the seed's 2.5 s rule).
ORDER_TIMEOUT = timedelta(seconds=2.5)
#: After an entry was cancelled, wait this long before trying the same underlying again.
ENTRY_RETRY_AFTER = timedelta(minutes=30)

# -- sizing -----------------------------------------------------------------------------------
#: The maximum loss of one entry stays within this fraction of the portfolio value.
RISK_PER_ENTRY_PCT = 0.02
#: One entry uses at most this fraction of the margin remaining (width x multiplier a spread).
MAX_MARGIN_USE_PCT = 0.5
#: Spreads in one entry at most.
MAX_SPREADS_PER_ENTRY = 10

# -- exits ------------------------------------------------------------------------------------
#: Profit-take when this fraction of the credit is captured (cost to close <= 50 % of credit).
PROFIT_TAKE_PCT = 0.5
#: Stop when the loss reaches this multiple of the credit (cost to close >= 3x credit).
STOP_LOSS_MULTIPLE = 2.0
#: Close this many days before expiry (no pin risk; early assignment is likelier near expiry).
CLOSE_DAYS_BEFORE_EXPIRY = 7

# -- monitoring -------------------------------------------------------------------------------
#: While the monitor stays unhealthy, repeat the RESOURCE WARNING at most this often.
RESOURCE_WARNING_REPEAT = timedelta(minutes=10)
#: Live runs: how often working orders are checked against ORDER_TIMEOUT.
ORDER_SWEEP_INTERVAL = timedelta(seconds=1)
#: Object Store prefix of the live state files.
OBJECT_STORE_PREFIX = "options_trading_bot/live"

#: Order statuses that are the broker's first answer to a submission. (Tuples: LEAN's enums
#: compare equal by value; hashing them is not something to rely on.)
_BROKER_ANSWERS = (
    OrderStatus.SUBMITTED,
    OrderStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED,
    OrderStatus.INVALID,
)
_TERMINAL = (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.INVALID)


# ------------------------------------------------------------------------------ strategy rules


@dataclass(frozen=True)
class PutQuote:
    """One put of a chain, as the entry rules see it."""

    symbol: Symbol
    strike: float
    expiry: datetime
    bid: float
    ask: float


@dataclass(frozen=True)
class SpreadChoice:
    """The two puts of a candidate spread: sell ``short``, buy ``long``."""

    short: PutQuote
    long: PutQuote

    @property
    def width(self) -> float:
        """Return the strike difference (per share)."""
        return self.short.strike - self.long.strike

    @property
    def natural_credit(self) -> float:
        """Return the credit at the natural prices: short bid - long ask (per share)."""
        return self.short.bid - self.long.ask


class ExitReason(Enum):
    """Why an open spread is closed."""

    PROFIT_TAKE = "profit-take"
    STOP_LOSS = "stop-loss"
    EXPIRY = "expiry"
    ASSIGNMENT = "assignment"


def days_to_expiry(expiry: datetime, now: datetime) -> int:
    """Return calendar days from ``now``'s date to ``expiry``'s date."""
    return (expiry.date() - now.date()).days


def choose_put_spread(
    puts: Iterable[PutQuote], underlying_price: float, now: datetime
) -> SpreadChoice | None:
    """Return the spread the entry rules pick from ``puts``, or ``None`` when none qualifies.

    The expiry in the window closest to :data:`TARGET_DAYS_TO_EXPIRY`; the short put at the
    highest strike at or below ``underlying_price x (1 - SHORT_PUT_OTM_PCT)``; the long put
    :data:`SPREAD_WIDTH_STRIKES` strikes lower; both quoted, and a natural credit of at least
    :data:`MIN_CREDIT_TO_WIDTH` of the width.
    """
    if not underlying_price > 0:
        return None
    in_window = [
        p for p in puts if MIN_DAYS_TO_EXPIRY <= days_to_expiry(p.expiry, now) <= MAX_DAYS_TO_EXPIRY
    ]
    if not in_window:
        return None
    expiry = min(
        {p.expiry for p in in_window},
        key=lambda e: (abs(days_to_expiry(e, now) - TARGET_DAYS_TO_EXPIRY), e),
    )
    by_strike: dict[float, PutQuote] = {}
    for put in in_window:
        if put.expiry == expiry:
            by_strike.setdefault(put.strike, put)
    ladder = [by_strike[strike] for strike in sorted(by_strike)]
    target = underlying_price * (1 - SHORT_PUT_OTM_PCT)
    short_index = max((i for i, p in enumerate(ladder) if p.strike <= target), default=None)
    if short_index is None or short_index < SPREAD_WIDTH_STRIKES:
        return None
    choice = SpreadChoice(
        short=ladder[short_index], long=ladder[short_index - SPREAD_WIDTH_STRIKES]
    )
    if choice.short.bid <= 0 or choice.long.ask <= 0:
        return None
    if choice.natural_credit < MIN_CREDIT_TO_WIDTH * choice.width:
        return None
    return choice


def spread_quantity(
    *,
    width: float,
    credit: float,
    multiplier: float,
    portfolio_value: float,
    margin_remaining: float,
) -> int:
    """Return how many spreads one entry may sell: bounded by risk, margin and a count cap.

    Maximum loss of a spread: ``(width - credit) x multiplier``; its margin (Reg T, a put
    credit spread): ``width x multiplier``.
    """
    max_loss = (width - credit) * multiplier
    margin = width * multiplier
    if not (max_loss > 0 and margin > 0 and portfolio_value > 0 and margin_remaining > 0):
        return 0
    by_risk = math.floor(portfolio_value * RISK_PER_ENTRY_PCT / max_loss)
    by_margin = math.floor(margin_remaining * MAX_MARGIN_USE_PCT / margin)
    return max(0, min(by_risk, by_margin, MAX_SPREADS_PER_ENTRY))


def exit_reason(credit: float, cost_to_close: float | None, days_left: int) -> ExitReason | None:
    """Return why an open spread sold for ``credit`` should close now, or ``None`` to hold.

    Args:
        credit: Credit received per share (positive).
        cost_to_close: Short ask - long bid per share now; ``None`` without a quote.
        days_left: Calendar days to expiry.
    """
    if days_left <= CLOSE_DAYS_BEFORE_EXPIRY:
        return ExitReason.EXPIRY
    if cost_to_close is None:
        return None
    if cost_to_close <= credit * (1 - PROFIT_TAKE_PCT):
        return ExitReason.PROFIT_TAKE
    if cost_to_close >= credit * (1 + STOP_LOSS_MULTIPLE):
        return ExitReason.STOP_LOSS
    return None


class Stage(Enum):
    """Where a spread is in its life."""

    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    ASSIGNED = "assigned"


@dataclass(eq=False)
class CreditSpread:
    """One put credit spread the bot opened, is opening or is closing (the spread tracker).

    ``short_position`` and ``long_position`` are the contracts this spread holds now, from the
    fills (the short leg negative). Cash figures are per share: ``entry_cash`` is the credit
    received in total, ``exit_cash`` what closing paid (negative).
    """

    underlying: Symbol
    short_put: Symbol
    long_put: Symbol
    expiry: datetime
    width: float
    multiplier: float
    ordered: int
    stage: Stage
    submitted_at: datetime
    order_ids: set[int] = field(default_factory=set)
    finished_ids: set[int] = field(default_factory=set)
    short_position: int = 0
    long_position: int = 0
    entry_cash: float = 0.0
    exit_cash: float = 0.0
    opened_quantity: int = 0
    exit_reason: ExitReason | None = None
    exit_denied_logged: bool = False

    @property
    def quantity(self) -> int:
        """Return the complete spreads held (the smaller leg)."""
        return min(-self.short_position, self.long_position)

    @property
    def credit(self) -> float:
        """Return the credit received per share of one spread."""
        return self.entry_cash / self.opened_quantity if self.opened_quantity else 0.0


# ------------------------------------------------------------------------------ the algorithm


class _LeanLogHandler(logging.Handler):
    """Forward the runtime's log records (``utils.*``) to LEAN's log, alerts to the console."""

    def __init__(self, algorithm: OptionsTradingBot) -> None:
        super().__init__(level=logging.INFO)
        self._algorithm = algorithm

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING or message.startswith("RESOURCE"):
                self._algorithm.debug(message)
            else:
                self._algorithm.log(message)
        except Exception:  # a log line must never break the trading loop
            self.handleError(record)


class OptionsTradingBot(QCAlgorithm):
    """Put credit spreads with the resource monitor, circuit breaker and 2.5 s cancel rule."""

    # ----------------------------------------------------------------------------- start-up
    def initialize(self) -> None:
        """Set the run up: settings, node, monitor and breaker, subscriptions, schedules."""
        self.set_start_date(2024, 1, 2)
        self.set_end_date(2024, 6, 28)
        self.set_cash(100_000)

        self.resource_monitor: ResourceMonitor | None = None
        self.circuit_breaker: CircuitBreaker | None = None
        self.node_info = "unknown node (settings unavailable)"
        self.monitor_note = ""
        self._breaker_history: list[BreakerEvent] = []
        self._alerts_raised = 0
        self._alerts_cleared = 0
        self._log_handler: _LeanLogHandler | None = None
        self._monotonic: Callable[[], float] = time.monotonic
        self._latency_timeout_s = 5.0
        self._unhealthy_since_report: datetime | None = None
        self._denials_logged: set[str] = set()

        self._chains: dict[Symbol, Symbol] = {}  # underlying -> canonical option symbol
        self._spreads: dict[Symbol, CreditSpread] = {}  # underlying -> its spread
        self._by_order: dict[int, CreditSpread] = {}
        self._tickets: dict[int, OrderTicket] = {}
        self._awaiting_answer: dict[int, float] = {}  # order id -> monotonic submission time
        self._submitting: CreditSpread | None = None
        self._submitted_at: float | None = None
        self._answered_in_call: set[int] = set()
        self._next_entry: dict[Symbol, datetime] = {}
        self.trades = {"opened": 0, "closed": 0, "denied": 0, "cancelled_unfilled": 0}
        self.exits = dict.fromkeys(ExitReason, 0)
        self.realized_pnl = 0.0

        max_chains = self._start_runtime()
        for ticker in UNDERLYINGS:
            if len(self._chains) >= max_chains:
                break
            option = self.add_option(ticker, Resolution.MINUTE)
            option.set_filter(self._contract_filter)
            self._chains[option.symbol.underlying] = option.symbol

        if self.live_mode:
            self.schedule.on(
                self.date_rules.every_day(),
                self.time_rules.every(ORDER_SWEEP_INTERVAL),
                self._cancel_stale_orders,
            )

    def _contract_filter(self, universe: OptionFilterUniverse) -> OptionFilterUniverse:
        """Keep the puts the strategy can trade: 41 strikes, at most one monthly expiry.

        Constants only, so that what ``make run`` reads from this line is what LEAN keeps.
        """
        return (
            universe.puts_only()
            .strikes(-STRIKES_BELOW_ATM, 0)
            .expiration(MIN_DAYS_TO_EXPIRY, MAX_DAYS_TO_EXPIRY)
        )

    def _start_runtime(self) -> int:
        """Load the settings, log the node, build breaker and monitor, schedule the checks.

        Returns how many option chains to subscribe. When the runtime cannot be imported the
        bot trades without monitor and breaker (and says so), with its own constants.

        Raises:
            SettingsError: The settings (``config/settings.json``, or the deployed ones) are
                invalid, or allow fewer contracts per chain than the bot holds.
        """
        try:
            from utils import (
                BreakerState,
                CircuitBreaker,
                Family,
                SettingsError,
                SystemClock,
                create_resource_monitor,
                load_settings,
            )
            from utils.settings import DEFAULT_SETTINGS_PATH
        except ImportError as error:
            self.monitor_note = (
                f"unavailable: the monitor's modules cannot be imported ({error}); trading "
                "goes on without resource checks or circuit breaker"
            )
            self.error(f"RESOURCE MONITOR {self.monitor_note}")
            return len(UNDERLYINGS)

        settings = load_settings()
        qc = settings.quantconnect
        limits = qc.resource_limits
        needed = FILTER_CONTRACTS_PER_CHAIN + HELD_LEGS_PER_CHAIN
        if limits.max_contracts_per_chain < needed:
            source = DEFAULT_SETTINGS_PATH if DEFAULT_SETTINGS_PATH.is_file() else None
            raise SettingsError(
                source,
                [
                    f"quantconnect.resource_limits.max_contracts_per_chain: "
                    f"{limits.max_contracts_per_chain} is below the {needed} contracts a chain "
                    f"of algorithms/options_trading_bot.py holds ({FILTER_CONTRACTS_PER_CHAIN} "
                    f"puts from its filter and the {HELD_LEGS_PER_CHAIN} legs of an open "
                    f"spread); set it to {needed} or more, or lower STRIKES_BELOW_ATM there"
                ],
            )
        monitoring = qc.monitoring
        family = Family.LIVE_TRADING if self.live_mode else Family.BACKTESTING
        node, why = self._node(settings, family)
        self.node_info = node.describe()
        self.debug(f"Compute node: {self.node_info} ({why})")

        clock = self._monitor_clock() or SystemClock()
        self._monotonic = clock.monotonic
        self._latency_timeout_s = monitoring.latency_timeout_ms / 1000.0
        state_path, log_path, metrics_path = self._runtime_files(
            monitoring.breaker_state_path,
            monitoring.breaker_log_path,
            monitoring.metrics_log_path,
        )
        breaker = CircuitBreaker(
            state_path=state_path,
            log_path=log_path,
            clock=clock,
            reset_cooldown_seconds=monitoring.reset_cooldown_seconds,
        )
        breaker.add_listener(self._on_breaker_event)
        if breaker.state is not BreakerState.ACTIVE:
            status = breaker.status()
            self.debug(
                f"CIRCUIT BREAKER {breaker.state.value} since {status.tripped_at} "
                f"(restored from {state_path}): {status.reason}"
            )
        config: dict[str, Any] = {"target_node": monitoring.target_node or node.model}
        if metrics_path is None:
            config["log_metrics"] = False
        else:
            config["metrics_log_path"] = str(metrics_path)
        self._attach_runtime_log()
        monitor = create_resource_monitor(
            config=config,
            circuit_breaker=breaker,
            settings=settings,
            clock=clock,
            probe=self._system_probe(),
        )
        monitor.add_alert_listener(self._on_alert)
        self.circuit_breaker = breaker
        self.resource_monitor = monitor
        if monitoring.enabled:
            self.schedule.on(
                self.date_rules.every_day(),
                self.time_rules.every(timedelta(seconds=monitoring.check_interval_seconds)),
                self._check_resources,
            )
            files = monitoring.metrics_log_backups + 1
            most = monitoring.metrics_log_max_bytes * files / 1024**2
            self.debug(
                f"Resource monitor: every {monitoring.check_interval_seconds:g} s against "
                f"{config['target_node']}; metrics log: {metrics_path or 'off'} (at most "
                f"{most:,.0f} MB in {files} files); breaker state: "
                f"{state_path or 'in memory (backtest)'}"
            )
        else:
            self.monitor_note = "disabled (monitoring.enabled = false)"
            self.debug(f"Resource monitor {self.monitor_note}")
        return limits.max_option_chains

    def _node(self, settings: Settings, family: Family) -> tuple[NodeSpec, str]:
        """Return the node this run is meant for and where that comes from."""
        qc = settings.quantconnect
        target = qc.monitoring.target_node
        if target is not None:
            return qc.catalog().get(target), "monitoring.target_node: the node deployed to"
        return qc.configured_node(family), f"the {family.label} node in the settings"

    def _runtime_files(
        self, state: str, log: str, metrics: str
    ) -> tuple[Path | None, Path | None, Path | None]:
        """Return where the breaker state, breaker log and metrics log go (see module doc)."""
        if self.live_mode:
            return self._store_file(state), self._store_file(log), self._store_file(metrics)
        metrics_path = Path(metrics)
        if metrics_path.is_absolute():
            return None, None, metrics_path
        try:
            folder = Path(tempfile.mkdtemp(prefix="options_trading_bot-"))
        except OSError as error:
            self.debug(f"No writable temporary folder ({error}): metrics log off")
            return None, None, None
        return None, None, folder / metrics_path

    def _store_file(self, configured: str) -> Path:
        """Return the Object Store file of a settings path (absolute paths stay as they are).

        ``get_file_path`` registers the key and creates its folder; LEAN's Object Store keeps
        files written there as they are (it writes back only values saved through its API,
        so never calling ``save`` on these keys is what keeps it from overwriting them).
        """
        path = Path(configured)
        if path.is_absolute():
            return path
        return Path(self.object_store.get_file_path(f"{OBJECT_STORE_PREFIX}/{path.as_posix()}"))

    def _attach_runtime_log(self) -> None:
        handler = _LeanLogHandler(self)
        runtime_logger = logging.getLogger("utils")
        runtime_logger.addHandler(handler)
        if runtime_logger.getEffectiveLevel() > logging.INFO:
            runtime_logger.setLevel(logging.INFO)
        self._log_handler = handler

    # Injection points for tests (the defaults are the real clock and system probe).
    def _monitor_clock(self) -> Clock | None:
        """Return the clock for the monitor, breaker and latency (``None``: the system's)."""
        return None

    def _system_probe(self) -> SystemProbe | None:
        """Return the monitor's system probe (``None``: psutil and cgroups)."""
        return None

    # ------------------------------------------------------------------------ the seed's check
    def _check_resources(self) -> None:
        """Sample the monitor (it drives the breaker) and warn when it is not healthy."""
        monitor = self.resource_monitor
        if monitor is None:
            return
        from utils import BreakerState, HealthState

        monitor.update(
            active_securities=self.securities.count,
            active_positions=sum(1 for h in self.portfolio.values() if h.invested),
        )
        self._time_out_unanswered()
        health = monitor.health()
        if not self.monitor_note and health.state is HealthState.DEGRADED:
            self.monitor_note = "degraded: " + "; ".join(health.reasons)
            self.debug(f"RESOURCE MONITOR {self.monitor_note}")
        if health.healthy:
            self._unhealthy_since_report = None
        else:
            last = self._unhealthy_since_report
            if last is None or self.time - last >= RESOURCE_WARNING_REPEAT:
                self._unhealthy_since_report = self.time
                self.debug(
                    f"RESOURCE WARNING: System under pressure ({health.state.value}): "
                    f"{self._health_summary()}"
                )
        breaker = self.circuit_breaker
        if breaker is not None and breaker.state is not BreakerState.ACTIVE:
            self._cancel_entries(f"circuit breaker {breaker.state.value}")

    def _on_alert(self, alert: ResourceAlert) -> None:
        if alert.raised:
            self._alerts_raised += 1
        else:
            self._alerts_cleared += 1

    def _on_breaker_event(self, event: BreakerEvent) -> None:
        # The breaker logs each transition itself (shown through the runtime log handler).
        self._breaker_history.append(event)
        self._denials_logged.clear()

    def _health_summary(self) -> str:
        """Return the monitor's state in one line: active alerts by key, then other reasons."""
        monitor = self.resource_monitor
        if monitor is None:
            return self.monitor_note or "unavailable"
        health = monitor.health()
        alerts = {alert.message for alert in health.active_alerts}
        parts = [alert.key for alert in health.active_alerts]
        parts.extend(reason for reason in health.reasons if reason not in alerts)
        return "; ".join(parts) or "no alerts"

    # ------------------------------------------------------------------------------ trading
    def on_data(self, slice: Slice) -> None:
        """Cancel stale entries, manage open spreads, and look for new entries."""
        self._cancel_stale_orders()
        self._manage_spreads()
        if not ENTRY_START <= self.time.time() <= ENTRY_END:
            return
        for underlying, canonical in self._chains.items():
            if underlying in self._spreads or self.time < self._next_entry.get(
                underlying, self.time
            ):
                continue
            chain = slice.option_chains.get(canonical)
            if chain is not None:
                self._try_entry(underlying, chain)

    def _try_entry(self, underlying: Symbol, chain: OptionChain) -> None:
        puts = [
            PutQuote(c.symbol, float(c.strike), c.expiry, float(c.bid_price), float(c.ask_price))
            for c in chain
            if c.right == OptionRight.PUT
        ]
        choice = choose_put_spread(puts, float(chain.underlying.price), self.time)
        if choice is None:
            return
        short_security = self.securities[choice.short.symbol]
        multiplier = float(short_security.symbol_properties.contract_multiplier)
        credit = round(choice.natural_credit, 2)
        quantity = spread_quantity(
            width=choice.width,
            credit=credit,
            multiplier=multiplier,
            portfolio_value=float(self.portfolio.total_portfolio_value),
            margin_remaining=float(self.portfolio.margin_remaining),
        )
        if quantity < 1:
            return
        spread = CreditSpread(
            underlying=underlying,
            short_put=choice.short.symbol,
            long_put=choice.long.symbol,
            expiry=choice.short.expiry,
            width=choice.width,
            multiplier=multiplier,
            ordered=quantity,
            stage=Stage.OPENING,
            submitted_at=self.time,
        )
        orders = [(spread.short_put, -quantity), (spread.long_put, quantity)]
        if not self._allowed(orders, f"entry {underlying.value}"):
            self._next_entry[underlying] = self.time + ENTRY_RETRY_AFTER
            return
        legs = [Leg.create(spread.short_put, -1), Leg.create(spread.long_put, 1)]
        tag = (
            f"open {underlying.value} {choice.short.strike:g}/{choice.long.strike:g}P "
            f"{spread.expiry:%Y-%m-%d} x{quantity} credit {credit:.2f}"
        )
        self._spreads[underlying] = spread
        # A combo's price is the sum of leg price x leg ratio: -credit for (-1 short, +1 long).
        self._submit(spread, lambda: self.combo_limit_order(legs, quantity, -credit, tag=tag))

    def _manage_spreads(self) -> None:
        for spread in list(self._spreads.values()):
            if spread.stage is Stage.ASSIGNED:
                self._flatten_assigned(spread)
                continue
            if spread.stage is not Stage.OPEN:
                continue
            short = self.securities[spread.short_put]
            long = self.securities[spread.long_put]
            cost: float | None = None
            if short.ask_price > 0:
                cost = float(short.ask_price) - max(float(long.bid_price), 0.0)
            reason = exit_reason(spread.credit, cost, days_to_expiry(spread.expiry, self.time))
            if reason is not None:
                self._close(spread, reason)

    def _close(self, spread: CreditSpread, reason: ExitReason) -> None:
        """Buy the short put back and sell the long put: one combo market order."""
        quantity = spread.quantity
        if quantity < 1:
            return
        orders = [(spread.short_put, quantity), (spread.long_put, -quantity)]
        if not self._allowed(orders, f"{reason.value} close {spread.underlying.value}"):
            if not spread.exit_denied_logged:
                spread.exit_denied_logged = True
                max_loss = (spread.width - spread.credit) * spread.multiplier * quantity
                self.debug(
                    f"{spread.underlying.value} spread held: the circuit breaker denies its "
                    f"{reason.value} close; its loss stays capped at ${max_loss:,.0f}"
                )
            return
        spread.stage = Stage.CLOSING
        spread.exit_reason = reason
        spread.submitted_at = self.time
        legs = [Leg.create(spread.short_put, 1), Leg.create(spread.long_put, -1)]
        tag = f"{reason.value} {spread.underlying.value} x{quantity}"
        self._submit(spread, lambda: self.combo_market_order(legs, quantity, tag=tag))

    def on_assignment_order_event(self, assignment_event: OrderEvent) -> None:
        """A short put was assigned early: sell the stock received and the long put."""
        for spread in self._spreads.values():
            if assignment_event.symbol == spread.short_put:
                spread.short_position += int(assignment_event.fill_quantity)
                spread.stage = Stage.ASSIGNED
                spread.exit_reason = ExitReason.ASSIGNMENT
                self.error(
                    f"ASSIGNED: {spread.underlying.value} short put assigned early; the stock "
                    "and the long put are sold on the next data"
                )

    def _flatten_assigned(self, spread: CreditSpread) -> None:
        orders = [
            (symbol, -int(self.portfolio[symbol].quantity))
            for symbol in (spread.underlying, spread.long_put, spread.short_put)
            if self.portfolio[symbol].quantity != 0
        ]
        if not self._allowed(orders, f"assignment close {spread.underlying.value}"):
            return
        for symbol, quantity in orders:
            self.market_order(symbol, quantity, tag=f"assignment close {spread.underlying.value}")
        self._spreads.pop(spread.underlying, None)
        self.trades["closed"] += 1
        self.exits[ExitReason.ASSIGNMENT] += 1
        self._next_entry[spread.underlying] = self._next_session()

    def _allowed(self, orders: list[tuple[Symbol, int]], what: str) -> bool:
        """Ask the circuit breaker about every order; log a denial once per breaker state.

        Args:
            orders: ``(symbol, signed quantity)`` of each order (each leg of a combo).
            what: What the orders are for, in the log.
        """
        breaker = self.circuit_breaker
        if breaker is None:
            return True
        for symbol, quantity in orders:
            decision = breaker.check_order(
                quantity, position=float(self.portfolio[symbol].quantity)
            )
            if not decision.allowed:
                self.trades["denied"] += 1
                if what not in self._denials_logged:
                    self._denials_logged.add(what)
                    self.debug(f"ORDER DENIED ({what}): {decision.reason}")
                return False
        return True

    def _submit(self, spread: CreditSpread, send: Callable[[], list[OrderTicket]]) -> None:
        """Send a combo order; events that arrive during the call are matched to ``spread``.

        LEAN may answer, and a backtest fill a market order, before the call returns the
        tickets, so the spread and the submission time are known to the event handler first.
        """
        self._submitting = spread
        self._submitted_at = self._monotonic()
        self._answered_in_call.clear()
        try:
            tickets = send()
        finally:
            self._submitting = None
        for ticket in tickets:
            order_id = ticket.order_id
            if order_id not in self._answered_in_call:
                self._awaiting_answer[order_id] = self._submitted_at
            if order_id not in spread.finished_ids:
                self._tickets[order_id] = ticket
                spread.order_ids.add(order_id)
                self._by_order[order_id] = spread
        if not spread.order_ids:
            self._stage_done(spread)

    def on_order_event(self, order_event: OrderEvent) -> None:
        """Record broker latency and follow the fills of the spreads' orders."""
        order_id = order_event.order_id
        status = order_event.status
        self._record_latency(order_id, status)
        spread = self._by_order.get(order_id) or self._submitting
        if spread is None:
            return
        if status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
            filled = int(order_event.fill_quantity)
            cash = -filled * float(order_event.fill_price)
            if order_event.symbol == spread.short_put:
                spread.short_position += filled
            else:
                spread.long_position += filled
            if spread.stage is Stage.OPENING:
                spread.entry_cash += cash
            else:
                spread.exit_cash += cash
        if status in _TERMINAL:
            spread.finished_ids.add(order_id)
            spread.order_ids.discard(order_id)
            self._by_order.pop(order_id, None)
            self._tickets.pop(order_id, None)
            if not spread.order_ids and self._submitting is not spread:
                self._stage_done(spread)

    def _record_latency(self, order_id: int, status: OrderStatus) -> None:
        """Feed the monitor the time from submission to the broker's first answer."""
        if status not in _BROKER_ANSWERS:
            return
        sent = self._awaiting_answer.pop(order_id, None)
        if sent is None and self._submitting is not None and self._submitted_at is not None:
            if order_id in self._answered_in_call:
                return
            self._answered_in_call.add(order_id)
            sent = self._submitted_at
        monitor = self.resource_monitor
        if sent is not None and monitor is not None:
            monitor.record_latency((self._monotonic() - sent) * 1000.0)

    def _time_out_unanswered(self) -> None:
        """Count orders the broker has not answered within the timeout as timeouts."""
        monitor = self.resource_monitor
        now = self._monotonic()
        for order_id, sent in list(self._awaiting_answer.items()):
            if now - sent >= self._latency_timeout_s:
                del self._awaiting_answer[order_id]
                if monitor is not None:
                    monitor.record_timeout()

    def _stage_done(self, spread: CreditSpread) -> None:
        """Every order of the spread's current stage is finished: move it on."""
        underlying = spread.underlying
        if spread.short_position != -spread.long_position:
            self.error(
                f"{underlying.value} spread legs differ: short {spread.short_position}, "
                f"long {spread.long_position}; only complete spreads are managed"
            )
        if spread.stage is Stage.OPENING:
            if spread.quantity < 1:
                self._spreads.pop(underlying, None)
                self.trades["cancelled_unfilled"] += 1
                self._next_entry[underlying] = self.time + ENTRY_RETRY_AFTER
                return
            spread.opened_quantity = spread.quantity
            spread.stage = Stage.OPEN
            self.trades["opened"] += 1
            self.log(
                f"OPENED {underlying.value} put spread x{spread.quantity} (of {spread.ordered}"
                f" ordered): credit {spread.credit:.2f} a share, width {spread.width:g}"
            )
            return
        if spread.stage is Stage.CLOSING:
            if spread.short_position == 0 and spread.long_position == 0:
                pnl = (spread.entry_cash + spread.exit_cash) * spread.multiplier
                self.realized_pnl += pnl
                self.trades["closed"] += 1
                reason = spread.exit_reason or ExitReason.EXPIRY
                self.exits[reason] += 1
                self._spreads.pop(underlying, None)
                self._next_entry[underlying] = self._next_session()
                self.log(f"CLOSED {underlying.value} put spread ({reason.value}): P&L ${pnl:,.2f}")
                return
            spread.stage = Stage.OPEN  # the close did not complete: try again on the next data

    def _next_session(self) -> datetime:
        """Return the next day's entry start: at most one new spread a day per underlying."""
        return datetime.combine(self.time.date() + timedelta(days=1), ENTRY_START)

    def _cancel_stale_orders(self) -> None:
        """Cancel entry orders unfilled after ORDER_TIMEOUT (the seed's 2.5 s rule)."""
        for spread in list(self._spreads.values()):
            if spread.stage is Stage.OPENING and self.time - spread.submitted_at >= ORDER_TIMEOUT:
                self._cancel_spread_orders(
                    spread, f"unfilled after {ORDER_TIMEOUT.total_seconds():g} s"
                )

    def _cancel_entries(self, why: str) -> None:
        for spread in list(self._spreads.values()):
            if spread.stage is Stage.OPENING:
                self._cancel_spread_orders(spread, why)

    def _cancel_spread_orders(self, spread: CreditSpread, why: str) -> None:
        """Cancel the spread's working orders (the breaker always allows a cancel)."""
        breaker = self.circuit_breaker
        for order_id in sorted(spread.order_ids):
            ticket = self._tickets.get(order_id)
            if ticket is None:
                continue
            if breaker is not None and not breaker.check_order(cancel=True).allowed:
                continue  # the breaker's contract says this cannot happen; never force it
            ticket.cancel(f"cancel: {why}")

    def on_end_of_algorithm(self) -> None:
        """Log the resource statistics, alerts, breaker history and trading summary."""
        for line in self.final_report():
            self.log(line)
        monitor = self.resource_monitor
        if monitor is not None:
            monitor.close()
        if self._log_handler is not None:
            logging.getLogger("utils").removeHandler(self._log_handler)
            self._log_handler = None

    def final_report(self) -> list[str]:
        """Return the final report's lines."""
        lines = ["RESOURCE REPORT", f"  Node: {self.node_info}"]
        monitor = self.resource_monitor
        if monitor is None:
            lines.append(f"  Monitor: {self.monitor_note or 'unavailable'}")
        else:
            health = monitor.health()
            lines.append(f"  Monitor: {health.state.value} ({self._health_summary()})")
            for name, stats in monitor.statistics().items():
                if stats.samples == 0:
                    lines.append(f"  {name}: no samples")
                    continue
                scale, unit = (1024 * 1024, " MB") if name.endswith("_bytes") else (1, "")
                shown = name.removesuffix("_bytes") + ("_mb" if unit else "")
                figures = ", ".join(
                    f"{label} {value / scale:,.1f}{unit}"
                    for label, value in (
                        ("min", stats.min), ("avg", stats.avg), ("max", stats.max),
                        ("p95", stats.p95),
                    )
                    if value is not None
                )  # fmt: skip
                lines.append(f"  {shown}: {figures} ({stats.samples} samples)")
            latency = monitor.latency()
            if latency.samples:
                lines.append(
                    f"  Broker latency: p50 {latency.p50_ms:,.0f} ms, p95 {latency.p95_ms:,.0f} "
                    f"ms, p99 {latency.p99_ms:,.0f} ms over {latency.samples} round trips, "
                    f"{latency.timeouts_total} timeouts"
                )
            else:
                lines.append("  Broker latency: no round trips")
            active = [a.key for a in monitor.active_alerts()]
            lines.append(
                f"  Alerts: {self._alerts_raised} raised, {self._alerts_cleared} cleared; "
                f"active: {', '.join(active) or 'none'}"
            )
        breaker = self.circuit_breaker
        if breaker is None:
            lines.append("  Circuit breaker: none (the monitor is unavailable)")
        else:
            status = breaker.status()
            lines.append(
                f"  Circuit breaker: {status.state.value} ({status.reason}); "
                f"{len(self._breaker_history)} events this run"
            )
            lines.extend(
                f"    #{e.sequence} {e.time:%Y-%m-%d %H:%M:%S} UTC {e.from_state.value} -> "
                f"{e.to_state.value} ({e.action} by {e.actor}): {e.reason}"
                for e in self._breaker_history
            )
        exits = ", ".join(f"{reason.value} {count}" for reason, count in self.exits.items())
        held = sum(1 for s in self._spreads.values() if s.stage is not Stage.OPENING)
        opening = len(self._spreads) - held
        lines.append(
            f"  Trading: {self.trades['opened']} spreads opened, {self.trades['closed']} closed "
            f"({exits}), {held} still held, {opening} entries working; realized P&L "
            f"${self.realized_pnl:,.2f}; orders denied by the breaker: {self.trades['denied']}; "
            f"entries cancelled unfilled: {self.trades['cancelled_unfilled']}"
        )
        return lines
