"""A small client for QuantConnect's REST API v2: the calls the LEAN CLI cannot make for us.

The LEAN CLI pushes code and starts backtests, live algorithms and optimizations, but it cannot
choose the node a backtest or a notebook runs on: only ``projects/nodes/update`` can. This
client makes that call and the read calls around it (``nodes/read``, ``projects/nodes/read``,
``account/read``), authenticating exactly as the LEAN CLI does:

* HTTP Basic with the numeric user id and ``sha256_hex(f"{api_token}:{timestamp}")``, plus a
  ``Timestamp`` header (the service rejects signatures older than about two hours);
* credentials from ``QUANTCONNECT_USER_ID`` / ``QUANTCONNECT_API_TOKEN`` (the names
  QuantConnect's own MCP server uses) or from ``~/.lean/credentials`` (written by ``lean login``);
* ``QC_API=local`` points it at ``http://localhost:5612/api/v2/`` and ``QC_API=beta`` at the
  beta site, as in the LEAN CLI (``lean/constants.py``).

The API token never leaves this module in clear: it is not in any repr, log record, exception
or message, and text coming back from the service is scrubbed of it and of the request's hash.

Standard library only (``urllib``); the transport is injectable for tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.errors import InputError, ProjectError

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://www.quantconnect.com/api/v2/"
BETA_API_URL = "https://beta.quantconnect.com/api/v2/"
LOCAL_API_URL = "http://localhost:5612/api/v2/"

USER_ID_ENV = "QUANTCONNECT_USER_ID"
API_TOKEN_ENV = "QUANTCONNECT_API_TOKEN"  # noqa: S105 - a variable name, not a token
ORGANIZATION_ENV = "QUANTCONNECT_ORGANIZATION_ID"

ACCOUNT_SETTINGS_URL = "https://www.quantconnect.com/settings"
USER_AGENT = "qc-compute-nodes deploy_with_nodes"


def api_base_url(environ: Mapping[str, str] | None = None) -> str:
    """Return the API base URL the LEAN CLI would use in this environment (``QC_API``)."""
    env = os.environ if environ is None else environ
    choice = env.get("QC_API", "")
    if choice == "local":
        return LOCAL_API_URL
    if choice == "beta":
        return BETA_API_URL
    return DEFAULT_API_URL


# ------------------------------------------------------------------------------ errors


class CredentialsError(InputError):
    """No usable QuantConnect credentials (missing, incomplete or unreadable)."""


class ApiError(ProjectError):
    """The QuantConnect API refused a request or could not be reached.

    Attributes:
        endpoint: The endpoint called, e.g. ``nodes/read``.
        status: The HTTP status, or ``None`` when there was no answer.
    """

    def __init__(self, message: str, *, endpoint: str, status: int | None = None) -> None:
        self.endpoint = endpoint
        self.status = status
        super().__init__(message)


class ApiAuthenticationError(ApiError):
    """The API rejected the credentials (HTTP 401, or "Hash doesn't match")."""


# ------------------------------------------------------------------------------ credentials


@dataclass(frozen=True)
class Credentials:
    """A QuantConnect user id and API token, and where they came from.

    The token is kept out of ``repr`` and ``str``; use :meth:`signature` to authenticate.
    """

    user_id: str
    api_token: str = field(repr=False)
    source: str = "given"

    def __repr__(self) -> str:
        return (
            f"Credentials(user_id={self.user_id!r}, api_token=<redacted>, source={self.source!r})"
        )

    __str__ = __repr__

    def signature(self, timestamp: int) -> str:
        """Return the request password: ``sha256_hex(f"{api_token}:{timestamp}")``."""
        return hashlib.sha256(f"{self.api_token}:{timestamp}".encode()).hexdigest()

    def same_account_as(self, other: Credentials) -> bool:
        """Return whether both hold the same user id and token (compared, never shown)."""
        import hmac

        return self.user_id == other.user_id and hmac.compare_digest(
            self.api_token.encode(), other.api_token.encode()
        )


def lean_credentials_path(home: Path | None = None) -> Path:
    """Return the LEAN CLI's credentials file, ``~/.lean/credentials``."""
    return (home if home is not None else Path.home()) / ".lean" / "credentials"


