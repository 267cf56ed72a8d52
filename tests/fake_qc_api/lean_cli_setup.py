"""What the real LEAN CLI needs to run offline against the fake API (reference section 5).

* its modules cache file, which it would otherwise download from QuantConnect's CDN at import:
  the smallest file offering the "Paper Trading" brokerage and the QuantConnect live data feed;
* a home with ``~/.lean/credentials``, ``~/.lean/config`` (market-data refresh off) and
  ``~/.lean/cache`` (daily update checks already done).

The CLI is never imported here: its package folder is found through ``sysconfig``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

MODULES_FILE_NAME = "modules-1.14.json"

MINIMAL_MODULES: dict[str, list[dict[str, object]]] = {
    "modules": [
        {
            "id": "QuantConnectBrokerage",
            "display-id": "Paper Trading",
            "type": ["brokerage"],
            "platform": ["cloud"],
            "configurations": [],
            "live-cash-balance-state": "optional",
            "live-holdings-state": "optional",
        },
        {
            "id": "QuantConnectBrokerage",
            "display-id": "QuantConnect",
            "type": ["data-queue-handler"],
            "platform": ["cloud"],
            "configurations": [],
        },
    ]
}


def lean_package_dir() -> Path:
    """Return the installed ``lean`` package folder of this interpreter's environment.

    Raises:
        FileNotFoundError: The LEAN CLI is not installed in this environment.
    """
    package = Path(sysconfig.get_paths()["purelib"]) / "lean"
    if not (package / "__init__.py").is_file():
        msg = f"the LEAN CLI is not installed in {package.parent} (pip install lean==1.0.230)"
        raise FileNotFoundError(msg)
    return package


@contextlib.contextmanager
def minimal_modules_file(package_dir: Path) -> Iterator[Path]:
    """Provide the CLI's modules cache file, fresh, and put back what was there afterwards."""
    path = package_dir / MODULES_FILE_NAME
    previous = path.read_bytes() if path.is_file() else None
    previous_times = (path.stat().st_atime, path.stat().st_mtime) if previous is not None else None
    path.write_text(json.dumps(MINIMAL_MODULES, indent=2), encoding="utf-8")
    try:
        yield path
    finally:
        if previous is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(previous)
            if previous_times is not None:
                os.utime(path, previous_times)


def prepare_lean_home(home: Path, *, user_id: str, api_token: str) -> Path:
    """Write the CLI's credentials, config and cache under ``home/.lean``; return that folder."""
    lean_dir = home / ".lean"
    lean_dir.mkdir(parents=True, exist_ok=True)
    write_credentials(home, user_id=user_id, api_token=api_token)
    (lean_dir / "config").write_text(json.dumps({"database-update-frequency": "-"}))
    now = int(time.time())
    cache = {"last-update-check-cli": now, "last-update-check-announcements": now}
    (lean_dir / "cache").write_text(json.dumps(cache))
    return lean_dir


def write_credentials(home: Path, *, user_id: str, api_token: str) -> Path:
    """Write ``home/.lean/credentials`` as ``lean login`` does."""
    path = home / ".lean" / "credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"user-id": user_id, "api-token": api_token}))
    path.chmod(0o600)
    return path
