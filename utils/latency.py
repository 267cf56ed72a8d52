"""Broker round-trip latency: a window of recent samples with exact percentiles.

Percentiles are exact (nearest rank over the samples in the window, no interpolation and no
sketch): the p95 is a round trip that really happened. The window keeps the last ``window``
samples both in arrival order (to evict the oldest) and sorted (so a percentile is one index
look-up and recording is one binary search plus one insertion).

A timeout is a sample at the timeout value, not a gap: leaving it out would make a broker that
stops answering look fast. Any round trip at or above the timeout counts as one.

Standard library only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LatencySnapshot:
    """The window's state at one moment.

    Attributes:
        p50_ms: Median round trip, ``None`` without samples.
        p95_ms: 95th percentile, ``None`` without samples.
        p99_ms: 99th percentile, ``None`` without samples.
        samples: Round trips in the window.
        min_samples: Samples needed before the percentiles may raise alerts.
        timeouts_in_window: Timeouts among the samples in the window.
        timeouts_total: Timeouts since the monitor started (a counter).
    """

    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    samples: int
    min_samples: int
    timeouts_in_window: int
    timeouts_total: int

    @property
    def enough_samples(self) -> bool:
        """Return whether there are enough samples for the percentiles to alert."""
        return self.samples >= self.min_samples


def nearest_rank(sorted_values: list[float], pct: float) -> float:
    """Return the ``pct`` percentile of ascending ``sorted_values`` by the nearest-rank method.

    The smallest value such that at least ``pct`` % of the values are at or below it
    (rank ``ceil(pct / 100 * n)``, 1-based).

    Raises:
        ValueError: ``sorted_values`` is empty or ``pct`` is outside (0, 100].
    """
    if not sorted_values:
        msg = "no values"
        raise ValueError(msg)
    if not 0 < pct <= 100:
        msg = f"percentile must be in (0, 100], got {pct}"
        raise ValueError(msg)
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class LatencyWindow:
    """The last ``window`` round trips, thread-safe (the trading thread records, the sampler reads).

    Args:
        window: How many samples to keep.
        timeout_ms: A round trip at or above this is a timeout and is kept at this value.
        min_samples: Percentiles may alert only with at least this many samples.
    """

    def __init__(self, *, window: int, timeout_ms: float, min_samples: int) -> None:
        if window < 1:
            msg = f"window must be at least 1, got {window}"
            raise ValueError(msg)
        if not timeout_ms > 0:
            msg = f"timeout_ms must be positive, got {timeout_ms}"
            raise ValueError(msg)
        self.window = window
        self.timeout_ms = float(timeout_ms)
        self.min_samples = min_samples
        self._lock = threading.Lock()
        self._arrival: deque[float] = deque()
        self._sorted: list[float] = []
        self._timeouts_total = 0
        self._snapshot: LatencySnapshot | None = None

    def record(self, latency_ms: float, *, timed_out: bool = False) -> None:
        """Record one round trip of ``latency_ms`` (a timeout if ``timed_out`` or too slow).

        Raises:
            ValueError: ``latency_ms`` is negative or not a finite number.
        """
        value = float(latency_ms)
        if not math.isfinite(value) or value < 0:
            msg = f"latency must be a finite number of ms >= 0, got {latency_ms!r}"
            raise ValueError(msg)
        if timed_out or value >= self.timeout_ms:
            value = self.timeout_ms
            timed_out = True
        with self._lock:
            if len(self._arrival) >= self.window:
                oldest = self._arrival.popleft()
                del self._sorted[bisect.bisect_left(self._sorted, oldest)]
            self._arrival.append(value)
            bisect.insort(self._sorted, value)
            if timed_out:
                self._timeouts_total += 1
            self._snapshot = None

    def record_timeout(self) -> None:
        """Record a round trip that timed out (kept at the timeout value)."""
        self.record(self.timeout_ms, timed_out=True)

    def snapshot(self) -> LatencySnapshot:
        """Return the percentiles and counts now (cached until the next record)."""
        with self._lock:
            if self._snapshot is None:
                values = self._sorted
                n = len(values)
                self._snapshot = LatencySnapshot(
                    p50_ms=nearest_rank(values, 50) if n else None,
                    p95_ms=nearest_rank(values, 95) if n else None,
                    p99_ms=nearest_rank(values, 99) if n else None,
                    samples=n,
                    min_samples=self.min_samples,
                    timeouts_in_window=n - bisect.bisect_left(values, self.timeout_ms),
                    timeouts_total=self._timeouts_total,
                )
            return self._snapshot
