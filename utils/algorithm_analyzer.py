"""Read a LEAN Python algorithm without running it and say what it needs, line by line.

:func:`analyze_algorithm` parses the algorithm (and the files of its project folder that it
imports) with :mod:`ast`; nothing is imported or executed. It returns
:class:`~utils.node_optimizer.AlgorithmRequirements` whose ``sources`` name the lines behind
every figure, and whose ``analysis`` holds the detail (each subscription, chain, filter model,
universe, history request, scheduled event, library).

What it follows:

* Both LEAN API styles: ``add_option`` / ``set_filter`` / ``Resolution.MINUTE`` and the
  legacy ``AddOption`` / ``SetFilter`` / ``Resolution.Minute``. Files with a UTF-8 BOM.
* ``initialize`` (or ``Initialize``) of the algorithm class, and every method, helper function
  and project class it calls, across files of the project folder (a base class in another
  file, ``super().initialize()``, helper modules, packages, relative imports). Loops over
  literal lists, tuples, dicts, ranges, module constants and class attributes are unrolled;
  a loop over anything else has an unknown count, and the bound used is stated.
* Methods LEAN calls during the run (``on_data``, scheduled callbacks, ...): a subscription
  there with a literal ticker counts once; one without has an unknown count (bound stated).

Contracts per option chain (the documented model, see ``docs/infrastructure/COMPUTE_NODES.md``):
``strikes x expiries x rights``. Strikes: ``strikes(a, b)`` keeps ``b - a + 1``. Expiries in
an ``expiration(lo, hi)`` window: standard (monthly) contracts, LEAN's default, at most
``(hi - lo) // 28 + 1``; with ``include_weeklys``/``weeklys_only``, one a week
(``(hi - lo) // 7 + 1``), or one every weekday for underlyings with daily expiries (SPY, QQQ,
SPX/SPXW, XSP). Rights: 2, or 1 with ``calls_only``/``puts_only``. A strategy filter
(``iron_condor``, ``straddle``, ...) keeps its legs. No filter: LEAN's default (strikes
-1..+1, expiries 0..35 days, standard: 12). A filter whose strikes or expiries are unbounded
or cannot be read counts ``resource_limits.max_contracts_per_chain`` (the bound is stated).
Greek, open-interest and volume filters only narrow further: the estimate stays an upper bound.

How it stays fast (``make bench``: at most twice a bare ``ast.parse``): one pass of plain
substring and prefix-anchored regular-expression searches over each file's text finds the
lines worth walking (calls that can subscribe, or that the walker records) and the evidence
that needs no arguments (component names outside comments and docstrings, Greeks, LLM
endpoints, CUDA); only the functions holding such lines are walked, never the whole tree.
Pathological inputs are bounded (loops unrolled up to 64 items and 4,096 in all, 2,000 function
bodies, 24 nested calls, counts saturating at one million).

Standard library only.
"""

from __future__ import annotations

import ast
import bisect
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from utils.errors import AnalysisError
from utils.node_optimizer import MAX_COUNT, RESOLUTIONS, AlgorithmRequirements, SourceLine

if TYPE_CHECKING:
    from utils.settings import Settings

# --------------------------------------------------------------------------------------------
# Public detail records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Subscription:
    """Securities added by one line (deduplicated by ticker when the ticker is known).

    Attributes:
        asset: ``equity``, ``forex``, ``crypto``, ``future``, ``index``, ``cfd``,
            ``custom data``, ``option contract``, ... or ``universe member``.
        ticker: The ticker when the code shows it.
        count: How many this line adds (a bound when ``exact`` is false).
        exact: Whether the count is read from the code.
        resolution: The data resolution, ``None`` for LEAN's default (minute).
        source: The line.
        note: How the count was found (loop, bound, "added during the run").
    """

    asset: str
    ticker: str | None
    count: int
    exact: bool
    resolution: str | None
    source: SourceLine
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class OptionChain:
    """Option chains added by one line, and the contracts each keeps.

    Attributes:
        kind: ``equity option``, ``index option``, ``future option`` or ``universe options``.
        underlying: The underlying ticker when the code shows it.
        target: The option ticker when it differs (``SPXW`` for weekly SPX options).
        count: Chains from this line (a bound when ``exact`` is false).
        exact: Whether ``count`` is read from the code.
        contracts: Contracts per chain (model estimate or bound).
        contracts_exact: Whether ``contracts`` comes from the filter model, not a bound.
        model: How ``contracts`` was computed, e.g. ``11 strikes x 2 expiries x 2 rights``.
        resolution: The data resolution, ``None`` for LEAN's default (minute).
        source: The line adding the chain.
        filter_source: The filter's line, ``None`` without a filter.
        note: How the count was found.
    """

    kind: str
    underlying: str | None
    target: str | None
    count: int
    exact: bool
    contracts: int
    contracts_exact: bool
    model: str
    resolution: str | None
    source: SourceLine
    filter_source: SourceLine | None
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Universe:
    """A universe selection and how many securities it may hold.

    Attributes:
        kind: What selects (``fundamental selection``, ``ETF constituents``, ``manual``, ...).
        size: Securities it may hold (a bound when ``exact`` is false).
        exact: Whether ``size`` is read from the code (a literal slice, ``top(n)``, a list).
        source: The line adding it.
        note: How ``size`` was found.
    """

    kind: str
    size: int
    exact: bool
    source: SourceLine
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Finding:
    """Something the algorithm does that a trader should see, with its line.

    Used for history requests, warm-ups, scheduled events and libraries.

    Attributes:
        kind: ``history``, ``warm-up``, ``schedule``, ``training``, ``ml``, ``llm``, ...
        summary: One line for people, e.g. ``history of 252 bars (daily)``.
        source: The line.
        size: Bars or days when the code shows them.
    """

    kind: str
    summary: str
    source: SourceLine
    size: int | None = None


@dataclass(frozen=True, kw_only=True)
class AlgorithmAnalysis:
    """Everything the analyzer read, behind :class:`AlgorithmRequirements`.

    Attributes:
        path: The algorithm file as given.
        class_name: The algorithm class (derives from QCAlgorithm).
        class_line: Its line.
        files: Every file read (the algorithm first).
        securities: Subscriptions other than option chains (deduplicated).
        option_chains: Option chain subscriptions.
        option_contracts: Single option contracts.
        universes: Universe selections.
        history_requests: ``history`` calls.
        warm_ups: ``set_warm_up`` calls.
        scheduled_events: ``schedule.on`` and ``train`` calls.
        ml_libraries: Imports of machine-learning libraries.
        llm_apis: Imports (or endpoints) of LLM APIs.
    """

    path: str
    class_name: str
    class_line: int
    files: tuple[str, ...]
    securities: tuple[Subscription, ...]
    option_chains: tuple[OptionChain, ...]
    option_contracts: tuple[Subscription, ...]
    universes: tuple[Universe, ...]
    history_requests: tuple[Finding, ...]
    warm_ups: tuple[Finding, ...]
    scheduled_events: tuple[Finding, ...]
    ml_libraries: tuple[Finding, ...]
    llm_apis: tuple[Finding, ...]


# --------------------------------------------------------------------------------------------
# Knowledge about LEAN and libraries
# --------------------------------------------------------------------------------------------

#: Subscription methods (snake_case) -> asset class.
SECURITY_METHODS = {
    "add_equity": "equity",
    "add_forex": "forex",
    "add_crypto": "crypto",
    "add_crypto_future": "crypto future",
    "add_future": "future",
    "add_future_contract": "future contract",
    "add_cfd": "cfd",
    "add_index": "index",
    "add_data": "custom data",
    "add_security": "security",
}
#: Option chain methods -> (kind, asset class of the underlying).
CHAIN_METHODS = {
    "add_option": ("equity option", "equity"),
    "add_index_option": ("index option", "index"),
    "add_future_option": ("future option", "future"),
}
CONTRACT_METHODS = frozenset(
    {"add_option_contract", "add_index_option_contract", "add_future_option_contract"}
)
UNIVERSE_METHODS = frozenset(
    {"add_universe", "add_universe_options", "set_universe_selection", "add_universe_selection"}
)

#: LEAN's option filter when an algorithm sets none (reference section 2).
DEFAULT_STRIKES = (-1, 1)
DEFAULT_EXPIRY_DAYS = (0, 35)

#: Underlyings whose options expire every weekday (Cboe listings as of 2024): with weeklies
#: included, a window holds up to one expiry per weekday.
DAILY_EXPIRY_UNDERLYINGS = frozenset({"SPY", "QQQ", "SPX", "SPXW", "XSP"})

#: Strategy filters keep one instance of the strategy: its contracts.
STRATEGY_LEGS = {
    "naked_call": 1,
    "naked_put": 1,
    "call_spread": 2,
    "put_spread": 2,
    "call_calendar_spread": 2,
    "put_calendar_spread": 2,
    "straddle": 2,
    "strangle": 2,
    "protective_collar": 2,
    "conversion": 2,
    "reverse_conversion": 2,
    "call_butterfly": 3,
    "put_butterfly": 3,
    "call_ladder": 3,
    "put_ladder": 3,
    "iron_condor": 4,
    "iron_butterfly": 4,
    "box_spread": 4,
    "jelly_roll": 4,
}
GREEK_FILTERS = frozenset(
    {"delta", "d", "gamma", "g", "theta", "t", "vega", "v", "rho", "r", "implied_volatility", "iv"}
)
#: Filters that narrow by value (Greeks, liquidity): they can only remove contracts.
NARROWING_FILTERS = GREEK_FILTERS | {
    "open_interest",
    "oi",
    "volume",
    "in_range",
    "strikes_above",
    "strikes_below",
    "expiring_after",
    "expiring_before",
}
NEUTRAL_FILTERS = frozenset(
    {
        "only_apply_filter_at_market_open",
        "adjust_expiration_reference_date",
        "refresh",
        "underlying",
        "count",
        "contracts_only",
    }
)

#: Machine-learning libraries (import name -> display name).
ML_LIBRARIES = {
    "sklearn": "scikit-learn",
    "torch": "PyTorch",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "xgboost": "XGBoost",
    "lightgbm": "LightGBM",
    "catboost": "CatBoost",
    "transformers": "Hugging Face Transformers",
    "llama_cpp": "llama.cpp",
}
#: Libraries whose training wants a GPU.
DEEP_LEARNING = frozenset({"torch", "tensorflow", "keras", "transformers"})
#: LLM API clients (import name -> provider).
LLM_LIBRARIES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google.generativeai": "Google Gemini",
    "google.genai": "Google Gemini",
    "vertexai": "Google Vertex AI",
    "cohere": "Cohere",
    "mistralai": "Mistral",
    "groq": "Groq",
    "litellm": "LiteLLM",
    "langchain": "LangChain",
    "langchain_openai": "LangChain (OpenAI)",
    "langchain_anthropic": "LangChain (Anthropic)",
    "ollama": "Ollama",
    "together": "Together AI",
    "replicate": "Replicate",
}
#: LLM endpoints called over plain HTTP (host -> provider).
LLM_HOSTS = {
    "api.openai.com": "OpenAI",
    "api.anthropic.com": "Anthropic",
    "generativelanguage.googleapis.com": "Google Gemini",
    "api.mistral.ai": "Mistral",
    "api.groq.com": "Groq",
    "api.cohere": "Cohere",
    "openrouter.ai": "OpenRouter",
    "api.together.xyz": "Together AI",
    "api.deepseek.com": "DeepSeek",
}
TRAINING_CALLS = frozenset({"fit", "partial_fit", "fit_generator", "train_on_batch", "backward"})

_RISK_CALLS = frozenset({"set_risk_management", "add_risk_management"})
_COMBO_ORDERS = frozenset({"combo_market_order", "combo_limit_order", "combo_leg_limit_order"})

#: How far the walker goes before it stops following (pathological inputs stay fast).
_EXPAND_MAX = 64  # unroll loops over at most this many items
_EXPANSION_BUDGET = 4096  # loop iterations unrolled in total
_CALL_BUDGET = 2000  # function bodies walked in total
_MAX_DEPTH = 24  # nested calls followed
_MAX_MODULES = 200  # project files read
_CAP = MAX_COUNT

_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_snake_cache: dict[str, str] = {}


def snake(name: str) -> str:
    """Return a LEAN method name in snake_case (``SetFilter`` -> ``set_filter``)."""
    out = _snake_cache.get(name)
    if out is None:
        out = _SNAKE.sub("_", name).lower()
        _snake_cache[name] = out
    return out


# --------------------------------------------------------------------------------------------
# Values the walker understands
# --------------------------------------------------------------------------------------------


