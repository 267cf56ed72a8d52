"""Desktop dashboard widgets (PySide6), e.g. ``from ui import create_resource_widget``.

Names are imported lazily (PEP 562, :mod:`utils.lazy_exports`): ``import ui`` loads no Qt;
Qt and pyqtgraph load when a widget name is first used. The data sources
(:mod:`ui.resource_sources`) need no Qt at all.
Desktop only: nothing under ``utils/`` imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from utils.lazy_exports import lazy_exports

# Exported name -> module that defines it.
_EXPORTS: dict[str, str] = {
    "create_resource_widget": "ui.resource_monitor_widget",
    "ResourceMonitorWidget": "ui.resource_monitor_widget",
    "MonitorSource": "ui.resource_sources",
    "MetricsLogSource": "ui.resource_sources",
    "ResourceSnapshot": "ui.resource_sources",
    "ResourceSource": "ui.resource_sources",
}

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from ui.resource_monitor_widget import ResourceMonitorWidget as ResourceMonitorWidget
    from ui.resource_monitor_widget import create_resource_widget as create_resource_widget
    from ui.resource_sources import MetricsLogSource as MetricsLogSource
    from ui.resource_sources import MonitorSource as MonitorSource
    from ui.resource_sources import ResourceSnapshot as ResourceSnapshot
    from ui.resource_sources import ResourceSource as ResourceSource

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
