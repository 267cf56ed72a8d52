"""Test policy for the whole suite.

* Qt runs offscreen.
* Unit tests may not open network connections or start processes: both are blocked unless
  the test is marked ``integration`` (those talk to real programs and still run in CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


class _BlockedInUnitTestError(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _block_network_and_processes(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    if request.node.get_closest_marker("integration"):
        return

    def no_connect(self: socket.socket, address: object) -> None:
        # Local socket pairs for in-process threads are fine; anything with an address is not.
        msg = f"unit tests may not open network connections ({address!r}); mark it integration"
        raise _BlockedInUnitTestError(msg)

    def no_process(*args: object, **kwargs: object) -> None:
        command = args[1] if len(args) > 1 else kwargs.get("args")
        msg = f"unit tests may not start processes ({command!r}); mark it integration"
        raise _BlockedInUnitTestError(msg)

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(subprocess.Popen, "__init__", no_process)


@pytest.fixture
def project_root() -> Path:
    """Return the repository root."""
    return PROJECT_ROOT


def run_command(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would (real process); for tests marked ``integration``."""
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False,
        cwd=cwd or PROJECT_ROOT, env={**os.environ, **(env or {})},
    )  # fmt: skip