class _Unknown:
    """A value the code does not show."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "?"


_UNKNOWN = _Unknown()


@dataclass(slots=True, eq=False, repr=False)
class _Days:
    days: float


@dataclass(slots=True, eq=False, repr=False)
class _Res:
    name: str


@dataclass(slots=True, eq=False, repr=False)
class _SecType:
    name: str


@dataclass(slots=True, eq=False, repr=False)
class _Symbol:
    ticker: str | None
    security_type: str | None


@dataclass(slots=True, eq=False, repr=False)
class _Bounded:
    """A sequence of unknown items, at most ``n`` of them (``tickers[:n]``)."""

    n: int


@dataclass(slots=True, eq=False, repr=False)
class _DictValue:
    items: tuple[tuple[object, object], ...]


@dataclass(slots=True, eq=False, repr=False)
class _UniverseSize:
    size: int | None
    kind: str
    note: str


@dataclass(slots=True, eq=False, repr=False)
class _External:
    """A name from outside the project (LEAN's classes, an imported library)."""

    name: str


@dataclass(slots=True, eq=False, repr=False)
class _ExternalObject:
    """An instance of an outside class, e.g. ``OptionUniverseSelectionModel(...)``."""

    name: str
    args: list[object]


@dataclass(slots=True, eq=False, repr=False)
class _ModuleRef:
    module: _Module


@dataclass(slots=True, eq=False, repr=False)
class _ClassRef:
    cls: _Class


@dataclass(slots=True, eq=False, repr=False)
class _Instance:
    cls: _Class
    attrs: dict[str, object] = field(default_factory=dict)
    base_args: tuple[object, ...] = ()


FunctionNode: TypeAlias = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(slots=True, eq=False, repr=False)
class _Callable:
    node: FunctionNode | ast.Lambda
    module: _Module
    owner: _Class | None
    bound: _Instance | None = None
    closure: dict[str, object] | None = None

    @property
    def name(self) -> str:
        return "lambda" if isinstance(self.node, ast.Lambda) else self.node.name

    def parameters(self) -> list[str]:
        """Return the positional parameters a caller fills (``self`` of a bound method left out)."""
        args = self.node.args
        names = [a.arg for a in (*args.posonlyargs, *args.args)]
        if self.bound is not None or (self.owner is not None and names[:1] in (["self"], ["cls"])):
            names = names[1:]
        return names

    def scope(self) -> dict[str, object]:
        """Return what the body sees before its parameters: the closure, ``self`` if bound."""
        env = dict(self.closure or {})
        if self.bound is not None:
            first = [*self.node.args.posonlyargs, *self.node.args.args][:1]
            env.update({p.arg: self.bound for p in first})
        return env


@dataclass(slots=True, eq=False, repr=False)
class _Estimate:
    """Contracts per chain from the filter model."""

    contracts: int
    exact: bool
    model: str


@dataclass(slots=True, eq=False, repr=False, kw_only=True)
class _Site:
    """One subscription line met while walking (tallied at the end)."""

    kind: str  # security | chain | contract | universe
    asset: str
    ticker: str | None
    factor: int
    unknown: str | None
    loop_id: int | None
    dynamic: bool
    resolution: str | None
    source: SourceLine
    target: str | None = None
    underlying_asset: str = "equity"
    estimate: _Estimate | None = None
    filter_source: SourceLine | None = None
    size: int | None = None
    size_note: str = ""
    from_universe: bool = False
    alias: tuple[int, str] | None = None  # the variable holding an unknown ticker


@dataclass(slots=True, eq=False, repr=False)
class _Handle:
    """What ``add_*`` returns: the subscription, so ``.set_filter`` and ``.symbol`` can follow."""

    site: _Site


Value: TypeAlias = object


# --------------------------------------------------------------------------------------------
# Project files
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False, repr=False)
class _Class:
    name: str
    node: ast.ClassDef
    module: _Module
    methods: dict[str, FunctionNode]
    attributes: dict[str, ast.expr]
    bases: list[_Class | str] | None = None
    mro: list[_Class] | None = None


