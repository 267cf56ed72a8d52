"""The trading circuit breaker: ACTIVE, REDUCING (only exposure-reducing orders), HALTED.

States and the transition table (any other pair leaves the state as it is)::

    from       action    to        who
    ACTIVE     reduce    REDUCING  the monitor, on a warning (warning_action == "reduce")
    ACTIVE     halt      HALTED    the monitor on a critical alert, or anyone (halt_all_trading)
    REDUCING   halt      HALTED
    REDUCING   restore   ACTIVE    the monitor, when no warning is active any more
    REDUCING   reset     ACTIVE    a person (reset)
    HALTED     reset     ACTIVE    a person (reset), not before the cooldown deadline

A halt **latches**: ``restore`` does nothing to a HALTED breaker, so the metric recovering does
not resume trading; only an audited :meth:`CircuitBreaker.reset` (who and why) does, and it is
refused before ``reset_not_before`` (trip time + cooldown, stored as UTC wall time so the
deadline survives a restart).

Orders are judged with :meth:`CircuitBreaker.check_order`, which returns an
:class:`OrderDecision` (allowed or not, and why) and never raises. Cancels are always allowed.

State is persisted atomically (temporary file, ``fsync``, ``os.replace``, ``fsync`` of the
folder) before the event is logged, so a crash can lose at most the log line, never the halt.
A process that starts with a HALTED state file comes back HALTED with the original trip time;
an unreadable or corrupt state file means HALTED (fail closed), logged as an error, the bad file
kept beside it as ``*.corrupt-<time>``. :func:`read_state_file` says what a breaker starting on
a file would be and changes nothing (the dashboard, the installation check and
``scripts/circuit_breaker.py status`` use it).

Every transition (and every refused reset) is a :class:`BreakerEvent` with a sequence number,
appended to the event log (JSON Lines, fsynced), logged through :mod:`logging` and passed to
listeners (the dashboard). All methods are thread-safe.

Standard library and pydantic only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from utils.clock import Clock, SystemClock, format_utc, parse_utc
from utils.errors import InputError
from utils.metrics_log import JsonLinesWriter

logger = logging.getLogger(__name__)

STATE_FORMAT = 1
DEFAULT_ACTOR = "system"


class BreakerState(StrEnum):
    """The breaker's state. Names and values are the same upper-case words."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class BreakerAction(StrEnum):
    """What can be asked of the breaker (the columns of the transition table)."""

    REDUCE = "reduce"
    HALT = "halt"
    RESTORE = "restore"
    RESET = "reset"


TRANSITIONS: Mapping[tuple[BreakerState, BreakerAction], BreakerState] = {
    (BreakerState.ACTIVE, BreakerAction.REDUCE): BreakerState.REDUCING,
    (BreakerState.ACTIVE, BreakerAction.HALT): BreakerState.HALTED,
    (BreakerState.REDUCING, BreakerAction.HALT): BreakerState.HALTED,
    (BreakerState.REDUCING, BreakerAction.RESTORE): BreakerState.ACTIVE,
    (BreakerState.REDUCING, BreakerAction.RESET): BreakerState.ACTIVE,
    (BreakerState.HALTED, BreakerAction.RESET): BreakerState.ACTIVE,
}
"""(state, action) -> new state. Pairs not listed leave the state unchanged."""


