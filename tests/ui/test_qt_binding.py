"""The installed Qt binding keeps Python's reference counts intact (pyproject.toml pins it).

PySide6 6.12.0 on Python 3.11 takes one reference from ``None`` on every call of a method that
returns nothing; the dashboard makes about fifty such calls a second and aborts with
"Fatal Python error: none_dealloc" within minutes. From Python 3.12 ``None`` is immortal and its
count never changes, so this check passes there whatever the binding does.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.qt

CALLS = 2000


def test_methods_returning_nothing_do_not_steal_references_to_none(qtbot: QtBot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)

    for _ in range(CALLS):
        label.setText("x")
        label.style().unpolish(label)

    assert sys.getrefcount(None) - before > -CALLS // 10
