"""Lazy package exports (PEP 562): a name imports its module the first time it is used.

``utils`` and ``ui`` both export this way, so that ``from utils import create_resource_monitor``
inside LEAN loads only the runtime modules it needs and ``import ui`` loads no Qt.

Standard library only: this module ships into LEAN with ``utils/__init__.py``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for ``exports`` (name -> module).

    Args:
        package: The package's name, for the error message.
        exports: Exported name -> the module that defines it.
        namespace: The package's ``globals()``: a loaded name is cached there.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        module = exports.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
