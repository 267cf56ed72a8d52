"""Broker latency window: exact percentiles, timeouts as samples, a minimum sample count."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utils.latency import LatencyWindow, nearest_rank


def reference_percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def test_percentiles_of_one_to_a_hundred_are_the_nearest_ranks() -> None:
    window = LatencyWindow(window=100, timeout_ms=10_000, min_samples=1)
    for value in range(100, 0, -1):
        window.record(float(value))

    snapshot = window.snapshot()

    assert (snapshot.p50_ms, snapshot.p95_ms, snapshot.p99_ms) == (50.0, 95.0, 99.0)


@given(
    values=st.lists(st.floats(min_value=0, max_value=4_999, allow_nan=False), min_size=1),
    size=st.integers(min_value=1, max_value=50),
)
def test_percentiles_are_exact_over_the_last_window_samples(values: list[float], size: int) -> None:
    window = LatencyWindow(window=size, timeout_ms=5_000, min_samples=1)
    for value in values:
        window.record(value)

    snapshot = window.snapshot()
    kept = values[-size:]

    assert snapshot.samples == len(kept)
    assert snapshot.p50_ms == reference_percentile(kept, 50)
    assert snapshot.p95_ms == reference_percentile(kept, 95)
    assert snapshot.p99_ms == reference_percentile(kept, 99)


def test_a_timeout_is_a_sample_at_the_timeout_value() -> None:
    window = LatencyWindow(window=10, timeout_ms=5_000, min_samples=1)
    window.record(100)
    window.record_timeout()

    snapshot = window.snapshot()

    assert snapshot.samples == 2
    assert snapshot.p99_ms == 5_000
    assert snapshot.timeouts_total == 1
    assert snapshot.timeouts_in_window == 1


def test_a_round_trip_slower_than_the_timeout_counts_as_one_and_is_capped() -> None:
    window = LatencyWindow(window=10, timeout_ms=5_000, min_samples=1)

    window.record(12_000)

    snapshot = window.snapshot()
    assert snapshot.p50_ms == 5_000
    assert snapshot.timeouts_total == 1


def test_timeouts_total_keeps_counting_after_they_leave_the_window() -> None:
    window = LatencyWindow(window=2, timeout_ms=1_000, min_samples=1)
    window.record_timeout()
    window.record(10)
    window.record(20)

    snapshot = window.snapshot()

    assert snapshot.timeouts_total == 1
    assert snapshot.timeouts_in_window == 0


def test_enough_samples_only_from_the_minimum() -> None:
    window = LatencyWindow(window=100, timeout_ms=5_000, min_samples=3)
    window.record(1)
    window.record(2)
    before = window.snapshot().enough_samples
    window.record(3)

    assert before is False
    assert window.snapshot().enough_samples is True


def test_an_empty_window_has_no_percentiles() -> None:
    snapshot = LatencyWindow(window=10, timeout_ms=5_000, min_samples=1).snapshot()

    assert (snapshot.p50_ms, snapshot.p95_ms, snapshot.p99_ms, snapshot.samples) == (
        None,
        None,
        None,
        0,
    )


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_negative_or_non_finite_latency_is_rejected(bad: float) -> None:
    window = LatencyWindow(window=10, timeout_ms=5_000, min_samples=1)

    with pytest.raises(ValueError, match="finite number"):
        window.record(bad)


def test_nearest_rank_rejects_an_empty_list() -> None:
    with pytest.raises(ValueError, match="no values"):
        nearest_rank([], 50)