_HOW_TO_LOGIN = (
    f"Run `lean login` (it writes ~/.lean/credentials), or set {USER_ID_ENV} and "
    f"{API_TOKEN_ENV}. Your user id and API token are on {ACCOUNT_SETTINGS_URL} "
    "(Security > Request Email With Token and Your User-Id for API Requests)."
)


def load_credentials(
    environ: Mapping[str, str] | None = None, home: Path | None = None
) -> Credentials:
    """Return the credentials from the environment, else from ``~/.lean/credentials``.

    Raises:
        CredentialsError: Neither source has a complete user id and token, or the file is
            unreadable. The message never contains the token.
    """
    env = os.environ if environ is None else environ
    user_id = env.get(USER_ID_ENV, "").strip()
    token = env.get(API_TOKEN_ENV, "").strip()
    if user_id or token:
        missing = API_TOKEN_ENV if user_id else USER_ID_ENV
        present = USER_ID_ENV if user_id else API_TOKEN_ENV
        if not (user_id and token):
            msg = f"{present} is set but {missing} is not: set both, or neither to use " + str(
                lean_credentials_path(home)
            )
            raise CredentialsError(msg)
        source = f"environment ({USER_ID_ENV}, {API_TOKEN_ENV})"
        return _checked(Credentials(user_id=user_id, api_token=token, source=source))
    return read_lean_credentials(home)


def read_lean_credentials(home: Path | None = None) -> Credentials:
    """Return the credentials the LEAN CLI uses (``~/.lean/credentials``).

    Raises:
        CredentialsError: The file is missing, unreadable, not JSON or incomplete.
    """
    path = lean_credentials_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"no QuantConnect credentials: {path} does not exist. {_HOW_TO_LOGIN}"
        raise CredentialsError(msg) from None
    except (OSError, UnicodeDecodeError) as error:
        msg = f"{path}: cannot read the credentials ({type(error).__name__}). {_HOW_TO_LOGIN}"
        raise CredentialsError(msg) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        # The position only: the text around it may be the token.
        msg = f"{path}: not valid JSON (line {error.lineno}, column {error.colno}). {_HOW_TO_LOGIN}"
        raise CredentialsError(msg) from None
    if not isinstance(data, dict):
        msg = f"{path}: expected a JSON object with user-id and api-token. {_HOW_TO_LOGIN}"
        raise CredentialsError(msg)
    missing = [key for key in ("user-id", "api-token") if not str(data.get(key) or "").strip()]
    if missing:
        msg = f"{path}: {' and '.join(missing)} missing or empty. {_HOW_TO_LOGIN}"
        raise CredentialsError(msg)
    credentials = Credentials(
        user_id=str(data["user-id"]).strip(),
        api_token=str(data["api-token"]).strip(),
        source=str(path),
    )
    return _checked(credentials)


def _checked(credentials: Credentials) -> Credentials:
    if not credentials.user_id.isdigit():
        msg = (
            f"{credentials.source}: the user id must be the number QuantConnect gave you, "
            f"got {credentials.user_id!r}. {_HOW_TO_LOGIN}"
        )
        raise CredentialsError(msg)
    if any(ch.isspace() for ch in credentials.api_token):
        msg = f"{credentials.source}: the API token contains whitespace. {_HOW_TO_LOGIN}"
        raise CredentialsError(msg)
    return credentials


# ------------------------------------------------------------------------------ transport


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request (headers hold the signature: never in repr)."""

    method: str
    url: str
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP status and body."""

    status: int
    body: bytes = field(repr=False)


Transport = Callable[[HttpRequest], HttpResponse]


class ApiConnectionError(ApiError):
    """The API could not be reached at all."""


