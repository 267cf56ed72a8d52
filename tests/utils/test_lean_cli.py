"""The LEAN CLI runner: finding `lean`, judging its output, timeouts, streaming, masking."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from utils.lean_cli import (
    GENERIC_FAILURES,
    LeanCli,
    LeanCliError,
    LeanCliMissingError,
    LeanCliTimeoutError,
    OutputCheck,
    find_lean,
    mask_arguments,
    stream_process,
)

PUSH = OutputCheck(
    failure_patterns=(r"Cannot push '",),
    success_patterns=(r"^Successfully ",),
    describe_success="'Successfully ...'",
)


@dataclass
class ScriptedRunner:
    """Stands in for the process: prints ``lines`` and exits ``returncode`` (or raises)."""

    lines: Sequence[str] = ()
    returncode: int = 0
    raises: BaseException | None = None
    calls: list[dict[str, object]] = field(default_factory=list)

    def __call__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        on_line: Callable[[str], None],
    ) -> int:
        self.calls.append({"args": list(args), "cwd": cwd, "env": dict(env), "timeout": timeout})
        for line in self.lines:
            on_line(line)
        if self.raises is not None:
            raise self.raises
        return self.returncode


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def cli(runner: ScriptedRunner, *, echo: list[str] | None = None, **kwargs: object) -> LeanCli:
    shown = echo if echo is not None else []
    return LeanCli(
        cwd=Path("/workspace"), environ={"PATH": "/nowhere"}, executable=Path("/opt/lean"),
        runner=runner, echo=shown.append, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


# ---------------------------------------------------------------------------- finding lean


def test_lean_is_found_on_path(tmp_path: Path) -> None:
    lean = executable(tmp_path / "bin" / "lean")

    assert find_lean({"PATH": str(lean.parent)}, executable_dir=tmp_path / "none") == lean


def test_lean_cli_variable_wins_over_path(tmp_path: Path) -> None:
    chosen = executable(tmp_path / "custom" / "my-lean")
    on_path = executable(tmp_path / "bin" / "lean")

    env = {"LEAN_CLI": str(chosen), "PATH": str(on_path.parent)}

    assert find_lean(env) == chosen


def test_lean_next_to_the_running_python_is_found_when_not_on_path(tmp_path: Path) -> None:
    beside = executable(tmp_path / "venv" / "bin" / "lean")

    assert find_lean({"PATH": str(tmp_path / "empty")}, executable_dir=beside.parent) == beside


def test_missing_lean_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(LeanCliMissingError) as caught:
        find_lean({"PATH": str(tmp_path)}, executable_dir=tmp_path / "venv" / "bin")

    assert "pip install lean==1.0.230" in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_lean_cli_variable_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LeanCliMissingError, match="LEAN_CLI="):
        find_lean({"LEAN_CLI": str(tmp_path / "missing"), "PATH": ""})


def test_a_program_that_cannot_start_is_reported_as_missing_lean() -> None:
    runner = ScriptedRunner(raises=FileNotFoundError(2, "No such file or directory"))

    with pytest.raises(LeanCliMissingError, match="cannot start the LEAN CLI"):
        cli(runner).run(["--version"], timeout=5, check=OutputCheck())


# ---------------------------------------------------------------------------- judging output


def test_a_run_that_prints_its_success_line_passes() -> None:
    runner = ScriptedRunner(["[1/1] Pushing 'P'", "Successfully created cloud project 'P'"])

    result = cli(runner).run(["cloud", "push"], timeout=5, check=PUSH)

    assert result.returncode == 0
    assert result.find(r"created cloud project '(\w+)'")[1] == "P"  # type: ignore[index]


def test_push_that_prints_cannot_push_and_exits_zero_is_a_failure() -> None:
    runner = ScriptedRunner(["[1/1] Pushing 'P'", "Cannot push 'P': Project not found"])

    with pytest.raises(LeanCliError) as caught:
        cli(runner).run(["cloud", "push"], timeout=5, check=PUSH)

    assert "it exited 0 but printed \"Cannot push 'P': Project not found\"" in str(caught.value)
    assert caught.value.returncode == 0


def test_a_zero_exit_without_the_success_line_is_a_failure() -> None:
    runner = ScriptedRunner(["[1/1] Pushing 'P'"])

    with pytest.raises(LeanCliError, match=r"never printed 'Successfully \.\.\.'"):
        cli(runner).run(["cloud", "push"], timeout=5, check=PUSH)


def test_an_error_line_is_a_failure_whatever_the_check() -> None:
    runner = ScriptedRunner(["Error: You have no live node with name or id 'X'"], returncode=1)

    with pytest.raises(LeanCliError) as caught:
        cli(runner).run(["cloud", "live", "deploy"], timeout=5, check=OutputCheck())

    assert "You have no live node with name or id 'X'" in caught.value.reason
    assert caught.value.returncode == 1


def test_a_nonzero_exit_without_an_error_line_is_a_failure() -> None:
    with pytest.raises(LeanCliError, match="exited 3"):
        cli(ScriptedRunner(["working"], returncode=3)).run([], timeout=5, check=OutputCheck())


def test_the_error_message_quotes_the_last_lines_and_points_to_troubleshooting() -> None:
    lines = [f"line {i}" for i in range(30)] + ["Error: boom"]

    with pytest.raises(LeanCliError) as caught:
        cli(ScriptedRunner(lines, returncode=1)).run(["x"], timeout=5, check=OutputCheck())

    message = str(caught.value)
    assert "line 29" in message
    assert "line 5\n" not in message  # only the tail
    assert "COMPUTE_NODES.md" in message


def test_a_timeout_is_its_own_error() -> None:
    runner = ScriptedRunner(["Started"], raises=subprocess.TimeoutExpired(["lean"], 1.5))

    with pytest.raises(LeanCliTimeoutError, match=r"longer than 1.5 s"):
        cli(runner).run(["cloud", "backtest", "P"], timeout=1.5, check=OutputCheck())


def test_generic_failures_cover_the_cli_error_and_abort_lines() -> None:
    import re

    assert any(re.search(p, "Error: Something went wrong") for p in GENERIC_FAILURES)
    assert any(re.search(p, "Aborted!") for p in GENERIC_FAILURES)
    assert not any(re.search(p, "No Error: here") for p in GENERIC_FAILURES)


# ---------------------------------------------------------------------------- the process


def test_lines_are_echoed_as_they_arrive_and_kept() -> None:
    shown: list[str] = []
    runner = ScriptedRunner(["one", "two", "Successfully done"])

    result = cli(runner, echo=shown).run(["x"], timeout=5, check=PUSH)

    assert shown == ["one", "two", "Successfully done"]
    assert result.output == "one\ntwo\nSuccessfully done"


def test_secrets_are_masked_in_echo_output_and_errors() -> None:
    secret = "s3cr3t-token-value"  # noqa: S105 - test data
    shown: list[str] = []
    runner = ScriptedRunner([f"using {secret}", f"Error: bad {secret}"], returncode=1)

    with pytest.raises(LeanCliError) as caught:
        cli(runner, echo=shown, secrets=[secret]).run(["x"], timeout=5, check=OutputCheck())

    assert all(secret not in line for line in shown)
    assert secret not in str(caught.value)
    assert "<redacted>" in shown[0]


def test_the_cli_runs_in_the_workspace_with_unbuffered_wide_output() -> None:
    runner = ScriptedRunner(["Successfully updated files for 'P'"])

    cli(runner).run(["cloud", "push", "--project", "P"], timeout=42, check=PUSH)

    call = runner.calls[0]
    assert call["args"] == ["/opt/lean", "cloud", "push", "--project", "P"]
    assert call["cwd"] == Path("/workspace")
    assert call["timeout"] == 42
    env = call["env"]
    assert isinstance(env, dict)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert int(env["COLUMNS"]) >= 160
    assert env["PATH"] == "/nowhere"


def test_secret_option_values_are_masked_in_shown_commands() -> None:
    args = ["cloud", "live", "deploy", "P", "--schwab-password", "hunter2", "--x=1", "--pw=abc"]

    masked = mask_arguments(args, ["--schwab-password", "--pw"])

    assert masked == [
        "cloud",
        "live",
        "deploy",
        "P",
        "--schwab-password",
        "***",
        "--x=1",
        "--pw=***",
    ]
    shown = cli(ScriptedRunner(), secret_options=["--schwab-password"]).command_line(args[:6])
    assert "hunter2" not in shown
    assert shown.startswith("lean cloud live deploy P")


# ---------------------------------------------------------------------------- real processes


@pytest.mark.integration
def test_stream_process_streams_stdout_and_stderr_in_order(tmp_path: Path) -> None:
    script = (
        "import sys\nprint('out 1', flush=True)\n"
        "print('err 2', file=sys.stderr, flush=True)\nprint('out 3')\nsys.exit(4)"
    )
    lines: list[str] = []

    code = stream_process(
        [sys.executable, "-c", script], cwd=tmp_path, env=os.environ, timeout=30,
        on_line=lines.append,
    )  # fmt: skip

    assert code == 4
    assert lines == ["out 1", "err 2", "out 3"]


@pytest.mark.integration
def test_stream_process_gives_no_stdin_so_prompts_fail_at_once(tmp_path: Path) -> None:
    lines: list[str] = []
    script = "import sys\ntry:\n    input('Continue? ')\nexcept EOFError:\n    print('no input')"

    stream_process(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=os.environ,
        timeout=30,
        on_line=lines.append,
    )

    assert lines[-1].endswith("no input")


@pytest.mark.integration
def test_stream_process_stops_the_program_at_the_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "still-running"
    script = (
        "import time, pathlib\nprint('started', flush=True)\ntime.sleep(20)\n"
        f"pathlib.Path({str(marker)!r}).write_text('x')"
    )
    started = time.monotonic()

    with pytest.raises(subprocess.TimeoutExpired):
        stream_process(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env=os.environ,
            timeout=1,
            on_line=lambda _: None,
        )

    assert time.monotonic() - started < 10
    assert not marker.exists()
