"""mypy against quantconnect-stubs accepts the bot and catches a wrong LEAN call in a copy of it.

One mypy run (``make types``'s configuration, algorithms/mypy.ini) checks the real bot and two
scratch copies: one with a misspelt method, one with LEAN's legacy PascalCase API. It uses the
project's ``.mypy_cache``, which ``make types`` has just filled (a cold run takes ~9 s).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.algorithms.conftest import BOT_PATH, PROJECT_ROOT
from tests.conftest import run_command

MISTAKES = {
    "typo": (
        "option = self.add_option(ticker, Resolution.MINUTE)",
        "option = self.add_optoin(ticker, Resolution.MINUTE)",
        '"OptionsTradingBot" has no attribute "add_optoin"',
    ),
    "pascal": (
        "option = self.add_option(ticker, Resolution.MINUTE)",
        "option = self.AddOption(ticker, Resolution.Minute)",
        '"OptionsTradingBot" has no attribute "AddOption"',
    ),
}


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Path]]:
    """Run mypy once over the bot and the scratch copies; return code, output and copies."""
    folder = tmp_path_factory.mktemp("scratch")
    source = BOT_PATH.read_text(encoding="utf-8")
    copies = {}
    for name, (right, wrong, _) in MISTAKES.items():
        assert source.count(right) == 1, f"the bot no longer has {right!r}; update this test"
        copies[name] = folder / f"bot_{name}.py"
        copies[name].write_text(source.replace(right, wrong), encoding="utf-8")
    done = run_command(
        sys.executable, "-m", "mypy", "--config-file", "algorithms/mypy.ini",
        "--no-error-summary", str(BOT_PATH),
        *(str(p) for p in copies.values()),
        cwd=PROJECT_ROOT, timeout=180,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr, copies


def errors_in(output: str, path: Path) -> list[str]:
    """Return the error lines about ``path``.

    Matched by file name: mypy's cache may report an identical scratch copy of an earlier run
    under that run's folder (the cache is keyed by module name and content).
    """
    return [line for line in output.splitlines() if Path(line.split(":")[0]).name == path.name]


@pytest.mark.integration
def test_mypy_with_the_stubs_accepts_the_bot(
    mypy_output: tuple[int, str, dict[str, Path]],
) -> None:
    _, output, _ = mypy_output

    assert errors_in(output, BOT_PATH) == []


@pytest.mark.integration
@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_mypy_with_the_stubs_rejects_a_wrong_lean_call(
    mypy_output: tuple[int, str, dict[str, Path]], mistake: str
) -> None:
    code, output, copies = mypy_output
    _, wrong, message = MISTAKES[mistake]
    lines = copies[mistake].read_text(encoding="utf-8").splitlines()
    line = next(number for number, text in enumerate(lines, 1) if wrong in text)

    errors = errors_in(output, copies[mistake])
    assert code == 1
    assert any(re.match(rf".*:{line}: error: {re.escape(message)}", e) for e in errors), output