def urllib_transport(timeout: float = 30.0) -> Transport:
    """Return a transport over ``urllib`` (HTTP errors come back as responses)."""

    def send(request: HttpRequest) -> HttpResponse:
        http_request = urllib.request.Request(  # noqa: S310 - the URL is https or the local API
            request.url, data=request.body or None, headers=dict(request.headers),
            method=request.method,
        )  # fmt: skip
        try:
            with urllib.request.urlopen(http_request, timeout=timeout) as answer:  # noqa: S310
                return HttpResponse(status=answer.status, body=answer.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(status=error.code, body=error.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            reason = getattr(error, "reason", error)
            msg = f"cannot reach the QuantConnect API at {request.url}: {reason}"
            raise ApiConnectionError(msg, endpoint=request.url) from None

    return send


# ------------------------------------------------------------------------------ responses


@dataclass(frozen=True, kw_only=True)
class CloudNode:
    """A node of the organisation as ``nodes/read`` describes it.

    Attributes:
        id: The node id (``LN-...``); what ``live/create`` and ``projects/nodes/update`` take.
        name: The name the organisation gave it.
        sku: The model, e.g. ``L2-4``.
        family: ``backtest``, ``research`` or ``live`` (the API's keys).
        busy: Whether something runs on it now.
        used_by: Who uses it when busy.
        project_name: What runs on it when busy.
        monthly_price: USD per month, as QuantConnect charges this organisation.
        cores: CPU cores.
        ram_gb: RAM in GB.
        speed_ghz: Clock speed.
        active: For project nodes: whether the project is pinned to it.
    """

    id: str
    name: str
    sku: str
    family: str
    busy: bool = False
    used_by: str = ""
    project_name: str = ""
    description: str = ""
    monthly_price: float | None = None
    yearly_price: float | None = None
    cores: int | None = None
    ram_gb: float | None = None
    speed_ghz: float | None = None
    host: str | None = None
    has_gpu: bool = False
    active: bool | None = None

    def describe(self) -> str:
        """Return ``"'name' (id, model)"`` for messages."""
        return f"{self.name!r} ({self.id}, {self.sku})"


NODE_FAMILIES = ("backtest", "research", "live")


@dataclass(frozen=True)
class NodeList:
    """The nodes of an organisation (or of a project), by family."""

    backtest: tuple[CloudNode, ...] = ()
    research: tuple[CloudNode, ...] = ()
    live: tuple[CloudNode, ...] = ()
    auto_select: bool | None = None

    def family(self, name: str) -> tuple[CloudNode, ...]:
        """Return the nodes of ``backtest``, ``research`` or ``live``."""
        nodes: tuple[CloudNode, ...] = getattr(self, name)
        return nodes

    def all(self) -> tuple[CloudNode, ...]:
        """Return every node."""
        return self.backtest + self.research + self.live


def _parse_node(endpoint: str, family: str, data: Any) -> CloudNode:
    if not isinstance(data, dict) or not data.get("id") or not data.get("sku"):
        msg = f"{endpoint}: a {family} node without an id or sku in the answer: {str(data)[:120]}"
        raise ApiError(msg, endpoint=endpoint)
    price_data = data.get("price")
    price: dict[str, Any] = price_data if isinstance(price_data, dict) else {}

    def number(value: Any) -> float | None:
        return (
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    cores = number(data.get("cpu"))
    return CloudNode(
        id=str(data["id"]), name=str(data.get("name") or data["id"]), sku=str(data["sku"]),
        family=family, busy=bool(data.get("busy")), used_by=str(data.get("usedBy") or ""),
        project_name=str(data.get("projectName") or ""),
        description=str(data.get("description") or ""),
        monthly_price=number(price.get("monthly")), yearly_price=number(price.get("yearly")),
        cores=int(cores) if cores is not None else None, ram_gb=number(data.get("ram")),
        speed_ghz=number(data.get("speed")), host=data.get("host"),
        has_gpu=bool(data.get("hasGpu")),
        active=bool(data["active"]) if "active" in data else None,
    )  # fmt: skip


def _parse_nodes(endpoint: str, data: Any, auto_select: bool | None = None) -> NodeList:
    if not isinstance(data, dict):
        msg = f"{endpoint}: expected node lists, got {str(data)[:120]}"
        raise ApiError(msg, endpoint=endpoint)
    families: dict[str, tuple[CloudNode, ...]] = {}
    for family in NODE_FAMILIES:
        items = data.get(family) or []
        if not isinstance(items, list):
            msg = f"{endpoint}: '{family}' is not a list"
            raise ApiError(msg, endpoint=endpoint)
        families[family] = tuple(_parse_node(endpoint, family, item) for item in items)
    return NodeList(**families, auto_select=auto_select)


# ------------------------------------------------------------------------------ client


class QuantConnectAPI:
    """QuantConnect API v2 client (the endpoints the deploy command needs).

    Args:
        credentials: Who to authenticate as.
        base_url: The API root (ends with ``/api/v2/``); default from ``QC_API`` as the
            LEAN CLI does.
        transport: Sends one request (default: ``urllib`` with ``timeout``).
        clock: Unix time for the signature.
        timeout: Seconds per request for the default transport.
        environ: The environment to read ``QC_API`` from (default ``os.environ``).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 30.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._credentials = credentials
        self.base_url = base_url or api_base_url(environ)
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        self._transport = transport or urllib_transport(timeout)
        self._clock = clock

    def __repr__(self) -> str:
        return f"QuantConnectAPI(base_url={self.base_url!r}, user_id={self._credentials.user_id!r})"

    @property
    def user_id(self) -> str:
        """Return the user id requests are made as."""
        return self._credentials.user_id

    # -------------------------------------------------------------- endpoints

    def authenticate(self) -> None:
        """Check the credentials (``authenticate``).

        Raises:
            ApiAuthenticationError: They are rejected.
        """
        self.post("authenticate", {})

    def preferred_organization_id(self) -> str:
        """Return the id of the user's preferred organisation (``account/read``)."""
        data = self.post("account/read", {})
        organization_id = data.get("organizationId")
        if not isinstance(organization_id, str) or not organization_id:
            msg = "account/read: the answer has no organizationId"
            raise ApiError(msg, endpoint="account/read")
        return organization_id

    def read_nodes(self, organization_id: str) -> NodeList:
        """Return the organisation's nodes (``nodes/read``)."""
        data = self.post("nodes/read", {"organizationId": organization_id})
        return _parse_nodes("nodes/read", data)

    def read_project_nodes(self, project_id: int) -> NodeList:
        """Return the nodes a project may use, ``active`` where pinned (``projects/nodes/read``)."""
        data = self.post("projects/nodes/read", {"projectId": project_id})
        return _parse_nodes("projects/nodes/read", data.get("nodes"), data.get("autoSelectNode"))

    def update_project_nodes(self, project_id: int, node_ids: Sequence[str]) -> NodeList:
        """Pin a project to ``node_ids`` (empty: automatic selection); return the new state.

        Raises:
            ApiError: The API refused, or its answer does not show the requested pin.
        """
        endpoint = "projects/nodes/update"
        data = self.post(endpoint, {"projectId": project_id, "nodes": list(node_ids)})
        nodes = _parse_nodes(endpoint, data.get("nodes"), data.get("autoSelectNode"))
        active = {n.id for n in nodes.all() if n.active}
        missing = [n for n in node_ids if n not in active]
        if missing:
            msg = (
                f"{endpoint}: QuantConnect accepted the request but does not show node "
                f"{', '.join(missing)} as active for project {project_id}"
            )
            raise ApiError(msg, endpoint=endpoint)
        return nodes

    # -------------------------------------------------------------- protocol

    def post(self, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``payload`` as JSON to ``endpoint``; return the answer (``success`` is true).

        A 5xx answer is retried once, as the LEAN CLI does.

        Raises:
            ApiAuthenticationError: HTTP 401/403, or the service says the hash does not match.
            ApiError: Any other failure: 5xx twice, another HTTP error, not JSON,
                ``success: false`` (its ``errors`` in the message), unreachable.
        """
        body = json.dumps(payload).encode()
        for attempt in (1, 2):
            timestamp = int(self._clock())
            password = self._credentials.signature(timestamp)
            basic = base64.b64encode(f"{self._credentials.user_id}:{password}".encode()).decode()
            request = HttpRequest(
                method="POST",
                url=self.base_url + endpoint,
                headers={
                    "Authorization": f"Basic {basic}",
                    "Timestamp": str(timestamp),
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "User-Agent": USER_AGENT,
                },
                body=body,
            )
            try:
                response = self._transport(request)
            except ApiError as error:
                msg = self._scrub(f"{endpoint}: {error}{self._local_hint()}", password)
                raise ApiConnectionError(msg, endpoint=endpoint) from None
            logger.debug("POST %s -> HTTP %s (attempt %d)", endpoint, response.status, attempt)
            if 500 <= response.status < 600 and attempt == 1:
                continue
            return self._parse(endpoint, response, password)
        msg = "unreachable: the second attempt always returns or raises"
        raise AssertionError(msg)  # pragma: no cover

    def _parse(self, endpoint: str, response: HttpResponse, password: str) -> dict[str, Any]:
        try:
            data = json.loads(response.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = _NOT_JSON
        errors = _errors_in(data)
        detail = f": {self._scrub('; '.join(errors), password)}" if errors else ""
        if response.status in (401, 403) or any(e.startswith("Hash doesn't match") for e in errors):
            msg = (
                f"QuantConnect rejected the credentials of user {self.user_id} "
                f"({self._credentials.source}) on {endpoint}: HTTP {response.status}{detail}. "
                f"Check the user id and API token ({ACCOUNT_SETTINGS_URL}; `lean login` rewrites "
                "~/.lean/credentials) and this computer's clock: requests are signed with the "
                f"time and expire after about two hours.{self._local_hint()}"
            )
            raise ApiAuthenticationError(msg, endpoint=endpoint, status=response.status)
        if response.status >= 500:
            msg = (
                f"QuantConnect API {endpoint} failed twice with HTTP {response.status}{detail}. "
                "This is on QuantConnect's side: try again later (https://www.quantconnect.com/status)."
            )
            raise ApiError(msg, endpoint=endpoint, status=response.status)
        if not 200 <= response.status < 300:
            msg = f"QuantConnect API {endpoint}: HTTP {response.status}{detail}{self._local_hint()}"
            raise ApiError(msg, endpoint=endpoint, status=response.status)
        if data is _NOT_JSON:
            start = self._scrub(response.body[:120].decode(errors="replace"), password)
            msg = f"QuantConnect API {endpoint}: the answer is not JSON: {start!r}"
            raise ApiError(msg, endpoint=endpoint, status=response.status)
        if not isinstance(data, dict):
            msg = f"QuantConnect API {endpoint}: the answer is not an object"
            raise ApiError(msg, endpoint=endpoint, status=response.status)
        if data.get("success") is not True:
            reason = detail or ": no reason given"
            msg = f"QuantConnect API {endpoint} refused the request{reason}"
            raise ApiError(msg, endpoint=endpoint, status=response.status)
        return data

    def _scrub(self, text: str, password: str) -> str:
        for secret in (self._credentials.api_token, password):
            if secret:
                text = text.replace(secret, "<redacted>")
        return text

    def _local_hint(self) -> str:
        if self.base_url == LOCAL_API_URL:
            return " (QC_API=local: the API is expected on http://localhost:5612/api/v2/)"
        return ""


_NOT_JSON = object()


def _errors_in(data: Any) -> list[str]:
    """Return the ``errors`` and ``messages`` of an answer (none when it is not an object)."""
    errors = data.get("errors") if isinstance(data, dict) else None
    messages = data.get("messages") if isinstance(data, dict) else None
    return [str(e) for e in (errors or []) + (messages or []) if str(e).strip()]