class _Module:
    """A parsed file of the project and what its top level defines and imports."""

    def __init__(self, name: str, path: Path, display: str, text: str, tree: ast.Module) -> None:
        self.name = name
        self.path = path
        self.display = display
        self.text = text
        self.tree = tree
        self.functions: dict[str, FunctionNode] = {}
        self.classes: dict[str, _Class] = {}
        self.constants: dict[str, ast.expr] = {}
        self.imports: dict[str, tuple[str, str | None]] = {}
        self.external: dict[str, str] = {}  # local name -> imported name
        self.import_lines: dict[str, int] = {}
        self._lines: list[str] | None = None
        self._docstrings: list[tuple[int, int]] | None = None

    @property
    def lines(self) -> list[str]:
        """Return the file's lines (split on the line breaks Python's parser accepts)."""
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.text)
        return self._lines

    def in_docstring(self, line: int) -> bool:
        """Return whether ``line`` is inside a docstring (read only when evidence is found)."""
        if self._docstrings is None:
            self._docstrings = _docstring_lines(self.tree)
        return any(first <= line <= last for first, last in self._docstrings)

    def source(self, node: ast.AST | int, note: str = "") -> SourceLine:
        """Return the source line of ``node`` (a statement spanning lines is joined)."""
        lines = self.lines
        line = node if isinstance(node, int) else getattr(node, "lineno", 1)
        end = (
            line
            if isinstance(node, int)
            else min(getattr(node, "end_lineno", line) or line, line + 6)
        )
        if not 0 < line <= len(lines):
            return SourceLine(file=self.display, line=line, code="", note=note)
        code = " ".join(
            " ".join(lines[i - 1].split()) for i in range(line, min(end, len(lines)) + 1)
        )
        code = code.replace("( ", "(").replace(" )", ")").replace("[ ", "[").replace(" ]", "]")
        if len(code) > 160:
            code = code[:157] + "..."
        return SourceLine(file=self.display, line=line, code=code, note=note)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _read_source(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AnalysisError(path, "file not found") from None
    except IsADirectoryError:
        raise AnalysisError(path, "is a folder, not an algorithm file") from None
    except OSError as error:
        raise AnalysisError(path, f"cannot read the file: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        msg = f"not UTF-8 text (byte 0x{byte:02x}): not a Python source file"
        raise AnalysisError(path, msg, line) from None


def _parse(path: Path, text: str) -> ast.Module:
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise AnalysisError(path, "contains a NUL byte: not a Python source file", line)
    try:
        return ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise AnalysisError(path, f"syntax error: {error.msg}", error.lineno) from None
    except (RecursionError, MemoryError):
        raise AnalysisError(path, "too deeply nested for Python's parser") from None
    except ValueError as error:
        raise AnalysisError(path, f"cannot be parsed: {error}") from None


class _Project:
    """The algorithm's folder; its modules are loaded when imported, by dotted name."""

    def __init__(self, main: Path, display_root: Path) -> None:
        self.root = main.parent
        self.display_root = display_root
        self.modules: dict[str, _Module | None] = {}
        self.order: list[_Module] = []
        self._listings: dict[str, frozenset[str]] = {}

    def load(self, name: str, path: Path) -> _Module:
        text = _read_source(path)
        tree = _parse(path, text)
        display = (self.display_root / path.relative_to(self.root)).as_posix()
        module = _Module(name, path, display, text, tree)
        self.modules[name] = module
        self.order.append(module)
        for node in tree.body:
            self._index(module, node)
        return module

    def find(self, name: str) -> _Module | None:
        """Return the project module ``name`` (loading it), or ``None`` when it is not ours."""
        if name in self.modules:
            return self.modules[name]
        parts = name.split(".")
        self.modules[name] = None  # not ours, or a cycle guard while loading
        if len(self.order) >= _MAX_MODULES or not all(p.isidentifier() for p in parts):
            return None
        folder = self.root.joinpath(*parts[:-1]) if len(parts) > 1 else self.root
        entries = self._listing(folder)
        if parts[-1] + ".py" in entries:
            return self.load(name, folder / (parts[-1] + ".py"))
        if parts[-1] in entries and "__init__.py" in self._listing(folder / parts[-1]):
            return self.load(name, folder / parts[-1] / "__init__.py")
        return None

    def _listing(self, folder: Path) -> frozenset[str]:
        key = str(folder)
        entries = self._listings.get(key)
        if entries is None:
            try:
                entries = frozenset(os.listdir(key))  # noqa: PTH208 - names only, fast
            except OSError:
                entries = frozenset()
            self._listings[key] = entries
        return entries

    def _index(self, module: _Module, node: ast.stmt) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            module.classes[node.name] = _make_class(node, module)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and node.value is not None:
                    module.constants[target.id] = node.value
        elif isinstance(node, ast.Import | ast.ImportFrom):
            self.index_import(module, node)
        elif isinstance(node, ast.If | ast.Try):  # guarded imports and definitions
            blocks = [node.body, node.orelse]
            if isinstance(node, ast.Try):
                blocks += [h.body for h in node.handlers]
            for block in blocks:
                for child in block:
                    self._index(module, child)

    def index_import(self, module: _Module, node: ast.Import | ast.ImportFrom) -> None:
        """Record what an import binds: project modules and names, or outside names."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                bound = alias.name if alias.asname else alias.name.split(".")[0]
                if self.find(bound) is not None:
                    module.imports[local] = (bound, None)
                else:
                    module.external[local] = alias.name
                    module.import_lines[local] = node.lineno
            return
        base = self._absolute(module, node.module, node.level)
        if base is None:
            return
        package = self.find(base) if base else None
        for alias in node.names:
            if alias.name == "*":
                if package is not None:
                    for name in (*package.functions, *package.classes, *package.constants):
                        module.imports.setdefault(name, (base, name))
                continue
            local = alias.asname or alias.name
            dotted = f"{base}.{alias.name}" if base else alias.name
            if (package is not None or node.level) and self.find(dotted) is not None:
                module.imports[local] = (dotted, None)
            elif package is not None:
                module.imports[local] = (base, alias.name)
            else:
                module.external[local] = dotted
                module.import_lines[local] = node.lineno

    def _absolute(self, module: _Module, name: str | None, level: int) -> str | None:
        if not level:
            return name or ""
        package = module.name.split(".") if module.name != "__main__" else []
        if module.path.name != "__init__.py":
            package = package[:-1]
        if level - 1 > len(package):
            return None
        package = package[: len(package) - (level - 1)]
        return ".".join([*package, name] if name else package)


def _make_class(node: ast.ClassDef, module: _Module) -> _Class:
    methods: dict[str, FunctionNode] = {}
    attributes: dict[str, ast.expr] = {}
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            methods[item.name] = item
        elif isinstance(item, ast.Assign | ast.AnnAssign) and item.value is not None:
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    attributes[target.id] = item.value
    return _Class(name=node.name, node=node, module=module, methods=methods, attributes=attributes)


# --------------------------------------------------------------------------------------------
# The analyzer
# --------------------------------------------------------------------------------------------


def analyze_algorithm(path: str | Path, settings: Settings | None = None) -> AlgorithmRequirements:
    """Read a LEAN Python algorithm (never executing it) and return what it needs.

    Args:
        path: The algorithm file, or a LEAN project folder holding ``main.py``.
        settings: Supplies the bounds used for counts the code does not show
            (``resource_limits.max_option_chains`` and ``max_contracts_per_chain``,
            ``memory_model.unknown_securities_bound``); ``None`` reads ``config/settings.json``.

    Raises:
        AnalysisError: The file is missing, not Python, not UTF-8, has a syntax error (file
            and line; also in a project file it imports), or defines no class deriving from
            QCAlgorithm.
    """
    if settings is None:
        from utils.settings import load_settings

        settings = load_settings()
    qc = settings.quantconnect
    return AlgorithmAnalyzer(
        max_option_chains=qc.resource_limits.max_option_chains,
        max_contracts_per_chain=qc.resource_limits.max_contracts_per_chain,
        unknown_securities_bound=qc.memory_model.unknown_securities_bound,
    ).analyze(path)


class AlgorithmAnalyzer:
    """Static analysis of LEAN algorithms, with stated bounds for what the code cannot show.

    Args:
        max_option_chains: Chains counted for a chain subscription whose count is unknown.
        max_contracts_per_chain: Contracts counted for a chain whose filter is unbounded or
            cannot be read, and per ``add_option_contract`` line with an unknown count.
        unknown_securities_bound: Securities counted for a universe, loop or subscription whose
            size is unknown.
    """

    def __init__(
        self,
        *,
        max_option_chains: int = 5,
        max_contracts_per_chain: int = 100,
        unknown_securities_bound: int = 50,
    ) -> None:
        self.max_option_chains = max_option_chains
        self.max_contracts_per_chain = max_contracts_per_chain
        self.unknown_securities_bound = unknown_securities_bound

    def analyze(self, path: str | Path) -> AlgorithmRequirements:
        """Return the requirements of the algorithm at ``path`` (see :func:`analyze_algorithm`).

        Raises:
            AnalysisError: See :func:`analyze_algorithm`.
        """
        main = Path(path)
        if main.is_dir():
            if not (main / "main.py").is_file():
                raise AnalysisError(main, "is a folder without main.py; give the algorithm file")
            main = main / "main.py"
        if main.suffix.lower() != ".py":
            if not main.exists():
                raise AnalysisError(main, "file not found")
            hint = {
                ".cs": " (a C# algorithm: only Python algorithms are analysed)",
                ".ipynb": " (a research notebook: give the algorithm's .py file)",
            }.get(main.suffix.lower(), "")
            msg = f"not a Python file{hint}; LEAN runs Python algorithms from .py files"
            raise AnalysisError(main, msg)
        try:
            return _Run(self, main).run()
        except RecursionError:
            raise AnalysisError(main, "too deeply nested to analyse") from None


@dataclass(slots=True, eq=False, repr=False)
class _Frame:
    """Where the walker is: module, class, ``self``, locals, and how often this code runs."""

    module: _Module
    _: KW_ONLY
    owner: _Class | None = None
    self_value: _Instance | None = None
    env: dict[str, Value] = field(default_factory=dict)
    factor: int = 1
    unknown: str | None = None
    loop_id: int | None = None
    dynamic: bool = False
    pure: bool = False
    depth: int = 0
    returns: list[Value] = field(default_factory=list)

    def derive(self, **changes: Any) -> _Frame:
        """Return a frame sharing these locals and returns, with some fields changed."""
        return replace(self, **changes)


class _Run:
    """One analysis: read the project, scan facts, walk the code, tally."""

    def __init__(self, analyzer: AlgorithmAnalyzer, main: Path) -> None:
        self.a = analyzer
        self.main_path = main
        self.project = _Project(Path(os.path.abspath(main)), main.parent)  # noqa: PTH100 - no symlink lstat per component
        self.sites: list[_Site] = []
        self.notes: list[str] = []
        self.walked: set[int] = set()
        self.stack: list[int] = []
        self.calls_left = _CALL_BUDGET
        self.expansions_left = _EXPANSION_BUDGET
        self.loop_count = 0
        self.instances: list[_Instance] = []
        self.const_cache: dict[tuple[str, str], Value] = {}
        self.evidence: dict[str, list[SourceLine]] = {}
        self.findings: dict[str, list[Finding]] = {
            k: [] for k in ("history", "warm-up", "schedule", "ml", "llm")
        }
        self.ml_imports: dict[str, list[SourceLine]] = {}
        self.training: list[SourceLine] = []
        self.gpu: list[SourceLine] = []
        self.universe_resolution: tuple[str, SourceLine] | None = None
        self.interesting_lines: dict[str, list[int]] = {}

    # -- driver ------------------------------------------------------------------------------

    def run(self) -> AlgorithmRequirements:
        main = self.project.load("__main__", self.project.root / self.main_path.name)
        algorithm = self._algorithm_class(main)
        for module in list(self.project.order):
            self._scan(module)
        self._mark_project_calls()
        instance = _Instance(algorithm)
        self.instances.append(instance)
        initialize = self._method(algorithm, ("initialize", "Initialize"), bound=instance)
        if initialize is None:
            self.notes.append(
                f"{algorithm.name} defines no initialize(): nothing subscribed at start"
            )
        else:
            self._invoke(initialize, [], {}, _Frame(main))
        self._walk_the_rest()
        for module in list(self.project.order):  # files first imported inside functions
            self._scan(module)
        return _Tally(self, algorithm).requirements()

    def _walk_the_rest(self) -> None:
        """Walk what runs during the algorithm's life: code not reached from initialize.

        Every method of the algorithm and of the project objects it created, then the
        project's other functions and classes (not other algorithm classes), each once and
        only when its lines call something that matters.
        """
        done: set[int] = set()
        while self.calls_left > 0:
            pending = [
                (node, cls, instance)
                for instance in list(self.instances)
                for cls in self._mro(instance.cls)
                for node in cls.methods.values()
                if id(node) not in self.walked and id(node) not in done
            ]
            if not pending:
                break
            for node, cls, instance in pending:
                done.add(id(node))
                self._walk_later(_Callable(node, cls.module, cls, bound=instance))
        created = {id(i.cls) for i in self.instances}
        for module in list(self.project.order):
            for function in module.functions.values():
                if id(function) not in self.walked:
                    self._walk_later(_Callable(function, module, None))
            for cls in module.classes.values():
                if id(cls) in created or self._is_algorithm(cls):
                    continue
                instance = _Instance(cls)
                for node in cls.methods.values():
                    if id(node) not in self.walked:
                        self._walk_later(_Callable(node, module, cls, bound=instance))

    def _walk_later(self, target: _Callable) -> None:
        node = target.node
        if isinstance(node, ast.Lambda) or not self._may_subscribe(target.module, node):
            return
        why = f"in {node.name}(), which runs during the algorithm's life"
        frame = _Frame(target.module, unknown=why, loop_id=self._new_loop(), dynamic=True)
        self._invoke(target, None, {}, frame)

    def _may_subscribe(self, module: _Module, node: FunctionNode) -> bool:
        """Return whether a function calls anything that can subscribe (checked on its lines)."""
        lines = self.interesting_lines.get(module.name, [])
        end = getattr(node, "end_lineno", None) or node.lineno
        index = bisect.bisect_left(lines, node.lineno)
        return index < len(lines) and lines[index] <= end

    def _new_loop(self) -> int:
        self.loop_count += 1
        return self.loop_count

    def _mark_project_calls(self) -> None:
        """Mark the lines calling the project's own functions and classes as worth walking."""
        names = sorted(
            {n for m in self.project.order for n in (*m.functions, *m.classes, *m.imports)}
        )
        if not names:
            return
        for module in self.project.order:
            text = module.text
            positions = [p for name in names for p in _calls_of(text, name)]
            if positions:
                lines = self.interesting_lines.setdefault(module.name, [])
                lines.extend(_line_numbers(text, positions))
                lines.sort()

    # -- classes -----------------------------------------------------------------------------

    def _algorithm_class(self, module: _Module) -> _Class:
        candidates = [c for c in module.classes.values() if self._is_algorithm(c)]
        if not candidates:
            found = ", ".join(f"{c.name} (line {c.node.lineno})" for c in module.classes.values())
            detail = f"; classes found: {found}" if found else "; it defines no class at all"
            msg = "no class derives from QCAlgorithm, so LEAN has nothing to run" + detail
            raise AnalysisError(module.path, msg)
        inherited = {id(base) for c in candidates for base in self._mro(c)[1:]}
        leaves = [c for c in candidates if id(c) not in inherited] or candidates
        if len(leaves) > 1:
            others = ", ".join(c.name for c in leaves[1:])
            self.notes.append(f"several algorithm classes: analysed {leaves[0].name}, not {others}")
        return leaves[0]

    def _bases(self, cls: _Class) -> list[_Class | str]:
        if cls.bases is None:
            cls.bases = []
            for base in cls.node.bases:
                value = self._const(base, cls.module)
                if isinstance(value, _ClassRef) and value.cls is not cls:
                    cls.bases.append(value.cls)
                elif isinstance(base, ast.Name):
                    cls.bases.append(base.id)
                elif isinstance(base, ast.Attribute):
                    cls.bases.append(base.attr)
        return cls.bases

    def _mro(self, cls: _Class) -> list[_Class]:
        if cls.mro is not None:
            return cls.mro
        order: list[_Class] = []
        queue = [cls]
        seen: set[int] = set()
        while queue:
            current = queue.pop(0)
            if id(current) not in seen:
                seen.add(id(current))
                order.append(current)
                queue.extend(b for b in self._bases(current) if isinstance(b, _Class))
        cls.mro = order
        return order

    def _is_algorithm(self, cls: _Class) -> bool:
        return bool({"QCAlgorithm", "QCAlgorithmFramework"} & self._outside_bases(cls))

    def _outside_bases(self, cls: _Class) -> set[str]:
        return {b for c in self._mro(cls) for b in self._bases(c) if isinstance(b, str)}

    def _method(
        self,
        cls: _Class,
        names: Sequence[str],
        *,
        bound: _Instance | None = None,
        after: _Class | None = None,
    ) -> _Callable | None:
        """Return the first of ``names`` defined along ``cls``'s MRO (past ``after``)."""
        mro = self._mro(cls)
        if after is not None:
            index = next((i for i, c in enumerate(mro) if c is after), len(mro))
            mro = mro[index + 1 :]
        for klass in mro:
            for name in names:
                if name in klass.methods:
                    return _Callable(klass.methods[name], klass.module, klass, bound=bound)
        return None

    def _class_attribute(self, cls: _Class, name: str, depth: int) -> Value:
        for klass in self._mro(cls):
            if name in klass.attributes:
                return self._const(klass.attributes[name], klass.module, klass, depth=depth + 1)
        return _UNKNOWN

    # -- facts read from the text (one regular-expression pass per file) -----------------------

    def _scan(self, module: _Module) -> None:
        """Find the lines worth walking and the evidence that needs no arguments.

        One pass of :data:`_FACTS` over the text: calls that can subscribe or that the walker
        records (history, schedule, training, ...), nested imports, Greeks, LLM endpoints, CUDA
        and the names of the seed's components. Matches inside comments are ignored.
        """
        if module.name in self.interesting_lines:  # scanned already
            return
        self._scan_imports(module)
        text = module.text
        positions = [m.start() for m in _CALLS.finditer(text)]
        positions += [m.start() + 1 for m in _NESTED_IMPORT.finditer(text)]
        interesting = _line_numbers(text, positions)
        lowered = text.lower()
        for topic, anchors, words in _EVIDENCE_WORDS:
            if not any(anchor in lowered for anchor in anchors):
                continue
            for word in words:
                start = lowered.find(word)
                while start != -1:
                    self._text_evidence(module, topic, start, start + len(word))
                    start = lowered.find(word, start + len(word))
        self.interesting_lines[module.name] = interesting

    def _text_evidence(self, module: _Module, topic: str, start: int, end: int) -> None:
        """Record evidence found in the text at ``start:end``, not in a comment or docstring."""
        text = module.text
        line_start = text.rfind("\n", 0, start) + 1
        if "#" in text[line_start:start]:
            return  # in a comment (or after a "#" in a string on the line: rare, then missed)
        line = text.count("\n", 0, start) + 1
        if module.in_docstring(line):
            return
        found = text[start:end]
        if topic == "greeks":
            self._evidence("greeks", module.source(line, f"uses {found.lstrip('.')}"))
        elif topic == "host":
            provider = LLM_HOSTS[found.lower()]
            self._finding("llm", f"{provider} API endpoint ({found})", module.source(line))
        elif topic == "cuda":
            word = _identifier_at(text, start, end)
            if word.lower() == "cuda":
                self.gpu.append(module.source(line, "uses CUDA"))
        else:
            self._evidence(topic, module.source(line, f"name {_identifier_at(text, start, end)}"))

    def _scan_imports(self, module: _Module) -> None:
        for local, name in module.external.items():
            self._library(module, name, module.import_lines.get(local, 1))

    def _library(self, module: _Module, name: str, line: int) -> None:
        """Record an imported outside module if it is a machine-learning or LLM library."""
        top = name.split(".")[0]
        if top in ML_LIBRARIES:
            source = module.source(line)
            known = self.ml_imports.setdefault(top, [])
            if source not in known:
                known.append(source)
            self._finding(
                "ml",
                f"{ML_LIBRARIES[top]} ({name.rsplit('.', 1)[0] if '.' in name else name})",
                source,
            )
        if top not in _LLM_TOPS:
            return
        for key, provider in LLM_LIBRARIES.items():
            if name == key or name.startswith(key + "."):
                self._finding("llm", f"{provider} API client ({key})", module.source(line))
                break

    def _sized_finding(
        self, kind: str, module: _Module, node: ast.Call, amount: Value, values: Iterable[Value]
    ) -> None:
        """Record a history request or warm-up, in bars or days when the code shows them."""
        size: int | None = None
        what = "history request" if kind == "history" else kind
        if type(amount) is int:
            size, what = amount, f"{kind} of {amount:,} bars"
        elif isinstance(amount, _Days):
            size, what = int(amount.days), f"{kind} of {amount.days:g} days"
        resolution = _resolution_of(values)
        what += f" ({resolution})" if resolution else ""
        self._finding(kind, what, module.source(node), size)

    def _schedule(self, module: _Module, node: ast.Call, label: str) -> None:
        rules = ", ".join(s for s in (_segment(module, a) for a in node.args[:2]) if s)
        callback: ast.expr | None = node.args[2] if len(node.args) > 2 else None
        if callback is None:
            callback = next(
                (k.value for k in node.keywords if k.arg in ("callback", "action")), None
            )
        target = _segment(module, callback) or "?"
        self._finding("schedule", f"{label}: {target} ({rules})", module.source(node))

    def _finding(
        self, kind: str, summary: str, source: SourceLine, size: int | None = None
    ) -> None:
        found = self.findings[kind]
        if not any(f.source == source and f.summary == summary for f in found):
            found.append(Finding(kind=kind, summary=summary, source=source, size=size))

    def _evidence(self, topic: str, source: SourceLine) -> None:
        _add_line(self.evidence.setdefault(topic, []), source, limit=8)

    # -- names and constants ------------------------------------------------------------------

    def _const(
        self,
        node: ast.AST,
        module: _Module,
        owner: _Class | None = None,
        env: dict[str, Value] | None = None,
        depth: int = 0,
    ) -> Value:
        """Evaluate ``node`` without side effects (constants, class attributes, literals)."""
        scope = {} if env is None else env
        return self._expr(node, _Frame(module, owner=owner, env=scope, pure=True, depth=depth))

    def _lookup(self, name: str, frame: _Frame) -> Value:
        if name in frame.env:
            return frame.env[name]
        return self._global(frame.module, name, frame.depth)

    def _global(self, module: _Module, name: str, depth: int = 0) -> Value:
        if name in module.classes:
            return _ClassRef(module.classes[name])
        if name in module.functions:
            return _Callable(module.functions[name], module, None)
        if name in module.constants:
            key = (module.name, name)
            if key not in self.const_cache:
                self.const_cache[key] = _UNKNOWN  # cycle guard
                value = self._const(module.constants[name], module, depth=depth + 1)
                self.const_cache[key] = value
            return self.const_cache[key]
        if name in module.imports:
            target, attribute = module.imports[name]
            other = self.project.find(target)
            if other is None or depth > 16:
                return _UNKNOWN
            return (
                _ModuleRef(other)
                if attribute is None
                else self._global(other, attribute, depth + 1)
            )
        if name in module.external or name[:1].isupper():
            return _External(module.external.get(name, name))
        return _UNKNOWN

    def _member(self, base: Value, name: str, frame: _Frame) -> Value:
        """Return ``base.name`` for the values the walker follows."""
        if isinstance(base, _Instance):
            if name in base.attrs:
                return base.attrs[name]
            method = self._method(base.cls, (name,), bound=base)
            return method or self._class_attribute(base.cls, name, frame.depth)
        if isinstance(base, _ClassRef):
            method = self._method(base.cls, (name,))
            return method or self._class_attribute(base.cls, name, frame.depth)
        if isinstance(base, _ModuleRef):
            return self._global(base.module, name, frame.depth + 1)
        if isinstance(base, _Handle) and snake(name) == "symbol":
            site = base.site
            return _Symbol(site.ticker, "option" if site.kind == "chain" else site.asset)
        if isinstance(base, _External):
            return _External(f"{base.name}.{name}")
        return _UNKNOWN

    # -- the walker --------------------------------------------------------------------------

    def _invoke(
        self,
        target: _Callable,
        args: list[Value] | None,
        keywords: dict[str, Value],
        caller: _Frame,
    ) -> Value:
        """Walk a function body as called from ``caller`` (``args`` ``None``: called by LEAN)."""
        node = target.node
        key = id(node)
        if key in self.stack or len(self.stack) >= _MAX_DEPTH or self.calls_left <= 0:
            return _UNKNOWN
        self.calls_left -= 1
        self.walked.add(key)
        env = target.scope()
        spec = node.args
        positional = [*spec.posonlyargs, *spec.args]
        if target.bound is not None:
            positional = positional[1:]
        values = args or []
        first_default = len(positional) - len(spec.defaults)
        for i, param in enumerate(positional):
            if i < len(values):
                env[param.arg] = values[i]
            elif param.arg in keywords:
                env[param.arg] = keywords[param.arg]
            elif args is not None and i >= first_default:
                env[param.arg] = self._const(spec.defaults[i - first_default], target.module)
            else:
                env[param.arg] = _UNKNOWN
        for param, default in zip(spec.kwonlyargs, spec.kw_defaults, strict=True):
            if param.arg in keywords:
                env[param.arg] = keywords[param.arg]
            elif default is not None and args is not None:
                env[param.arg] = self._const(default, target.module)
            else:
                env[param.arg] = _UNKNOWN
        for rest in (spec.vararg, spec.kwarg):
            if rest is not None:
                env[rest.arg] = _UNKNOWN
        frame = _Frame(  # how often the body runs is the caller's
            target.module,
            owner=target.owner,
            self_value=target.bound,
            env=env,
            factor=caller.factor,
            unknown=caller.unknown,
            loop_id=caller.loop_id,
            dynamic=caller.dynamic,
            pure=caller.pure,
            depth=caller.depth + 1,
        )
        self.stack.append(key)
        try:
            if isinstance(node, ast.Lambda):
                return self._expr(node.body, frame)
            self._block(node.body, frame)
        finally:
            self.stack.pop()
        return next((r for r in frame.returns if r is not _UNKNOWN), _UNKNOWN)

    def _block(self, body: Sequence[ast.stmt], frame: _Frame) -> None:
        for statement in body:
            self._statement(statement, frame)

    def _statement(self, node: ast.stmt, frame: _Frame) -> None:
        if isinstance(node, ast.Expr):
            self._expr(node.value, frame)
        elif isinstance(node, ast.Assign):
            value = self._expr(node.value, frame)
            for target in node.targets:
                self._bind(target, value, frame)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._bind(node.target, self._expr(node.value, frame), frame)
        elif isinstance(node, ast.AugAssign):
            value = self._expr(node.value, frame)
            if isinstance(node.target, ast.Name):
                current = frame.env.get(node.target.id, _UNKNOWN)
                frame.env[node.target.id] = _binop(node.op, current, value)
        elif isinstance(node, ast.For | ast.AsyncFor):
            target, body = node.target, node.body

            def iteration(item: Value, inner: _Frame) -> None:
                self._bind(target, item, inner)
                self._block(body, inner)

            self._loop(self._expr(node.iter, frame), node.iter, frame, iteration)
            self._block(node.orelse, frame)
        elif isinstance(node, ast.If):
            test = self._expr(node.test, frame)
            if _is_known(test):
                self._block(node.body if test else node.orelse, frame)
            else:
                self._block(node.body, frame)
                self._block(node.orelse, frame)
        elif isinstance(node, ast.While):
            self._expr(node.test, frame)
            self._block(node.body, self._unknown_loop(frame, f"a while loop (line {node.lineno})"))
            self._block(node.orelse, frame)
        elif isinstance(node, ast.Return):
            if node.value is not None:
                frame.returns.append(self._expr(node.value, frame))
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                self._expr(item.context_expr, frame)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, _UNKNOWN, frame)
            self._block(node.body, frame)
        elif isinstance(node, ast.Try | ast.TryStar):
            self._block(node.body, frame)
            for handler in node.handlers:
                self._block(handler.body, frame)
            self._block(node.orelse, frame)
            self._block(node.finalbody, frame)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            frame.env[node.name] = _Callable(node, frame.module, frame.owner, closure=frame.env)
        elif isinstance(node, ast.Match):
            self._expr(node.subject, frame)
            for case in node.cases:
                self._block(case.body, frame)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            self._local_import(node, frame)

    def _local_import(self, node: ast.Import | ast.ImportFrom, frame: _Frame) -> None:
        module = frame.module
        scratch = _Module(module.name, module.path, module.display, "", module.tree)
        self.project.index_import(scratch, node)
        for local, (target, attribute) in scratch.imports.items():
            other = self.project.find(target)
            if other is not None:
                frame.env[local] = (
                    _ModuleRef(other) if attribute is None else self._global(other, attribute)
                )
        for local, name in scratch.external.items():
            frame.env[local] = _External(name)
            module.external.setdefault(local, name)
            self._library(module, name, node.lineno)

    def _bind(self, target: ast.expr, value: Value, frame: _Frame) -> None:
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, ast.Attribute):
            owner_node = target.value
            if (
                isinstance(value, _Res)
                and snake(target.attr) == "resolution"
                and isinstance(owner_node, ast.Attribute)
                and snake(owner_node.attr) == "universe_settings"
            ):
                self.universe_resolution = (value.name, frame.module.source(target))
            owner = self._expr(owner_node, frame)
            if isinstance(owner, _Instance):
                owner.attrs[target.attr] = value
        elif isinstance(target, ast.Tuple | ast.List):
            if type(value) is tuple and len(value) == len(target.elts):
                for element, item in zip(target.elts, value, strict=True):
                    self._bind(element, item, frame)
            else:
                for element in target.elts:
                    self._bind(element, _UNKNOWN, frame)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, _UNKNOWN, frame)
        elif isinstance(target, ast.Subscript):
            self._expr(target.value, frame)

    def _unknown_loop(self, frame: _Frame, why: str) -> _Frame:
        if frame.unknown is not None:  # an outer unknown already bounds what runs inside
            return frame
        return frame.derive(unknown=why, loop_id=self._new_loop())

    def _loop(
        self,
        iterable: Value,
        source: ast.expr,
        frame: _Frame,
        body: Callable[[Value, _Frame], object],
    ) -> list[object] | None:
        """Run ``body`` per item (unrolled), once with a count, or once with an unknown count."""
        items, length = _iteration(iterable)
        if items is not None and len(items) <= _EXPAND_MAX and self.expansions_left >= len(items):
            self.expansions_left -= len(items)
            return [body(item, frame) for item in items]
        if length is not None:
            body(_UNKNOWN, frame.derive(factor=min(frame.factor * length, _CAP)))
            return None
        what = _segment(frame.module, source) or "an expression"
        body(_UNKNOWN, self._unknown_loop(frame, f"a loop over `{what}` (line {source.lineno})"))
        return None

    # -- expressions -------------------------------------------------------------------------

    def _expr(self, node: ast.AST, frame: _Frame) -> Value:
        """Evaluate ``node``; unless the frame is pure, follow its calls (the side effects)."""
        if isinstance(node, ast.Constant):
            return _UNKNOWN if isinstance(node.value, bytes) else node.value
        if isinstance(node, ast.Name):
            return self._lookup(node.id, frame)
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id not in frame.env:
                if base.id == "Resolution":
                    return _Res(node.attr.lower())
                if base.id == "SecurityType":
                    return _SecType(snake(node.attr))
            return self._member(self._expr(base, frame), node.attr, frame)
        if isinstance(node, ast.Call):
            return self._call(node, frame)
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items: list[Value] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    inner = self._expr(element.value, frame)
                    if type(inner) is not tuple:
                        return _UNKNOWN
                    items.extend(inner)
                else:
                    items.append(self._expr(element, frame))
            return tuple(items)
        if isinstance(node, ast.Dict):
            keys = [self._expr(k, frame) if k is not None else None for k in node.keys]
            values = [self._expr(v, frame) for v in node.values]
            if any(k is None for k in node.keys):
                return _UNKNOWN
            return _DictValue(tuple(zip(keys, values, strict=True)))
        if isinstance(node, ast.UnaryOp):
            return _unary(node.op, self._expr(node.operand, frame))
        if isinstance(node, ast.BinOp):
            return _binop(node.op, self._expr(node.left, frame), self._expr(node.right, frame))
        if isinstance(node, ast.Subscript):
            return self._subscript(node, frame)
        if isinstance(node, ast.Lambda):
            return _Callable(node, frame.module, frame.owner, closure=frame.env)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            return self._comprehension(node.generators, node.elt, frame)
        if isinstance(node, ast.DictComp):
            self._comprehension(node.generators, node.value, frame)
            return _UNKNOWN
        if isinstance(node, ast.IfExp):
            test = self._expr(node.test, frame)
            if _is_known(test):
                return self._expr(node.body if test else node.orelse, frame)
            body, other = self._expr(node.body, frame), self._expr(node.orelse, frame)
            return body if _is_known(body) and body == other else _UNKNOWN
        if isinstance(node, ast.NamedExpr):
            value = self._expr(node.value, frame)
            self._bind(node.target, value, frame)
            return value
        if not frame.pure:  # anything else: follow the calls inside, the value is unknown
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self._expr(child, frame)
        return _UNKNOWN

    def _comprehension(
        self, generators: list[ast.comprehension], element: ast.expr, frame: _Frame
    ) -> Value:
        scope = frame.derive(env=dict(frame.env))
        results: list[Value] = []

        def level(index: int, current: _Frame) -> None:
            if index == len(generators):
                results.append(self._expr(element, current))
                return
            generator = generators[index]

            def body(item: Value, inner: _Frame) -> None:
                self._bind(generator.target, item, inner)
                for condition in generator.ifs:
                    self._expr(condition, inner)
                level(index + 1, inner)

            self._loop(self._expr(generator.iter, current), generator.iter, current, body)

        level(0, scope)
        if len(generators) != 1:
            return _UNKNOWN
        items, length = _iteration(self._expr(generators[0].iter, frame.derive(pure=True)))
        if items is not None and not generators[0].ifs and len(results) == len(items):
            return tuple(results)
        return _Bounded(length) if length is not None else _UNKNOWN

    def _subscript(self, node: ast.Subscript, frame: _Frame) -> Value:
        container = self._expr(node.value, frame)
        index = node.slice
        if isinstance(index, ast.Slice):
            lower = self._expr(index.lower, frame) if index.lower else None
            upper = self._expr(index.upper, frame) if index.upper else None
            step = self._expr(index.step, frame) if index.step else None
            if (
                type(container) is tuple
                and (lower is None or type(lower) is int)
                and (upper is None or type(upper) is int)
                and (step is None or (type(step) is int and step != 0))
            ):
                return container[slice(lower, upper, step)]
            if lower in (None, 0) and step is None and type(upper) is int and upper >= 0:
                if isinstance(container, _Bounded):
                    return _Bounded(min(container.n, upper))
                return _Bounded(upper)
            return _UNKNOWN
        key = self._expr(index, frame)
        if (
            type(container) is tuple
            and type(key) is int
            and -len(container) <= key < len(container)
        ):
            return container[key]
        if isinstance(container, _DictValue) and _is_known(key):
            for item_key, value in container.items:
                if type(item_key) is type(key) and item_key == key:
                    return value
        return _UNKNOWN

    def _call(self, node: ast.Call, frame: _Frame) -> Value:
        func = node.func
        receiver: Value = None
        callee: Value = _UNKNOWN
        name: str | None = None
        if isinstance(func, ast.Attribute):
            name = func.attr
            inner = func.value
            if (
                isinstance(inner, ast.Call)
                and isinstance(inner.func, ast.Name)
                and inner.func.id == "super"
                and not frame.pure
            ):
                return self._super_call(node, name, frame)
            receiver = self._expr(inner, frame)
            if isinstance(receiver, _Instance | _ClassRef | _ModuleRef):
                callee = self._member(receiver, name, frame)
        elif isinstance(func, ast.Name):
            name = func.id
            callee = self._lookup(name, frame)
        elif isinstance(func, ast.Subscript) and isinstance(func.value, ast.Attribute):
            name = func.value.attr  # self.history[TradeBar](...)
            if not frame.pure:
                self._expr(func.value, frame)
        elif not frame.pure:
            self._expr(func, frame)
        args = self._args(node, frame)
        keywords = {k.arg: self._expr(k.value, frame) for k in node.keywords if k.arg}
        if not frame.pure:
            for k in node.keywords:
                if k.arg is None:
                    self._expr(k.value, frame)
        plain = isinstance(func, ast.Name)
        if name is not None:
            value = self._builtin(name if plain else snake(name), receiver, args, keywords, plain)
            if value is not _NOT_BUILTIN:
                return value
        if frame.pure:
            return _UNKNOWN
        if isinstance(callee, _Callable):
            if (
                isinstance(receiver, _ClassRef)
                and callee.bound is None
                and args
                and isinstance(args[0], _Instance)
            ):
                callee = _Callable(callee.node, callee.module, callee.owner, bound=args[0])
                args = args[1:]
            return self._invoke(callee, args, keywords, frame)
        if isinstance(callee, _ClassRef):
            return self._instantiate(callee.cls, args, keywords, frame)
        if name is None:
            return _UNKNOWN
        if plain:
            return _ExternalObject(name, args) if isinstance(callee, _External) else _UNKNOWN
        return self._api(node, snake(name), receiver, args, keywords, frame)

    def _args(self, node: ast.Call, frame: _Frame) -> list[Value]:
        values: list[Value] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                inner = self._expr(arg.value, frame)
                values.extend(inner if type(inner) is tuple else (_UNKNOWN,))
            else:
                values.append(self._expr(arg, frame))
        return values

    def _builtin(
        self, name: str, receiver: Value, args: list[Value], keywords: dict[str, Value], plain: bool
    ) -> Value:
        """Return the value of a call to a builtin the walker knows, or ``_NOT_BUILTIN``."""
        first = args[0] if args else _UNKNOWN
        if plain:
            if name == "range":
                numbers = [a for a in args if type(a) is int]
                if 1 <= len(numbers) == len(args) <= 3 and numbers[-1] != 0:
                    return range(*numbers)
                return _UNKNOWN
            if name == "timedelta":
                return _timedelta(args, keywords)
            if name in (
                "len",
                "list",
                "tuple",
                "sorted",
                "set",
                "reversed",
                "frozenset",
                "enumerate",
            ):
                items, length = _iteration(first) if args else ((), 0)
                if name == "len":
                    return length if length is not None else _UNKNOWN
                if items is not None:
                    return tuple(enumerate(items)) if name == "enumerate" else items
                return _Bounded(length) if length is not None else _UNKNOWN
            if name == "zip":
                sequences = [_iteration(a)[0] for a in args]
                if sequences and all(s is not None for s in sequences):
                    return tuple(zip(*sequences, strict=False))
                return _UNKNOWN
            return _NOT_BUILTIN
        if isinstance(receiver, _External):
            owner = receiver.name.rsplit(".", 1)[-1]
            if owner == "Symbol" and name == "create":
                kind = args[1].name if len(args) > 1 and isinstance(args[1], _SecType) else None
                return _Symbol(_ticker(first), kind)
            if owner == "TimeSpan" and name in _TIMESPAN_UNITS:
                days = _as_days(first)
                return _Days(days * _TIMESPAN_UNITS[name]) if days is not None else _UNKNOWN
            if name == "timedelta" and owner in ("datetime", "timedelta"):
                return _timedelta(args, keywords)
        if type(receiver) is str:
            if name == "split":
                separator = first if type(first) is str and first else None
                return tuple(receiver.split(separator))
            if name in ("upper", "lower", "strip"):
                return str(getattr(receiver, name)())
        if isinstance(receiver, _DictValue) and name in ("items", "keys", "values"):
            if name == "items":
                return receiver.items
            return tuple(pair[0 if name == "keys" else 1] for pair in receiver.items)
        return _NOT_BUILTIN

    def _super_call(self, node: ast.Call, name: str, frame: _Frame) -> Value:
        args = self._args(node, frame)
        keywords = {k.arg: self._expr(k.value, frame) for k in node.keywords if k.arg}
        instance = frame.self_value
        if instance is None or frame.owner is None:
            return _UNKNOWN
        callee = self._method(instance.cls, (name,), bound=instance, after=frame.owner)
        if callee is None:
            if name == "__init__":  # a LEAN base class: remember its arguments (selection models)
                instance.base_args = tuple(args)
            return _UNKNOWN
        return self._invoke(callee, args, keywords, frame)

    def _instantiate(
        self, cls: _Class, args: list[Value], keywords: dict[str, Value], frame: _Frame
    ) -> Value:
        instance = _Instance(cls)
        self.instances.append(instance)
        init = self._method(cls, ("__init__",), bound=instance)
        if init is None:
            instance.base_args = tuple(args)
        else:
            self._invoke(init, args, keywords, frame)
        return instance

    # -- LEAN's API ------------------------------------------------------------------------------

    def _api(
        self,
        node: ast.Call,
        norm: str,
        receiver: Value,
        args: list[Value],
        keywords: dict[str, Value],
        frame: _Frame,
    ) -> Value:
        if norm in SECURITY_METHODS:
            first = args[1] if norm == "add_data" and len(args) > 1 else (args[0] if args else None)
            if first is None:
                first = keywords.get("ticker", keywords.get("symbol", _UNKNOWN))
            return _Handle(
                self._site(
                    "security", SECURITY_METHODS[norm], _ticker(first), node, args, keywords, frame
                )
            )
        if norm in CHAIN_METHODS:
            return self._add_chain(node, norm, args, keywords, frame)
        if norm in CONTRACT_METHODS:
            first = args[0] if args else keywords.get("symbol", _UNKNOWN)
            ticker = first if type(first) is str else None
            return _Handle(
                self._site("contract", "option contract", ticker, node, args, keywords, frame)
            )
        if norm == "add_universe_options":
            return self._add_universe_options(node, args, keywords, frame)
        if norm == "add_universe":
            return self._add_universe(node, args, frame)
        if norm in ("set_universe_selection", "add_universe_selection"):
            model = args[0] if args else keywords.get("selection", _UNKNOWN)
            return self._selection_model(node, model, frame)
        if norm == "set_filter":
            self._set_filter(node, receiver, args, keywords, frame)
            return None
        if norm in _FACT_CALLS:
            return self._fact(node, norm, receiver, args, keywords, frame)
        if norm == "top" and args and type(args[0]) is int and _mentions_universe(node.func):
            return _UniverseSize(args[0], "dollar-volume universe", f"top({args[0]})")
        if norm in ("etf", "etf_constituents") and _mentions_universe(node.func):
            return _UniverseSize(
                None,
                "ETF constituents",
                f"constituents of {_ticker(args[0]) if args else 'an ETF'}",
            )
        return _UNKNOWN

    def _fact(
        self,
        node: ast.Call,
        norm: str,
        receiver: Value,
        args: list[Value],
        keywords: dict[str, Value],
        frame: _Frame,
    ) -> Value:
        """Record a call that tells something without subscribing (history, schedule, ...)."""
        module = frame.module
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else norm
        if norm == "history":
            periods = keywords.get("periods", args[1] if len(args) > 1 else _UNKNOWN)
            self._sized_finding("history", module, node, periods, [*args, *keywords.values()])
        elif norm in ("set_warm_up", "set_warmup"):
            self._sized_finding("warm-up", module, node, args[0] if args else _UNKNOWN, args)
        elif norm == "on":
            if isinstance(func, ast.Attribute) and _tail(func.value) == "schedule":
                self._schedule(module, node, "scheduled event")
        elif (
            norm == "train" and isinstance(receiver, _Instance) and self._is_algorithm(receiver.cls)
        ):
            self._schedule(module, node, "training")
            self.training.append(module.source(node, "LEAN's scheduled training, train()"))
        elif norm in TRAINING_CALLS or norm == "train":
            uses_ml = any(n.split(".")[0] in ML_LIBRARIES for n in module.external.values())
            if norm == "backward" or uses_ml:
                self.training.append(module.source(node, f"{name}() trains a model"))
        elif norm in _RISK_CALLS:
            self._evidence("risk_management", module.source(node, f"{name}()"))
        elif norm in _COMBO_ORDERS:
            self._evidence("spread_tracker", module.source(node, f"{name}(): a multi-leg order"))
        return _UNKNOWN

    def _site(
        self,
        kind: str,
        asset: str,
        ticker: str | None,
        node: ast.Call,
        args: list[Value],
        keywords: dict[str, Value],
        frame: _Frame,
    ) -> _Site:
        site = _Site(
            kind=kind,
            asset=asset,
            ticker=ticker,
            factor=frame.factor,
            unknown=frame.unknown,
            loop_id=frame.loop_id,
            dynamic=frame.dynamic,
            resolution=_resolution_of([*args, *keywords.values()]),
            source=frame.module.source(node),
        )
        position = 1 if asset == "custom data" else 0
        ticker_node = node.args[position] if len(node.args) > position else None
        if ticker is None and isinstance(ticker_node, ast.Name):
            site.alias = (id(frame.env), ticker_node.id)
        self.sites.append(site)
        return site

    def _add_chain(
        self,
        node: ast.Call,
        norm: str,
        args: list[Value],
        keywords: dict[str, Value],
        frame: _Frame,
    ) -> Value:
        kind, underlying_asset = CHAIN_METHODS[norm]
        first = args[0] if args else keywords.get("underlying", keywords.get("symbol", _UNKNOWN))
        site = self._site("chain", kind, _ticker(first), node, args, keywords, frame)
        site.underlying_asset = underlying_asset
        target = args[1] if len(args) > 1 else keywords.get("target_option")
        site.target = target if type(target) is str else None
        if norm == "add_future_option":
            option_filter = args[1] if len(args) > 1 else keywords.get("option_filter")
            site.target = None
            if isinstance(option_filter, _Callable):
                self._attach_filter(site, option_filter, frame.module.source(node))
            elif option_filter is None:
                site.estimate = self._unknown_filter(
                    "future options with no filter keep every contract"
                )
        return _Handle(site)

    def _add_universe_options(
        self, node: ast.Call, args: list[Value], keywords: dict[str, Value], frame: _Frame
    ) -> Value:
        first = args[0] if args else keywords.get("universe", _UNKNOWN)
        option_filter = args[1] if len(args) > 1 else keywords.get("option_filter", _UNKNOWN)
        site = self._site("chain", "universe options", _ticker(first), node, args, keywords, frame)
        if isinstance(first, _Handle) and first.site.kind == "universe":
            site.size, site.size_note = first.site.size, first.site.size_note
            site.from_universe = True
        if isinstance(option_filter, _Callable):
            self._attach_filter(site, option_filter, frame.module.source(node))
        return _Handle(site)

    def _add_universe(self, node: ast.Call, args: list[Value], frame: _Frame) -> Value:
        sizes = [a for a in args if isinstance(a, _UniverseSize)]
        selectors = [a for a in args if isinstance(a, _Callable)]
        if sizes:
            return _Handle(self._universe(node, frame, sizes[0].kind, sizes[0].size, sizes[0].note))
        if selectors:
            kind = "fundamental selection" if len(selectors) == 1 else "coarse and fine selection"
            size, note = self._selection_size(selectors[-1])
            return _Handle(self._universe(node, frame, kind, size, note))
        if args and isinstance(args[0], _Handle | _Symbol | str):  # add_universe(symbol)
            return args[0]
        return _Handle(
            self._universe(node, frame, "universe selection", None, "selection not read")
        )

    def _universe(
        self, node: ast.Call, frame: _Frame, kind: str, size: int | None, note: str
    ) -> _Site:
        site = self._site("universe", kind, None, node, [], {}, frame)
        site.size, site.size_note = size, note
        return site

    def _selection_model(self, node: ast.Call, model: Value, frame: _Frame) -> Value:
        if isinstance(model, _ExternalObject):
            if model.name == "ManualUniverseSelectionModel":
                symbols = model.args[0] if len(model.args) == 1 else tuple(model.args)
                if type(symbols) is tuple:
                    for symbol in symbols:
                        self._manual_symbol(symbol, node, frame)
                    return None
                return _Handle(
                    self._universe(node, frame, "manual selection", None, "symbols not read")
                )
            if model.name == "OptionUniverseSelectionModel":
                selector = model.args[1] if len(model.args) > 1 else _UNKNOWN
                return self._option_universe(node, selector, None, frame)
            if model.name == "QC500UniverseSelectionModel":
                return _Handle(
                    self._universe(node, frame, "QC500", 500, "QC500 selects 500 stocks")
                )
            selectors = [a for a in model.args if isinstance(a, _Callable)]
            size, note = (
                self._selection_size(selectors[-1]) if selectors else (None, "size not read")
            )
            return _Handle(self._universe(node, frame, model.name, size, note))
        if isinstance(model, _Instance):
            bases = self._outside_bases(model.cls)
            if "OptionUniverseSelectionModel" in bases:
                selector = model.base_args[1] if len(model.base_args) > 1 else _UNKNOWN
                option_filter = self._method(model.cls, ("filter", "Filter"), bound=model)
                return self._option_universe(node, selector, option_filter, frame)
            select = self._method(
                model.cls,
                ("select", "Select", "select_fine", "SelectFine", "select_coarse", "SelectCoarse"),
                bound=model,
            )
            size, note = None, "selection not read"
            if select is not None:
                size, note = self._selection_size(select)
            return _Handle(
                self._universe(node, frame, f"selection model {model.cls.name}", size, note)
            )
        return _Handle(self._universe(node, frame, "universe selection", None, "model not read"))

    def _manual_symbol(self, symbol: Value, node: ast.Call, frame: _Frame) -> None:
        kind = symbol.security_type if isinstance(symbol, _Symbol) else None
        if kind in ("option", "index_option", "future_option"):
            site = self._site("chain", CHAIN_KINDS[kind], _ticker(symbol), node, [], {}, frame)
            site.underlying_asset = "index" if kind == "index_option" else "equity"
        else:
            self._site("security", kind or "equity", _ticker(symbol), node, [], {}, frame)

    def _option_universe(
        self, node: ast.Call, selector: Value, option_filter: _Callable | None, frame: _Frame
    ) -> Value:
        site = self._site("chain", "universe options", None, node, [], {}, frame)
        site.size, site.size_note = (
            self._selection_size(selector)
            if isinstance(selector, _Callable)
            else (None, "selector not read")
        )
        if option_filter is not None:
            self._attach_filter(site, option_filter, frame.module.source(node))
        return _Handle(site)

    def _selection_size(self, target: _Callable) -> tuple[int | None, str]:
        """Return how many symbols a selection function returns, when its code shows it."""
        node = target.node
        body: list[ast.stmt] = [] if isinstance(node, ast.Lambda) else node.body
        returns = (
            [node.body]
            if isinstance(node, ast.Lambda)
            else [r.value for r in _flat(body) if isinstance(r, ast.Return) and r.value is not None]
        )
        env = target.scope()
        assigned = {
            t.id: s.value
            for s in _flat(body)
            if isinstance(s, ast.Assign)
            for t in s.targets
            if isinstance(t, ast.Name)
        }
        sizes = []
        for expression in returns:
            if isinstance(expression, ast.Attribute) and snake(expression.attr) == "unchanged":
                continue
            size = self._size_of(expression, target, env, assigned, set())
            if size is None:
                return None, f"{target.name}() returns a list of unknown length"
            sizes.append(size)
        if not sizes:
            return None, f"{target.name}() returns nothing the analyzer can count"
        return max(sizes), f"{target.name}() returns at most {max(sizes):,}"

    def _size_of(
        self,
        node: ast.expr,
        target: _Callable,
        env: dict[str, Value],
        assigned: dict[str, ast.expr],
        seen: set[str],
    ) -> int | None:
        def const(expression: ast.expr) -> Value:
            return self._const(expression, target.module, target.owner, env)

        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return None
            return len(node.elts)
        if isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp):
            if len(node.generators) != 1:
                return None
            return self._size_of(node.generators[0].iter, target, env, assigned, seen)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            upper = const(node.slice.upper) if node.slice.upper is not None else None
            base = self._size_of(node.value, target, env, assigned, seen)
            if type(upper) is int and upper >= 0 and node.slice.lower is None:
                return upper if base is None else min(upper, base)
            return base
        if isinstance(node, ast.Call):
            func = node.func
            fname = snake(
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if fname in ("nlargest", "nsmallest", "head", "take", "top") and node.args:
                value = const(node.args[0])
                return value if type(value) is int else None
            if (
                fname in ("list", "sorted", "tuple", "set", "filter", "map", "reversed")
                and node.args
            ):
                return self._size_of(node.args[-1], target, env, assigned, seen)
        if isinstance(node, ast.Name) and node.id in assigned and node.id not in env:
            if node.id in seen:
                return None
            return self._size_of(assigned[node.id], target, env, assigned, seen | {node.id})
        items, length = _iteration(const(node))
        return len(items) if items is not None else length

    # -- option filters ------------------------------------------------------------------------

    def _set_filter(
        self,
        node: ast.Call,
        receiver: Value,
        args: list[Value],
        keywords: dict[str, Value],
        frame: _Frame,
    ) -> None:
        source = frame.module.source(node)
        if isinstance(receiver, _Handle):
            site = receiver.site
        else:  # e.g. self.securities[symbol].set_filter(...): the latest chain without a filter
            pending = [s for s in reversed(self.sites) if s.kind == "chain" and s.estimate is None]
            if not pending:
                return
            site = pending[0]
            source = frame.module.source(node, f"applied to the chain of line {site.source.line}")
        if site.kind == "security" and site.asset == "future":
            site.estimate = self._future_filter(args, keywords)
            site.filter_source = source
        elif site.kind == "chain":
            if len(args) == 1 and isinstance(args[0], _Callable):
                self._attach_filter(site, args[0], source)
            else:
                site.estimate = self._filter_from_arguments(args, keywords, site)
                site.filter_source = source

    def _attach_filter(self, site: _Site, target: _Callable, source: SourceLine) -> None:
        site.estimate = self._filter_from_callable(target, site)
        node = target.node
        if isinstance(node, ast.Lambda):
            site.filter_source = source
            return
        returned = next((r for r in _flat(node.body) if isinstance(r, ast.Return)), node)
        site.filter_source = target.module.source(returned, f"filter {target.name}()")

    def _filter_from_callable(self, target: _Callable, site: _Site) -> _Estimate:
        parameters = target.parameters()
        if not parameters:
            return self._unknown_filter(f"{target.name}() takes no universe")
        node = target.node
        env = target.scope()
        env.pop(parameters[0], None)
        chains = (
            [_chain_ops(node.body, {parameters[0]: []})]
            if isinstance(node, ast.Lambda)
            else _function_chains(node.body, parameters[0])
        )
        if not chains:
            return self._unknown_filter(f"{target.name}() returns no filter")
        estimates = []
        for ops in chains:
            if ops is None:
                return self._unknown_filter(
                    f"{target.name}() selects in a way the model cannot read"
                )
            estimates.append(self._estimate(ops, target, env, site))
        return max(estimates, key=lambda e: (e.contracts, not e.exact))

    def _filter_from_arguments(
        self, args: list[Value], keywords: dict[str, Value], site: _Site
    ) -> _Estimate:
        """Read ``set_filter(min_strike, max_strike[, min_expiry, max_expiry])`` (legacy forms)."""
        named = [
            keywords[k]
            for k in (
                "min_strike",
                "max_strike",
                "min_expiry",
                "max_expiry",
                "min_expiry_days",
                "max_expiry_days",
            )
            if k in keywords
        ]
        values = [*args, *named]
        strikes: tuple[int, int] | None = None
        window: tuple[float, float] | None = None
        if (
            len(values) in (2, 4)
            and type(values[0]) is int
            and type(values[1]) is int
            and (len(values) == 4 or "min_expiry" not in keywords)
        ):
            strikes = (values[0], values[1])
            values = values[2:]
        if len(values) == 2:
            low, high = _as_days(values[0]), _as_days(values[1])
            if low is None or high is None:
                return self._unknown_filter("set_filter() with values the model cannot read")
            window = (low, high)
        elif values:
            return self._unknown_filter("set_filter() with arguments the model cannot read")
        return _build_estimate(
            strikes=strikes,
            window=window,
            underlying=site.target or site.ticker,
            bound=self.a.max_contracts_per_chain,
            how="set_filter()",
        )

    def _estimate(
        self, ops: list[tuple[str, ast.Call]], target: _Callable, env: dict[str, Value], site: _Site
    ) -> _Estimate:
        strikes: tuple[int, int] | None = None
        halve_strikes = False
        at_the_money = False
        window: tuple[float, float] | None = None
        expiries: int | None = None
        weekly = False
        rights = 2
        legs: int | None = None
        notes: list[str] = []
        for name, call in ops:
            args = [self._const(a, target.module, target.owner, env) for a in call.args]
            keywords = {
                k.arg: self._const(k.value, target.module, target.owner, env)
                for k in call.keywords
                if k.arg
            }
            if name == "strikes":
                low = args[0] if args else keywords.get("min_strike")
                high = args[1] if len(args) > 1 else keywords.get("max_strike")
                if type(low) is not int or type(high) is not int:
                    return self._unknown_filter("strikes() with values the model cannot read")
                strikes = (low, high)
            elif name == "expiration":
                if len(args) == 1 and type(args[0]) is tuple:
                    expiries = len(args[0])
                    continue
                low_days = _as_days(
                    args[0] if args else keywords.get("min_expiry", keywords.get("min_expiry_days"))
                )
                high_days = _as_days(
                    args[1]
                    if len(args) > 1
                    else keywords.get("max_expiry", keywords.get("max_expiry_days"))
                )
                if low_days is None or high_days is None:
                    return self._unknown_filter("expiration() with values the model cannot read")
                window = (low_days, high_days)
            elif name == "zero_dte":
                window = (0.0, 0.0)
            elif name in ("front_month", "back_month", "farthest_expiration"):
                expiries = 1
            elif name in ("include_weeklys", "weeklys_only"):
                weekly = True
            elif name == "standards_only":
                weekly = False
            elif name in ("calls_only", "puts_only"):
                rights = 1
            elif name in ("at_the_money", "atm"):
                at_the_money = True
            elif name in ("in_the_money", "itm", "out_of_the_money", "otm"):
                halve_strikes = True
            elif name in STRATEGY_LEGS:
                legs = STRATEGY_LEGS[name]
                notes.append(f"{name}() keeps one {name.replace('_', ' ')}: {legs} contracts")
            elif name == "contracts":
                if not (args and type(args[0]) is tuple):
                    return self._unknown_filter(
                        "contracts() selects with code the model cannot read"
                    )
                legs = len(args[0])
                notes.append(f"contracts() lists {legs}")
            elif name in NARROWING_FILTERS:
                notes.append(f"{name}() narrows further (not counted: an upper bound)")
                if name in GREEK_FILTERS:
                    self._evidence("greeks", target.module.source(call, f"filters by {name}"))
            elif name == "back_months":
                notes.append("back_months() drops the nearest expiry (not counted)")
            elif name not in NEUTRAL_FILTERS:
                notes.append(f"{name}() is not in the model")
        if legs is not None:
            return _Estimate(contracts=legs, exact=True, model="; ".join(notes))
        if at_the_money:
            strikes = (0, 0)
        estimate = _build_estimate(
            strikes=strikes,
            window=window,
            weekly=weekly,
            rights=rights,
            expiries=expiries,
            underlying=site.target or site.ticker,
            bound=self.a.max_contracts_per_chain,
            how="the filter",
            halve_strikes=halve_strikes,
        )
        if notes:
            estimate = _Estimate(
                estimate.contracts, estimate.exact, estimate.model + "; " + "; ".join(notes)
            )
        return estimate

    def _unknown_filter(self, why: str) -> _Estimate:
        bound = self.a.max_contracts_per_chain
        return _Estimate(
            contracts=bound,
            exact=False,
            model=f"{why}; counted {bound:,} (resource_limits.max_contracts_per_chain)",
        )

    def _future_filter(self, args: list[Value], keywords: dict[str, Value]) -> _Estimate:
        """Return the futures contracts a future's ``set_filter`` keeps (monthly listings)."""
        window: tuple[float, float] | None = None
        values = [*args, *(keywords[k] for k in ("min_expiry", "max_expiry") if k in keywords)]
        if len(values) == 2:
            low, high = _as_days(values[0]), _as_days(values[1])
            window = (low, high) if low is not None and high is not None else None
        elif (
            len(values) == 1
            and isinstance(values[0], _Callable)
            and isinstance(values[0].node, ast.Lambda)
        ):
            target = values[0]
            parameters = target.parameters()
            lambda_node = target.node
            assert isinstance(lambda_node, ast.Lambda)  # noqa: S101 - checked just above
            ops = _chain_ops(lambda_node.body, {parameters[0]: []}) if parameters else None
            for name, call in ops or []:
                if name == "front_month":
                    return _Estimate(1, exact=True, model="front month")
                if name == "expiration" and len(call.args) == 2:
                    low = _as_days(self._const(call.args[0], target.module, target.owner))
                    high = _as_days(self._const(call.args[1], target.module, target.owner))
                    window = (low, high) if low is not None and high is not None else None
        if window is None:
            return _Estimate(
                1, exact=False, model="future filter not read: the continuous contract only"
            )
        count = _expiries(*window, 28)
        return _Estimate(
            count,
            exact=True,
            model=f"{count} contracts expiring in {window[0]:g}-{window[1]:g} days "
            "(monthly listings, an upper bound)",
        )


class _Tally:
    """Turn the walk's subscription lines into the requirement figures, with sources."""

    def __init__(self, run: _Run, algorithm: _Class) -> None:
        self.run = run
        self.a = run.a
        self.algorithm = algorithm
        self.sources: dict[str, list[SourceLine]] = {}
        self.assumptions: list[str] = list(run.notes)
        self.warnings: list[str] = []
        self.named: dict[tuple[object, ...], Subscription] = {}
        self.unnamed: list[Subscription] = []
        self.chains: dict[tuple[str, str, str], OptionChain] = {}
        self.unnamed_chains: list[OptionChain] = []
        self.contracts: list[Subscription] = []
        self.universes: list[Universe] = []
        self.chain_loops = {s.loop_id for s in run.sites if s.kind == "chain" and s.loop_id}

    def cite(self, field_name: str, source: SourceLine) -> None:
        _add_line(self.sources.setdefault(field_name, []), source, limit=12)

    def count(self, site: _Site) -> tuple[int, bool, str]:
        """Return how many subscriptions a line makes: (count, exact, how)."""
        if site.ticker is not None and site.kind != "universe":  # the same symbol each time
            return 1, True, (f"added during the run ({site.unknown})" if site.dynamic else "")
        if site.unknown is None:
            return site.factor, True, (f"x{site.factor:,} in a loop" if site.factor != 1 else "")
        if site.kind == "contract":
            bound, where = self.a.max_contracts_per_chain, "resource_limits.max_contracts_per_chain"
        elif site.kind == "chain" or site.loop_id in self.chain_loops:
            bound, where = self.a.max_option_chains, "resource_limits.max_option_chains"
            if site.kind != "chain":
                where += ", as the same loop adds option chains"
        else:
            bound, where = self.a.unknown_securities_bound, "memory_model.unknown_securities_bound"
        count = min(site.factor * bound, _CAP)
        return count, False, f"count unknown ({site.unknown}); counted {count:,} ({where})"

    def add_security(self, subscription: Subscription, alias: tuple[int, str] | None) -> None:
        """Add a subscription once per symbol: by ticker, or by the variable holding it."""
        if subscription.ticker is not None:
            key: tuple[object, ...] = (subscription.asset, subscription.ticker.upper())
        elif alias is not None:
            key = (subscription.asset, alias)
        else:
            self.unnamed.append(subscription)
            return
        if key not in self.named:
            self.named[key] = subscription

    def requirements(self) -> AlgorithmRequirements:
        files = [m.display for m in self.run.project.order]

        def order(source: SourceLine) -> tuple[int, int]:
            index = files.index(source.file) if source.file in files else len(files)
            return index, source.line

        for found in self.run.findings.values():
            found.sort(key=lambda f: order(f.source))
        for site in self.run.sites:
            count, exact, how = self.count(site)
            if not exact:
                self.assumptions.append(f"{site.source}: {site.asset}: {how}")
            if site.kind == "security":
                self._security(site, count, exact, how)
            elif site.kind == "contract":
                self.contracts.append(_subscription(site, site.asset, count, exact, how))
            elif site.kind == "universe":
                self._universe(site, count, exact)
            else:
                self._chain(site, count, exact, how)
        securities = [*self.named.values(), *self.unnamed]
        chains = [*self.chains.values(), *self.unnamed_chains]
        num_chains = min(sum(c.count for c in chains), _CAP)
        num_securities = min(
            sum(s.count for s in securities) + sum(u.size for u in self.universes), _CAP
        )
        for item in securities:
            self.cite("num_securities", item.source)
        for universe in self.universes:
            self.cite("num_securities", universe.source)
            self.cite("universe_selection", universe.source)
        for chain in chains:
            self.cite("num_option_chains", chain.source)
        for chain in sorted(chains, key=lambda c: -c.contracts):  # the largest chain first
            self.cite("contracts_per_chain", chain.filter_source or chain.source)
        for contract in self.contracts:
            self.cite("single_option_contracts", contract.source)
        self._limit_warnings(chains, num_chains)
        resolution = self._resolution(securities, chains)
        flags = self._components(has_options=bool(chains or self.contracts))
        run = self.run
        analysis = AlgorithmAnalysis(
            path=str(run.main_path),
            class_name=self.algorithm.name,
            class_line=self.algorithm.node.lineno,
            files=tuple(files),
            securities=tuple(securities),
            option_chains=tuple(chains),
            option_contracts=tuple(self.contracts),
            universes=tuple(self.universes),
            history_requests=tuple(run.findings["history"]),
            warm_ups=tuple(run.findings["warm-up"]),
            scheduled_events=tuple(run.findings["schedule"]),
            ml_libraries=tuple(run.findings["ml"]),
            llm_apis=tuple(run.findings["llm"]),
        )
        return AlgorithmRequirements(
            num_securities=num_securities,
            num_option_chains=num_chains,
            contracts_per_chain=max((c.contracts for c in chains), default=0),
            single_option_contracts=min(sum(c.count for c in self.contracts), _CAP),
            resolution=resolution,
            ui_dashboard=True,
            sources={
                k: tuple(v if k == "contracts_per_chain" else sorted(v, key=order))
                for k, v in self.sources.items()
            },
            assumptions=tuple(dict.fromkeys(self.assumptions)),
            warnings=tuple(dict.fromkeys(self.warnings)),
            analysis=analysis,
            **flags,
        )

    def _security(self, site: _Site, count: int, exact: bool, how: str) -> None:
        note = how
        if site.estimate is not None:  # a future with a contract filter
            count = min(count * max(site.estimate.contracts, 1), _CAP)
            exact = exact and site.estimate.exact
            note = "; ".join(x for x in (how, site.estimate.model) if x)
            if site.filter_source is not None:
                self.cite("num_securities", site.filter_source)
        self.add_security(_subscription(site, site.asset, count, exact, note), site.alias)

    def _universe(self, site: _Site, count: int, exact: bool) -> None:
        size = site.size
        if size is None:
            size = self.a.unknown_securities_bound
            note = (
                f"size unknown ({site.size_note}); counted {size:,} "
                "(memory_model.unknown_securities_bound)"
            )
            self.assumptions.append(f"{site.source}: {site.asset}: {note}")
        else:
            note = site.size_note
        size = min(size * count, _CAP)
        self.universes.append(
            Universe(
                kind=site.asset,
                size=size,
                exact=exact and site.size is not None,
                source=site.source,
                note=note,
            )
        )

    def _chain(self, site: _Site, count: int, exact: bool, how: str) -> None:
        estimate = site.estimate or _LEAN_DEFAULT_FILTER
        if site.asset == "universe options" and site.ticker is None:
            if site.size is not None:
                count, exact, how = min(site.size * count, _CAP), exact, site.size_note
            else:
                count, exact = self.a.max_option_chains, False
                how = (
                    f"number of underlyings unknown ({site.size_note}); counted {count} "
                    "(resource_limits.max_option_chains)"
                )
                self.assumptions.append(f"{site.source}: option chains: {how}")
        chain = OptionChain(
            kind=site.asset,
            underlying=site.ticker,
            target=site.target,
            count=count,
            exact=exact,
            contracts=estimate.contracts,
            contracts_exact=estimate.exact,
            model=estimate.model,
            resolution=site.resolution,
            source=site.source,
            filter_source=site.filter_source,
            note=how,
        )
        if not estimate.exact:
            self.warnings.append(f"{site.source}: {site.ticker or site.asset}: {estimate.model}")
        if site.ticker is not None:
            key = (site.asset, site.ticker.upper(), (site.target or "").upper())
            self.chains.setdefault(key, chain)
            if site.underlying_asset != "future":  # a future option's future is counted already
                underlying = _subscription(
                    site, site.underlying_asset, 1, True, "option underlying"
                )
                self.add_security(underlying, None)
            return
        self.unnamed_chains.append(chain)
        # A universe's members are counted with the universe, a future option's future already.
        if not site.from_universe and site.underlying_asset != "future":
            note = "option underlying, one per chain"
            underlying = _subscription(site, site.underlying_asset, count, exact, note)
            self.add_security(underlying, site.alias)

    def _limit_warnings(self, chains: list[OptionChain], num_chains: int) -> None:
        if num_chains > self.a.max_option_chains:
            self.warnings.append(
                f"{num_chains:,} option chains: more than resource_limits.max_option_chains "
                f"({self.a.max_option_chains})"
            )
        for chain in chains:
            if chain.contracts_exact and chain.contracts > self.a.max_contracts_per_chain:
                self.warnings.append(
                    f"{chain.source}: {chain.underlying or chain.kind} keeps about "
                    f"{chain.contracts:,} contracts per chain, more than "
                    f"resource_limits.max_contracts_per_chain ({self.a.max_contracts_per_chain})"
                )

    def _resolution(self, securities: list[Subscription], chains: list[OptionChain]) -> str:
        used: list[tuple[str | None, SourceLine]] = [
            *((s.resolution, s.source) for s in securities),
            *((c.resolution, c.source) for c in chains),
            *((c.resolution, c.source) for c in self.contracts),
        ]
        explicit = [(name, source) for name, source in used if name in RESOLUTIONS]
        implicit = any(name is None for name, _ in used)
        if self.run.universe_resolution is not None and (self.universes or chains):
            explicit.append(self.run.universe_resolution)
        elif self.universes:
            implicit = True
        resolution = min((r for r, _ in explicit), key=RESOLUTIONS.index, default="minute")
        if implicit and RESOLUTIONS.index(resolution) > RESOLUTIONS.index("minute"):
            resolution = "minute"
        if implicit:
            self.assumptions.append("subscriptions without a resolution use LEAN's default, minute")
        for name, source in explicit:
            if name == resolution:
                self.cite("resolution", source)
        if resolution in ("tick", "second"):
            self.warnings.append(
                f"{resolution} data: backtests read and cache far more data than at minute "
                "resolution and the memory model does not scale with resolution; leave extra room"
            )
        return resolution

    def _components(self, *, has_options: bool) -> dict[str, bool]:
        run = self.run
        flags: dict[str, bool] = {}
        for topic in ("scanners", "risk_management", "spread_tracker", "profit_taking"):
            lines = run.evidence.get(topic, [])
            flags[f"use_{topic}"] = bool(lines)
            for source in lines:
                self.cite(f"use_{topic}", source)
        greek_lines = run.evidence.get("greeks", [])
        flags["use_greeks"] = has_options and bool(greek_lines)
        if flags["use_greeks"]:
            for source in greek_lines:
                self.cite("use_greeks", source)
        flags["use_llm_analysis"] = bool(run.findings["llm"])
        for finding in run.findings["llm"]:
            self.cite("use_llm_analysis", finding.source)
        training = bool(run.training)
        flags["use_ml_training"] = training
        for source in run.training:
            self.cite("use_ml_training", source)
        deep = [s for lib in DEEP_LEARNING for s in run.ml_imports.get(lib, [])]
        flags["needs_gpu"] = training and bool(deep or run.gpu)
        if flags["needs_gpu"]:
            for source in [*deep, *run.gpu]:
                self.cite("needs_gpu", source)
        if run.findings["ml"] and not training:
            self.assumptions.append(
                "machine-learning libraries are imported but nothing trains in the algorithm: "
                "counted as inference only (no training memory)"
            )
        for lib in ("transformers", "llama_cpp"):
            for source in run.ml_imports.get(lib, []):
                self.warnings.append(
                    f"{source}: {ML_LIBRARIES[lib]} loads a model in-process; "
                    "its weights need RAM the memory model does not count"
                )
        for finding in run.findings["history"]:
            self.cite("history", finding.source)
            if finding.size is not None and finding.size > 100_000:
                self.warnings.append(f"{finding.source}: {finding.summary}, held in memory")
        for finding in run.findings["warm-up"]:
            self.cite("warm_up", finding.source)
        for finding in run.findings["schedule"]:
            self.cite("scheduled_events", finding.source)
        return flags


# --------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------


def _subscription(site: _Site, asset: str, count: int, exact: bool, note: str) -> Subscription:
    """Return the subscription of ``asset`` that ``site``'s line makes."""
    return Subscription(
        asset=asset,
        ticker=site.ticker,
        count=count,
        exact=exact,
        resolution=site.resolution,
        source=site.source,
        note=note,
    )


class _NotBuiltin:
    __slots__ = ()


_NOT_BUILTIN = _NotBuiltin()
_API_NAMES = frozenset(
    {
        *SECURITY_METHODS,
        *CHAIN_METHODS,
        *CONTRACT_METHODS,
        *UNIVERSE_METHODS,
        "set_filter",
        "top",
        "etf",
    }
)
CHAIN_KINDS = {
    "option": "equity option",
    "index_option": "index option",
    "future_option": "future option",
}
_TIMESPAN_UNITS = {
    "from_days": 1.0,
    "from_hours": 1 / 24,
    "from_minutes": 1 / 1440,
    "from_seconds": 1 / 86400,
}


def _build_estimate(
    *,
    strikes: tuple[int, int] | None,
    window: tuple[float, float] | None,
    underlying: str | None,
    bound: int,
    how: str,
    weekly: bool = False,
    rights: int = 2,
    expiries: int | None = None,
    halve_strikes: bool = False,
) -> _Estimate:
    """Apply the model: strikes x expiries x rights (documented in the module docstring)."""
    if strikes is None or (expiries is None and window is None):
        what = "strike" if strikes is None else "expiry"
        return _Estimate(
            bound,
            exact=False,
            model=f"{how} keeps every {what}; counted {bound:,} "
            "(resource_limits.max_contracts_per_chain)",
        )
    low, high = strikes
    strike_count = max(0, high - low + 1)
    strike_text = f"{strike_count} strikes ({low:+d}..{high:+d})"
    if halve_strikes:
        strike_count = math.ceil(strike_count / 2)
        strike_text = f"{strike_count} strikes (half of {low:+d}..{high:+d}: in/out of the money)"
    if expiries is not None:
        expiry_count, expiry_text = expiries, f"{expiries} expir{'y' if expiries == 1 else 'ies'}"
    else:
        assert window is not None  # noqa: S101 - both None returned above
        first, last = window
        if not weekly:
            expiry_count, kind = _expiries(first, last, 28), "standard (monthly) expiries"
        elif (underlying or "").upper() in DAILY_EXPIRY_UNDERLYINGS:
            expiry_count, kind = _daily_expiries(first, last), "expiries (one every weekday)"
        else:
            expiry_count, kind = _expiries(first, last, 7), "weekly expiries"
        if expiry_count == 1:
            kind = kind.replace("expiries", "expiry")
        expiry_text = f"{expiry_count} {kind} in {first:g}-{last:g} days"
    contracts = min(strike_count * expiry_count * rights, _CAP)
    rights_text = "calls and puts" if rights == 2 else "calls or puts only"
    model = f"{strike_text} x {expiry_text} x {rights} ({rights_text}) = {contracts:,}"
    return _Estimate(contracts, exact=True, model=model)


def _lean_default_filter() -> _Estimate:
    """Return what a chain without a filter keeps: LEAN's default (standard expiries only)."""
    default = _build_estimate(
        strikes=DEFAULT_STRIKES, window=DEFAULT_EXPIRY_DAYS, underlying=None, bound=0, how=""
    )
    return _Estimate(default.contracts, True, f"no filter, so LEAN's default: {default.model}")


def _iteration(value: Value) -> tuple[tuple[Value, ...] | None, int | None]:
    """Return ``(items, length)`` of what a loop iterates; ``None`` where unknown."""
    if type(value) is tuple:
        return value, len(value)
    if type(value) is range:
        try:
            length = len(value)
        except OverflowError:  # more items than an index can count
            return None, _CAP
        return (tuple(value) if length <= _EXPAND_MAX else None), min(length, _CAP)
    if isinstance(value, _DictValue):
        return tuple(k for k, _ in value.items), len(value.items)
    if isinstance(value, _Bounded):
        return None, value.n
    if type(value) is str and len(value) <= _EXPAND_MAX:
        return tuple(value), len(value)
    return None, None


def _add_line(lines: list[SourceLine], source: SourceLine, *, limit: int) -> None:
    """Append ``source`` unless its line is listed already or ``lines`` holds ``limit``."""
    if len(lines) < limit and all((s.file, s.line) != (source.file, source.line) for s in lines):
        lines.append(source)


def _is_known(value: Value) -> bool:
    return value is None or type(value) in (bool, int, float, str)


def _unary(op: ast.unaryop, operand: Value) -> Value:
    if isinstance(op, ast.Not):
        return (not operand) if _is_known(operand) else _UNKNOWN
    if type(operand) not in (int, float):
        return _UNKNOWN
    if isinstance(op, ast.USub):
        return -operand  # type: ignore[operator]
    return operand if isinstance(op, ast.UAdd) else _UNKNOWN


def _binop(op: ast.operator, left: Value, right: Value) -> Value:
    if type(left) in (int, float) and type(right) in (int, float):
        a: float = left  # type: ignore[assignment]
        b: float = right  # type: ignore[assignment]
        operations: dict[type, Callable[[float, float], float]] = {
            ast.Add: lambda x, y: x + y,
            ast.Sub: lambda x, y: x - y,
            ast.Mult: lambda x, y: x * y,
            ast.FloorDiv: lambda x, y: x // y,
            ast.Div: lambda x, y: x / y,
            ast.Mod: lambda x, y: x % y,
        }
        operation = operations.get(type(op))
        if operation is None or abs(a) > 1e12 or abs(b) > 1e12:
            return _UNKNOWN
        try:
            result = operation(a, b)
        except (ZeroDivisionError, OverflowError):
            return _UNKNOWN
        return result if math.isfinite(result) else _UNKNOWN
    if isinstance(op, ast.Add):
        if type(left) is str and type(right) is str and len(left) + len(right) < 10_000:
            return left + right
        if type(left) is tuple and type(right) is tuple:
            return left + right
    if isinstance(op, ast.Mult) and type(left) is tuple and type(right) is int and right >= 0:
        if len(left) * right <= _EXPAND_MAX:
            return left * right
        return _Bounded(min(len(left) * right, _CAP))
    if isinstance(left, _Days) and isinstance(right, _Days) and isinstance(op, ast.Add | ast.Sub):
        return _Days(left.days + right.days if isinstance(op, ast.Add) else left.days - right.days)
    return _UNKNOWN


def _timedelta(args: list[Value], keywords: dict[str, Value]) -> Value:
    units = {
        "days": 1.0,
        "seconds": 1 / 86400,
        "microseconds": 1 / 86_400_000_000,
        "milliseconds": 1 / 86_400_000,
        "minutes": 1 / 1440,
        "hours": 1 / 24,
        "weeks": 7.0,
    }
    named = list(zip(units, args, strict=False)) + list(keywords.items())
    total = 0.0
    for unit, amount in named:
        if unit not in units or type(amount) not in (int, float):
            return _UNKNOWN
        total += amount * units[unit]  # type: ignore[operator]
    return _Days(total) if math.isfinite(total) and abs(total) < 1e7 else _UNKNOWN


def _as_days(value: Value) -> float | None:
    if isinstance(value, _Days):
        return value.days
    if type(value) in (int, float) and math.isfinite(value):  # type: ignore[arg-type]
        return float(value)  # type: ignore[arg-type]
    return None


def _expiries(first: float, last: float, every_days: int) -> int:
    """Return the expiries in ``first..last`` days when one is listed every ``every_days``."""
    return 0 if last < first else min(int((last - first) // every_days) + 1, _CAP)


def _daily_expiries(first: float, last: float) -> int:
    if last < first:
        return 0
    days = min(int(last - first) + 1, _CAP)
    return (days // 7) * 5 + min(days % 7, 5)


def _ticker(value: Value) -> str | None:
    if type(value) is str and 0 < len(value) < 64:
        return value
    if isinstance(value, _Symbol):
        return value.ticker
    if isinstance(value, _Handle):
        return value.site.ticker
    return None


def _resolution_of(values: Iterable[Value]) -> str | None:
    return next((v.name for v in values if isinstance(v, _Res) and v.name in RESOLUTIONS), None)


def _tail(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return snake(node.attr)
    return snake(node.id) if isinstance(node, ast.Name) else ""


def _mentions_universe(func: ast.expr) -> bool:
    node: ast.expr = func
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            if "universe" in node.attr.lower() or "volume" in node.attr.lower():
                return True
            node = node.value
        else:
            return isinstance(node, ast.Name) and "universe" in node.id.lower()


def _segment(module: _Module, node: ast.AST | None) -> str:
    """Return the source text of ``node`` on its first line, shortened."""
    line = getattr(node, "lineno", 0)
    if not 0 < line <= len(module.lines):
        return ""
    raw = module.lines[line - 1].encode("utf-8")
    start = getattr(node, "col_offset", 0)
    end = (
        getattr(node, "end_col_offset", None) if getattr(node, "end_lineno", line) == line else None
    )
    text = " ".join(raw[start:end].decode("utf-8", "replace").split())
    return text if len(text) <= 80 else text[:77] + "..."


#: Statements holding blocks of statements (definitions apart).
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try,
             ast.TryStar, ast.Match)  # fmt: skip


def _flat(body: Sequence[ast.stmt]) -> Iterator[ast.stmt]:
    """Yield the statements of a body in order, nested blocks included (not nested functions)."""
    stack = list(reversed(body))
    while stack:
        statement = stack.pop()
        yield statement
        if isinstance(statement, _COMPOUND):
            nested: list[ast.stmt] = [
                *getattr(statement, "body", ()),
                *getattr(statement, "orelse", ()),
                *getattr(statement, "finalbody", ()),
            ]
            nested += [s for handler in getattr(statement, "handlers", ()) for s in handler.body]
            nested += [s for case in getattr(statement, "cases", ()) for s in case.body]
            stack.extend(reversed(nested))


Ops: TypeAlias = list[tuple[str, ast.Call]]


def _chain_ops(node: ast.expr, names: dict[str, Ops]) -> Ops | None:
    """Return the filter methods of a chain such as ``u.strikes(-2, 2).expiration(0, 30)``.

    ``names`` maps the universe parameter (and locals holding a chain) to their methods so far;
    ``None`` when ``node`` is not such a chain.
    """
    ops: Ops = []
    current = node
    while isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
        ops.append((snake(current.func.attr), current))
        current = current.func.value
    if isinstance(current, ast.Name) and current.id in names:
        return [*names[current.id], *reversed(ops)]
    return None


def _function_chains(body: Sequence[ast.stmt], parameter: str) -> list[Ops | None]:
    """Return the filter chain behind every ``return`` of a filter function."""
    names: dict[str, Ops] = {parameter: []}
    results: list[Ops | None] = []
    for statement in _flat(body):
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            ops = _chain_ops(statement.value, names)
            if isinstance(target, ast.Name):
                if ops is not None:
                    names[target.id] = ops
                else:
                    names.pop(target.id, None)
        elif isinstance(statement, ast.Expr):  # the universe's methods also change it in place
            ops = _chain_ops(statement.value, names)
            base: ast.expr = statement.value
            while isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute):
                base = base.func.value
            if ops is not None and isinstance(base, ast.Name):
                names[base.id] = ops
        elif isinstance(statement, ast.Return):
            value = statement.value
            results.append(None if value is None else _chain_ops(value, names))
    return results


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_FACT_CALLS = frozenset(
    {
        "history",
        "set_warm_up",
        "set_warmup",
        "on",
        "train",
        *TRAINING_CALLS,
        *_RISK_CALLS,
        *_COMBO_ORDERS,
    }
)
_CALL_NAMES = sorted(
    {n for name in (*_API_NAMES, *_FACT_CALLS) for n in (name, _pascal(name))},
    key=len,
    reverse=True,
)
#: Calls worth walking (they can subscribe, or the walker records them), both API styles.
_CALLS = re.compile(r"\.(?:" + "|".join(_CALL_NAMES) + r")\s*[(\[]")
#: Imports inside functions (the line after the matched line break).
_NESTED_IMPORT = re.compile(r"\n[ \t]+(?:import|from)[ \t]")
#: Evidence read from the lower-cased text with substring searches (C speed): topic, words.
#: The seed's components are recognised by the names the code gives them, with or without
#: underscores (``spread_tracker``, ``SpreadTracker``); the line is shown with the figure.
_EVIDENCE_WORDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    # (topic, anchors: one must occur before the words are searched, words)
    (
        "greeks",
        ("greeks", "implied", "pricing"),
        (
            ".greeks",
            ".implied_volatility",
            ".impliedvolatility",
            "set_pricing_model",
            "setpricingmodel",
            "optionpricemodels",
        ),
    ),
    ("host", ("api.", "openrouter", "generativelanguage"), tuple(LLM_HOSTS)),
    ("cuda", ("cuda",), ("cuda",)),
    ("scanners", ("scanner",), ("scanner",)),
    (
        "risk_management",
        ("risk", "breaker"),
        ("risk_manag", "riskmanag", "circuit_breaker", "circuitbreaker"),
    ),
    (
        "spread_tracker",
        ("spread", "condor", "butterfly", "straddle", "strangle", "strateg"),
        tuple(
            variant
            for stem in (
                "spread_tracker",
                "credit_spread",
                "debit_spread",
                "vertical_spread",
                "iron_condor",
                "calendar_spread",
                "butterfly",
                "straddle",
                "strangle",
                "option_strateg",
            )
            for variant in dict.fromkeys((stem, stem.replace("_", "")))
        ),
    ),
    (
        "profit_taking",
        ("profit",),
        tuple(
            variant
            for stem in ("profit_tak", "take_profit", "profit_target", "maximum_unrealized_profit")
            for variant in (stem, stem.replace("_", ""))
        ),
    ),
)
_WORD = re.compile(r"[A-Za-z0-9_]*")


def _docstring_lines(tree: ast.Module) -> list[tuple[int, int]]:
    """Return the line ranges of the docstrings of a module and of every class and function."""
    ranges: list[tuple[int, int]] = []
    bodies: list[list[ast.stmt]] = [tree.body]
    while bodies:
        body = bodies.pop()
        first = body[0] if body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            ranges.append((first.lineno, first.end_lineno or first.lineno))
        bodies.extend(  # definitions nested in blocks (if, try, ...) too
            s.body
            for s in _flat(body)
            if isinstance(s, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        )
    return ranges


def _line_numbers(text: str, positions: list[int]) -> list[int]:
    """Return the 1-based line of each position, sorted (one pass over the text)."""
    lines: list[int] = []
    line, previous = 1, 0
    for position in sorted(positions):
        line += text.count("\n", previous, position)
        previous = position
        lines.append(line)
    return lines


def _calls_of(text: str, name: str) -> Iterator[int]:
    """Yield the positions where ``name`` is called (``name(`` not inside a longer name)."""
    start = text.find(name)
    while start != -1:
        end = start + len(name)
        before = text[start - 1] if start else " "
        if not (before.isalnum() or before in "_.") and text[end : end + 1] == "(":
            yield start
        start = text.find(name, end)


_LLM_TOPS = frozenset(key.split(".")[0] for key in LLM_LIBRARIES)


def _identifier_at(text: str, start: int, end: int) -> str:
    """Return the whole identifier around ``text[start:end]``."""
    begin = start
    while begin > 0 and (text[begin - 1].isalnum() or text[begin - 1] == "_"):
        begin -= 1
    match = _WORD.match(text, end)
    return text[begin : match.end() if match else end]


#: What a chain without a filter keeps.
_LEAN_DEFAULT_FILTER = _lean_default_filter()
