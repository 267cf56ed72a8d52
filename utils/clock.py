"""Clocks: the monotonic clock that measures intervals and the UTC wall clock that dates events.

The resource monitor, the circuit breaker and the latency timer take a :class:`Clock` so that
thresholds, confirmation, staleness and cooldowns are tested by advancing a
:class:`ManualClock` instead of sleeping.

Standard library only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the runtime asks of a clock."""

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never goes backwards (for intervals)."""
        ...

    def now(self) -> datetime:
        """Return the current wall time as a timezone-aware UTC datetime (for dating events)."""
        ...


class SystemClock:
    """The real clocks: :func:`time.monotonic` and the system's UTC wall time."""

    def monotonic(self) -> float:
        """Return :func:`time.monotonic`."""
        return time.monotonic()

    def now(self) -> datetime:
        """Return the current UTC wall time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and simulations.

    Both clocks advance together by :meth:`advance`; :meth:`set_now` moves only the wall clock
    (as when the system time is corrected), which must not disturb intervals.

    Args:
        start: The initial wall time (must be timezone-aware).
        monotonic_start: The initial monotonic reading.
    """

    def __init__(
        self,
        start: datetime = datetime(2025, 11, 30, 14, 30, tzinfo=UTC),
        monotonic_start: float = 1000.0,
    ) -> None:
        if start.tzinfo is None:
            msg = "ManualClock start must be timezone-aware"
            raise ValueError(msg)
        self._lock = threading.Lock()
        self._now = start.astimezone(UTC)
        self._monotonic = monotonic_start

    def monotonic(self) -> float:
        """Return the current monotonic reading."""
        with self._lock:
            return self._monotonic

    def now(self) -> datetime:
        """Return the current wall time (UTC)."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            msg = f"a clock cannot go backwards ({seconds} s)"
            raise ValueError(msg)
        with self._lock:
            self._monotonic += seconds
            self._now += timedelta(seconds=seconds)

    def set_now(self, when: datetime) -> None:
        """Set the wall clock only (the monotonic clock is unaffected)."""
        if when.tzinfo is None:
            msg = "wall time must be timezone-aware"
            raise ValueError(msg)
        with self._lock:
            self._now = when.astimezone(UTC)


def format_utc(when: datetime) -> str:
    """Return ``when`` as ISO 8601 UTC with milliseconds and a ``Z`` suffix."""
    text = when.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def parse_utc(text: str) -> datetime:
    """Parse a timestamp written by :func:`format_utc` (or any ISO 8601 with an offset).

    Raises:
        ValueError: Not ISO 8601, or without a UTC offset.
    """
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        msg = f"timestamp {text!r} has no UTC offset"
        raise ValueError(msg)
    return value.astimezone(UTC)