class ResetRefusedError(InputError):
    """A manual reset was refused: before the cooldown deadline, or without actor and reason.

    Attributes:
        not_before: The earliest UTC time a reset will be accepted, when that is the reason.
    """

    def __init__(self, message: str, *, not_before: datetime | None = None) -> None:
        self.not_before = not_before
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class OrderDecision:
    """The breaker's answer for one intended order. True when allowed.

    Attributes:
        allowed: Whether the order may be sent.
        reason: Why (always set, also when allowed).
        state: The breaker state the decision was made in.
    """

    allowed: bool
    reason: str
    state: BreakerState

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """One state change (or refused reset), as logged.

    Attributes:
        sequence: 1, 2, 3, ... across restarts.
        time: When it happened (UTC).
        event: ``"transition"``, ``"reset_refused"`` or ``"state_file_unreadable"``.
        action: What was asked (:class:`BreakerAction` value, or ``"load"``).
        from_state: State before.
        to_state: State after.
        reason: Why, in words.
        metric: The metric that caused it (``"memory"``, ``"cpu"``, ``"latency"``), if any.
        value: The metric's value, in ``unit``.
        threshold: The level it crossed, in ``unit``.
        unit: ``"pct"`` or ``"ms"`` (or ``None``).
        actor: Who: ``"resource_monitor"``, a person's name, ``"system"``.
        tripped_at: When the current halt began (kept unchanged until reset).
        reset_not_before: The cooldown deadline of the current halt.
    """

    sequence: int
    time: datetime
    event: str
    action: str
    from_state: BreakerState
    to_state: BreakerState
    reason: str
    metric: str | None
    value: float | None
    threshold: float | None
    unit: str | None
    actor: str
    tripped_at: datetime | None
    reset_not_before: datetime | None

    def to_record(self) -> dict[str, Any]:
        """Return the event as one JSON Lines record (times as ISO 8601 UTC)."""
        return {
            "sequence": self.sequence,
            "time": format_utc(self.time),
            "event": self.event,
            "action": self.action,
            "from_state": self.from_state.value,
            "to_state": self.to_state.value,
            "reason": self.reason,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "actor": self.actor,
            "tripped_at": _utc_text(self.tripped_at),
            "reset_not_before": _utc_text(self.reset_not_before),
        }


@dataclass(frozen=True, slots=True)
class BreakerStatus:
    """A consistent snapshot of the breaker: what its state file holds, and any load error.

    The breaker keeps its state as one of these and replaces it on every change, so a reader
    never sees half a transition.

    Attributes:
        state: Current state.
        since: When it entered that state (``None`` if never changed).
        tripped_at: When the current REDUCING/HALTED episode began (``None`` when ACTIVE).
        reason: Why it is in this state.
        actor: Who put it there.
        metric: The metric that tripped it, if any.
        value: Its value then.
        threshold: The level it crossed.
        unit: Unit of ``value`` and ``threshold``.
        reset_not_before: Earliest manual reset (HALTED only).
        sequence: Sequence number of the last event.
        load_error: Why the state file could not be read at start-up, if it could not.
    """

    state: BreakerState
    since: datetime | None = None
    tripped_at: datetime | None = None
    reason: str = "not tripped"
    actor: str | None = None
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    unit: str | None = None
    reset_not_before: datetime | None = None
    sequence: int = 0
    load_error: str | None = None

    def to_record(self) -> dict[str, Any]:
        """Return the fields the state file stores (times as ISO 8601 UTC; no ``load_error``)."""
        return {
            "state": self.state.value,
            "since": _utc_text(self.since),
            "tripped_at": _utc_text(self.tripped_at),
            "reason": self.reason,
            "actor": self.actor,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "unit": self.unit,
            "reset_not_before": _utc_text(self.reset_not_before),
            "sequence": self.sequence,
        }


Listener = Callable[[BreakerEvent], None]


