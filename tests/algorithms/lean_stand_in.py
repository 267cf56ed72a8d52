"""A small stand-in for the LEAN engine, for tests only. It is not LEAN.

Real LEAN needs Docker (absent here), so the bot's integration logic is driven by this model of
the few parts of LEAN's Python API the bot touches. Production code never imports it: a test
calls :func:`install` (which puts this module in ``sys.modules`` as ``AlgorithmImports``) and
then :func:`load_algorithm`. Standard library only, so it also runs a staged project in a
child process without the repository on ``sys.path``.

What it models, and how closely:

* Time: the algorithm's ``time`` (naive, New York) and a clock whose ``monotonic`` and ``now``
  move together; :meth:`LeanStandIn.advance` moves both and fires scheduled events at every
  multiple of their interval since midnight, in time order, as LEAN's
  ``time_rules.every`` does.
* Subscriptions: ``add_option`` returns an option with a canonical symbol and ``set_filter``;
  :meth:`LeanStandIn.quote_chain` runs the algorithm's filter over a chain the test provides,
  with LEAN's semantics for ``puts_only``, ``strikes`` (listed strikes around the one nearest
  the underlying price), ``expiration`` (calendar days) and standard (third-Friday) contracts
  only unless ``include_weeklys``; the contracts kept become securities with quotes.
* Orders: ``combo_limit_order``, ``combo_market_order`` and ``market_order`` create one order
  per leg. As in a LEAN backtest, the broker's ``SUBMITTED`` answer and a market order's fill
  arrive during the call, before the tickets are returned; ``answer_on_submit=False`` (a live
  broker) leaves the answer to :meth:`LeanStandIn.answer`. Limit orders fill only through
  :meth:`LeanStandIn.fill`. ``ticket.cancel`` cancels at once (``CANCELED`` event).
  :meth:`LeanStandIn.assign` models an early assignment of a short put.
* Portfolio: quantities from fills; ``total_portfolio_value`` and ``margin_remaining`` are
  set by the test (no margin model).
* Logging: ``debug``, ``log`` and ``error`` are collected in :attr:`LeanStandIn.messages`.
* Object Store: ``get_file_path`` returns a file under a folder, creating the key's folder.
"""

from __future__ import annotations

import bisect
import importlib.util
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum, IntEnum
from pathlib import Path
from types import ModuleType
from typing import Any

# ------------------------------------------------------------------------------- enums


class Resolution(Enum):
    """LEAN's data resolutions (the ones the tests use)."""

    TICK = "tick"
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAILY = "daily"


class OptionRight(IntEnum):
    """Call or put (LEAN: CALL = 0, PUT = 1)."""

    CALL = 0
    PUT = 1


class OrderStatus(IntEnum):
    """LEAN's order statuses, with LEAN's values."""

    NEW = 0
    SUBMITTED = 1
    PARTIALLY_FILLED = 2
    FILLED = 3
    CANCELED = 5
    NONE = 6
    INVALID = 7
    CANCEL_PENDING = 8
    UPDATE_SUBMITTED = 9


# ----------------------------------------------------------------------------- symbols


@dataclass(frozen=True)
class Symbol:
    """A security's identity: an equity, a canonical option (``?SPY``) or one contract."""

    value: str
    underlying: Symbol | None = None
    strike: float | None = None
    expiry: datetime | None = None
    right: OptionRight | None = None

    @staticmethod
    def equity(ticker: str) -> Symbol:
        """Return an equity's symbol."""
        return Symbol(ticker)

    @staticmethod
    def canonical_option(underlying: Symbol) -> Symbol:
        """Return the canonical option symbol of ``underlying``."""
        return Symbol(f"?{underlying.value}", underlying)

    @staticmethod
    def option(underlying: Symbol, strike: float, expiry: datetime, right: OptionRight) -> Symbol:
        """Return one option contract's symbol (OSI-like value)."""
        letter = "P" if right is OptionRight.PUT else "C"
        value = f"{underlying.value} {expiry:%y%m%d}{letter}{round(strike * 1000):08d}"
        return Symbol(value, underlying, strike, expiry, right)

    def __str__(self) -> str:
        return self.value


# ----------------------------------------------------------------------------- securities


