"""What every command shares: one place that turns errors into messages and exit codes.

Exit codes: 0 success, 1 a failure outside our control (network, the LEAN CLI, the API),
2 bad input (a file, a setting, an option), 130 interrupted. A traceback only with --verbose.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from utils.errors import ProjectError

if TYPE_CHECKING:
    from rich.console import Console


def error_console() -> Console:
    """Return a console on standard error for messages (standard output stays for results)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def command_errors(*, verbose: bool) -> Iterator[None]:
    """Translate errors raised in the block into a message on stderr and ``SystemExit``.

    Args:
        verbose: Show the traceback too.
    """
    try:
        yield
    except ProjectError as error:
        _report(f"[bold red]error:[/] {_escape(str(error))}", verbose=verbose)
        raise SystemExit(error.exit_code) from None
    except BrokenPipeError:
        # The reader went away (``... --json | head``): not an error of ours. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(0) from None
    except KeyboardInterrupt:
        _report("[yellow]interrupted[/]", verbose=False)
        raise SystemExit(130) from None
    except Exception as error:
        _report(
            f"[bold red]internal error:[/] {_escape(type(error).__name__)}: {_escape(str(error))}\n"
            "Run again with --verbose for the traceback, and please report it.",
            verbose=verbose,
        )
        raise SystemExit(1) from None


def _report(message: str, *, verbose: bool) -> None:
    console = error_console()
    if verbose:
        console.print_exception(show_locals=False)
    console.print(message)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def stdout_is_terminal() -> bool:
    """Return whether standard input and output are a terminal (a person can answer prompts)."""
    return sys.stdin.isatty() and sys.stdout.isatty()