class CircuitBreaker:
    """A persisted, audited, thread-safe trading circuit breaker.

    Args:
        state_path: The state file (JSON); ``None`` keeps state in memory only (tests,
            backtests: a restart then starts ACTIVE).
        log_path: The event log (JSON Lines); ``None`` logs events only through ``logging``.
        clock: Wall clock for event times and the cooldown (default: the system's).
        reset_cooldown_seconds: After a halt, a manual reset is refused for this long.
    """

    def __init__(
        self,
        state_path: str | os.PathLike[str] | None = "circuit_breaker_state.json",
        log_path: str | os.PathLike[str] | None = "circuit_breaker_log.json",
        *,
        clock: Clock | None = None,
        reset_cooldown_seconds: float = 300.0,
    ) -> None:
        if reset_cooldown_seconds < 0:
            msg = f"reset_cooldown_seconds must be >= 0, got {reset_cooldown_seconds}"
            raise ValueError(msg)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self.state_path = Path(state_path) if state_path is not None else None
        self.log_path = Path(log_path) if log_path is not None else None
        self.reset_cooldown = timedelta(seconds=reset_cooldown_seconds)
        self._status = BreakerStatus(BreakerState.ACTIVE)  # replaced whole on every change
        self._writer = self._open_log()
        self._load()

    # ----------------------------------------------------------------------------- reading
    @property
    def state(self) -> BreakerState:
        """Return the current state."""
        return self._status.state

    @property
    def tripped_at(self) -> datetime | None:
        """Return when the current REDUCING/HALTED episode began (``None`` when ACTIVE)."""
        return self._status.tripped_at

    @property
    def reset_not_before(self) -> datetime | None:
        """Return the earliest time a manual reset is accepted (``None``: any time)."""
        return self._status.reset_not_before

    @property
    def load_error(self) -> str | None:
        """Return why the state file could not be read at start-up (``None`` if it could)."""
        return self._status.load_error

    def status(self) -> BreakerStatus:
        """Return a consistent snapshot of the breaker."""
        return self._status

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after every event (from whichever thread caused it).

        A listener that raises is logged and otherwise ignored.
        """
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        """Stop calling ``listener`` (no error if it was not registered)."""
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # ------------------------------------------------------------------------------ orders
    def check_order(
        self, quantity: float = 0.0, *, position: float = 0.0, cancel: bool = False
    ) -> OrderDecision:
        """Decide whether an intended order may be sent; never raises.

        Args:
            quantity: Signed order quantity (positive buys, negative sells).
            position: Signed current position in the same security.
            cancel: The order cancels an open order (always allowed).

        Returns:
            ACTIVE allows everything; REDUCING allows cancels and orders that move the
            position toward zero without crossing it; HALTED allows cancels only.
        """
        status = self._status
        state = status.state
        if cancel:
            return OrderDecision(True, f"cancels are always allowed ({state.value})", state)
        if state is BreakerState.ACTIVE:
            return OrderDecision(True, "trading is active", state)
        if state is BreakerState.HALTED:
            return OrderDecision(
                False,
                f"trading is HALTED ({status.reason}); only cancels are allowed until a reset",
                state,
            )
        reduces = position != 0 and quantity != 0 and (quantity > 0) != (position > 0)
        if reduces and abs(quantity) <= abs(position):
            return OrderDecision(
                True, f"REDUCING: order {quantity:+g} reduces position {position:+g}", state
            )
        return OrderDecision(
            False,
            f"REDUCING ({status.reason}): only orders that reduce exposure are allowed; "
            f"order {quantity:+g} on position {position:+g} would not",
            state,
        )

    # ------------------------------------------------------------------------- transitions
    def halt_all_trading(
        self,
        reason: str,
        *,
        metric: str | None = None,
        value: float | None = None,
        threshold: float | None = None,
        unit: str | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> BreakerState:
        """Halt: no new orders until a manual reset (cancels stay allowed). Latches.

        Returns the state afterwards (HALTED). Never raises; a failure to persist is logged.
        """
        return self._apply(BreakerAction.HALT, reason, actor, metric, value, threshold, unit)

    def reduce_exposure_only(
        self,
        reason: str,
        *,
        metric: str | None = None,
        value: float | None = None,
        threshold: float | None = None,
        unit: str | None = None,
        actor: str = DEFAULT_ACTOR,
    ) -> BreakerState:
        """Move ACTIVE to REDUCING (only exposure-reducing orders); no effect when HALTED."""
        return self._apply(BreakerAction.REDUCE, reason, actor, metric, value, threshold, unit)

    def restore(self, reason: str, *, actor: str = DEFAULT_ACTOR) -> BreakerState:
        """Move REDUCING back to ACTIVE (the warning cleared). Does nothing to a HALTED breaker."""
        return self._apply(BreakerAction.RESTORE, reason, actor)

    def reset(self, actor: str, reason: str) -> BreakerState:
        """Manually resume trading (HALTED or REDUCING to ACTIVE); audited.

        Raises:
            ResetRefusedError: ``actor`` or ``reason`` is empty, or the breaker is HALTED and
                the cooldown deadline (:attr:`reset_not_before`) has not passed. A refused
                reset is logged and recorded as a ``reset_refused`` event.
        """
        if not actor.strip() or not reason.strip():
            msg = "a reset needs the name of the person resetting and the reason"
            raise ResetRefusedError(msg)
        with self._lock:
            now = self._clock.now()
            status = self._status
            deadline = status.reset_not_before
            if status.state is not BreakerState.HALTED or deadline is None or now >= deadline:
                return self._apply(BreakerAction.RESET, reason, actor)
            wait = (deadline - now).total_seconds()
            msg = (
                f"reset refused: the breaker halted at {format_utc(status.tripped_at or now)} "
                f"may not be reset before {format_utc(deadline)} ({wait:.0f} s from now)"
            )
            self._status = replace(status, sequence=status.sequence + 1)
            self._persist()  # the state file holds the last sequence number
            event = self._record(
                "reset_refused", BreakerAction.RESET, status.state, now, f"{msg}; asked: {reason}",
                actor,
            )  # fmt: skip
            logger.warning("circuit breaker: %s (asked by %s: %s)", msg, actor, reason)
        self._notify(event)
        raise ResetRefusedError(msg, not_before=deadline)

    def _apply(
        self,
        action: BreakerAction,
        reason: str,
        actor: str,
        metric: str | None = None,
        value: float | None = None,
        threshold: float | None = None,
        unit: str | None = None,
    ) -> BreakerState:
        with self._lock:
            before = self._status
            after = TRANSITIONS.get((before.state, action))
            if after is None:
                logger.debug(
                    "circuit breaker: %s ignored in state %s", action.value, before.state.value
                )
                return before.state
            now = self._clock.now()
            # Each transition ends an episode (to ACTIVE), starts one (from ACTIVE) or escalates
            # it to HALTED: the trip time is this transition's; only a halt has a cooldown.
            halted = after is BreakerState.HALTED
            self._status = BreakerStatus(
                after, since=now, tripped_at=None if after is BreakerState.ACTIVE else now,
                reason=reason, actor=actor, metric=metric, value=value, threshold=threshold,
                unit=unit, reset_not_before=now + self.reset_cooldown if halted else None,
                sequence=before.sequence + 1, load_error=before.load_error,
            )  # fmt: skip
            self._persist()  # before the log: a crash may lose the line, never the halt
            event = self._record(
                "transition", action, before.state, now, reason, actor, metric, value, threshold,
                unit,
            )  # fmt: skip
            logger.log(
                logging.CRITICAL if halted else logging.WARNING,
                "circuit breaker %s -> %s by %s: %s",
                before.state.value,
                after.value,
                actor,
                reason,
            )
        self._notify(event)
        return after

    def _record(  # the caller has already advanced the sequence and persisted the state
        self,
        kind: str,
        action: BreakerAction | str,
        before: BreakerState,
        now: datetime,
        reason: str,
        actor: str,
        metric: str | None = None,
        value: float | None = None,
        threshold: float | None = None,
        unit: str | None = None,
    ) -> BreakerEvent:
        status = self._status
        event = BreakerEvent(
            sequence=status.sequence,
            time=now,
            event=kind,
            action=str(action),
            from_state=before,
            to_state=status.state,
            reason=reason,
            metric=metric,
            value=value,
            threshold=threshold,
            unit=unit,
            actor=actor,
            tripped_at=status.tripped_at,
            reset_not_before=status.reset_not_before,
        )
        if self._writer is not None:
            try:
                self._writer.write(event.to_record())
            except (OSError, ValueError, TypeError) as error:
                logger.error(  # noqa: TRY400 (one clear line; no traceback wanted)
                    "circuit breaker: cannot append to %s: %s", self.log_path, error
                )
        return event

    def _notify(self, event: BreakerEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                logger.exception("circuit breaker: a listener failed on event %d", event.sequence)

    # ------------------------------------------------------------------------- persistence
    def _open_log(self) -> JsonLinesWriter | None:
        if self.log_path is None:
            return None
        try:
            return JsonLinesWriter(self.log_path, fsync=True)
        except OSError as error:
            logger.error(  # noqa: TRY400 (one clear line; no traceback wanted)
                "circuit breaker: cannot open event log %s (%s); events go to the application "
                "log only",
                self.log_path,
                error,
            )
            return None

    def _persist(self) -> None:
        if self.state_path is None:
            return
        record = {"format": STATE_FORMAT, **self._status.to_record()}
        try:
            write_atomically(self.state_path, json.dumps(record, indent=2) + "\n")
        except OSError as error:
            logger.error(  # noqa: TRY400 (one clear line; no traceback wanted)
                "circuit breaker: cannot save state to %s (%s); state %s holds in memory only",
                self.state_path,
                error,
                self._status.state.value,
            )

    def _load(self) -> None:
        if self.state_path is None:
            return
        try:
            loaded = _read_state(self.state_path)
        except _UnreadableStateError as error:
            self._fail_closed(self.state_path, str(error))
            return
        last = _last_sequence(self.log_path)
        if loaded is None:
            self._status = replace(self._status, sequence=last)
            return
        self._status = replace(loaded, sequence=max(loaded.sequence, last))
        if loaded.state is not BreakerState.ACTIVE:
            logger.warning(
                "circuit breaker: restarted %s (tripped at %s by %s: %s)",
                loaded.state.value,
                _utc_text(loaded.tripped_at),
                loaded.actor,
                loaded.reason,
            )

    def _fail_closed(self, state_path: Path, problem: str) -> None:
        now = self._clock.now()
        kept = state_path.with_name(f"{state_path.name}.corrupt-{now.strftime('%Y%m%dT%H%M%SZ')}")
        try:
            state_path.replace(kept)
            where = f"kept as {kept}"
        except OSError as error:
            where = f"could not be moved aside ({error})"
        message = (
            f"circuit breaker state file {state_path} is unreadable: {problem}; "
            f"failing closed: trading HALTED until a manual reset (the bad file {where})"
        )
        logger.error(message)
        reason = f"state file unreadable: {problem}"
        # No reset_not_before: the cooldown is for metrics to settle; nothing to wait for.
        self._status = BreakerStatus(
            BreakerState.HALTED,
            since=now,
            tripped_at=now,
            reason=reason,
            actor=DEFAULT_ACTOR,
            sequence=_last_sequence(self.log_path) + 1,
            load_error=message,
        )
        self._persist()
        event = self._record(
            "state_file_unreadable", "load", BreakerState.ACTIVE, now, reason, DEFAULT_ACTOR
        )
        self._notify(event)


def read_state_file(state_path: str | os.PathLike[str]) -> BreakerStatus | None:
    """Return the status a breaker starting on ``state_path`` would have; change nothing.

    Unlike constructing a :class:`CircuitBreaker`, this writes nothing, moves no corrupt file
    aside and logs nothing, so a dashboard or a status command may call it whenever it likes.

    Returns:
        ``None`` when the file does not exist (a breaker would start ACTIVE). For a file that
        cannot be read or parsed, a HALTED status whose ``load_error`` says why: a breaker
        starting on it fails closed.
    """
    path = Path(state_path)
    try:
        return _read_state(path)
    except _UnreadableStateError as error:
        problem = str(error)
    return BreakerStatus(
        BreakerState.HALTED,
        reason=f"state file unreadable: {problem}",
        load_error=(
            f"circuit breaker state file {path} is unreadable: {problem}; a breaker starting on "
            "it fails closed (HALTED until a manual reset)"
        ),
    )


class _UnreadableStateError(Exception):
    """The state file exists but cannot be read or parsed; the message says why."""


def _read_state(path: Path) -> BreakerStatus | None:
    """Return the status stored in ``path``, or ``None`` when there is no such file.

    Raises:
        _UnreadableStateError: The file cannot be read or is not a valid breaker state.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        msg = f"cannot read it: {error}"
        raise _UnreadableStateError(msg) from error
    try:
        return _status_from_record(json.loads(text))
    except (ValueError, TypeError, KeyError) as error:
        msg = f"it is not a valid breaker state ({error})"
        raise _UnreadableStateError(msg) from error


