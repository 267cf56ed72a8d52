"""Clocks: the manual clock tests advance instead of sleeping, and UTC formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from utils.clock import ManualClock, format_utc, parse_utc


def test_advance_moves_both_clocks_together() -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC), monotonic_start=10.0)

    clock.advance(2.5)

    assert clock.monotonic() == 12.5
    assert clock.now() == datetime(2025, 1, 1, 0, 0, 2, 500_000, tzinfo=UTC)


def test_setting_the_wall_clock_leaves_intervals_alone() -> None:
    clock = ManualClock(monotonic_start=10.0)

    clock.set_now(datetime(2030, 1, 1, tzinfo=UTC))

    assert clock.monotonic() == 10.0
    assert clock.now().year == 2030


def test_a_clock_cannot_go_backwards() -> None:
    with pytest.raises(ValueError, match="backwards"):
        ManualClock().advance(-1)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2025, 1, 1))  # noqa: DTZ001 (the point of the test)


def test_format_and_parse_round_trip_in_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    when = datetime(2025, 11, 30, 9, 30, 0, 123_000, tzinfo=eastern)

    text = format_utc(when)

    assert text == "2025-11-30T14:30:00.123Z"
    assert parse_utc(text) == when


def test_parse_refuses_a_time_without_offset() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_utc("2025-11-30T14:30:00")