@dataclass
class SymbolProperties:
    """The only symbol property the bot reads."""

    contract_multiplier: float = 1.0


@dataclass
class Security:
    """A subscribed security and its latest quote."""

    symbol: Symbol
    bid_price: float = 0.0
    ask_price: float = 0.0
    price: float = 0.0
    symbol_properties: SymbolProperties = field(default_factory=SymbolProperties)


class SecurityManager(dict[Symbol, Security]):
    """``algorithm.securities``: securities by symbol (unknown symbols raise ``KeyError``)."""

    @property
    def count(self) -> int:
        """Return how many securities are subscribed."""
        return len(self)


@dataclass
class SecurityHolding:
    """A position."""

    symbol: Symbol
    quantity: float = 0.0

    @property
    def invested(self) -> bool:
        """Return whether the position is not flat."""
        return self.quantity != 0


class Portfolio:
    """``algorithm.portfolio``: holdings of subscribed securities; values set by the test."""

    def __init__(self, securities: SecurityManager, cash: float) -> None:
        self._securities = securities
        self._holdings: dict[Symbol, SecurityHolding] = {}
        self.total_portfolio_value = cash
        self.margin_remaining = cash

    def __getitem__(self, symbol: Symbol) -> SecurityHolding:
        if symbol not in self._securities:
            msg = f"{symbol} is not subscribed"
            raise KeyError(msg)
        return self._holdings.setdefault(symbol, SecurityHolding(symbol))

    def values(self) -> list[SecurityHolding]:
        """Return every holding."""
        return list(self._holdings.values())


# ----------------------------------------------------------------------------- option data


@dataclass
class OptionContract:
    """One contract of a chain, as ``on_data`` sees it."""

    symbol: Symbol
    strike: float
    expiry: datetime
    right: OptionRight
    bid_price: float
    ask_price: float


@dataclass
class Underlying:
    """The chain's underlying data point (``chain.underlying.price``)."""

    symbol: Symbol
    price: float


class OptionChain:
    """The filtered contracts of one canonical option at one time."""

    def __init__(self, symbol: Symbol, underlying: Underlying, contracts: list[OptionContract]):
        self.symbol = symbol
        self.underlying = underlying
        self.contracts = contracts

    def __iter__(self) -> Iterator[OptionContract]:
        return iter(self.contracts)

    def __len__(self) -> int:
        return len(self.contracts)


class OptionChains(dict[Symbol, OptionChain]):
    """``slice.option_chains``: chains by canonical symbol (``get`` returns ``None`` if absent)."""


@dataclass
class Slice:
    """One time step of data."""

    time: datetime
    option_chains: OptionChains