def _status_from_record(data: Any) -> BreakerStatus:
    """Parse the JSON of a state file; anything invalid raises, so nothing half-loads.

    Raises:
        ValueError, TypeError, KeyError: Not a breaker state this version wrote.
    """
    if not isinstance(data, dict):
        msg = "not a JSON object"
        raise TypeError(msg)
    if data.get("format") != STATE_FORMAT:
        msg = f"unknown format {data.get('format')!r}"
        raise ValueError(msg)

    def when(key: str) -> datetime | None:
        raw = data.get(key)
        if raw is None:
            return None
        if not isinstance(raw, str):
            msg = f"{key} is not a timestamp"
            raise TypeError(msg)
        return parse_utc(raw)

    def number(key: str) -> float | None:
        raw = data.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            msg = f"{key} is not a number"
            raise TypeError(msg)
        return float(raw)

    def text(key: str) -> str | None:
        raw = data.get(key)
        if raw is not None and not isinstance(raw, str):
            msg = f"{key} is not text"
            raise TypeError(msg)
        return raw

    state = BreakerState(data["state"])
    sequence = data.get("sequence", 0)
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
        msg = "sequence is not a non-negative integer"
        raise ValueError(msg)
    tripped_at = when("tripped_at")
    if state is not BreakerState.ACTIVE and tripped_at is None:
        msg = f"state {state.value} without tripped_at"
        raise ValueError(msg)
    return BreakerStatus(
        state,
        since=when("since"),
        tripped_at=tripped_at,
        reason=text("reason") or "",
        actor=text("actor"),
        metric=text("metric"),
        value=number("value"),
        threshold=number("threshold"),
        unit=text("unit"),
        reset_not_before=when("reset_not_before"),
        sequence=sequence,
    )


