"""Typed, frozen, validated settings: ``config/settings.json``.

Every section is a frozen pydantic model that rejects unknown keys; every field says its
default and what it means. :func:`load_settings` turns any problem into one
:class:`~utils.errors.SettingsError` whose lines name the file, the JSON path, the value seen
and what is allowed.

Part of the runtime that ships into LEAN (standard library, psutil and pydantic).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from utils.errors import SettingsError, UnknownNodeError
from utils.node_catalog import DEFAULT_CATALOG, Family, NodeCatalog, NodeSpec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SETTINGS_PATH = PROJECT_ROOT / "config" / "settings.json"
# In QuantConnect's cloud there is no config/settings.json (`lean cloud push` uploads source
# files only): the deploy command ships the validated settings as this generated module.
DEPLOYED_SETTINGS_MODULE = "utils.deployed_settings"

Pct = Annotated[float, Field(gt=0, le=100)]
_M = TypeVar("_M", bound=BaseModel)


_FIELD_SEP = "\t"


def _raise_problems(problems: list[tuple[str, str]]) -> None:
    """Raise one ValueError for a model validator's problems, each tagged with its field path."""
    if problems:
        raise ValueError("\n".join(f"{field}{_FIELD_SEP}{text}" for field, text in problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class NodeConfig(_Frozen):
    """A configured compute node (one entry of ``compute_nodes``).

    ``cores`` and ``ram_gb`` are optional and, when given, must match the catalog.
    ``monthly_cost``, when given, is the price the user pays (it overrides the catalog's).
    ``colocated`` and ``max_latency_ms`` apply to ``live_trading`` only.
    """

    model: str = Field(description="QuantConnect node model, e.g. B8-16.")
    cores: int | None = Field(default=None, gt=0, description="Must match the catalog if given.")
    ram_gb: float | None = Field(default=None, gt=0, description="Must match the catalog if given.")
    monthly_cost: float | None = Field(
        default=None, ge=0, description="USD per month you pay; overrides the catalog price."
    )
    colocated: bool | None = Field(
        default=None, description="Live only: the node is co-located with the broker (NY7)."
    )
    max_latency_ms: float | None = Field(
        default=None, gt=0, description="Live only: the round trip you expect to the broker."
    )


class ComputeNodes(_Frozen):
    """``quantconnect.compute_nodes``: the node used for each environment."""

    backtesting: NodeConfig = NodeConfig(model="B8-16")
    research: NodeConfig = NodeConfig(model="R8-16")
    live_trading: NodeConfig = NodeConfig(model="L2-4", colocated=True, max_latency_ms=100)

    def for_family(self, family: Family) -> NodeConfig:
        """Return the configured node of ``family`` (optimization has none)."""
        if family is Family.OPTIMIZATION:
            msg = "optimization nodes are chosen per run, not configured"
            raise ValueError(msg)
        node: NodeConfig = getattr(self, family.value)
        return node


class ResourceLimits(_Frozen):
    """``quantconnect.resource_limits``: what the algorithm may subscribe and when to alert."""

    max_option_chains: int = Field(default=5, ge=1, description="Option chains at most.")
    max_contracts_per_chain: int = Field(default=100, ge=1, description="Contracts per chain.")
    memory_warning_pct: Pct = Field(default=80, description="Memory warning (and REDUCING) level.")
    memory_critical_pct: Pct = Field(default=90, description="Memory critical (HALTED) level.")
    cpu_warning_pct: Pct = Field(default=75, description="CPU warning level.")
    cpu_critical_pct: Pct = Field(default=85, description="CPU critical level.")
    latency_warning_ms: float = Field(
        default=1000, gt=0, description="Broker round-trip p95 warning level."
    )
    latency_critical_ms: float = Field(
        default=2500,
        gt=0,
        description="Broker round-trip p95 critical level (the strategy's 2.5 s cancel window).",
    )

    @model_validator(mode="after")
    def _warning_below_critical(self) -> Self:
        problems = []
        for metric, unit in (("memory", "pct"), ("cpu", "pct"), ("latency", "ms")):
            warning = getattr(self, f"{metric}_warning_{unit}")
            critical = getattr(self, f"{metric}_critical_{unit}")
            if warning >= critical:
                problems.append((
                    f"{metric}_warning_{unit}",
                    f"{warning:g} must be below {metric}_critical_{unit} ({critical:g})",
                ))  # fmt: skip
        _raise_problems(problems)
        return self


class MonitoringSettings(_Frozen):
    """``quantconnect.monitoring``: how the resource monitor samples, alerts and logs."""

    enabled: bool = Field(default=True, description="Run the resource monitor.")
    check_interval_seconds: float = Field(
        default=30, gt=0, le=3600, description="Seconds between resource checks."
    )
    log_metrics: bool = Field(default=True, description="Append each sample to the metrics log.")
    metrics_log_path: str = Field(
        default="logs/resource_metrics.json", description="JSON Lines metrics log."
    )
    metrics_log_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=4096, description="Rotate the metrics log at this size."
    )
    metrics_log_backups: int = Field(default=5, ge=1, le=100, description="Rotated files kept.")
    confirm_samples: int = Field(
        default=3, ge=1, le=100, description="Consecutive samples over a level before it raises."
    )
    clear_margin_pct: float = Field(
        default=5,
        ge=0,
        lt=50,
        description=(
            "Hysteresis: a raised % level (memory, CPU) clears this many points below it; a "
            "latency level clears this many percent below it (2500 ms -> 2375 ms)."
        ),
    )
    stale_after_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Health is stale after this long without a sample; default 3 intervals.",
    )
    latency_window: int = Field(
        default=500, ge=10, le=100_000, description="Latency samples kept for percentiles."
    )
    latency_min_samples: int = Field(
        default=20, ge=1, description="Latency percentiles alert only after this many samples."
    )
    latency_timeout_ms: float = Field(
        default=5000, gt=0, description="A round trip slower than this counts as a timeout."
    )
    history_size: int = Field(
        default=86_400, ge=60, le=1_000_000, description="Samples kept for statistics."
    )
    warning_action: Literal["reduce", "log"] = Field(
        default="reduce",
        description="On a warning: 'reduce' moves the breaker to REDUCING, 'log' only logs.",
    )
    lean_average_samples: int = Field(
        default=60,
        ge=2,
        le=10_000,
        description="Samples in the LEAN-mirror moving average (LEAN averages its last 60).",
    )
    target_node: str | None = Field(
        default=None,
        description="Node model whose RAM caps memory % (e.g. L2-4); None: cgroup and host only.",
    )
    breaker_state_path: str = Field(
        default="circuit_breaker_state.json", description="Circuit breaker state file."
    )
    breaker_log_path: str = Field(
        default="circuit_breaker_log.json", description="Circuit breaker event log (JSON Lines)."
    )
    reset_cooldown_seconds: float = Field(
        default=300, ge=0, description="A HALTED breaker may not be reset before this has passed."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[str, str]] = []
        if self.target_node is not None:
            try:
                DEFAULT_CATALOG.get(self.target_node)
            except UnknownNodeError as error:
                problems.append(("target_node", str(error)))
        if self.latency_min_samples > self.latency_window:
            problems.append((
                "latency_min_samples",
                f"{self.latency_min_samples} is more than latency_window ({self.latency_window})"
                "; latency could never alert",
            ))  # fmt: skip
        stale = self.stale_after_seconds
        if stale is not None and stale <= self.check_interval_seconds:
            problems.append((
                "stale_after_seconds",
                f"{stale:g} must be above check_interval_seconds "
                f"({self.check_interval_seconds:g}), or every sample would be stale",
            ))  # fmt: skip
        _raise_problems(problems)
        return self

    @property
    def effective_stale_after_seconds(self) -> float:
        """Return the staleness limit: as configured, or three check intervals."""
        if self.stale_after_seconds is not None:
            return self.stale_after_seconds
        return 3 * self.check_interval_seconds


