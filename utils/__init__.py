"""Compute-node tooling for a QuantConnect options bot: settings, node catalog, memory model,
analyzer and optimizer, resource monitor, circuit breaker, metrics log, deployment.

Names are imported lazily (PEP 562), so ``from utils import create_resource_monitor`` inside
LEAN loads only the runtime modules it needs, and the command-line tools start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Exported name -> module that defines it.
_EXPORTS: dict[str, str] = {
    # errors
    "ProjectError": "utils.errors",
    "InputError": "utils.errors",
    "SettingsError": "utils.errors",
    "UnknownNodeError": "utils.errors",
    "AnalysisError": "utils.errors",
    # settings
    "Settings": "utils.settings",
    "load_settings": "utils.settings",
    # node catalog
    "DEFAULT_CATALOG": "utils.node_catalog",
    "Family": "utils.node_catalog",
    "NodeCatalog": "utils.node_catalog",
    "NodeSpec": "utils.node_catalog",
    # memory model
    "MemoryModel": "utils.memory_model",
    "MemoryEstimate": "utils.memory_model",
    "Workload": "utils.memory_model",
}

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from utils.errors import AnalysisError as AnalysisError
    from utils.errors import InputError as InputError
    from utils.errors import ProjectError as ProjectError
    from utils.errors import SettingsError as SettingsError
    from utils.errors import UnknownNodeError as UnknownNodeError
    from utils.memory_model import MemoryEstimate as MemoryEstimate
    from utils.memory_model import MemoryModel as MemoryModel
    from utils.memory_model import Workload as Workload
    from utils.node_catalog import DEFAULT_CATALOG as DEFAULT_CATALOG
    from utils.node_catalog import Family as Family
    from utils.node_catalog import NodeCatalog as NodeCatalog
    from utils.node_catalog import NodeSpec as NodeSpec
    from utils.settings import Settings as Settings
    from utils.settings import load_settings as load_settings

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'utils' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