def _utc_text(when: datetime | None) -> str | None:
    return format_utc(when) if when is not None else None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old or the new file, never a mix.

    Writes a temporary file in the same folder, ``fsync``s it, ``os.replace``s it over
    ``path`` and ``fsync``s the folder (where the platform allows).

    Raises:
        OSError: Any step failed (the temporary file is removed).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def _last_sequence(log_path: Path | None) -> int:
    """Return the highest sequence number in the last 64 KiB of the event log (0 if none)."""
    if log_path is None:
        return 0
    try:
        with log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            tail = handle.read()
    except OSError:
        return 0
    best = 0
    for line in tail.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            sequence = record.get("sequence")
            if isinstance(sequence, int) and not isinstance(sequence, bool):
                best = max(best, sequence)
    return best


def create_circuit_breaker(
    config: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
) -> CircuitBreaker:
    """Build a breaker from ``monitoring`` settings keys (``breaker_state_path``,
    ``breaker_log_path``, ``reset_cooldown_seconds``); omitted keys take their defaults.

    Raises:
        SettingsError: A key is unknown to the ``monitoring`` section or its value is invalid.
    """
    from utils.settings import MonitoringSettings, section_from_mapping

    monitoring = section_from_mapping(MonitoringSettings, dict(config or {}), where="config")
    return CircuitBreaker(
        state_path=monitoring.breaker_state_path,
        log_path=monitoring.breaker_log_path,
        clock=clock,
        reset_cooldown_seconds=monitoring.reset_cooldown_seconds,
    )