class MemoryModelSettings(_Frozen):
    """``quantconnect.memory_model``: the coefficients of :mod:`utils.memory_model` (MB).

    Defaults are the seed's "Memory Requirements Breakdown" (5 chains x 100 contracts,
    10 stocks: 4,750 MB), plus two figures the seed does not give: ``ml_training_mb`` and the
    backtest/research multipliers (see ``docs/infrastructure/COMPUTE_NODES.md``), and
    ``unknown_securities_bound``, what the analyzer counts where the code hides a size.
    """

    base_overhead_mb: float = Field(default=1100, ge=0, description="LEAN and Python runtime.")
    per_security_mb: float = Field(
        default=5, ge=0, description="Per equity/forex/crypto/future subscription (QC: ~5 MB)."
    )
    per_option_contract_mb: float = Field(default=5, ge=0, description="Per option contract.")
    greeks_mb_per_contract: float = Field(
        default=0.4, ge=0, description="Greeks per contract (the seed's 200 MB for 500)."
    )
    scanners_mb: float = Field(default=150, ge=0, description="Options and movement scanners.")
    llm_mb: float = Field(default=50, ge=0, description="LLM API clients and responses.")
    ml_training_mb: float = Field(
        default=1024, ge=0, description="In-process model training (not in the seed)."
    )
    risk_management_mb: float = Field(default=100, ge=0, description="Risk management.")
    spread_tracker_mb: float = Field(default=200, ge=0, description="Two-part spread tracker.")
    profit_taking_mb: float = Field(default=100, ge=0, description="Profit-taking engine.")
    ui_dashboard_mb: float = Field(
        default=300, ge=0, description="Desktop dashboard (not on the node)."
    )
    backtest_multiplier: float = Field(
        default=2.5, ge=1, le=20, description="Backtest node memory / live (data caching)."
    )
    research_multiplier: float = Field(
        default=2.5, ge=1, le=20, description="Research node memory / live (history in pandas)."
    )
    unknown_securities_bound: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Securities the analyzer counts for a universe or loop of unknown size.",
    )


