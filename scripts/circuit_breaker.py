"""See or reset the trading circuit breaker, without Python.

Usage:
    # State, why it tripped, the metric, when a reset is allowed, and the last events
    python scripts/circuit_breaker.py status            # --json for JSON, --events N

    # Resume trading after a halt: audited (who and why), asks for confirmation
    python scripts/circuit_breaker.py reset --actor "Ana" --reason "moved to an L8-16 node"

The files are the settings' ``monitoring.breaker_state_path`` and ``breaker_log_path``
(``--settings``, default ``config/settings.json``; a relative path is taken from the current
folder, as the algorithm takes it). ``--state`` and ``--log`` name other files; with both the
settings are not read.

``status`` changes nothing, not even for a corrupt state file (it says the breaker would fail
closed on it). ``reset`` goes through :meth:`utils.circuit_breaker.CircuitBreaker.reset`: before
the halt's cooldown deadline it is refused, with the deadline, and the refusal is itself recorded
in the event log; otherwise it asks for confirmation, or takes ``--yes``, and without a terminal
and without ``--yes`` it refuses and changes nothing. Reset the files of a stopped algorithm:
one still running keeps the state it holds in memory.

Exit codes: 0 success, 1 a failure (cancelled at the prompt, an unreadable event log), 2 bad
input (the settings, an option, a reset refused before the deadline or without confirmation).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

if __package__ in (None, ""):  # run as a file: make the project's packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import typer

from utils.cli import command_errors, stdout_is_terminal
from utils.errors import InputError, ProjectError

if TYPE_CHECKING:
    from rich.console import Console

    from utils.circuit_breaker import BreakerStatus

app = typer.Typer(add_completion=False, rich_markup_mode=None, no_args_is_help=True)
SCRIPT = "python scripts/circuit_breaker.py"

SettingsOption = Annotated[
    Path | None,
    typer.Option(
        "--settings", help="Settings file with the breaker's paths (default: config/settings.json)."
    ),
]
StateOption = Annotated[
    Path | None,
    typer.Option("--state", help="Breaker state file (default: the settings' breaker_state_path)."),
]
LogOption = Annotated[
    Path | None,
    typer.Option("--log", help="Breaker event log (default: the settings' breaker_log_path)."),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Show tracebacks.")]


class ConfirmationRequiredError(InputError):
    """A reset needs a person to confirm it and there is no terminal to ask on (no ``--yes``)."""


class ResetCancelledError(ProjectError):
    """The person answered no at the prompt; nothing was changed."""


class EventLogError(ProjectError):
    """The breaker's event log exists but cannot be read."""


@dataclass(frozen=True)
class BreakerFiles:
    """The breaker's state file and event log, as given or from the settings."""

    state: Path
    log: Path


def breaker_files(settings_path: Path | None, state: Path | None, log: Path | None) -> BreakerFiles:
    """Return the files to use: ``--state``/``--log`` where given, else the settings' paths.

    Raises:
        SettingsError: The settings are needed and invalid.
        InputError: A path is a folder.
    """
    if state is None or log is None or settings_path is not None:
        from utils.settings import load_settings

        monitoring = load_settings(settings_path).quantconnect.monitoring
        state = state or Path(monitoring.breaker_state_path)
        log = log or Path(monitoring.breaker_log_path)
    for name, path in (("state", state), ("log", log)):
        if path.is_dir():
            msg = (
                f"the breaker's {name} file {path} is a folder: give the file (--{name}, or "
                f"monitoring.breaker_{name}_path in the settings)"
            )
            raise InputError(msg)
    return BreakerFiles(state=state.absolute(), log=log.absolute())


def _quiet_breaker_logging(*, verbose: bool) -> None:
    """Keep the breaker's own log lines off the output (this command says what happened)."""
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        logging.getLogger("utils").addHandler(logging.NullHandler())


