"""Run every benchmark (``make bench``): each ``benchmarks/bench_*.py`` in its own process.

Each benchmark measures the project's code against a baseline measured in the same run and
prints ratios (never absolute pass/fail timings).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the benchmarks one after another; return non-zero if one crashed."""
    failures = 0
    for bench in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {bench.stem} ===", flush=True)
        done = subprocess.run([sys.executable, str(bench)], check=False, cwd=HERE.parent)
        failures += done.returncode != 0
    if not any(HERE.glob("bench_*.py")):
        print("no benchmarks yet")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