class QuantConnectSettings(_Frozen):
    """``quantconnect``: compute nodes, limits, monitoring, memory model, price overrides."""

    compute_nodes: ComputeNodes = ComputeNodes()
    resource_limits: ResourceLimits = ResourceLimits()
    monitoring: MonitoringSettings = MonitoringSettings()
    memory_model: MemoryModelSettings = MemoryModelSettings()
    node_prices: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict, description="USD per month (per hour for O-nodes) by model."
    )
    node_prices_as_of: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="ISO date of node_prices (YYYY-MM-DD).",
    )

    @model_validator(mode="after")
    def _nodes_match_catalog(self) -> Self:
        problems: list[tuple[str, str]] = []
        for family in (Family.BACKTESTING, Family.RESEARCH, Family.LIVE_TRADING):
            node = self.compute_nodes.for_family(family)
            where = f"compute_nodes.{family.value}"
            try:
                spec = DEFAULT_CATALOG.get(node.model, family)
            except UnknownNodeError as error:
                problems.append((f"{where}.model", str(error)))
                continue
            if node.cores is not None and node.cores != spec.cores:
                problems.append((
                    f"{where}.cores",
                    f"{node.cores} does not match {spec.model}, which has {spec.cores} cores",
                ))  # fmt: skip
            if node.ram_gb is not None and node.ram_gb != spec.ram_gb:
                problems.append((
                    f"{where}.ram_gb",
                    f"{node.ram_gb:g} does not match {spec.model}, which has {spec.ram_gb:g} GB",
                ))  # fmt: skip
            if family is not Family.LIVE_TRADING:
                problems.extend(
                    (f"{where}.{field}", "applies to live_trading nodes only; remove it")
                    for field in ("colocated", "max_latency_ms")
                    if getattr(node, field) is not None
                )
        for model in self.node_prices:
            try:
                DEFAULT_CATALOG.get(model)
            except UnknownNodeError as error:
                problems.append((f"node_prices.{model}", str(error)))
        _raise_problems(problems)
        return self

    def catalog(self) -> NodeCatalog:
        """Return the node catalog with this file's prices applied.

        ``node_prices`` first, then the ``monthly_cost`` of each configured node (the price
        the user says they pay for that node).
        """
        as_of = self.node_prices_as_of or "settings"
        catalog = DEFAULT_CATALOG
        if self.node_prices:
            catalog = catalog.with_prices(
                self.node_prices, as_of=as_of, source="config/settings.json node_prices"
            )
        configured = {
            n.model: n.monthly_cost
            for n in (self.compute_nodes.backtesting, self.compute_nodes.research,
                      self.compute_nodes.live_trading)
            if n.monthly_cost is not None and n.monthly_cost != catalog.get(n.model).price
        }  # fmt: skip
        if configured:
            catalog = catalog.with_prices(
                configured, as_of=as_of, source="config/settings.json compute_nodes monthly_cost"
            )
        return catalog

    def configured_node(self, family: Family) -> NodeSpec:
        """Return the catalog spec (this file's prices) of the node configured for ``family``."""
        return self.catalog().get(self.compute_nodes.for_family(family).model, family)


