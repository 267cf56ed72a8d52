"""Print requirements.txt from pyproject.toml (``make requirements`` writes it).

pyproject.toml is the one place dependencies are declared; requirements.txt exists for the
seed's ``pip install -r requirements.txt`` and must not drift (a test checks it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def render(pyproject: Path = PYPROJECT) -> str:
    """Return the requirements.txt text for the project's runtime and dashboard dependencies."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    lines = [
        "# Generated from pyproject.toml by `make requirements`; do not edit by hand.",
        "# Runtime (commands and the monitor):",
        *project["dependencies"],
        "# Dashboard widget (ui/):",
        *project["optional-dependencies"]["ui"],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