def third_friday(year: int, month: int) -> date:
    """Return the third Friday of a month (the standard monthly option expiry)."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def is_standard(expiry: datetime) -> bool:
    """Return whether ``expiry`` is a standard (monthly, third-Friday) expiry."""
    return expiry.date() == third_friday(expiry.year, expiry.month)


class OptionFilterUniverse:
    """The contracts a filter function narrows (LEAN's semantics for the methods modelled).

    Args:
        contracts: Every listed contract.
        underlying_price: The underlying's price when the filter runs.
        today: The date the filter runs.
    """

    def __init__(
        self, contracts: list[OptionContract], underlying_price: float, today: date
    ) -> None:
        self._all = contracts
        self.contracts = list(contracts)
        self._price = underlying_price
        self._today = today
        self._weeklys = False
        self.calls: list[str] = []

    def puts_only(self) -> OptionFilterUniverse:
        """Keep puts."""
        self.calls.append("puts_only")
        self.contracts = [c for c in self.contracts if c.right is OptionRight.PUT]
        return self

    def calls_only(self) -> OptionFilterUniverse:
        """Keep calls."""
        self.calls.append("calls_only")
        self.contracts = [c for c in self.contracts if c.right is OptionRight.CALL]
        return self

    def include_weeklys(self) -> OptionFilterUniverse:
        """Keep non-standard expiries too."""
        self.calls.append("include_weeklys")
        self._weeklys = True
        return self

    def strikes(self, min_strike: int, max_strike: int) -> OptionFilterUniverse:
        """Keep listed strikes ``min_strike..max_strike`` steps from the at-the-money one.

        LEAN's rule (``OptionFilterUniverse.Strikes``): the reference is the listed strike
        equal to the price, else the first one above it (then the upper bound of a range
        around the money, or both bounds of a range above it, move one step down); nothing
        when the price is above every strike.
        """
        self.calls.append(f"strikes({min_strike}, {max_strike})")
        unique = sorted({c.strike for c in self._all})
        index = bisect.bisect_left(unique, self._price)
        if index == len(unique):
            self.contracts = []
            return self
        low, high = index + min_strike, index + max_strike
        if unique[index] != self._price:
            if min_strike < 0 < max_strike:
                high -= 1
            elif min_strike > 0:
                low, high = low - 1, high - 1
        low = max(low, 0)
        if low >= len(unique) or high < 0:
            self.contracts = []
            return self
        kept = set(unique[low : min(high, len(unique) - 1) + 1])
        self.contracts = [c for c in self.contracts if c.strike in kept]
        return self

    def expiration(self, min_expiry_days: int, max_expiry_days: int) -> OptionFilterUniverse:
        """Keep expiries ``min..max`` calendar days away."""
        self.calls.append(f"expiration({min_expiry_days}, {max_expiry_days})")
        self.contracts = [
            c
            for c in self.contracts
            if min_expiry_days <= (c.expiry.date() - self._today).days <= max_expiry_days
        ]
        return self

    def result(self) -> list[OptionContract]:
        """Return what the filter keeps (standard expiries only unless weeklys were asked)."""
        if self._weeklys:
            return list(self.contracts)
        return [c for c in self.contracts if is_standard(c.expiry)]


class Option(Security):
    """What ``add_option`` returns: the canonical option and its filter."""

    def __init__(self, symbol: Symbol) -> None:
        super().__init__(symbol)
        self.filter: Callable[[OptionFilterUniverse], OptionFilterUniverse] | None = None

    def set_filter(self, universe_func: Callable[[OptionFilterUniverse], Any]) -> None:
        """Set the contract filter function."""
        self.filter = universe_func


def black_scholes_put(spot: float, strike: float, years: float, volatility: float) -> float:
    """Return a European put's value (no rates, no dividends): realistic test quotes."""
    if years <= 0 or volatility <= 0:
        return max(strike - spot, 0.0)
    root = volatility * math.sqrt(years)
    d1 = (math.log(spot / strike) + 0.5 * volatility**2 * years) / root
    d2 = d1 - root

    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    return strike * cdf(-d2) - spot * cdf(-d1)


def listed_puts(
    underlying: Symbol,
    spot: float,
    today: date,
    *,
    strike_step: float = 1.0,
    strikes_around: int = 80,
    weeks: int = 13,
    volatility: float = 0.2,
) -> list[OptionContract]:
    """Return a dense put chain: every Friday for ``weeks`` weeks (the monthly ones among them)
    and strikes every ``strike_step`` within ``strikes_around`` steps of the money, each quoted
    around its Black-Scholes value (a cent-wide market at least).
    """
    contracts = []
    center = round(spot / strike_step) * strike_step
    fridays = [today + timedelta(days=(4 - today.weekday()) % 7 + 7 * i) for i in range(weeks)]
    for friday in fridays:
        expiry = datetime(friday.year, friday.month, friday.day, 16, 0)  # noqa: DTZ001 (LEAN times are naive)
        years = max((friday - today).days, 0) / 365.0
        for k in range(-strikes_around, strikes_around + 1):
            strike = round(center + k * strike_step, 2)
            if strike <= 0:
                continue
            value = black_scholes_put(spot, strike, years, volatility)
            half = max(0.01, round(value * 0.02, 2))
            contracts.append(
                OptionContract(
                    symbol=Symbol.option(underlying, strike, expiry, OptionRight.PUT),
                    strike=strike,
                    expiry=expiry,
                    right=OptionRight.PUT,
                    bid_price=max(0.0, round(value - half, 2)),
                    ask_price=round(value + half, 2),
                )
            )
    return contracts


# ------------------------------------------------------------------------------ orders


@dataclass
class Leg:
    """One leg of a combo order: a symbol and its ratio."""

    symbol: Symbol
    quantity: int
    order_price: float | None = None

    @staticmethod
    def create(symbol: Symbol, quantity: int, limit_price: float | None = None) -> Leg:
        """Return a leg (LEAN's ``Leg.create``)."""
        return Leg(symbol, quantity, limit_price)


@dataclass
class OrderEvent:
    """One order event (the fields the bot reads)."""

    order_id: int
    symbol: Symbol
    status: OrderStatus
    fill_quantity: float = 0.0
    fill_price: float = 0.0
    message: str = ""


@dataclass
class Order:
    """An order the stand-in holds (one per leg of a combo)."""

    order_id: int
    symbol: Symbol
    quantity: int
    kind: str  # combo_limit | combo_market | market
    tag: str
    group: int
    limit_price: float | None = None
    status: OrderStatus = OrderStatus.NEW
    filled: int = 0

    @property
    def open(self) -> bool:
        """Return whether the order can still fill or be cancelled."""
        return self.status in (OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)


class OrderTicket:
    """The handle ``*_order`` returns."""

    def __init__(self, engine: LeanStandIn, order: Order) -> None:
        self._engine = engine
        self._order = order

    @property
    def order_id(self) -> int:
        """Return the order's id."""
        return self._order.order_id

    @property
    def status(self) -> OrderStatus:
        """Return the order's status now."""
        return self._order.status

    def cancel(self, tag: str = "") -> None:
        """Cancel the order (at once, as a backtest does)."""
        self._engine.cancel(self._order.order_id, tag)


# ------------------------------------------------------------------------- scheduling


@dataclass(frozen=True)
class DateRule:
    """Every day (the only date rule the bot uses)."""

    name: str = "every_day"


@dataclass(frozen=True)
class TimeRule:
    """Every ``interval``, at multiples of it since midnight."""

    interval: timedelta


class DateRules:
    """``algorithm.date_rules``."""

    def every_day(self) -> DateRule:
        """Return the every-day rule."""
        return DateRule()


class TimeRules:
    """``algorithm.time_rules``."""

    def every(self, interval: timedelta) -> TimeRule:
        """Return an every-``interval`` rule."""
        if interval <= timedelta(0):
            msg = f"interval must be positive, got {interval}"
            raise ValueError(msg)
        return TimeRule(interval)


@dataclass
class ScheduledEvent:
    """A scheduled callback and when it fires next."""

    time_rule: TimeRule
    callback: Callable[[], object]
    next_time: datetime
    fired: int = 0


class ScheduleManager:
    """``algorithm.schedule``."""

    def __init__(self, engine: LeanStandIn) -> None:
        self._engine = engine
        self.events: list[ScheduledEvent] = []

    def on(self, date_rule: DateRule, time_rule: TimeRule, callback: Callable[[], object]) -> None:
        """Schedule ``callback`` (the first firing is the next multiple of the interval)."""
        now = self._engine.time
        midnight = datetime.combine(now.date(), datetime.min.time())
        steps = math.floor((now - midnight) / time_rule.interval) + 1
        self.events.append(
            ScheduledEvent(time_rule, callback, midnight + steps * time_rule.interval)
        )


class ObjectStore:
    """``algorithm.object_store``: files under a folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_file_path(self, key: str) -> str:
        """Return the file of ``key``, creating its folder (as LEAN's LocalObjectStore does)."""
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)


# ------------------------------------------------------------------------------ clocks


class StandInClock:
    """Monotonic and UTC wall clocks that move with the algorithm's time."""

    def __init__(self, start: datetime) -> None:
        self._monotonic = 1000.0
        self._now = start.replace(tzinfo=UTC)

    def monotonic(self) -> float:
        """Return the monotonic reading."""
        return self._monotonic

    def now(self) -> datetime:
        """Return the wall time (UTC)."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self._monotonic += seconds
        self._now += timedelta(seconds=seconds)


# ------------------------------------------------------------------------------- the algorithm


class QCAlgorithm:
    """The base class: the API surface the bot uses, delegating to the engine."""

    _engine: LeanStandIn

    # Filled by the engine before ``initialize``.
    live_mode: bool
    time: datetime
    securities: SecurityManager
    portfolio: Portfolio
    schedule: ScheduleManager
    date_rules: DateRules
    time_rules: TimeRules
    object_store: ObjectStore

    def set_start_date(self, year: int, month: int, day: int) -> None:
        """Record the start date."""
        self._engine.start_date = date(year, month, day)

    def set_end_date(self, year: int, month: int, day: int) -> None:
        """Record the end date."""
        self._engine.end_date = date(year, month, day)

    def set_cash(self, cash: float) -> None:
        """Set the cash (and the portfolio value and margin remaining)."""
        self.portfolio.total_portfolio_value = cash
        self.portfolio.margin_remaining = cash

    def add_option(self, ticker: str, resolution: Resolution | None = None) -> Option:
        """Subscribe an equity option chain (and its underlying)."""
        return self._engine.add_option(ticker, resolution)

    def debug(self, message: object) -> None:
        """Collect a debug message."""
        self._engine.messages.append(("debug", str(message)))

    def log(self, message: object) -> None:
        """Collect a log message."""
        self._engine.messages.append(("log", str(message)))

    def error(self, message: object) -> None:
        """Collect an error message."""
        self._engine.messages.append(("error", str(message)))

    def combo_limit_order(
        self, legs: list[Leg], quantity: int, limit_price: float, tag: str = ""
    ) -> list[OrderTicket]:
        """Place a combo limit order: one order per leg."""
        return self._engine.place(legs, quantity, "combo_limit", tag, limit_price)

    def combo_market_order(
        self, legs: list[Leg], quantity: int, tag: str = ""
    ) -> list[OrderTicket]:
        """Place a combo market order: one order per leg."""
        return self._engine.place(legs, quantity, "combo_market", tag, None)

    def market_order(self, symbol: Symbol, quantity: int, tag: str = "") -> OrderTicket:
        """Place a market order."""
        return self._engine.place([Leg(symbol, 1)], quantity, "market", tag, None)[0]


# ------------------------------------------------------------------------------ the engine


class LeanStandIn:
    """Drive an algorithm class through initialize, time, data, orders and the end.

    Args:
        algorithm_type: The algorithm class (derived from this module's ``QCAlgorithm``).
        live_mode: What ``algorithm.live_mode`` says.
        start: The algorithm's time at ``initialize`` (naive, New York).
        object_store: The Object Store folder.
        answer_on_submit: The broker's ``SUBMITTED`` arrives during the order call.
        fill_market_orders: Market orders fill during the call at the quotes (backtest-like).
    """

    def __init__(
        self,
        algorithm_type: type[Any],
        *,
        live_mode: bool = False,
        start: datetime = datetime(2024, 1, 2, 9, 30),  # noqa: DTZ001 (LEAN times are naive)
        object_store: Path,
        answer_on_submit: bool = True,
        fill_market_orders: bool = True,
    ) -> None:
        self.time = start
        self.clock = StandInClock(start)
        self.answer_on_submit = answer_on_submit
        self.fill_market_orders = fill_market_orders
        self.messages: list[tuple[str, str]] = []
        self.orders: dict[int, Order] = {}
        self.options: dict[str, Option] = {}
        self.subscriptions: list[tuple[str, Resolution | None]] = []
        self.start_date: date | None = None
        self.ended = False
        self.end_date: date | None = None
        self._ids = itertools.count(1)
        self._groups = itertools.count(1)
        self._chains: dict[Symbol, OptionChain] = {}
        self.securities = SecurityManager()
        algorithm = algorithm_type()
        algorithm._engine = self
        algorithm.live_mode = live_mode
        algorithm.time = start
        algorithm.securities = self.securities
        algorithm.portfolio = Portfolio(self.securities, 0.0)
        algorithm.schedule = ScheduleManager(self)
        algorithm.date_rules = DateRules()
        algorithm.time_rules = TimeRules()
        algorithm.object_store = ObjectStore(object_store)
        self.algorithm = algorithm

    # -- messages --------------------------------------------------------------------------
    def texts(self, kind: str | None = None) -> list[str]:
        """Return the collected messages (of one kind: debug, log, error)."""
        return [text for k, text in self.messages if kind is None or k == kind]

    def find(self, fragment: str, kind: str | None = None) -> list[str]:
        """Return the messages containing ``fragment``."""
        return [text for text in self.texts(kind) if fragment in text]

    # -- run ---------------------------------------------------------------------------------
    def initialize(self) -> Any:
        """Call ``initialize``; return the algorithm."""
        self.algorithm.initialize()
        return self.algorithm

    def advance(self, seconds: float) -> None:
        """Move time forward, firing each scheduled event due, in time order."""
        end = self.time + timedelta(seconds=seconds)
        schedule: ScheduleManager = self.algorithm.schedule
        while True:
            due = [e for e in schedule.events if e.next_time <= end]
            if not due:
                break
            event = min(due, key=lambda e: e.next_time)
            self._move_to(event.next_time)
            event.next_time += event.time_rule.interval
            event.fired += 1
            event.callback()
        self._move_to(end)

    def _move_to(self, when: datetime) -> None:
        if when > self.time:
            self.clock.advance((when - self.time).total_seconds())
            self.time = when
            self.algorithm.time = when

    def end(self) -> None:
        """Call ``on_end_of_algorithm`` (once)."""
        if not self.ended:
            self.ended = True
            self.algorithm.on_end_of_algorithm()

    # -- subscriptions and data ---------------------------------------------------------------
    def add_option(self, ticker: str, resolution: Resolution | None) -> Option:
        underlying = Symbol.equity(ticker)
        self.securities.setdefault(underlying, Security(underlying))
        canonical = Symbol.canonical_option(underlying)
        option = Option(canonical)
        self.options[ticker] = option
        self.securities[canonical] = option
        self.subscriptions.append((ticker, resolution))
        return option

    def filter_chain(
        self, ticker: str, spot: float, contracts: list[OptionContract]
    ) -> list[OptionContract]:
        """Return what the algorithm's filter for ``ticker`` keeps of ``contracts``."""
        option = self.options[ticker]
        universe = OptionFilterUniverse(contracts, spot, self.time.date())
        if option.filter is None:  # LEAN's default filter
            return universe.strikes(-1, 1).expiration(0, 35).result()
        returned = option.filter(universe)
        if not isinstance(returned, OptionFilterUniverse):
            msg = f"the filter of {ticker} returned {returned!r}, not the universe"
            raise TypeError(msg)
        return returned.result()

    def quote_chain(
        self, ticker: str, spot: float, contracts: Iterable[OptionContract] | None = None
    ) -> OptionChain:
        """Set ``ticker``'s price and chain (filtered by the algorithm) for the next data.

        Without ``contracts``, a dense put chain (:func:`listed_puts`) around ``spot``.
        Contracts held stay subscribed and keep their latest quotes, as in LEAN.
        """
        option = self.options[ticker]
        underlying = option.symbol.underlying
        assert underlying is not None
        listed = (
            list(contracts)
            if contracts is not None
            else listed_puts(underlying, spot, self.time.date())
        )
        kept = self.filter_chain(ticker, spot, listed)
        kept_symbols = {c.symbol for c in kept}
        self.securities[underlying].price = spot
        for contract in listed:
            security = self.securities.get(contract.symbol)
            if security is None and contract.symbol in kept_symbols:
                security = Security(contract.symbol, symbol_properties=SymbolProperties(100.0))
                self.securities[contract.symbol] = security
            if security is not None:
                security.bid_price = contract.bid_price
                security.ask_price = contract.ask_price
                security.price = (contract.bid_price + contract.ask_price) / 2
        chain = OptionChain(option.symbol, Underlying(underlying, spot), kept)
        self._chains[option.symbol] = chain
        return chain

    def set_quote(self, symbol: Symbol, bid: float, ask: float) -> None:
        """Set one subscribed security's quote."""
        security = self.securities[symbol]
        security.bid_price, security.ask_price = bid, ask
        security.price = (bid + ask) / 2

    def send_data(self) -> None:
        """Deliver a slice with the chains quoted so far to ``on_data``."""
        self.algorithm.on_data(Slice(self.time, OptionChains(self._chains)))

    # -- orders --------------------------------------------------------------------------------
    def place(
        self, legs: list[Leg], quantity: int, kind: str, tag: str, limit_price: float | None
    ) -> list[OrderTicket]:
        group = next(self._groups)
        orders = []
        for leg in legs:
            if leg.symbol not in self.securities:
                msg = f"{leg.symbol} is not subscribed"
                raise KeyError(msg)
            order = Order(
                order_id=next(self._ids), symbol=leg.symbol, quantity=leg.quantity * quantity,
                kind=kind, tag=tag, group=group, limit_price=limit_price,
            )  # fmt: skip
            self.orders[order.order_id] = order
            orders.append(order)
        if self.answer_on_submit:
            self.answer([o.order_id for o in orders])
        if kind != "combo_limit" and self.fill_market_orders:
            self.fill([o.order_id for o in orders])
        return [OrderTicket(self, o) for o in orders]

    def _emit(
        self, order: Order, status: OrderStatus, quantity: float = 0, price: float = 0
    ) -> None:
        order.status = status
        self.algorithm.on_order_event(
            OrderEvent(order.order_id, order.symbol, status, quantity, price)
        )

    def answer(self, order_ids: Iterable[int]) -> None:
        """The broker accepts the orders (``SUBMITTED``)."""
        for order_id in order_ids:
            order = self.orders[order_id]
            if order.status is OrderStatus.NEW:
                self._emit(order, OrderStatus.SUBMITTED)

    def fill(self, order_ids: Iterable[int], prices: dict[Symbol, float] | None = None) -> None:
        """Fill the orders completely: buys at the ask, sells at the bid, unless ``prices``."""
        for order_id in order_ids:
            order = self.orders[order_id]
            if not order.open:
                continue
            security = self.securities[order.symbol]
            default = security.ask_price if order.quantity > 0 else security.bid_price
            price = (prices or {}).get(order.symbol, default)
            remaining = order.quantity - order.filled
            order.filled = order.quantity
            self.algorithm.portfolio[order.symbol].quantity += remaining
            self._emit(order, OrderStatus.FILLED, remaining, price)

    def cancel(self, order_id: int, tag: str = "") -> None:
        """Cancel an open order (``CANCELED`` event); nothing for a finished one."""
        order = self.orders[order_id]
        if order.open:
            self._emit(order, OrderStatus.CANCELED)

    def open_orders(self) -> list[Order]:
        """Return the orders still working."""
        return [o for o in self.orders.values() if o.open]

    def groups(self, kind: str | None = None) -> list[list[Order]]:
        """Return the orders placed, grouped by combo, oldest first."""
        by_group: dict[int, list[Order]] = {}
        for order in self.orders.values():
            if kind is None or order.kind == kind:
                by_group.setdefault(order.group, []).append(order)
        return list(by_group.values())

    def assign(self, short_put: Symbol) -> None:
        """Assign the whole short position in ``short_put``: the stock arrives, the put goes."""
        holding = self.algorithm.portfolio[short_put]
        contracts = -int(holding.quantity)
        underlying = short_put.underlying
        assert underlying is not None
        assert contracts > 0
        strike = short_put.strike or 0.0
        option_order = Order(next(self._ids), short_put, contracts, "assignment", "", 0)
        stock_order = Order(next(self._ids), underlying, 100 * contracts, "assignment", "", 0)
        for order, price in ((option_order, 0.0), (stock_order, strike)):
            self.orders[order.order_id] = order
            order.filled = order.quantity
            self.algorithm.portfolio[order.symbol].quantity += order.quantity
            order.status = OrderStatus.FILLED
            event = OrderEvent(
                order.order_id, order.symbol, OrderStatus.FILLED, order.quantity, price
            )
            self.algorithm.on_order_event(event)
            if order is option_order:
                self.algorithm.on_assignment_order_event(event)


# ------------------------------------------------------------------------------ loading


def install() -> ModuleType:
    """Make ``from AlgorithmImports import ...`` resolve to this stand-in; return it."""
    module = sys.modules[__name__]
    sys.modules["AlgorithmImports"] = module
    return module


def load_algorithm(path: Path, module_name: str = "options_trading_bot_under_test") -> ModuleType:
    """Import an algorithm file against the stand-in (installed first) under ``module_name``."""
    install()
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        msg = f"cannot import {path}"
        raise ImportError(msg)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
