"""An honest in-memory QuantConnect API v2: authentication, state, and the endpoints we drive.

It speaks the protocol the real service speaks (as documented and as the LEAN CLI 1.0.230
uses it): HTTP Basic auth with the user id and ``sha256(f"{token}:{timestamp}")``, a
``Timestamp`` header no older than 7200 s, a JSON body with ``success`` and ``errors`` on every
answer, GET query parameters, JSON POST bodies and form-encoded POST bodies
(``files[0][name]=...``). It records every request so tests can assert what a client sent.

No sockets here: :class:`FakeQuantConnect.handle` takes a request and returns a response, so
the same protocol serves the real HTTP server (:mod:`tests.fake_qc_api.server`) and in-process
transports in unit tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import parse_qsl

API_PREFIX = "/api/v2/"
MAX_SIGNATURE_AGE_SECONDS = 7200
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# What the fake organisation's nodes look like, by model (the service's own data, kept apart
# from the project's node catalog on purpose: a fake must not agree with the code by import).
_NODE_SPECS: dict[str, tuple[str, int, float, float, int]] = {
    # sku: (family, cpu, ram GB, speed GHz, monthly USD)
    "B-MICRO": ("backtest", 2, 8, 3.0, 0),
    "B2-8": ("backtest", 2, 8, 4.9, 14),
    "B4-12": ("backtest", 4, 12, 4.9, 20),
    "B8-16": ("backtest", 8, 16, 4.9, 28),
    "R1-4": ("research", 1, 4, 2.4, 5),
    "R2-8": ("research", 2, 8, 2.4, 10),
    "R8-16": ("research", 8, 16, 2.4, 14),
    "L-MICRO": ("live", 1, 0.5, 2.6, 20),
    "L1-1": ("live", 1, 1, 2.6, 25),
    "L1-2": ("live", 1, 2, 2.6, 35),
    "L2-4": ("live", 2, 4, 2.6, 50),
}
_ID_PREFIX = {"backtest": "BN", "research": "RN", "live": "LN"}


@dataclass
class FakeNode:
    """One node of the organisation, with every field ``nodes/read`` returns."""

    id: str
    name: str
    sku: str
    family: str
    cpu: int
    ram: float
    speed: float
    monthly: int
    busy: bool = False
    used_by: str = ""
    project_name: str = ""
    has_gpu: int = 0

    def as_json(self, *, active: bool | None = None) -> dict[str, Any]:
        """Return the node as the API sends it (``active`` only for project nodes)."""
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "sku": self.sku,
            "busy": self.busy,
            "usedBy": self.used_by,
            "projectName": self.project_name,
            "description": f"{self.cpu} cores, {self.ram:g} GB RAM, {self.speed} GHz",
            "price": {"monthly": self.monthly, "yearly": self.monthly * 10},
            "speed": self.speed,
            "cpu": self.cpu,
            "ram": self.ram,
            "assets": 0 if self.family != "live" else 1,
            "host": "NY7" if self.family == "live" else None,
            "hasGpu": self.has_gpu,
        }
        if active is not None:
            data["active"] = active
        return data


def make_node(sku: str, *, index: int = 1, busy: bool = False, used_by: str = "") -> FakeNode:
    """Return a node of model ``sku`` as the service would describe it."""
    family, cpu, ram, speed, monthly = _NODE_SPECS[sku]
    node_id = f"{_ID_PREFIX[family]}-{hashlib.md5(f'{sku}{index}'.encode()).hexdigest()[:24]}"  # noqa: S324 - an id, not security
    return FakeNode(
        id=node_id, name=f"{sku} node {index}", sku=sku, family=family, cpu=cpu, ram=ram,
        speed=speed, monthly=monthly, busy=busy, used_by=used_by,
        project_name="Other algorithm" if busy else "",
    )  # fmt: skip


def default_nodes() -> list[FakeNode]:
    """Return an organisation with one node per configured model and a busy L1-2."""
    return [
        make_node("B-MICRO"),
        make_node("B8-16"),
        make_node("R8-16"),
        make_node("L2-4"),
        make_node("L1-2", busy=True, used_by="someone@example.com"),
    ]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received.

    Attributes:
        method: ``GET`` or ``POST``.
        endpoint: The path after ``/api/v2/``, e.g. ``projects/update``.
        params: Query, JSON or form parameters (form values are strings).
        body: The raw body.
        encoding: ``query``, ``json`` or ``form``.
        status: The HTTP status the fake answered.
        authenticated: Whether the signature was valid.
        user_agent: The client's User-Agent header.
    """

    method: str
    endpoint: str
    params: dict[str, Any]
    body: bytes
    encoding: str
    status: int
    authenticated: bool
    user_agent: str


