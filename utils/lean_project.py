"""Stage a LEAN workspace for ``lean cloud push``: what goes to QuantConnect, and nothing else.

Layout (under ``build/lean`` by default)::

    build/lean/lean.json                      {"organization-id": "..."}
    build/lean/<project>/config.json          {"algorithm-language": "Python", ...}
    build/lean/<project>/main.py              the algorithm
    build/lean/<project>/<helper>.py          files of the algorithm's folder it imports
    build/lean/<project>/utils/...            the runtime modules it imports, and
    build/lean/<project>/utils/deployed_settings.py   the validated settings

Why a generated settings module: ``lean cloud push`` uploads only ``.py .cs .ipynb .css
.html`` files (``ProjectManager.get_source_files`` in LEAN CLI 1.0.230), so
``config/settings.json`` would never reach the cloud. The settings travel as JSON text inside a
Python module, and :func:`utils.settings.load_settings` reads them through the same validation
when ``config/settings.json`` is absent (as it is in the cloud).

Only the runtime that runs inside LEAN ships: the ``utils`` modules the algorithm imports
(settings, node catalog, memory model, resource monitor, circuit breaker, metrics log, system
probe, errors, the package ``__init__``) and what they import, never the deploy, desktop or
command-line code. An algorithm that imports that code, or a shipped module that imports
anything but the standard library, psutil and pydantic, is refused here rather than failing in
the cloud.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from utils.errors import InputError
from utils.settings import DEPLOYED_SETTINGS_MODULE, PROJECT_ROOT, parse_settings

UTILS_DIR = PROJECT_ROOT / "utils"
DEFAULT_WORKSPACE = PROJECT_ROOT / "build" / "lean"

DESKTOP_MODULES = frozenset({"cli", "console_report", "deployment", "lean_cli", "lean_project",
                             "qc_api", "node_optimizer", "algorithm_analyzer",
                             "analysis_report"})  # fmt: skip
"""``utils`` modules that never ship: commands, deployment and analysis (rich, the API...)."""

RUNTIME_THIRD_PARTY = frozenset({"psutil", "pydantic", "pydantic_core", "typing_extensions",
                                 "annotated_types"})  # fmt: skip
"""What the runtime may import besides the standard library (pydantic brings the last three)."""

SETTINGS_MODULE_FILE = f"{DEPLOYED_SETTINGS_MODULE.rpartition('.')[2]}.py"
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,62}[A-Za-z0-9_]$|^[A-Za-z0-9_]$")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10)), "BIN", "OBJ", "BACKTESTS", "LIVE",
             "OPTIMIZATIONS", "STORAGE", "REPORT"}  # fmt: skip


class StagingError(InputError):
    """The algorithm cannot be staged as a LEAN project as it is."""


@dataclass(frozen=True)
class StagedFile:
    """One file of the staged project.

    Attributes:
        path: Relative to the project folder, with ``/`` (as the cloud names it).
        content: The text.
        origin: Where it comes from (a repository path, or ``generated``).
    """

    path: str
    content: str = field(repr=False)
    origin: str


@dataclass(frozen=True)
class LeanProjectPlan:
    """A LEAN workspace and project, planned in memory; :meth:`write` puts it on disk."""

    workspace: Path
    project_name: str
    files: tuple[StagedFile, ...]
    settings_note: str

    @property
    def project_dir(self) -> Path:
        """Return the project folder."""
        return self.workspace / self.project_name

    def paths(self) -> list[str]:
        """Return the staged file paths, relative to the project."""
        return [f.path for f in self.files]

    def write(self, organization_id: str) -> Path:
        """Write the workspace for ``organization_id``; return the project folder.

        A project staged before keeps its ``cloud-id`` (so the push updates the same cloud
        project) unless it belonged to another organisation. Files of an earlier staging that
        are no longer part of the project are removed (``lean cloud push`` deletes cloud files
        without a local counterpart).

        Raises:
            StagingError: The project folder exists and is not a staged LEAN project.
        """
        self.workspace.mkdir(parents=True, exist_ok=True)
        _write_json(self.workspace / "lean.json", {"organization-id": organization_id})
        project = self.project_dir
        config = {"algorithm-language": "Python"}
        config.update(_kept_config(project, organization_id))
        if project.exists():
            _clear_project(project)
        project.mkdir(parents=True, exist_ok=True)
        _write_json(project / "config.json", config)
        for staged in self.files:
            target = project / staged.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(staged.content, encoding="utf-8")
        return project


def cloud_project_id(project_dir: Path) -> int | None:
    """Return the ``cloud-id`` the LEAN CLI wrote into the project's ``config.json``."""
    try:
        config = json.loads((project_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    value = config.get("cloud-id") if isinstance(config, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=4) + "\n", encoding="utf-8")


def _kept_config(project: Path, organization_id: str) -> dict[str, Any]:
    try:
        old = json.loads((project / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(old, dict):
        return {}
    kept = {k: old[k] for k in ("local-id",) if k in old}
    if old.get("organization-id") in (None, organization_id) and "cloud-id" in old:
        kept["cloud-id"] = old["cloud-id"]
        kept["organization-id"] = organization_id
    return kept


def _clear_project(project: Path) -> None:
    config = project / "config.json"
    children = list(project.iterdir())
    if children and not _is_staged_config(config):
        msg = (
            f"{project} exists and is not a LEAN project staged by this command; "
            "choose another --project name or --build-dir, or remove the folder"
        )
        raise StagingError(msg)
    for child in children:
        if child == config:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _is_staged_config(config: Path) -> bool:
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("algorithm-language") == "Python"


# ------------------------------------------------------------------------------ planning


def default_project_name(algorithm: Path) -> str:
    """Return the cloud project name for ``algorithm``: its file name without ``.py``."""
    return algorithm.stem


def check_project_name(name: str) -> str:
    """Return ``name`` if the LEAN CLI will keep it as is.

    Raises:
        StagingError: The CLI would rename it (characters, reserved names, length).
    """
    if not _PROJECT_NAME.match(name) or name.upper() in _RESERVED:
        msg = (
            f"--project {name!r}: a cloud project name is 1-64 letters, digits, '_', '-', '.' "
            "or spaces, starting and ending with a letter, digit or '_', and not a reserved "
            f"name ({', '.join(sorted(n.lower() for n in _RESERVED if len(n) > 4))}, ...)"
        )
        raise StagingError(msg)
    return name


def plan_project(
    algorithm: Path,
    *,
    settings_path: Path,
    project_name: str,
    workspace: Path = DEFAULT_WORKSPACE,
    deployment_node: str | None = None,
    deployment_type: str = "",
    utils_dir: Path = UTILS_DIR,
    clock: Callable[[], datetime] | None = None,
) -> LeanProjectPlan:
    """Plan the staged project for ``algorithm`` (reads files, writes nothing).

    Args:
        algorithm: The LEAN algorithm (becomes ``main.py``).
        settings_path: The settings file to ship (validated again after the node is set).
        project_name: The cloud project name (the project folder's name).
        workspace: The LEAN workspace folder.
        deployment_node: The node model deployed to; it becomes
            ``quantconnect.monitoring.target_node`` unless the settings name one.
        deployment_type: ``backtest``, ``live``, ... (recorded in the settings module).
        utils_dir: Where the runtime modules are read from.
        clock: Returns the staging time (``datetime``); default now, UTC.

    Raises:
        StagingError: The algorithm imports code that cannot run in LEAN, or a runtime
            module imports something LEAN's cloud does not have.
        SettingsError: The settings are invalid.
    """
    check_project_name(project_name)
    source = _read_source(algorithm)
    files = [StagedFile(path="main.py", content=source, origin=str(algorithm))]
    exports = _utils_exports(utils_dir)

    local, needed_utils = _algorithm_imports(algorithm, source, utils_dir, exports)
    for path, text in local:
        relative = path.relative_to(algorithm.parent).as_posix()
        files.append(StagedFile(path=relative, content=text, origin=str(path)))

    settings_note = "not shipped (the algorithm does not import utils)"
    if needed_utils:
        modules = _runtime_closure(needed_utils, utils_dir, exports)
        files.extend(
            StagedFile(path=f"utils/{name}.py", content=modules[name], origin=f"utils/{name}.py")
            for name in sorted(modules)
        )
        settings_text, settings_note = _settings_module(
            settings_path, deployment_node, deployment_type, clock
        )
        files.append(
            StagedFile(path=f"utils/{SETTINGS_MODULE_FILE}", content=settings_text,
                       origin=f"generated from {settings_path}")
        )  # fmt: skip
    return LeanProjectPlan(
        workspace=workspace, project_name=project_name, files=tuple(files),
        settings_note=settings_note,
    )  # fmt: skip


def _read_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        msg = f"{path}: file not found"
        raise StagingError(msg) from None
    except (OSError, UnicodeDecodeError) as error:
        msg = f"{path}: cannot read it as UTF-8 text ({error})"
        raise StagingError(msg) from None


def _parse(path: Path, source: str) -> ast.Module:
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError as error:
        msg = f"{path}:{error.lineno}: syntax error: {error.msg}"
        raise StagingError(msg) from None


# ------------------------------------------------------------------------------ imports


@dataclass(frozen=True)
class _Import:
    line: int
    module: str  # absolute dotted name ("utils.settings", "utils" for `from utils import x`)
    names: tuple[str, ...]  # imported names for `from` imports, () for `import`
    level: int


def _imports(tree: ast.Module) -> Iterator[_Import]:
    """Yield every import, at any depth, except those under ``if TYPE_CHECKING:``."""

    def walk(nodes: Iterable[ast.AST]) -> Iterator[_Import]:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.orelse)
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield _Import(node.lineno, alias.name, (), 0)
            elif isinstance(node, ast.ImportFrom):
                names = tuple(a.name for a in node.names)
                yield _Import(node.lineno, node.module or "", names, node.level)
            yield from walk(ast.iter_child_nodes(node))

    return walk(tree.body)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _utils_exports(utils_dir: Path) -> dict[str, str]:
    """Return ``utils/__init__.py``'s ``_EXPORTS`` (name -> module), read without importing."""
    init = utils_dir / "__init__.py"
    if not init.is_file():
        return {}
    for node in ast.walk(_parse(init, _read_source(init))):
        target: ast.expr | None = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if isinstance(target, ast.Name) and target.id == "_EXPORTS" and isinstance(value, ast.Dict):
            return {
                k.value: v.value
                for k, v in zip(value.keys, value.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)
                and isinstance(k.value, str) and isinstance(v.value, str)
            }  # fmt: skip
    return {}


def _utils_modules_of(
    item: _Import, exports: dict[str, str], utils_dir: Path, *, package: str | None = None
) -> list[tuple[str, str]]:
    """Return the ``utils`` modules an import loads, each with the text that loads it.

    ``package`` is ``"utils"`` when the importing file is inside the package (for relative
    imports). Names are module names without ``utils.`` (``__init__`` for the package).
    """
    module = item.module
    if item.level:
        if package != "utils" or item.level > 1:
            return []
        module = "utils" + (f".{module}" if module else "")
    if module != "utils" and not module.startswith("utils."):
        return []
    found = [("__init__", "utils")]
    if module.startswith("utils."):
        found.append((module.split(".")[1], module))
        return found
    for name in item.names:
        if (utils_dir / f"{name}.py").is_file():
            found.append((name, f"utils.{name}"))
        elif name in exports:
            found.append((exports[name].split(".")[1], f"`from utils import {name}`"))
        elif name == "*":
            found.extend((m.split(".")[1], "`from utils import *`") for m in set(exports.values()))
    return found


def _algorithm_imports(
    algorithm: Path, source: str, utils_dir: Path, exports: dict[str, str]
) -> tuple[list[tuple[Path, str]], dict[str, str]]:
    """Return the folder's files the algorithm imports (transitively, with text) and its utils."""
    folder = algorithm.parent
    local: dict[Path, str] = {}
    needed: dict[str, str] = {}
    pending = [(algorithm, source)]
    seen = {algorithm.resolve()}
    while pending:
        path, text = pending.pop()
        for item in _imports(_parse(path, text)):
            for module, via in _utils_modules_of(item, exports, utils_dir):
                if module in DESKTOP_MODULES:
                    _refuse_non_runtime(path, item.line, module, via)
                needed.setdefault(module, f"{path.name}:{item.line}")
            root = item.module.split(".")[0]
            candidates = [folder / f"{root}.py"] if root and root != "utils" else []
            if item.level and not item.module:  # `from . import helper`
                candidates = [folder / f"{name}.py" for name in item.names]
            for candidate in candidates:
                if candidate.is_file() and candidate.resolve() not in seen:
                    seen.add(candidate.resolve())
                    local[candidate] = _read_source(candidate)
                    pending.append((candidate, local[candidate]))
    return sorted(local.items()), needed


def _refuse_non_runtime(path: Path, line: int, module: str, via: str) -> None:
    msg = (
        f"{path}:{line}: imports utils.{module} ({via}), which is deploy, desktop or analysis "
        "code and is not shipped to QuantConnect. Code running in LEAN may import the runtime "
        "(utils.settings, node_catalog, memory_model, resource_monitor, circuit_breaker, "
        "metrics_log, system_probe, errors) but not "
        f"{', '.join(f'utils.{m}' for m in sorted(DESKTOP_MODULES))}"
    )
    raise StagingError(msg)


def _runtime_closure(
    needed: dict[str, str], utils_dir: Path, exports: dict[str, str]
) -> dict[str, str]:
    """Return every runtime module ``needed`` loads, with its text, checking its imports."""
    closure: dict[str, str] = {}
    pending = list(needed)
    stdlib = set(sys.stdlib_module_names)
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        path = utils_dir / f"{name}.py"
        if not path.is_file():
            where = needed.get(name, "a runtime module")
            msg = f"utils/{name}.py does not exist, but {where} needs it (utils.{name})"
            raise StagingError(msg)
        closure[name] = _read_source(path)
        for item in _imports(_parse(path, closure[name])):
            modules = _utils_modules_of(item, exports, utils_dir, package="utils")
            for module, via in modules:
                if module in DESKTOP_MODULES:
                    _refuse_non_runtime(path, item.line, module, via)
                if module not in closure:
                    needed.setdefault(module, f"utils/{name}.py:{item.line}")
                    pending.append(module)
            root = item.module.split(".")[0]
            if item.level or not root or root == "utils":
                continue
            if root not in stdlib and root not in RUNTIME_THIRD_PARTY:
                msg = (
                    f"{path}:{item.line}: imports {item.module!r}, which the runtime cannot use "
                    "inside LEAN (allowed: the standard library, psutil and pydantic)"
                )
                raise StagingError(msg)
    return closure


# ------------------------------------------------------------------------------ settings


def _settings_module(
    settings_path: Path,
    node: str | None,
    deployment_type: str,
    clock: Callable[[], datetime] | None,
) -> tuple[str, str]:
    """Return the generated settings module and a note on what was changed."""
    from utils.settings import load_settings

    load_settings(settings_path)  # the user's file, validated as it is
    data = json.loads(settings_path.read_text(encoding="utf-8-sig"))
    note = f"{settings_path} (validated)"
    if node is not None:
        monitoring = data.setdefault("quantconnect", {}).setdefault("monitoring", {})
        if monitoring.get("target_node") is None:
            monitoring["target_node"] = node
            note += f"; monitoring.target_node set to {node}, the deployment node"
    text = json.dumps(data, indent=2, sort_keys=False)
    parse_settings(text, Path(f"{settings_path} (as deployed)"))  # the same validation again
    when = (clock or (lambda: datetime.now(UTC)))()
    module = (
        '"""Settings deployed with this project: generated by scripts/deploy_with_nodes.py.\n\n'
        "Do not edit: re-run the deploy command. utils.settings.load_settings() reads this\n"
        'when config/settings.json is absent (lean cloud push uploads only source files)."""\n\n'
        f"SOURCE = {str(settings_path)!r}\n"
        f"GENERATED_AT = {when.isoformat(timespec='seconds')!r}\n"
        f"DEPLOYMENT_TYPE = {deployment_type!r}\n"
        f"DEPLOYMENT_NODE = {node!r}\n"
        f"SETTINGS_JSON = {text!r}\n"
    )
    return module, note