class Settings(_Frozen):
    """The whole of ``config/settings.json``."""

    quantconnect: QuantConnectSettings = QuantConnectSettings()


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate a settings file (``config/settings.json`` by default).

    Without ``path`` and without ``config/settings.json`` (a project deployed to QuantConnect),
    the settings shipped by the deploy command (``utils/deployed_settings.py``) are read,
    through the same validation.

    Raises:
        SettingsError: The file is missing, unreadable, not JSON, or not valid settings.
            Each problem names the JSON path, the value seen and what is allowed.
    """
    if path is None and not DEFAULT_SETTINGS_PATH.is_file():
        deployed = _deployed_settings()
        if deployed is not None:
            return parse_settings(*deployed)
    settings_path = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    try:
        text = settings_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SettingsError(
            settings_path,
            [f"file not found; copy the repository's config/settings.json to {settings_path}"],
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(settings_path, [f"cannot read the file: {error}"]) from None
    return parse_settings(text, settings_path)


def _deployed_settings() -> tuple[str, Path] | None:
    """Return the JSON text and file of the deployed settings module, if there is one."""
    import importlib

    try:
        module = importlib.import_module(DEPLOYED_SETTINGS_MODULE)
    except ModuleNotFoundError as error:
        if error.name != DEPLOYED_SETTINGS_MODULE:
            raise
        return None
    text = getattr(module, "SETTINGS_JSON", None)
    where = Path(getattr(module, "__file__", None) or DEPLOYED_SETTINGS_MODULE)
    if not isinstance(text, str):
        raise SettingsError(where, ["SETTINGS_JSON is missing; re-run the deploy command"])
    return text, where


def parse_settings(text: str, path: Path | None = None) -> Settings:
    """Validate settings given as JSON text (``path`` only names the source in messages).

    Raises:
        SettingsError: Not JSON, or not valid settings.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(
            path, [f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"]
        ) from None
    return settings_from_mapping(data, path)


def settings_from_mapping(data: Any, path: Path | None = None) -> Settings:
    """Validate settings given as already-parsed JSON.

    Raises:
        SettingsError: Not valid settings.
    """
    try:
        return Settings.model_validate(data)
    except ValidationError as error:
        raise SettingsError(path, describe_validation_error(error)) from None


def section_from_mapping(
    model: type[_M], data: Any, *, where: str = "config", path: Path | None = None
) -> _M:
    """Validate one section (e.g. :class:`ResourceLimits`) from a mapping, omitted keys defaulted.

    Raises:
        SettingsError: Not valid for that section.
    """
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise SettingsError(path, describe_validation_error(error, prefix=where)) from None


def describe_validation_error(error: ValidationError, prefix: str = "") -> list[str]:
    """Turn pydantic's errors into lines naming the JSON path, the value and what is allowed."""
    lines = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        location = ".".join(p for p in (prefix, location) if p) or "(top level)"
        kind = item["type"]
        value = item.get("input")
        if kind == "extra_forbidden":
            allowed = _allowed_keys(error.title, item["loc"])
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            lines.append(f"{location}: unknown key{hint}")
        elif kind == "missing":
            lines.append(f"{location}: required key is missing")
        elif kind == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
            for line in message.splitlines():
                field, _, text = line.partition(_FIELD_SEP)
                lines.append(f"{location}.{field}: {text}" if text else f"{location}: {line}")
        else:
            lines.append(f"{location}: {item['msg'].lower()}, got {_show(value)}")
    return lines


def _show(value: object) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | None) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(title: str, loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = {"Settings": Settings}.get(title, Settings)
    if title in _SECTION_MODELS:
        model = _SECTION_MODELS[title]
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


_SECTION_MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (Settings, QuantConnectSettings, ComputeNodes, NodeConfig, ResourceLimits,
              MonitoringSettings, MemoryModelSettings)
}  # fmt: skip