@dataclass
class _Failure:
    status: int
    errors: list[str]
    remaining: int | None


@dataclass
class _Project:
    project_id: int
    name: str
    organization_id: str
    language: str
    files: dict[str, str] = field(default_factory=dict)
    description: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    active_nodes: set[str] = field(default_factory=set)
    created: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "projectId": self.project_id,
            "organizationId": self.organization_id,
            "name": self.name,
            "description": self.description,
            "modified": self.created,
            "created": self.created,
            "language": self.language,
            "collaborators": [],
            "leanVersionId": 17000,
            "leanPinnedToMaster": True,
            "leanEnvironment": 1,
            "parameters": [{"key": k, "value": v} for k, v in self.parameters.items()],
            "libraries": [],
            "encrypted": False,
        }


class FakeQuantConnect:
    """The service's state and protocol.

    Args:
        user_id: The account's numeric user id.
        api_token: The account's API token.
        organization_id: The one organisation the account belongs to.
        nodes: The organisation's nodes (:func:`default_nodes` by default).
        clock: Unix time, for checking signatures.
        backtest_error: When set, every backtest ends with this runtime error.
    """

    def __init__(
        self,
        *,
        user_id: str = "123456",
        api_token: str = "f" * 64,
        organization_id: str = "5cad178b20a1d52567b534553413b691",
        nodes: Iterable[FakeNode] | None = None,
        clock: Callable[[], float] = time.time,
        backtest_error: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.api_token = api_token
        self.organization_id = organization_id
        self.nodes: list[FakeNode] = list(default_nodes() if nodes is None else nodes)
        self.clock = clock
        self.backtest_error = backtest_error
        self.requests: list[RecordedRequest] = []
        self.projects: dict[int, _Project] = {}
        self.compiles: dict[str, dict[str, Any]] = {}
        self.backtests: dict[str, dict[str, Any]] = {}
        self.live: dict[int, dict[str, Any]] = {}
        self.optimizations: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, _Failure] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "authenticate": lambda _: {},
            "account/read": self._account_read,
            "organizations/read": self._organizations_read,
            "projects/create": self._projects_create,
            "projects/read": self._projects_read,
            "projects/update": self._projects_update,
            "files/read": self._files_read,
            "compile/create": self._compile_create,
            "compile/read": self._compile_read,
            "backtests/create": self._backtests_create,
            "backtests/read": self._backtests_read,
            "nodes/read": self._nodes_read,
            "projects/nodes/read": self._project_nodes_read,
            "projects/nodes/update": self._project_nodes_update,
            "live/read": self._live_read,
            "live/create": self._live_create,
            "optimizations/estimate": self._optimizations_estimate,
            "optimizations/create": self._optimizations_create,
            "optimizations/read": self._optimizations_read,
        }

    # ---------------------------------------------------------------- test controls

    def fail(
        self,
        endpoint: str,
        status: int,
        *,
        errors: list[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``endpoint`` with ``status`` and ``success: false``, ``times`` times or always."""
        self._failures[endpoint] = _Failure(status, errors or [f"HTTP {status}"], times)

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        """Return the recorded requests to ``endpoint``, oldest first."""
        return [r for r in self.requests if r.endpoint == endpoint]

    def endpoints(self) -> list[str]:
        """Return the endpoints requested, in order."""
        return [r.endpoint for r in self.requests]

    def node(self, sku: str) -> FakeNode:
        """Return the first node of model ``sku``."""
        return next(n for n in self.nodes if n.sku == sku)

    def project_named(self, name: str) -> _Project:
        """Return the project called ``name``."""
        return next(p for p in self.projects.values() if p.name == name)

    def create_project(self, name: str, language: str = "Py") -> int:
        """Create a project as ``projects/create`` would; return its id."""
        with self._lock:
            created = self._projects_create({"name": name, "language": language})
        project_id: int = created["projects"][0]["projectId"]
        return project_id

    # ---------------------------------------------------------------- protocol

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """Answer one HTTP request; return the status and the JSON body."""
        with self._lock:
            return self._handle(method, path, {k.lower(): v for k, v in headers.items()}, body)

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        raw_path, _, query = path.partition("?")
        endpoint = raw_path[len(API_PREFIX) :] if raw_path.startswith(API_PREFIX) else ""
        params, encoding = self._parameters(method, query, headers, body)
        authenticated = self._signature_valid(headers)

        def answer(status: int, payload: dict[str, Any]) -> tuple[int, bytes]:
            self.requests.append(
                RecordedRequest(
                    method=method,
                    endpoint=endpoint,
                    params=params,
                    body=body,
                    encoding=encoding,
                    status=status,
                    authenticated=authenticated,
                    user_agent=headers.get("user-agent", ""),
                )
            )
            return status, json.dumps(payload).encode()

        if not raw_path.startswith(API_PREFIX):
            return answer(404, {"success": False, "errors": [f"Not found: {raw_path}"]})
        if not authenticated:
            return answer(401, {"success": False, "errors": ["Hash doesn't match."]})
        failure = self._failures.get(endpoint)
        if failure is not None and failure.remaining != 0:
            if failure.remaining is not None:
                failure.remaining -= 1
            return answer(failure.status, {"success": False, "errors": failure.errors})
        handler = self._handlers.get(endpoint)
        if handler is None:
            return answer(404, {"success": False, "errors": [f"Unknown endpoint {endpoint}"]})
        try:
            payload = handler(params)
        except _ApiRefusalError as refusal:
            return answer(200, {"success": False, "errors": [str(refusal)]})
        return answer(200, {**payload, "success": True, "errors": []})

    def _parameters(
        self, method: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[dict[str, Any], str]:
        if method == "GET" or not body:
            return dict(parse_qsl(query, keep_blank_values=True)), "query"
        content_type = headers.get("content-type", "")
        if "json" in content_type:
            data = json.loads(body or b"{}")
            return (data if isinstance(data, dict) else {"": data}), "json"
        return dict(parse_qsl(body.decode(), keep_blank_values=True)), "form"

    def _signature_valid(self, headers: dict[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        timestamp = headers.get("timestamp", "")
        if not authorization.startswith("Basic ") or not timestamp.isdigit():
            return False
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        if user != self.user_id or abs(self.clock() - int(timestamp)) > MAX_SIGNATURE_AGE_SECONDS:
            return False
        expected = hashlib.sha256(f"{self.api_token}:{timestamp}".encode()).hexdigest()
        return hmac.compare_digest(password, expected)

    # ---------------------------------------------------------------- endpoints

    def _now(self) -> str:
        return time.strftime(TIME_FORMAT, time.gmtime(self.clock()))

    def _project(self, params: dict[str, Any]) -> _Project:
        try:
            project = self.projects[int(params.get("projectId", -1))]
        except (KeyError, ValueError):
            _refuse("Project not found")
        return project

    def _account_read(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"organizationId": self.organization_id, "creditBalance": 100_000, "card": None}

    def _organizations_read(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_organization(params.get("organizationId"))
        return {
            "organization": {
                "id": self.organization_id, "name": "Test organisation", "seats": 1,
                "type": "Team", "credit": {"movements": [], "balance": 100_000},
                "products": [], "data": {"signedTime": None, "current": False}, "members": [],
            }
        }  # fmt: skip

    def _check_organization(self, organization_id: object) -> None:
        if organization_id not in (None, "", self.organization_id):
            _refuse(f"Organization {organization_id} not found")

    def _projects_create(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_organization(params.get("organizationId"))
        name = str(params.get("name", ""))
        if not name:
            _refuse("Project name is required")
        if params.get("language") not in ("Py", "C#"):
            _refuse(f"Invalid language {params.get('language')!r}")
        project = _Project(
            project_id=next(self._ids), name=name, organization_id=self.organization_id,
            language=str(params["language"]), created=self._now(),
        )  # fmt: skip
        self.projects[project.project_id] = project
        return {"projects": [project.as_json()]}

    def _projects_read(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("projectId") not in (None, ""):
            return {"projects": [self._project(params).as_json()], "versions": []}
        return {"projects": [p.as_json() for p in self.projects.values()], "versions": []}

    def _projects_update(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        if "name" in params:
            project.name = str(params["name"])
        if "description" in params:
            project.description = str(params["description"])
        names = {m[1]: v for k, v in params.items() if (m := _FILE_NAME.match(k))}
        contents = {m[1]: v for k, v in params.items() if (m := _FILE_CONTENT.match(k))}
        if names or "files" in params:
            project.files = {str(names[i]): str(contents.get(i, "")) for i in names}
        return {}

    def _files_read(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        files = [
            {"name": n, "content": c, "modified": project.created, "isLibrary": False}
            for n, c in project.files.items()
        ]
        return {"files": files}

    def _compile_create(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        compile_id = f"{project.project_id}-{next(self._ids):x}"
        logs, state = ["Build Success."], "BuildSuccess"
        if "main.py" not in project.files:
            logs, state = ["Build Error: main.py not found"], "BuildError"
        for name, content in project.files.items():
            if name.endswith(".py"):
                try:
                    compile(content, name, "exec")
                except SyntaxError as error:
                    logs, state = [f"Build Error: {name}:{error.lineno}: {error.msg}"], "BuildError"
        self.compiles[compile_id] = {"compileId": compile_id, "state": state, "logs": logs}
        return {
            "compileId": compile_id, "state": "InQueue", "projectId": project.project_id,
            "signature": "", "signatureOrder": [], "logs": [],
        }  # fmt: skip

    def _compile_read(self, params: dict[str, Any]) -> dict[str, Any]:
        self._project(params)
        compiled = self.compiles.get(str(params.get("compileId")))
        if compiled is None:
            _refuse("Compile not found")
        return dict(compiled)

    def _backtests_create(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        compiled = self.compiles.get(str(params.get("compileId")))
        if compiled is None or compiled["state"] != "BuildSuccess":
            _refuse("Compile id not found or not successful")
        backtest_id = hashlib.md5(str(next(self._ids)).encode()).hexdigest()  # noqa: S324 - an id
        backtest = self._backtest(project.project_id, backtest_id, str(params.get("backtestName")))
        self.backtests[backtest_id] = backtest
        return {"backtest": {**backtest, "completed": False, "progress": 0.0}}

    def _backtest(self, project_id: int, backtest_id: str, name: str) -> dict[str, Any]:
        base: dict[str, Any] = {
            "backtestId": backtest_id, "projectId": project_id, "name": name,
            "created": self._now(), "note": None,
        }  # fmt: skip
        if self.backtest_error is not None:
            return {
                **base, "status": "Runtime Error", "completed": True, "progress": 1.0,
                "error": self.backtest_error, "stacktrace": self.backtest_error,
            }  # fmt: skip
        return {
            **base,
            "status": "Completed.",
            "completed": True,
            "progress": 1.0,
            "runtimeStatistics": {"Equity": "$100,000.00", "Net Profit": "$0.00"},
            "statistics": {"Total Orders": "0", "Sharpe Ratio": "0"},
            "totalPerformance": {"portfolioStatistics": {}, "tradeStatistics": {}},
        }

    def _backtests_read(self, params: dict[str, Any]) -> dict[str, Any]:
        self._project(params)
        backtest = self.backtests.get(str(params.get("backtestId")))
        if backtest is None:
            _refuse("Backtest not found")
        return {"backtest": backtest}

    def _nodes_by_family(self, active: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        return {
            family: [
                n.as_json(active=None if active is None else n.id in active)
                for n in self.nodes
                if n.family == family
            ]
            for family in ("backtest", "research", "live")
        }

    def _nodes_read(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_organization(params.get("organizationId"))
        if not params.get("organizationId"):
            _refuse("organizationId is required")
        return self._nodes_by_family()

    def _project_nodes_read(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        return {
            "nodes": self._nodes_by_family(project.active_nodes),
            "autoSelectNode": not project.active_nodes,
        }

    def _project_nodes_update(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        requested = params.get("nodes", [])
        if not isinstance(requested, list) or not all(isinstance(n, str) for n in requested):
            _refuse("nodes must be a list of node ids")
        known = {n.id for n in self.nodes}
        unknown = [n for n in requested if n not in known]
        if unknown:
            _refuse(f"Node {unknown[0]} not found in the organization")
        project.active_nodes = set(requested)
        return self._project_nodes_read(params)

    def _live_read(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        live = self.live.get(project.project_id)
        if live is None:
            _refuse("No live deployment found")
        return dict(live)

    def _live_create(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._project(params)
        if str(params.get("compileId")) not in self.compiles:
            _refuse("Compile not found")
        node = next((n for n in self.nodes if n.id == params.get("nodeId")), None)
        if node is None or node.family != "live":
            _refuse(f"Live node {params.get('nodeId')!r} not found")
        if node.busy:
            _refuse(f"Node {node.name} is busy")
        brokerage = params.get("brokerage")
        if not isinstance(brokerage, dict) or "id" not in brokerage:
            _refuse("brokerage with an id is required")
        node.busy, node.used_by, node.project_name = True, self.user_id, project.name
        deploy_id = f"L-{hashlib.md5(str(next(self._ids)).encode()).hexdigest()}"  # noqa: S324
        self.live[project.project_id] = {
            "projectId": project.project_id, "deployId": deploy_id, "status": "Running",
            "launched": self._now(), "stopped": None, "brokerage": brokerage["id"],
        }  # fmt: skip
        return {"projectId": project.project_id, "deployId": deploy_id, "status": "Running"}

    def _optimization_request(self, params: dict[str, Any]) -> _Project:
        project = self._project(params)
        if params.get("nodeType") not in ("O2-8", "O4-12", "O8-16"):
            _refuse(f"Invalid nodeType {params.get('nodeType')!r}")
        if not str(params.get("parallelNodes", "")).isdigit():
            _refuse("parallelNodes must be a whole number")
        return project

    def _optimizations_estimate(self, params: dict[str, Any]) -> dict[str, Any]:
        self._optimization_request(params)
        return {"estimate": {"estimateId": "estimate-1", "time": 60, "balance": 100_000}}

    def _optimizations_create(self, params: dict[str, Any]) -> dict[str, Any]:
        project = self._optimization_request(params)
        optimization_id = f"O-{next(self._ids)}"
        keys = {m[1]: v for k, v in params.items() if (m := _PARAMETER_KEY.match(k))}
        backtest_id = hashlib.md5(optimization_id.encode()).hexdigest()  # noqa: S324 - an id
        self.backtests[backtest_id] = self._backtest(project.project_id, backtest_id, "optimal")
        parameter_set = {
            str(key): str(params.get(f"parameters[{i}][min]", "")) for i, key in keys.items()
        }
        self.optimizations[optimization_id] = {
            "optimizationId": optimization_id, "projectId": project.project_id,
            "status": "completed", "name": str(params.get("name", "")),
            "backtests": {backtest_id: {
                "id": backtest_id, "name": "optimal", "exitCode": 0,
                "parameterSet": parameter_set, "statistics": [1.0] * 20,
            }},
            "runtimeStatistics": {"Completed": "1", "Failed": "0", "Total": "1"},
        }  # fmt: skip
        created = {**self.optimizations[optimization_id], "status": "new", "backtests": []}
        return {"optimizations": [created]}

    def _optimizations_read(self, params: dict[str, Any]) -> dict[str, Any]:
        optimization = self.optimizations.get(str(params.get("optimizationId")))
        if optimization is None:
            _refuse("Optimization not found")
        return {"optimization": optimization}


_FILE_NAME = re.compile(r"^files\[(\d+)\]\[name\]$")
_FILE_CONTENT = re.compile(r"^files\[(\d+)\]\[content\]$")
_PARAMETER_KEY = re.compile(r"^parameters\[(\d+)\]\[key\]$")


class _ApiRefusalError(Exception):
    """The service answers ``success: false`` with this message."""


def _refuse(message: str) -> NoReturn:
    raise _ApiRefusalError(message)