# ----------------------------------------------------------------------------------- status
@dataclass(frozen=True)
class StatusReport:
    """What ``status`` shows."""

    files: BreakerFiles
    status: BreakerStatus
    state_file_exists: bool
    reset_wait_seconds: float
    events: list[dict[str, Any]]
    corrupt_events: list[str]

    def document(self) -> dict[str, Any]:
        """Return the report as one JSON-ready document."""
        return {
            "state_file": str(self.files.state),
            "state_file_exists": self.state_file_exists,
            "log_file": str(self.files.log),
            **self.status.to_record(),
            "load_error": self.status.load_error,
            "reset_allowed_now": self.reset_wait_seconds == 0,
            "reset_wait_seconds": self.reset_wait_seconds,
            "events": self.events,
            "corrupt_event_lines": self.corrupt_events,
        }


def read_status(files: BreakerFiles, events: int, now: datetime) -> StatusReport:
    """Read the state file and the last ``events`` events; change nothing.

    Raises:
        EventLogError: The event log exists but cannot be read.
    """
    from utils.circuit_breaker import BreakerState, BreakerStatus, read_state_file
    from utils.metrics_log import read_log

    status = read_state_file(files.state)
    exists = status is not None
    if status is None:
        status = BreakerStatus(
            BreakerState.ACTIVE, reason="no state file: never tripped (an algorithm starts ACTIVE)"
        )
    deadline = status.reset_not_before
    wait = 0.0
    if status.state is BreakerState.HALTED and deadline is not None and now < deadline:
        wait = (deadline - now).total_seconds()
    try:
        contents = read_log(files.log)
    except OSError as error:
        msg = f"{files.log}: cannot read the breaker's event log ({error.strerror or error})"
        raise EventLogError(msg) from None
    return StatusReport(
        files=files,
        status=status,
        state_file_exists=exists,
        reset_wait_seconds=wait,
        events=contents.records[-events:] if events else [],
        corrupt_events=[str(line) for line in contents.corrupt],
    )


_STATE_STYLES = {"ACTIVE": "bold green", "REDUCING": "bold yellow", "HALTED": "bold red"}


def print_status(report: StatusReport, console: Console) -> None:
    """Print the state, why, the metric, the deadline and the last events."""
    from rich.table import Table
    from rich.text import Text

    from utils.circuit_breaker import BreakerState
    from utils.clock import format_utc
    from utils.resource_monitor import format_figure

    status = report.status
    state = status.state.value
    console.print(Text.assemble("Circuit breaker: ", (state, _STATE_STYLES.get(state, "bold"))))
    rows = Table(box=None, show_header=False, padding=(0, 2, 0, 2))
    rows.add_column(style="dim", no_wrap=True)
    rows.add_column(overflow="fold")

    def row(label: str, value: str, style: str = "") -> None:
        rows.add_row(label, Text(value, style=style))  # Text: no markup in people's words

    row("reason", status.reason)
    if status.metric is not None:
        unit = status.unit or ""
        threshold = f" (threshold {format_figure(status.threshold, unit)})"
        row("metric", f"{status.metric} at {format_figure(status.value, unit)}{threshold}")
    if status.actor is not None:
        row("by", status.actor)
    if status.tripped_at is not None:
        row("tripped at", format_utc(status.tripped_at))
    if status.state is not BreakerState.ACTIVE and report.reset_wait_seconds:
        deadline = format_utc(status.reset_not_before) if status.reset_not_before else "?"
        row("reset", f"not before {deadline} ({report.reset_wait_seconds:.0f} s from now)")
    elif status.state is not BreakerState.ACTIVE:
        row("reset", f'allowed now: {SCRIPT} reset --actor "YOUR NAME" --reason "WHY"')
    if status.load_error is not None:
        row("load error", status.load_error, "red")
    shown = str(report.files.state) if report.state_file_exists else f"{report.files.state} (none)"
    row("state file", f"{shown}, sequence {status.sequence}")
    row("event log", str(report.files.log))
    console.print(rows)
    for corrupt in report.corrupt_events:
        console.print(Text(f"corrupt line in the event log: {corrupt}", style="yellow"))
    if not report.events:
        console.print(Text("No events recorded.", style="dim"))
        return
    console.print(Text(f"Last {len(report.events)} event(s):", style="bold"))
    for event in report.events:
        line = Text()
        line.append(f"#{event.get('sequence', '?')} {event.get('time', '?')} ", style="dim")
        change = f"{event.get('from_state', '?')} -> {event.get('to_state', '?')}"
        what = f"{event.get('event', '?')}, {event.get('action', '?')}"
        line.append(f"{change} ({what}) by {event.get('actor', '?')}: {event.get('reason', '')}")
        console.print(line)


