"""The desktop package stays out of the runtime, and loads Qt only when a widget is used."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_command


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_utils_module_imports_the_desktop_package() -> None:
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): sorted(
            name for name in imported_modules(path)
            if name.split(".")[0] in {"ui", "PySide6", "pyqtgraph"}
        )
        for path in sorted((PROJECT_ROOT / "utils").glob("*.py"))
    }  # fmt: skip

    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.integration
def test_importing_ui_loads_no_qt_until_a_widget_is_asked_for() -> None:
    code = (
        "import sys, ui\n"
        "before = sorted(m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph')))\n"
        "ui.create_resource_widget\n"
        "after = 'PySide6.QtWidgets' in sys.modules\n"
        "print(before, after)\n"
    )

    done = run_command(sys.executable, "-c", code)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] True"
