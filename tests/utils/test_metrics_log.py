"""JSON Lines metrics log: one write per record, torn-tail repair, rotation, reader, follower."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

import pytest

from utils.metrics_log import (
    JsonLinesFollower,
    JsonLinesWriter,
    backup_path,
    read_log,
    rotated_files,
)


def records(n: int, start: int = 0, pad: int = 0) -> list[dict[str, Any]]:
    return [{"sequence": i, "memory_pct": i / 10, "note": "x" * pad} for i in range(start, n)]


def test_each_record_is_one_utf8_line(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with JsonLinesWriter(path) as writer:
        writer.write({"sequence": 1, "memory_used_source": "cgroup v2 – ünïcode"})
        writer.write({"sequence": 2, "memory_pct": None})

    lines = path.read_bytes().split(b"\n")

    assert lines[-1] == b""
    assert [json.loads(line) for line in lines[:-1]] == [
        {"sequence": 1, "memory_used_source": "cgroup v2 – ünïcode"},
        {"sequence": 2, "memory_pct": None},
    ]


def test_each_record_is_one_write_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = JsonLinesWriter(tmp_path / "m.json")
    calls: list[bytes] = []
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        calls.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", counting_write)
    writer.write({"sequence": 1, "cpu_pct": 12.5})

    assert calls == [b'{"sequence":1,"cpu_pct":12.5}\n']


def test_a_record_is_readable_as_soon_as_write_returns(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    writer = JsonLinesWriter(path)

    writer.write({"sequence": 1})

    assert read_log(path).records == [{"sequence": 1}]


def test_nan_is_refused_rather_than_written_as_invalid_json(tmp_path: Path) -> None:
    writer = JsonLinesWriter(tmp_path / "m.json")

    with pytest.raises(ValueError, match="JSON compliant"):
        writer.write({"memory_pct": math.nan})
    assert (tmp_path / "m.json").read_bytes() == b""


def test_the_writer_cuts_a_torn_last_line_on_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"sequence":1}\n{"sequence":2}\n{"seque')

    with caplog.at_level(logging.WARNING), JsonLinesWriter(path) as writer:
        writer.write({"sequence": 3})

    assert read_log(path).records == [{"sequence": 1}, {"sequence": 2}, {"sequence": 3}]
    assert writer.repaired_bytes == len(b'{"seque')
    assert "torn last line" in caplog.text


def test_a_file_that_is_only_a_torn_line_is_emptied(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"partial": ')

    JsonLinesWriter(path).close()

    assert path.read_bytes() == b""


def test_the_reader_skips_only_an_unterminated_last_line(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"sequence":1}\n{"sequence":2}\n{"seq')

    contents = read_log(path)

    assert contents.records == [{"sequence": 1}, {"sequence": 2}]
    assert contents.torn_tail is True
    assert contents.corrupt == []


def test_the_reader_reports_corruption_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"sequence":1}\n{"sequ\n[1,2]\n{"sequence":4}\n')

    contents = read_log(path)

    assert contents.records == [{"sequence": 1}, {"sequence": 4}]
    assert [(c.line_number, c.error.split(" (")[0]) for c in contents.corrupt] == [
        (2, "not JSON"),
        (3, "not a JSON object"),
    ]
    assert str(contents.corrupt[0]).startswith(f"{path}:2: not JSON")
    assert contents.torn_tail is False


def test_a_missing_log_reads_as_empty(tmp_path: Path) -> None:
    contents = read_log(tmp_path / "absent.json")

    assert (contents.records, contents.files) == ([], [])


def test_rotation_keeps_n_files_and_loses_no_record_among_them(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    written = records(200, pad=40)
    with JsonLinesWriter(path, max_bytes=1024, backups=3) as writer:
        for record in written:
            writer.write(record)

    files = rotated_files(path)
    contents = read_log(path, include_rotated=True)

    assert [f.name for f in files] == ["m.json.3", "m.json.2", "m.json.1"]
    assert not backup_path(path, 4).exists()
    assert all(f.stat().st_size <= 1024 for f in [*files, path])
    sequences = [r["sequence"] for r in contents.records]
    assert sequences == list(range(sequences[0], 200))  # contiguous up to the newest
    assert len(sequences) > 3 * 10
    assert contents.corrupt == []
    assert contents.torn_tail is False


def test_a_record_larger_than_max_bytes_still_goes_into_one_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    with JsonLinesWriter(path, max_bytes=100, backups=2) as writer:
        writer.write({"big": "y" * 500})
        writer.write({"small": 1})

    assert read_log(path, include_rotated=True).records == [{"big": "y" * 500}, {"small": 1}]


def test_a_failed_rotation_is_not_fatal_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.json"
    writer = JsonLinesWriter(path, max_bytes=300, backups=2)

    def held_by_another_process(self: Path, target: Any) -> Path:
        raise PermissionError(13, "The process cannot access the file", str(self))

    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING):
        patch.setattr(Path, "replace", held_by_another_process)
        for record in records(30, pad=20):
            writer.write(record)
    for record in records(40, start=30, pad=20):
        writer.write(record)  # rotation works again
    writer.close()

    contents = read_log(path, include_rotated=True)
    assert [r["sequence"] for r in contents.records][-10:] == list(range(30, 40))
    assert caplog.text.count("rotation failed") == 1
    assert backup_path(path, 1).exists()


def test_follower_returns_only_new_complete_records(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    writer = JsonLinesWriter(path)
    writer.write({"sequence": 1})
    follower = JsonLinesFollower(path)

    first = follower.poll()
    writer.write({"sequence": 2})
    with path.open("ab") as raw:
        raw.write(b'{"sequence":')  # a write in progress
    second = follower.poll()
    with path.open("ab") as raw:
        raw.write(b"3}\n")
    third = follower.poll()

    assert first == [{"sequence": 1}]
    assert second == [{"sequence": 2}]
    assert third == [{"sequence": 3}]
    assert follower.poll() == []


def test_follower_from_the_end_skips_existing_records(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    writer = JsonLinesWriter(path)
    writer.write({"sequence": 1})
    follower = JsonLinesFollower(path, from_start=False)

    assert follower.poll() == []
    writer.write({"sequence": 2})
    assert follower.poll() == [{"sequence": 2}]


def test_follower_waits_for_a_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = tmp_path / "later.json"
    follower = JsonLinesFollower(path)

    assert follower.poll() == []
    JsonLinesWriter(path).write({"sequence": 1})
    assert follower.poll() == [{"sequence": 1}]


def test_follower_survives_rotation_without_losing_or_repeating(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    writer = JsonLinesWriter(path, max_bytes=400, backups=5)
    follower = JsonLinesFollower(path)
    seen: list[int] = []

    for record in records(100, pad=30):
        writer.write(record)
        if record["sequence"] % 7 == 0:
            seen.extend(r["sequence"] for r in follower.poll())
    seen.extend(r["sequence"] for r in follower.poll())

    assert backup_path(path, 1).exists()
    assert seen == list(range(100))


def test_follower_reads_a_whole_rotated_file_it_never_opened(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    writer = JsonLinesWriter(path, max_bytes=400, backups=10)
    follower = JsonLinesFollower(path)
    writer.write({"sequence": 0})
    assert [r["sequence"] for r in follower.poll()] == [0]

    for record in records(40, start=1, pad=30):  # several rotations between two polls
        writer.write(record)
    caught_up = [r["sequence"] for r in follower.poll()]

    assert len(rotated_files(path)) >= 3
    assert caught_up == list(range(1, 40))


def test_follower_reports_a_corrupt_line_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"sequence":1}\nnot json\n{"sequence":3}\n')
    follower = JsonLinesFollower(path)

    with caplog.at_level(logging.WARNING):
        got = follower.poll()

    assert got == [{"sequence": 1}, {"sequence": 3}]
    assert [c.line_number for c in follower.corrupt] == [2]
    assert "corrupt line" in caplog.text


def test_follower_starts_over_after_a_copytruncate(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"sequence":1}\n{"sequence":2}\n')
    follower = JsonLinesFollower(path)
    follower.poll()

    path.write_bytes(b'{"sequence":3}\n')  # same file, truncated and rewritten

    assert follower.poll() == [{"sequence": 3}]