@app.command()
def status(
    settings_path: SettingsOption = None,
    state: StateOption = None,
    log: LogOption = None,
    events: Annotated[
        int, typer.Option("--events", min=0, help="How many of the last events to show.")
    ] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Show the breaker's state, why it tripped, when it may be reset, and its last events."""
    with command_errors(verbose=verbose):
        report = read_status(breaker_files(settings_path, state, log), events, datetime.now(UTC))
        if as_json:
            print(json.dumps(report.document(), indent=2))
        else:
            from rich.console import Console

            print_status(report, Console(highlight=False))


# ------------------------------------------------------------------------------------ reset
@app.command()
def reset(
    actor: Annotated[str, typer.Option("--actor", help="Your name (recorded in the event log).")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why trading may resume (recorded in the event log).")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Reset without asking.")] = False,
    settings_path: SettingsOption = None,
    state: StateOption = None,
    log: LogOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Resume trading (HALTED or REDUCING to ACTIVE); audited, refused before the deadline."""
    with command_errors(verbose=verbose):
        if not actor.strip() or not reason.strip():
            msg = (
                "--actor and --reason: give your name and why trading may resume; both are "
                "recorded in the breaker's event log"
            )
            raise InputError(msg)
        files = breaker_files(settings_path, state, log)
        from rich.console import Console

        console = Console(highlight=False)
        report = read_status(files, 3, datetime.now(UTC))
        from utils.circuit_breaker import BreakerState, CircuitBreaker

        if report.status.state is BreakerState.ACTIVE:
            console.print(
                f"The circuit breaker is ACTIVE ({files.state}): nothing to reset.", markup=False
            )
            return
        if not report.reset_wait_seconds and not yes:  # before the deadline: refused below
            _confirm(report, actor, console)
        _quiet_breaker_logging(verbose=verbose)
        breaker = CircuitBreaker(files.state, files.log)
        if breaker.load_error is not None:
            console.print(breaker.load_error, style="yellow", markup=False)
        before = breaker.state
        breaker.reset(actor, reason)  # ResetRefusedError before the deadline (recorded): exit 2
        console.print(
            f"Circuit breaker reset: {before.value} -> {breaker.state.value} by {actor}: {reason} "
            f"(event #{breaker.status().sequence} in {files.log})",
            markup=False,
        )
        console.print(
            "Start the algorithm again: one still running keeps the state it holds in memory."
        )


def _confirm(report: StatusReport, actor: str, console: Console) -> None:
    """Ask the person at the terminal; refuse without one.

    Raises:
        ConfirmationRequiredError: No terminal to ask on.
        ResetCancelledError: The answer was no.
    """
    if not stdout_is_terminal():
        msg = (
            "refusing to reset the circuit breaker without confirmation: there is no terminal "
            f"to ask on. Check it ({SCRIPT} status), then re-run with --yes. Nothing was changed."
        )
        raise ConfirmationRequiredError(msg)
    from rich.markup import escape
    from rich.prompt import Confirm

    print_status(report, console)
    question = f"Resume trading ({report.status.state.value} -> ACTIVE) as {escape(actor)}?"
    if not Confirm.ask(question, default=False, console=console):
        msg = "reset cancelled: nothing was changed"
        raise ResetCancelledError(msg)


if __name__ == "__main__":
    app()
