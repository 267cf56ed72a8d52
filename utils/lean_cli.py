"""Run the LEAN CLI (``lean``, PyPI ``lean``) as a subprocess and judge what it printed.

The CLI is never imported (it downloads files at import and pulls in half of PyPI); it runs
with an argument list (no shell), no standard input (a prompt fails at once instead of
hanging), a timeout, and its output is streamed to the user line by line while being kept.

Its exit code is not enough: ``lean cloud push`` prints ``Cannot push '...': ...`` and exits 0,
``lean cloud backtest`` exits 0 when the backtest dies of a runtime error. Each call therefore
says what failure looks like (:class:`OutputCheck`) and what success must print, and a run
that exits 0 without printing its success line is a failure too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from utils.errors import InputError, ProjectError

LEAN_CLI_ENV = "LEAN_CLI"
LEAN_CLI_VERSION = "1.0.230"
INSTALL_HINT = (
    f"Install it with `pip install lean=={LEAN_CLI_VERSION}` (in this repository: "
    "`pip install -e '.[dev]'`, or `make test` once), make sure it is on PATH (activate the "
    f"virtual environment) or point {LEAN_CLI_ENV} at it, then run `lean login`. "
    "Docs: https://www.lean.io/docs/v2/lean-cli/key-concepts/getting-started"
)
TROUBLESHOOTING_URL = "https://www.lean.io/docs/v2/lean-cli/key-concepts/troubleshooting"


class LeanCliMissingError(InputError):
    """The ``lean`` executable cannot be found or started."""


class LeanCliError(ProjectError):
    """A LEAN CLI command failed (exit code, an error it printed, or a missing success line).

    Attributes:
        command: The command as shown to the user (secrets masked).
        returncode: Its exit code (``None`` when it was stopped by the timeout).
        reason: What showed it failed.
    """

    def __init__(self, command: str, returncode: int | None, reason: str, output: str) -> None:
        self.command = command
        self.returncode = returncode
        self.reason = reason
        tail = "\n".join(f"    {line}" for line in output.strip().splitlines()[-15:])
        code = "was stopped" if returncode is None else f"exited {returncode}"
        shown = f"\n  Last lines of its output:\n{tail}" if tail else ""
        super().__init__(
            f"`{command}` failed ({code}): {reason}.{shown}\n"
            f"  Common causes and fixes: {TROUBLESHOOTING_URL} and "
            "docs/infrastructure/COMPUTE_NODES.md, section Deployment > Troubleshooting."
        )


class LeanCliTimeoutError(LeanCliError):
    """A LEAN CLI command ran longer than its timeout and was stopped."""


@dataclass(frozen=True)
class OutputCheck:
    """How to tell from a command's output whether it worked.

    Attributes:
        failure_patterns: A line matching any of these (regular expressions, searched) means
            failure whatever the exit code.
        success_patterns: When given, a run that exits 0 must print a line matching one.
        describe_success: What the success line looks like, for the message.
    """

    failure_patterns: tuple[str, ...] = ()
    success_patterns: tuple[str, ...] = ()
    describe_success: str = ""


# Every LEAN CLI command reports an exception as "Error: ..." (lean/main.py) and an
# interrupted prompt as "Aborted!".
GENERIC_FAILURES: tuple[str, ...] = (r"^\s*Error: ", r"^\s*Aborted!\s*$")


@dataclass(frozen=True)
class CliResult:
    """A finished LEAN CLI run."""

    args: tuple[str, ...]
    returncode: int
    output: str
    seconds: float

    def lines(self) -> list[str]:
        """Return the output lines."""
        return self.output.splitlines()

    def find(self, pattern: str) -> re.Match[str] | None:
        """Return the first match of ``pattern`` in any output line."""
        compiled = re.compile(pattern)
        for line in self.lines():
            match = compiled.search(line)
            if match:
                return match
        return None


class ProcessRunner(Protocol):
    """Runs a command, calling ``on_line`` for every output line; returns the exit code.

    Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds (having stopped the process)
    and ``FileNotFoundError``/``PermissionError`` when the program cannot be started.
    """

    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        on_line: Callable[[str], None],
    ) -> int: ...


def stream_process(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None],
) -> int:
    """Run ``args`` (no shell, no stdin), streaming stdout and stderr lines to ``on_line``.

    The process gets its own process group so that a timeout or Ctrl+C stops it and anything
    it started.
    """
    process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
        list(args), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace", bufsize=1,
        start_new_session=True,
    )  # fmt: skip
    stream = process.stdout
    assert stream is not None  # noqa: S101 - stdout=PIPE

    def pump() -> None:
        for line in stream:
            on_line(line.rstrip("\r\n"))

    reader = threading.Thread(target=pump, name="lean-cli-output", daemon=True)
    reader.start()
    try:
        returncode = process.wait(timeout=timeout)
    except BaseException:  # the timeout, or Ctrl+C: stop the CLI before going on
        _stop(process)
        reader.join(timeout=5)
        raise
    reader.join()
    stream.close()
    return returncode


def _stop(process: subprocess.Popen[str]) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
        return


def find_lean(
    environ: Mapping[str, str] | None = None, *, executable_dir: Path | None = None
) -> Path:
    """Return the ``lean`` executable to run.

    Looked for in this order: the ``LEAN_CLI`` environment variable, ``PATH``, then next to
    the running Python (a virtual environment's ``bin`` that is not activated).

    Raises:
        LeanCliMissingError: Not found; the message says how to install it.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(LEAN_CLI_ENV, "").strip()
    if explicit:
        path = Path(explicit).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        msg = f"{LEAN_CLI_ENV}={explicit}: no executable LEAN CLI there. {INSTALL_HINT}"
        raise LeanCliMissingError(msg)
    found = shutil.which("lean", path=env.get("PATH", os.defpath))
    if found:
        return Path(found)
    beside = (executable_dir or Path(sys.executable).parent) / "lean"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    msg = f"the LEAN CLI (`lean`) was not found on PATH nor in {beside.parent}. {INSTALL_HINT}"
    raise LeanCliMissingError(msg)


def mask_arguments(args: Sequence[str], secret_options: Sequence[str]) -> list[str]:
    """Return ``args`` with the values of ``secret_options`` replaced by ``***``."""
    masked: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            masked.append("***")
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if name in secret_options:
            if eq:
                masked.append(f"{name}=***")
            else:
                masked.append(arg)
                hide_next = True
            continue
        masked.append(arg)
    return masked


def display_command(args: Sequence[str]) -> str:
    """Return ``args`` as a shell-quoted line for people to read (never run)."""
    import shlex

    return shlex.join(args)


@dataclass
class LeanCli:
    """The LEAN CLI as the deploy command uses it.

    Args:
        cwd: The LEAN workspace (the folder with ``lean.json``) to run in.
        environ: The environment for the CLI (default: this process's).
        executable: The ``lean`` to run (default: :func:`find_lean`).
        runner: Runs the process (default: :func:`stream_process`).
        echo: Called with each output line as it arrives (show it to the user).
        secrets: Strings to mask in echoed lines, kept output and error messages.
        secret_options: Options whose values are masked in displayed commands.
    """

    cwd: Path
    environ: Mapping[str, str] | None = None
    executable: Path | None = None
    runner: ProcessRunner = stream_process
    echo: Callable[[str], None] = print
    secrets: Sequence[str] = field(default=(), repr=False)
    secret_options: Sequence[str] = ()

    def locate(self) -> Path:
        """Return the executable that will run (checking it exists; runs nothing).

        Raises:
            LeanCliMissingError: It cannot be found.
        """
        if self.executable is None:
            self.executable = find_lean(self.environ)
        return self.executable

    def command_line(self, args: Sequence[str]) -> str:
        """Return ``lean ARGS`` as shown to people (secret option values masked)."""
        return display_command(["lean", *mask_arguments(args, self.secret_options)])

    def run(self, args: Sequence[str], *, timeout: float, check: OutputCheck) -> CliResult:
        """Run ``lean ARGS`` in the workspace and judge it by ``check``.

        Raises:
            LeanCliMissingError: ``lean`` cannot be found or started.
            LeanCliTimeoutError: It ran longer than ``timeout`` seconds (it was stopped).
            LeanCliError: It exited non-zero, printed a failure line, or did not print the
                success line.
        """
        executable = self.locate()
        env = dict(os.environ if self.environ is None else self.environ)
        # Unbuffered, UTF-8, and wide enough that rich does not wrap the lines we read.
        env.update(PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8", COLUMNS="200")
        shown = self.command_line(args)
        lines: list[str] = []

        def on_line(line: str) -> None:
            line = self._mask(line)
            lines.append(line)
            self.echo(line)

        started = time.monotonic()
        try:
            returncode = self.runner(
                [str(executable), *args], cwd=self.cwd, env=env, timeout=timeout, on_line=on_line
            )
        except (FileNotFoundError, PermissionError) as error:
            msg = f"cannot start the LEAN CLI at {executable}: {error.strerror}. {INSTALL_HINT}"
            raise LeanCliMissingError(msg) from None
        except subprocess.TimeoutExpired:
            reason = f"it ran longer than {timeout:g} s and was stopped"
            raise LeanCliTimeoutError(shown, None, reason, "\n".join(lines)) from None
        result = CliResult(
            args=tuple(args), returncode=returncode, output="\n".join(lines),
            seconds=time.monotonic() - started,
        )  # fmt: skip
        self._judge(shown, result, check)
        return result

    def _judge(self, shown: str, result: CliResult, check: OutputCheck) -> None:
        for pattern in (*check.failure_patterns, *GENERIC_FAILURES):
            match = result.find(pattern)
            if match is not None:  # match.string: the whole line it was found in
                code = result.returncode
                prefix = "it printed" if code != 0 else "it exited 0 but printed"
                reason = f"{prefix} {match.string.strip()!r}"
                raise LeanCliError(shown, code, reason, result.output)
        if result.returncode != 0:
            reason = "it reported no reason; see its output above"
            raise LeanCliError(shown, result.returncode, reason, result.output)
        if check.success_patterns and not any(result.find(p) for p in check.success_patterns):
            expected = check.describe_success or " or ".join(check.success_patterns)
            reason = f"it exited 0 but never printed {expected}, so it did not finish its job"
            raise LeanCliError(shown, 0, reason, result.output)

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "<redacted>")
        return text
