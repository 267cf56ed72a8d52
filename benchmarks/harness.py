"""Small timing helpers shared by the benchmarks: medians of repeated runs, ratios, a table."""

from __future__ import annotations

import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


@dataclass(frozen=True)
class Timing:
    """Per-call seconds of repeated batches."""

    name: str
    per_call_seconds: list[float]

    @property
    def median(self) -> float:
        """Return the median seconds per call."""
        return statistics.median(self.per_call_seconds)


def time_calls(name: str, fn: Callable[[], object], *, number: int, repeat: int = 7) -> Timing:
    """Time ``fn`` in ``repeat`` batches of ``number`` calls; return seconds per call per batch."""
    fn()  # warm-up
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - start) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(name, samples)


def interleaved(
    candidate: tuple[str, Callable[[], object]],
    baseline: tuple[str, Callable[[], object]],
    *,
    number: int,
    repeat: int = 9,
) -> tuple[Timing, Timing]:
    """Time a candidate and its baseline in alternating batches, so drift hits both alike."""
    cand, base = [], []
    for _ in range(repeat):
        cand.extend(
            time_calls(candidate[0], candidate[1], number=number, repeat=1).per_call_seconds
        )
        base.extend(time_calls(baseline[0], baseline[1], number=number, repeat=1).per_call_seconds)
    return Timing(candidate[0], cand), Timing(baseline[0], base)


def report(rows: list[tuple[str, str, str, str]]) -> None:
    """Print (measure, value, target, verdict) rows as an aligned table."""
    header = ("measure", "value", "target", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
