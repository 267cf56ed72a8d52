"""The circuit breaker: transition table, order decisions, latch, audited reset, persistence."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from utils.circuit_breaker import (
    TRANSITIONS,
    BreakerAction,
    BreakerEvent,
    BreakerState,
    CircuitBreaker,
    ResetRefusedError,
    create_circuit_breaker,
)
from utils.clock import ManualClock, parse_utc
from utils.errors import SettingsError
from utils.metrics_log import read_log

ACTIVE, REDUCING, HALTED = BreakerState.ACTIVE, BreakerState.REDUCING, BreakerState.HALTED


def make(tmp_path: Path, clock: ManualClock | None = None, cooldown: float = 300) -> CircuitBreaker:
    return CircuitBreaker(
        state_path=tmp_path / "state.json",
        log_path=tmp_path / "log.json",
        clock=clock or ManualClock(),
        reset_cooldown_seconds=cooldown,
    )


def put_in(breaker: CircuitBreaker, state: BreakerState) -> None:
    if state is REDUCING:
        breaker.reduce_exposure_only("memory high", metric="memory", value=82.0, threshold=80.0)
    elif state is HALTED:
        breaker.halt_all_trading("memory critical", metric="memory", value=91.0, threshold=90.0)


def events(tmp_path: Path) -> list[dict[str, object]]:
    return read_log(tmp_path / "log.json").records


def act(breaker: CircuitBreaker, action: BreakerAction) -> None:
    if action is BreakerAction.REDUCE:
        breaker.reduce_exposure_only("warning", actor="test")
    elif action is BreakerAction.HALT:
        breaker.halt_all_trading("critical", actor="test")
    elif action is BreakerAction.RESTORE:
        breaker.restore("warning cleared", actor="test")
    else:
        breaker.reset("alice", "checked the node")


TABLE = [
    (ACTIVE, BreakerAction.REDUCE, REDUCING),
    (ACTIVE, BreakerAction.HALT, HALTED),
    (ACTIVE, BreakerAction.RESTORE, ACTIVE),
    (ACTIVE, BreakerAction.RESET, ACTIVE),
    (REDUCING, BreakerAction.REDUCE, REDUCING),
    (REDUCING, BreakerAction.HALT, HALTED),
    (REDUCING, BreakerAction.RESTORE, ACTIVE),
    (REDUCING, BreakerAction.RESET, ACTIVE),
    (HALTED, BreakerAction.REDUCE, HALTED),
    (HALTED, BreakerAction.HALT, HALTED),
    (HALTED, BreakerAction.RESTORE, HALTED),
    (HALTED, BreakerAction.RESET, ACTIVE),
]


def test_the_table_covers_every_state_and_action() -> None:
    assert {(s, a) for s, a, _ in TABLE} == {(s, a) for s in BreakerState for a in BreakerAction}
    assert {(s, a): t for s, a, t in TABLE if s is not t} == dict(TRANSITIONS)


@pytest.mark.parametrize(("before", "action", "after"), TABLE, ids=lambda v: str(v))
def test_transition(
    tmp_path: Path, before: BreakerState, action: BreakerAction, after: BreakerState
) -> None:
    breaker = make(tmp_path, cooldown=0)
    put_in(breaker, before)
    logged_before = len(events(tmp_path))

    act(breaker, action)

    assert breaker.state is after
    new_events = events(tmp_path)[logged_before:]
    if before is after:
        assert new_events == []
    else:
        assert [(e["from_state"], e["to_state"], e["action"]) for e in new_events] == [
            (before.value, after.value, action.value)
        ]


def test_state_names_are_the_three_words() -> None:
    assert [s.name for s in BreakerState] == ["ACTIVE", "REDUCING", "HALTED"]


def test_a_transition_event_has_every_field(tmp_path: Path) -> None:
    clock = ManualClock()
    breaker = make(tmp_path, clock)

    breaker.halt_all_trading(
        "Memory usage critical: 91.0%", metric="memory", value=91.0, threshold=90.0, unit="pct",
        actor="resource_monitor",
    )  # fmt: skip

    (event,) = events(tmp_path)
    assert event == {
        "sequence": 1,
        "time": "2025-11-30T14:30:00.000Z",
        "event": "transition",
        "action": "halt",
        "from_state": "ACTIVE",
        "to_state": "HALTED",
        "reason": "Memory usage critical: 91.0%",
        "metric": "memory",
        "value": 91.0,
        "threshold": 90.0,
        "unit": "pct",
        "actor": "resource_monitor",
        "tripped_at": "2025-11-30T14:30:00.000Z",
        "reset_not_before": "2025-11-30T14:35:00.000Z",
    }


def test_the_seed_call_halts_with_just_a_reason(tmp_path: Path) -> None:
    breaker = make(tmp_path)
    memory_pct = 91.23

    breaker.halt_all_trading(f"Memory usage critical: {memory_pct:.1f}%")

    assert breaker.state is HALTED
    assert breaker.status().reason == "Memory usage critical: 91.2%"


@pytest.mark.parametrize("state", list(BreakerState))
def test_cancel_is_allowed_in_every_state(tmp_path: Path, state: BreakerState) -> None:
    breaker = make(tmp_path)
    put_in(breaker, state)

    decision = breaker.check_order(cancel=True)

    assert decision.allowed
    assert decision.state is state


@pytest.mark.parametrize(
    ("state", "quantity", "position", "allowed"),
    [
        (ACTIVE, 10, 0, True),
        (ACTIVE, -10, 5, True),
        (REDUCING, -3, 5, True),  # sell part of a long
        (REDUCING, -5, 5, True),  # close a long
        (REDUCING, -6, 5, False),  # would cross to short
        (REDUCING, 1, 5, False),  # adds to a long
        (REDUCING, 2, -5, True),  # buy back part of a short
        (REDUCING, 1, 0, False),  # opens a position
        (REDUCING, 0, 5, False),  # not an order
        (HALTED, -3, 5, False),  # even reducing: halted means no new orders
        (HALTED, 1, 0, False),
    ],
)
def test_order_decisions(
    tmp_path: Path, state: BreakerState, quantity: float, position: float, allowed: bool
) -> None:
    breaker = make(tmp_path)
    put_in(breaker, state)

    decision = breaker.check_order(quantity, position=position)

    assert decision.allowed is allowed
    assert bool(decision) is allowed
    assert decision.reason


def test_a_denied_order_says_why_and_is_not_an_exception(tmp_path: Path) -> None:
    breaker = make(tmp_path)
    put_in(breaker, HALTED)

    decision = breaker.check_order(10)

    assert not decision.allowed
    assert "HALTED" in decision.reason
    assert "memory critical" in decision.reason
    assert "only cancels" in decision.reason


def test_a_halt_latches_when_the_metric_recovers(tmp_path: Path) -> None:
    breaker = make(tmp_path)
    put_in(breaker, HALTED)

    breaker.restore("memory back to 50%", actor="resource_monitor")

    assert breaker.state is HALTED


def test_reset_is_refused_before_the_cooldown_deadline(tmp_path: Path) -> None:
    clock = ManualClock()
    breaker = make(tmp_path, clock, cooldown=300)
    put_in(breaker, HALTED)
    clock.advance(299)

    with pytest.raises(ResetRefusedError, match="may not be reset before") as refused:
        breaker.reset("alice", "looks fine")

    assert breaker.state is HALTED
    assert refused.value.not_before == breaker.tripped_at + timedelta(seconds=300)  # type: ignore[operator]
    last = events(tmp_path)[-1]
    assert (last["event"], last["actor"], last["to_state"]) == ("reset_refused", "alice", "HALTED")


def test_reset_after_the_cooldown_resumes_trading_and_is_audited(tmp_path: Path) -> None:
    clock = ManualClock()
    breaker = make(tmp_path, clock, cooldown=300)
    put_in(breaker, HALTED)
    clock.advance(300)

    breaker.reset("alice", "moved to an L8-16-GPU node")

    assert breaker.state is ACTIVE
    assert breaker.tripped_at is None
    last = events(tmp_path)[-1]
    assert (last["action"], last["actor"], last["reason"]) == (
        "reset",
        "alice",
        "moved to an L8-16-GPU node",
    )


@pytest.mark.parametrize(("actor", "reason"), [("", "why"), ("alice", "  ")])
def test_reset_needs_an_actor_and_a_reason(tmp_path: Path, actor: str, reason: str) -> None:
    breaker = make(tmp_path, cooldown=0)
    put_in(breaker, HALTED)

    with pytest.raises(ResetRefusedError, match="name of the person"):
        breaker.reset(actor, reason)
    assert breaker.state is HALTED


def test_the_cooldown_deadline_survives_a_restart(tmp_path: Path) -> None:
    clock = ManualClock()
    put_in(make(tmp_path, clock, cooldown=600), HALTED)
    clock.advance(300)

    restarted = make(tmp_path, clock, cooldown=0)  # a new process with another setting

    with pytest.raises(ResetRefusedError):
        restarted.reset("alice", "restarted")
    clock.advance(300)
    restarted.reset("alice", "cooldown over")
    assert restarted.state is ACTIVE


def test_a_restarted_process_comes_back_halted_with_the_original_trip_time(
    tmp_path: Path,
) -> None:
    clock = ManualClock()
    first = make(tmp_path, clock)
    put_in(first, HALTED)
    tripped = first.tripped_at
    clock.advance(3600)

    second = make(tmp_path, clock)

    assert second.state is HALTED
    assert second.tripped_at == tripped
    assert second.status().reason == "memory critical"
    assert json.loads((tmp_path / "state.json").read_text())["tripped_at"] == (
        "2025-11-30T14:30:00.000Z"
    )


def test_a_restarted_process_comes_back_reducing(tmp_path: Path) -> None:
    put_in(make(tmp_path), REDUCING)

    assert make(tmp_path).state is REDUCING


def test_without_a_state_file_the_breaker_starts_active(tmp_path: Path) -> None:
    assert make(tmp_path).state is ACTIVE


def test_sequence_numbers_continue_across_restarts(tmp_path: Path) -> None:
    clock = ManualClock()
    first = make(tmp_path, clock, cooldown=0)
    put_in(first, HALTED)
    first.reset("alice", "ok")

    second = make(tmp_path, clock, cooldown=0)
    put_in(second, REDUCING)

    assert [e["sequence"] for e in events(tmp_path)] == [1, 2, 3]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"format": 1, "state": "PAUSED", "sequence": 1}',
        '{"format": 1, "state": "HALTED", "sequence": 1}',
        '{"format": 1, "state": "HALTED", "sequence": 1, "tripped_at": "yesterday"}',
        '{"format": 99, "state": "ACTIVE"}',
        "",
    ],
    ids=["garbage", "list", "unknown-state", "no-trip-time", "bad-time", "format", "empty"],
)
def test_a_corrupt_state_file_fails_closed(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "state.json").write_text(content)

    with caplog.at_level(logging.ERROR):
        breaker = make(tmp_path)

    assert breaker.state is HALTED
    assert breaker.load_error is not None
    assert "unreadable" in caplog.text
    assert str(tmp_path / "state.json") in caplog.text
    assert breaker.check_order(1).allowed is False
    assert list(tmp_path.glob("state.json.corrupt-*"))
    assert events(tmp_path)[-1]["event"] == "state_file_unreadable"


def test_after_a_corrupt_file_the_halt_itself_is_persisted(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    make(tmp_path)

    assert make(tmp_path).state is HALTED


def test_state_is_replaced_atomically_and_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    breaker = make(tmp_path)

    put_in(breaker, HALTED)

    assert json.loads((tmp_path / "state.json").read_text())["state"] == "HALTED"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert len(synced) >= 3  # temp file, its folder, the event log


def test_a_failed_state_write_keeps_the_old_file_and_the_new_state_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = make(tmp_path)
    put_in(breaker, REDUCING)
    before = (tmp_path / "state.json").read_text()

    def disk_full(self: Path, target: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", disk_full)
    with caplog.at_level(logging.ERROR):
        put_in(breaker, HALTED)

    assert breaker.state is HALTED
    assert (tmp_path / "state.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert "cannot save state" in caplog.text


def test_transitions_are_logged_through_logging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = make(tmp_path)

    with caplog.at_level(logging.WARNING, logger="utils.circuit_breaker"):
        put_in(breaker, HALTED)

    (record,) = caplog.records
    assert record.levelno == logging.CRITICAL
    assert "ACTIVE -> HALTED" in record.getMessage()


def test_listeners_get_every_event_and_a_failing_one_does_no_harm(tmp_path: Path) -> None:
    breaker = make(tmp_path, cooldown=0)
    got: list[BreakerEvent] = []

    def broken(event: BreakerEvent) -> None:
        raise RuntimeError

    breaker.add_listener(broken)
    breaker.add_listener(got.append)
    put_in(breaker, HALTED)
    breaker.reset("alice", "ok")

    assert [(e.from_state, e.to_state) for e in got] == [(ACTIVE, HALTED), (HALTED, ACTIVE)]


def test_an_escalation_to_halted_starts_the_cooldown_then(tmp_path: Path) -> None:
    clock = ManualClock()
    breaker = make(tmp_path, clock, cooldown=60)
    put_in(breaker, REDUCING)
    clock.advance(120)

    put_in(breaker, HALTED)

    assert breaker.reset_not_before == clock.now() + timedelta(seconds=60)


def test_eight_threads_tripping_and_checking_leave_a_consistent_state_and_log(
    tmp_path: Path,
) -> None:
    breaker = make(tmp_path, cooldown=0)
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            start.wait()
            for round_ in range(40):
                breaker.check_order(1, position=2)
                if (index + round_) % 4 == 0:
                    breaker.halt_all_trading(f"thread {index}")
                elif (index + round_) % 4 == 1:
                    breaker.reduce_exposure_only(f"thread {index}")
                elif (index + round_) % 4 == 2:
                    breaker.restore(f"thread {index}")
                else:
                    breaker.reset(f"thread {index}", "test")
        except BaseException as error:  # collected; the test asserts none
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    logged = read_log(tmp_path / "log.json")
    assert logged.corrupt == []
    assert not logged.torn_tail
    sequences = [e["sequence"] for e in logged.records]
    assert sequences == list(range(1, len(sequences) + 1))
    for earlier, later in zip(logged.records, logged.records[1:], strict=False):
        assert later["from_state"] == earlier["to_state"]
    assert logged.records[-1]["to_state"] == breaker.state.value
    saved = json.loads((tmp_path / "state.json").read_text())
    assert (saved["state"], saved["sequence"]) == (breaker.state.value, sequences[-1])


def test_create_circuit_breaker_reads_monitoring_keys(tmp_path: Path) -> None:
    breaker = create_circuit_breaker(
        {
            "breaker_state_path": str(tmp_path / "s.json"),
            "breaker_log_path": str(tmp_path / "l.json"),
            "reset_cooldown_seconds": 10,
        }
    )

    assert breaker.reset_cooldown == timedelta(seconds=10)
    assert breaker.state_path == tmp_path / "s.json"


def test_create_circuit_breaker_names_a_bad_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"config\.reset_cooldown_seconds"):
        create_circuit_breaker({"reset_cooldown_seconds": -1})


def test_an_unwritable_event_log_does_not_stop_the_breaker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "log.json").mkdir()  # a folder where the log file should be

    with caplog.at_level(logging.ERROR):
        breaker = make(tmp_path)
        put_in(breaker, HALTED)

    assert breaker.state is HALTED
    assert "cannot open event log" in caplog.text


def test_times_in_the_state_file_are_utc(tmp_path: Path) -> None:
    put_in(make(tmp_path), HALTED)
    saved = json.loads((tmp_path / "state.json").read_text())

    assert parse_utc(saved["reset_not_before"]) - parse_utc(saved["tripped_at"]) == timedelta(
        seconds=300
    )
