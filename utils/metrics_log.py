"""JSON Lines logs that survive crashes and rotation: the metrics log and the breaker's event log.

Format: one JSON object per line, UTF-8, ``\\n``-terminated, compact separators, no NaN (a
missing figure is ``null``). Field names carry their unit (``*_bytes``, ``*_pct``, ``*_ms``,
``*_seconds``); timestamps are ISO 8601 UTC strings. ``tail -f logs/resource_metrics.json``
shows one sample per line.

:class:`JsonLinesWriter`
    Each record is encoded first and written with **one** ``write`` system call on an
    unbuffered append-mode descriptor, so it is in the kernel (visible to readers, safe from a
    crash of this process) when :meth:`~JsonLinesWriter.write` returns; ``fsync=True`` also
    forces it to disk (the breaker's events). A crash can tear only the last line: on open the
    writer cuts an unterminated tail back to the last newline (and logs how much it dropped).
    Size rotation renames ``x.json`` to ``x.json.1`` (``.1`` to ``.2``, ... up to ``backups``
    files; the oldest falls off) and never copies or truncates, so a record is always whole in
    exactly one file. A failed rotation (another process holds the file, a read-only
    directory) is logged and writing goes on in the current file; rotation is retried later.

:func:`read_log`
    Reads every complete record, skips only an unterminated last line (a write in progress or
    a crash) and reports any bad line in the middle as :class:`CorruptLine` instead of
    silently dropping it.

:class:`JsonLinesFollower`
    ``tail -F`` for programs (the dashboard): each :meth:`~JsonLinesFollower.poll` returns the
    records appended since the last one, across rotations (it finishes the renamed file, reads
    any backup it never saw, then continues in the new file).

Standard library only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

logger = logging.getLogger(__name__)

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_CHUNK = 64 * 1024


def backup_path(path: Path, index: int) -> Path:
    """Return the name of the ``index``-th rotated file of ``path`` (``x.json.1`` is newest)."""
    return path.with_name(f"{path.name}.{index}")


def encode_record(record: Mapping[str, Any]) -> bytes:
    """Return ``record`` as one UTF-8 JSON line (with its newline).

    Raises:
        ValueError: The record holds NaN or infinity (write ``None`` for a missing figure).
        TypeError: The record holds something JSON cannot represent.
    """
    return (_ENCODER.encode(record) + "\n").encode("utf-8")


class _OpenFile:
    """An open file descriptor (``_fd``, -1 once closed), closed by :meth:`close` or ``with``."""

    _fd: int

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonLinesWriter(_OpenFile):
    """Append JSON records to a file, one line each; thread-safe.

    Args:
        path: The log file (its folder is created).
        max_bytes: Rotate before a write would take the file past this size; ``None`` never
            rotates. A single record larger than this still goes into one file.
        backups: Rotated files kept (``path.1`` ... ``path.N``).
        fsync: Force each record to disk before :meth:`write` returns.

    Raises:
        OSError: The file cannot be opened or created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        backups: int = 5,
        fsync: bool = False,
    ) -> None:
        if max_bytes is not None and max_bytes < 1:
            msg = f"max_bytes must be positive, got {max_bytes}"
            raise ValueError(msg)
        if backups < 1:
            msg = f"backups must be at least 1, got {backups}"
            raise ValueError(msg)
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.fsync = fsync
        self._lock = threading.Lock()
        self._rotation_failed_logged = False
        self._retry_rotation_at: int | None = None
        self.repaired_bytes = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()

    def _open(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            self._size = self._repair_torn_tail(fd)
        except OSError:
            os.close(fd)
            raise
        return fd

    def _repair_torn_tail(self, fd: int) -> int:
        """Cut an unterminated last line back to the previous newline; return the new size."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return size
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - _CHUNK)
            chunk = os.pread(fd, end - start, start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        os.ftruncate(fd, keep)
        if self.fsync:
            os.fsync(fd)
        self.repaired_bytes = size - keep
        logger.warning(
            "%s: dropped a torn last line (%d bytes) left by an interrupted write",
            self.path,
            self.repaired_bytes,
        )
        return keep

    @property
    def size_bytes(self) -> int:
        """Return the current file's size as this writer knows it."""
        return self._size

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as one line, with one ``write`` call (plus ``fsync`` if asked).

        Raises:
            ValueError: The record cannot be encoded (NaN, infinity).
            TypeError: The record holds something JSON cannot represent.
            OSError: The write failed (disk full, file closed).
        """
        self.write_line(encode_record(record))

    def write_line(self, data: bytes) -> None:
        """Append an already encoded line (from :func:`encode_record`).

        Raises:
            OSError: The write failed.
        """
        with self._lock:
            if (
                self.max_bytes is not None
                and self._size
                and self._size + len(data) > self.max_bytes
            ):
                self._maybe_rotate()
            fd = self._fd
            written = os.write(fd, data)
            while written < len(data):  # a short write to a regular file: disk nearly full
                more = os.write(fd, data[written:])
                if more <= 0:
                    msg = f"{self.path}: short write ({written} of {len(data)} bytes)"
                    raise OSError(msg)
                written += more
            self._size += len(data)
            if self.fsync:
                os.fsync(fd)

    def _maybe_rotate(self) -> None:
        if self._retry_rotation_at is not None and self._size < self._retry_rotation_at:
            return
        try:
            self._rotate()
        except OSError as error:
            # Not fatal: keep appending to the current file and try again later.
            self._retry_rotation_at = self._size + max(1, (self.max_bytes or 0) // 10)
            if not self._rotation_failed_logged:
                logger.warning(
                    "%s: rotation failed (%s); still writing to the current file, will retry",
                    self.path,
                    error,
                )
                self._rotation_failed_logged = True
            return
        self._retry_rotation_at = None
        if self._rotation_failed_logged:
            logger.info("%s: rotation works again", self.path)
            self._rotation_failed_logged = False

    def _rotate(self) -> None:
        for index in range(self.backups - 1, 0, -1):
            source = backup_path(self.path, index)
            if source.exists():
                source.replace(backup_path(self.path, index + 1))
        self.path.replace(backup_path(self.path, 1))
        old = self._fd
        try:
            self._fd = self._open()
        finally:
            os.close(old)

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            super().close()


@dataclass(frozen=True, slots=True)
class CorruptLine:
    """A complete line that is not a JSON object.

    Attributes:
        path: The file.
        line_number: 1-based line number in that file.
        error: What is wrong.
        text: The start of the line (at most 120 characters).
    """

    path: Path
    line_number: int
    error: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line_number}: {self.error}: {self.text!r}"


@dataclass(slots=True)
class LogContents:
    """What :func:`read_log` found.

    Attributes:
        records: Every complete, valid record, oldest first.
        corrupt: Complete lines that are not JSON objects (corruption in the middle).
        torn_tail: Whether an unterminated last line was skipped.
        files: The files read, oldest first.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    corrupt: list[CorruptLine] = field(default_factory=list)
    torn_tail: bool = False
    files: list[Path] = field(default_factory=list)


def _parse_lines(
    data: bytes, path: Path, first_number: int = 1
) -> Iterator[dict[str, Any] | CorruptLine]:
    """Parse each complete line of ``data`` (numbered from ``first_number``; blank ones skipped).

    What follows the last newline (an unterminated line) is not parsed.
    """
    for number, line in enumerate(data.split(b"\n")[:-1], start=first_number):
        if line.strip():
            yield _parse_line(line, path, number)


def _parse_line(line: bytes, path: Path, number: int) -> dict[str, Any] | CorruptLine:
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError) as error:
        text = line[:120].decode("utf-8", "replace")
        return CorruptLine(path, number, f"not JSON ({error})", text)
    if not isinstance(value, dict):
        text = line[:120].decode("utf-8", "replace")
        return CorruptLine(path, number, "not a JSON object", text)
    return value


