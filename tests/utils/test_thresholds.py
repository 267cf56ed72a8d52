"""Levels with hysteresis and confirmation: what happens at, above and around a level."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utils.thresholds import LevelTracker, Transition


def tracker(confirm: int = 3, level: float = 80, clear: float = 75) -> LevelTracker:
    return LevelTracker(level=level, clear_level=clear, raise_after=confirm, clear_after=confirm)


def feed(level: LevelTracker, values: Sequence[float | None]) -> list[Transition]:
    return [t for v in values if (t := level.observe(v)) is not None]


def test_one_spike_does_not_raise() -> None:
    assert feed(tracker(), [50, 99, 50, 50]) == []


def test_three_consecutive_samples_raise_on_the_third() -> None:
    level = tracker()

    assert level.observe(85) is None
    assert level.observe(85) is None
    assert level.observe(85) is Transition.RAISED


def test_a_value_exactly_at_the_level_counts_as_over_it() -> None:
    assert feed(tracker(), [80.0, 80.0, 80.0]) == [Transition.RAISED]


def test_a_value_just_below_the_level_breaks_the_run() -> None:
    assert feed(tracker(), [85, 85, 79.99, 85, 85]) == []


def test_between_the_clear_level_and_the_level_nothing_changes() -> None:
    level = tracker()
    feed(level, [90, 90, 90])

    assert feed(level, [76, 79, 75.0, 77, 78, 75.0]) == []
    assert level.active is True


def test_clearing_needs_consecutive_samples_strictly_below_the_clear_level() -> None:
    level = tracker()
    feed(level, [90, 90, 90])

    assert feed(level, [70, 70, 75.0, 70, 70]) == []
    assert level.observe(70) is Transition.CLEARED


def test_a_flapping_series_gives_one_raise_and_one_clear() -> None:
    level = tracker()
    flapping = [79, 81] * 3 + [81, 81, 81] + [78, 82] * 10 + [70, 70, 70] + [79, 81] * 5

    assert feed(level, flapping) == [Transition.RAISED, Transition.CLEARED]


def test_missing_samples_neither_extend_nor_break_a_run() -> None:
    assert feed(tracker(), [85, None, 85, None, None, 85]) == [Transition.RAISED]


def test_confirmation_of_one_raises_on_the_first_sample() -> None:
    assert feed(tracker(confirm=1), [80]) == [Transition.RAISED]


def test_a_clear_level_above_the_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="above the level"):
        LevelTracker(level=80, clear_level=81, raise_after=1, clear_after=1)


@given(
    values=st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=100))),
    confirm=st.integers(min_value=1, max_value=5),
)
def test_raises_and_clears_always_alternate_starting_with_a_raise(
    values: list[float | None], confirm: int
) -> None:
    transitions = feed(tracker(confirm=confirm), values)

    expected = [Transition.RAISED, Transition.CLEARED] * len(transitions)
    assert transitions == expected[: len(transitions)]


@given(values=st.lists(st.floats(min_value=0, max_value=79.999), max_size=50))
def test_values_below_the_level_never_raise(values: list[float]) -> None:
    assert feed(tracker(confirm=1), list(values)) == []
