"""The repository keeps its promises: generated files in sync, the seed's layout present."""

from __future__ import annotations

from pathlib import Path

from scripts.generate_requirements import render


def test_requirements_txt_is_generated_from_pyproject(project_root: Path) -> None:
    assert (project_root / "requirements.txt").read_text() == render(), (
        "requirements.txt is stale: run `make requirements`"
    )


def test_the_seeds_layout_exists(project_root: Path) -> None:
    for folder in ("config", "utils", "ui", "scripts", "algorithms", "docs/infrastructure",
                   "tests", "benchmarks"):  # fmt: skip
        assert (project_root / folder).is_dir(), folder