def rotated_files(path: str | os.PathLike[str]) -> list[Path]:
    """Return ``path``'s rotated files that exist, oldest first (``x.json.N`` ... ``x.json.1``)."""
    base = Path(path)
    found = []
    index = 1
    while backup_path(base, index).exists():
        found.append(backup_path(base, index))
        index += 1
    return list(reversed(found))


def read_log(path: str | os.PathLike[str], *, include_rotated: bool = False) -> LogContents:
    """Read every complete record of a JSON Lines log.

    Args:
        path: The log file. A missing file reads as empty.
        include_rotated: Also read the rotated files, oldest first, before ``path``.

    Returns:
        The records, the corrupt lines, and whether a torn last line was skipped.

    Raises:
        OSError: A file exists but cannot be read.
    """
    base = Path(path)
    contents = LogContents()
    files = [*rotated_files(base), base] if include_rotated else [base]
    for file in files:
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            continue
        contents.files.append(file)
        for parsed in _parse_lines(data, file):
            if isinstance(parsed, CorruptLine):
                contents.corrupt.append(parsed)
            else:
                contents.records.append(parsed)
        if data and not data.endswith(b"\n"):  # an unterminated last line
            contents.torn_tail = True
    return contents


class JsonLinesFollower(_OpenFile):
    """Follow a JSON Lines log across rotation, like ``tail -F``; poll it, it never blocks.

    Args:
        path: The log file (it need not exist yet).
        from_start: Start with the records already in the file; ``False`` starts at its end.

    Attributes:
        corrupt: Corrupt lines met so far (each also logged once as a warning).
        torn: Unterminated lines abandoned at a rotation (a writer crashed mid-line).
    """

    def __init__(self, path: str | os.PathLike[str], *, from_start: bool = True) -> None:
        self.path = Path(path)
        self._from_start = from_start
        self._fd = -1
        self._identity: tuple[int, int] | None = None
        self._buffer = b""
        self._line_number = 0
        self.corrupt: list[CorruptLine] = []
        self.torn = 0

    def poll(self) -> list[dict[str, Any]]:
        """Return the records appended since the last poll (complete lines only)."""
        records: list[dict[str, Any]] = []
        if self._fd < 0 and not self._open_current(start_at_end=not self._from_start):
            return records
        self._drain(records)
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return records  # between the rename and the new file: keep reading the old one
        if (status.st_dev, status.st_ino) != self._identity:
            self._drain(records)  # what was written before the rename
            self._finish_file()
            self._read_unseen_backups(records)
            if self._open_current(start_at_end=False):
                self._drain(records)
        elif status.st_size < os.lseek(self._fd, 0, os.SEEK_CUR):
            # Truncated in place (copytruncate): start over at its beginning.
            os.lseek(self._fd, 0, os.SEEK_SET)
            self._buffer = b""
            self._line_number = 0
            self._drain(records)
        return records

    def _open_current(self, *, start_at_end: bool) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        status = os.fstat(fd)
        self._fd = fd
        self._identity = (status.st_dev, status.st_ino)
        self._buffer = b""
        self._line_number = 0
        if start_at_end:
            # Skip to the end, but keep counting lines and keep an unterminated tail.
            data = _read_all(fd)
            complete = data.rfind(b"\n") + 1
            self._line_number = data.count(b"\n", 0, complete)
            self._buffer = data[complete:]
        return True

    def _drain(self, records: list[dict[str, Any]]) -> None:
        data = _read_all(self._fd)
        if not data:
            return
        data = self._buffer + data
        complete = data.rfind(b"\n") + 1
        self._buffer = data[complete:]
        self._accept(data[:complete], self.path, records, self._line_number + 1)
        self._line_number += data.count(b"\n", 0, complete)

    def _accept(
        self, data: bytes, path: Path, records: list[dict[str, Any]], first_number: int = 1
    ) -> None:
        for parsed in _parse_lines(data, path, first_number):
            if isinstance(parsed, CorruptLine):
                self.corrupt.append(parsed)
                logger.warning("corrupt line in metrics log: %s", parsed)
            else:
                records.append(parsed)

    def _finish_file(self) -> None:
        if self._buffer:
            self.torn += 1
            logger.warning(
                "%s: abandoned an unterminated line (%d bytes) at rotation",
                self.path,
                len(self._buffer),
            )
        self.close()
        self._buffer = b""

    def _read_unseen_backups(self, records: list[dict[str, Any]]) -> None:
        """Read rotated files newer than the one just finished (several rotations in a poll)."""
        backups = list(reversed(rotated_files(self.path)))  # newest (.1) first
        newer: list[Path] = []
        for candidate in backups:
            try:
                status = candidate.stat()
            except FileNotFoundError:
                continue
            if (status.st_dev, status.st_ino) == self._identity:
                break
            newer.append(candidate)
        for backup in reversed(newer):  # oldest first
            try:
                data = backup.read_bytes()
            except FileNotFoundError:
                continue
            self._accept(data, backup, records)


def _read_all(fd: int) -> bytes:
    parts = []
    while True:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            break
        parts.append(chunk)
    return b"".join(parts)
