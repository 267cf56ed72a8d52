"""``read_state_file``: what a breaker starting now would be, read without changing anything."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from utils.circuit_breaker import BreakerState, CircuitBreaker, read_state_file
from utils.clock import ManualClock


def test_a_missing_state_file_reads_as_none(tmp_path: Path) -> None:
    assert read_state_file(tmp_path / "state.json") is None


def test_a_halted_breaker_reads_halted_with_its_original_trip(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock()
    path = tmp_path / "state.json"
    CircuitBreaker(path, None, clock=clock).halt_all_trading("memory critical", actor="monitor")
    tripped = clock.now()
    clock.advance(3600)
    caplog.clear()

    with caplog.at_level(logging.DEBUG):
        status = read_state_file(path)

    assert status is not None
    assert (status.state, status.reason, status.actor) == (
        BreakerState.HALTED, "memory critical", "monitor",
    )  # fmt: skip
    assert status.tripped_at == tripped
    assert status.load_error is None
    assert caplog.records == []  # a reader announces nothing: no "restarted HALTED" line


def test_a_corrupt_state_file_reads_halted_and_stays_where_it_is(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format": 1, "state": "HALTED"}')  # HALTED without tripped_at

    status = read_state_file(path)

    assert status is not None
    assert status.state is BreakerState.HALTED
    assert status.load_error is not None
    assert "without tripped_at" in status.load_error
    assert path.read_text() == '{"format": 1, "state": "HALTED"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_reader_agrees_with_a_breaker_starting_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    CircuitBreaker(path, None).reduce_exposure_only("cpu high", actor="resource_monitor")

    read = read_state_file(path)
    started = CircuitBreaker(path, None).status()

    assert read == started
