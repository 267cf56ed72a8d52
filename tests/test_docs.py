"""The compute node guide stays true to the data it documents."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.generate_docs import GUIDE, render
from utils.memory_model import MemoryModel, Workload
from utils.node_catalog import Family


def test_the_guides_node_table_is_generated_from_the_catalog() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert text == render(text), "the node table is stale: run `python scripts/generate_docs.py`"


def test_the_guides_memory_table_matches_the_memory_model() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## Memory model") : text.index("## Analysis JSON schema")]
    documented = {}
    for row in re.finditer(
        r"^\| ([^|]+?) \| [^|]+ \| ([\d,]+) \| (node|desktop) \|$", section, re.M
    ):
        if (mb := float(row[2].replace(",", ""))) > 0:  # the model leaves zero rows out
            documented[row[1]] = mb
    estimate = MemoryModel().estimate(Workload(), Family.LIVE_TRADING)
    assert documented == {line.label: line.mb for line in estimate.lines}


def test_every_command_the_guide_names_exists(project_root: Path) -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for script in set(re.findall(r"scripts/[a-z_]+\.py", text)):
        assert (project_root / script).is_file(), script
