"""The analyzer reads LEAN algorithms (both API styles) without running them.

Every pattern is tested on algorithms written for the tests (``tests/fixtures/algorithms``):
each snake_case file has a PascalCase twin, and both must give the same figures.
"""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils import AlgorithmRequirements, AnalysisError
from utils.algorithm_analyzer import AlgorithmAnalyzer, analyze_algorithm
from utils.settings import Settings, settings_from_mapping

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "algorithms"
STYLES = ("snake", "pascal")

Analyze = Callable[[str], AlgorithmRequirements]


@pytest.fixture(params=STYLES)
def analyze(request: pytest.FixtureRequest) -> Analyze:
    """Analyse a fixture of the parametrized API style with the default settings."""
    style: str = request.param

    def run(name: str) -> AlgorithmRequirements:
        folder = FIXTURES / (f"project_{style}" if name == "project" else style)
        path = folder / "main.py" if name == "project" else folder / f"{name}.py"
        return analyze_algorithm(path, Settings())

    return run


def _chains(requirements: AlgorithmRequirements) -> dict[str | None, int]:
    assert requirements.analysis is not None
    return {c.underlying: c.contracts for c in requirements.analysis.option_chains}


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


ALGORITHM = """
from AlgorithmImports import QCAlgorithm, Resolution

class Algo(QCAlgorithm):
    def initialize(self):
{body}
"""


def _algorithm(tmp_path: Path, body: str, **limits: int) -> AlgorithmRequirements:
    text = ALGORITHM.format(body="\n".join("        " + line for line in body.splitlines()))
    return AlgorithmAnalyzer(**limits).analyze(_write(tmp_path, "main.py", text))


# -- securities and loops ---------------------------------------------------------------------


def test_loops_over_module_lists_class_tuples_and_ranges_are_unrolled(analyze: Analyze) -> None:
    requirements = analyze("securities_loops")
    assert requirements.analysis is not None
    assets = sorted((s.asset, s.ticker) for s in requirements.analysis.securities)
    assert assets == [
        ("crypto", "BTCUSD"),
        ("crypto", "ETHUSD"),
        ("equity", "AAPL"),
        ("equity", "MSFT"),
        ("equity", "NVDA"),
        ("forex", "EURUSD"),
        ("forex", "GBPUSD"),
        ("future", None),
    ]
    assert requirements.num_securities == 8
    assert requirements.num_option_chains == 0


def test_a_ticker_subscribed_twice_counts_once(tmp_path: Path) -> None:
    requirements = _algorithm(
        tmp_path, 'self.add_equity("SPY")\nself.add_equity("SPY")\nself.add_option("SPY")'
    )
    assert requirements.num_securities == 1


def test_a_loop_too_long_to_unroll_still_multiplies(tmp_path: Path) -> None:
    requirements = _algorithm(tmp_path, "for i in range(300):\n    self.add_crypto(f'C{i}')")
    assert requirements.num_securities == 300
    assert not any("count unknown" in a for a in requirements.assumptions)  # known, no bound


def test_an_astronomical_loop_saturates_instead_of_crashing(tmp_path: Path) -> None:
    body = "for i in range(10" + "0" * 30 + "):\n    self.add_equity(str(i))"
    assert _algorithm(tmp_path, body).num_securities == 1_000_000  # MAX_COUNT


def test_the_finest_resolution_wins(analyze: Analyze) -> None:
    assert analyze("securities_loops").resolution == "minute"
    assert analyze("ml_llm").resolution == "daily"


def test_subscriptions_without_resolution_use_leans_default_minute(tmp_path: Path) -> None:
    requirements = _algorithm(
        tmp_path, 'self.add_equity("SPY", Resolution.DAILY)\nself.add_equity("QQQ")'
    )
    assert requirements.resolution == "minute"
    assert any("LEAN's default, minute" in a for a in requirements.assumptions)


# -- option chains and filters ----------------------------------------------------------------


def test_every_filter_style_gives_its_modelled_contract_count(analyze: Analyze) -> None:
    requirements = analyze("option_filters")
    # SPY: 5 strikes x 6 weekday expiries (SPY lists daily) in 0-7 days x 2 rights
    # QQQ: 21 strikes x 2 monthlies in 14-45 days x calls only
    # IWM: legacy set_filter(-3, 3, 0 d, 60 d): 7 x 3 monthlies x 2
    # DIA: no filter, LEAN's default: 3 strikes x 2 monthlies in 0-35 days x 2
    # TLT: iron condor: 4 legs
    assert _chains(requirements) == {"SPY": 60, "QQQ": 42, "IWM": 42, "DIA": 12, "TLT": 4}
    assert requirements.num_option_chains == 5
    assert requirements.contracts_per_chain == 60
    assert requirements.num_securities == 5  # the underlyings


def test_the_contracts_figure_cites_the_largest_chains_filter(analyze: Analyze) -> None:
    requirements = analyze("option_filters")
    first = requirements.sources["contracts_per_chain"][0]
    assert first.line == 14
    assert "strikes(-2, 2)" in first.code.replace("Strikes", "strikes")


def test_filters_the_model_cannot_bound_count_the_configured_limit(analyze: Analyze) -> None:
    requirements = analyze("unknown_filters")
    assert _chains(requirements) == {"GLD": 100, "SLV": 100, "USO": 100}
    assert requirements.analysis is not None
    assert not any(c.contracts_exact for c in requirements.analysis.option_chains)
    assert any("max_contracts_per_chain" in w for w in requirements.warnings)


def test_the_bound_for_an_unreadable_filter_comes_from_the_settings(tmp_path: Path) -> None:
    body = 'o = self.add_option("GLD")\no.set_filter(lambda u: u.contracts(lambda cs: cs))'
    assert _algorithm(tmp_path, body, max_contracts_per_chain=37).contracts_per_chain == 37


@pytest.mark.parametrize(
    ("filter_chain", "contracts"),
    [
        ("u.strikes(-5, 5).expiration(7, 45)", 44),  # 11 x 2 monthlies x 2
        ("u.strikes(-5, 5).expiration(7, 45).calls_only()", 22),
        ("u.include_weeklys().strikes(-5, 5).expiration(7, 45)", 11 * 6 * 2),  # weekly: 38 // 7 + 1
        ("u.strikes(-5, 5).expiration(timedelta(days=7), timedelta(days=45))", 44),
        ("u.strikes(-5, 5).front_month()", 22),
        ("u.straddle(30)", 2),
        ("u.strikes(-5, 5).expiration(7, 45).delta(0.2, 0.8)", 44),  # narrows: an upper bound
        ("u.expiration(0, 30)", 100),  # every strike: the configured bound
        ("u.strikes(-5, 5)", 100),  # every expiry: the configured bound
    ],
)
def test_filter_model(tmp_path: Path, filter_chain: str, contracts: int) -> None:
    body = f'o = self.add_option("XLE")\no.set_filter(lambda u: {filter_chain})'
    text = "from datetime import timedelta\n" + ALGORITHM.format(
        body="\n".join("        " + line for line in body.splitlines())
    )
    requirements = AlgorithmAnalyzer().analyze(_write(tmp_path, "main.py", text))
    assert requirements.contracts_per_chain == contracts


def test_a_filter_function_that_reassigns_and_returns_the_universe_is_followed(
    tmp_path: Path,
) -> None:
    text = ALGORITHM.format(body='        self.add_option("XLE").set_filter(self.pick)') + (
        "    def pick(self, universe):\n"
        "        universe = universe.strikes(-2, 2)\n"
        "        universe.calls_only()\n"
        "        return universe.expiration(0, 30)\n"
    )
    requirements = AlgorithmAnalyzer().analyze(_write(tmp_path, "main.py", text))
    assert requirements.contracts_per_chain == 5 * 2 * 1


def test_index_options_with_weeklies_and_future_options(analyze: Analyze) -> None:
    requirements = analyze("index_future_options")
    assert requirements.analysis is not None
    chains = {c.kind: c for c in requirements.analysis.option_chains}
    assert chains["index option"].underlying == "SPX"
    assert chains["index option"].target == "SPXW"
    assert chains["index option"].contracts == 11 * 1 * 2  # 0DTE: one expiry
    assert chains["future option"].contracts == 100  # no filter keeps every contract: bound
    assert not chains["future option"].contracts_exact
    # SPX, and four E-mini contracts expiring within 90 days (monthly listings, an upper bound)
    assert requirements.num_securities == 1 + 4


def test_universe_options_from_a_selection_model_and_add_universe_options(
    analyze: Analyze,
) -> None:
    requirements = analyze("option_universe")
    assert requirements.analysis is not None
    chains = sorted((c.kind, c.count, c.contracts) for c in requirements.analysis.option_chains)
    assert chains == [("universe options", 1, 9), ("universe options", 2, 20)]
    assert requirements.num_option_chains == 3
    assert requirements.contracts_per_chain == 20
    assert requirements.num_securities == 3


def test_a_ticker_in_a_variable_is_one_underlying_for_equity_and_chain(tmp_path: Path) -> None:
    body = (
        "for t in self.get_parameter('x').split(','):\n"
        "    self.add_equity(t)\n"
        "    self.add_option(t)"
    )
    requirements = _algorithm(tmp_path, body, max_option_chains=3)
    assert requirements.num_option_chains == 3
    assert requirements.num_securities == 3


# -- counts the code does not show ------------------------------------------------------------


def test_unknown_counts_use_the_settings_bounds_and_say_so(analyze: Analyze) -> None:
    requirements = analyze("dynamic")
    assert requirements.num_option_chains == 5  # resource_limits.max_option_chains
    assert requirements.single_option_contracts == 100  # max_contracts_per_chain, in on_data
    assert requirements.num_securities == 5 + 1  # the loop's tickers, and SPY added in on_data
    text = " ".join(requirements.assumptions)
    assert "resource_limits.max_option_chains" in text
    assert "resource_limits.max_contracts_per_chain" in text
    assert "loop over `tickers`" in text


def test_bounds_follow_the_settings_file() -> None:
    settings = settings_from_mapping(
        {
            "quantconnect": {
                "resource_limits": {"max_option_chains": 2, "max_contracts_per_chain": 7}
            }
        }
    )
    requirements = analyze_algorithm(FIXTURES / "snake" / "dynamic.py", settings)
    assert requirements.num_option_chains == 2
    assert requirements.single_option_contracts == 7


def test_universes_count_a_literal_slice_and_bound_the_rest(analyze: Analyze) -> None:
    requirements = analyze("universes")
    assert requirements.analysis is not None
    sizes = sorted((u.size, u.exact) for u in requirements.analysis.universes)
    assert sizes == [(50, False), (50, True)]  # ETF constituents: the bound; [:50]: read
    assert requirements.num_securities == 100
    assert requirements.resolution == "daily"  # universe_settings.resolution


def test_the_unknown_universe_bound_comes_from_the_memory_model_settings() -> None:
    settings = settings_from_mapping(
        {"quantconnect": {"memory_model": {"unknown_securities_bound": 200}}}
    )
    requirements = analyze_algorithm(FIXTURES / "snake" / "universes.py", settings)
    assert requirements.num_securities == 50 + 200


# -- ML, LLM, history, warm-up, schedule ------------------------------------------------------


def test_ml_training_llm_history_warm_up_and_schedule(analyze: Analyze) -> None:
    requirements = analyze("ml_llm")
    assert requirements.use_ml_training
    assert requirements.use_llm_analysis
    assert not requirements.needs_gpu  # scikit-learn trains on the CPU
    analysis = requirements.analysis
    assert analysis is not None
    assert [f.size for f in analysis.history_requests] == [252]
    assert [f.size for f in analysis.warm_ups] == [30]
    assert len(analysis.scheduled_events) == 2
    assert [f.summary.split(" (")[0] for f in analysis.ml_libraries] == ["scikit-learn"]
    assert "OpenAI" in analysis.llm_apis[0].summary


def test_deep_learning_training_needs_a_gpu_and_http_llm_calls_count(analyze: Analyze) -> None:
    requirements = analyze("deep_learning")
    assert requirements.use_ml_training
    assert requirements.needs_gpu
    assert requirements.use_llm_analysis  # api.anthropic.com called with requests
    assert {s.line for s in requirements.sources["needs_gpu"]} == {4}


def test_a_model_only_loaded_is_not_training(tmp_path: Path) -> None:
    text = "import torch\n" + ALGORITHM.format(body="        self.net = torch.load('m.pt')")
    requirements = AlgorithmAnalyzer().analyze(_write(tmp_path, "main.py", text))
    assert not requirements.use_ml_training
    assert not requirements.needs_gpu


def test_the_seeds_bot_as_code_gives_the_seeds_workload(analyze: Analyze) -> None:
    requirements = analyze("seed_bot")
    assert requirements.to_workload() == AlgorithmRequirements().to_workload()


def test_component_names_in_comments_do_not_count(tmp_path: Path) -> None:
    requirements = _algorithm(tmp_path, 'self.add_equity("SPY")  # no scanner, no spread tracker')
    assert not requirements.use_scanners
    assert not requirements.use_spread_tracker


def test_component_names_in_docstrings_do_not_count(tmp_path: Path) -> None:
    text = '''"""A bot with a scanner, a circuit breaker and a spread tracker; uses CUDA."""
from AlgorithmImports import QCAlgorithm
import torch

class Algo(QCAlgorithm):
    """Take profit at api.openai.com; read option.greeks."""

    def initialize(self):
        """Start the scanner and the risk_management."""
        self.add_option("SPY")
        self.model = torch.nn.Linear(2, 1)
        self.model.backward()

    if True:
        def later(self):
            """A profit_target kept by an iron_condor."""
'''
    requirements = AlgorithmAnalyzer().analyze(_write(tmp_path, "main.py", text))
    assert requirements.use_ml_training  # the code around the docstrings is read
    assert not requirements.use_scanners
    assert not requirements.use_risk_management
    assert not requirements.use_spread_tracker
    assert not requirements.use_profit_taking
    assert not requirements.use_greeks
    assert not requirements.use_llm_analysis
    assert [source.line for source in requirements.sources["needs_gpu"]] == [3]  # the import


def test_greeks_count_only_with_options(tmp_path: Path) -> None:
    body = 'self.add_equity("SPY")\nx = self.securities["SPY"].greeks'
    assert not _algorithm(tmp_path, body).use_greeks
    assert _algorithm(tmp_path, body + '\nself.add_option("SPY")').use_greeks


# -- projects of several files ----------------------------------------------------------------


def test_a_base_class_helpers_and_a_relative_import_in_other_files(analyze: Analyze) -> None:
    requirements = analyze("project")
    assert _chains(requirements) == {"AAPL": 56, "MSFT": 56}  # 7 strikes x 4 weeklies x 2
    assert requirements.num_securities == 3
    assert requirements.analysis is not None
    files = {Path(f).name for f in requirements.analysis.files}
    assert {"main.py", "base.py", "filters.py", "limits.py", "config.py"} <= files
    assert requirements.sources["num_option_chains"][0].file.endswith("base.py")


def test_a_project_folder_is_analysed_through_its_main_py() -> None:
    requirements = analyze_algorithm(FIXTURES / "project_snake", Settings())
    assert requirements.num_option_chains == 2


# -- both API styles agree --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "securities_loops",
        "option_filters",
        "unknown_filters",
        "index_future_options",
        "universes",
        "option_universe",
        "dynamic",
        "ml_llm",
        "deep_learning",
        "seed_bot",
    ],
)
def test_snake_case_and_pascal_case_give_the_same_figures(name: str) -> None:
    snake = analyze_algorithm(FIXTURES / "snake" / f"{name}.py", Settings())
    pascal = analyze_algorithm(FIXTURES / "pascal" / f"{name}.py", Settings())
    figures = {"assumptions": (), "warnings": ()}  # their texts name the files
    assert replace(snake, **figures) == replace(pascal, **figures)  # every figure
    assert snake.sources.keys() == pascal.sources.keys()


# -- what the analyzer never does, and its errors ---------------------------------------------


def test_the_algorithm_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = f"open({str(marker)!r}, 'w').write('x')\nraise SystemExit(3)\n" + ALGORITHM.format(
        body='        self.add_equity("SPY")'
    )
    requirements = AlgorithmAnalyzer().analyze(_write(tmp_path, "main.py", text))
    assert requirements.num_securities == 1
    assert not marker.exists()


def test_a_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    text = (FIXTURES / "snake" / "option_filters.py").read_text(encoding="utf-8")
    path = tmp_path / "bom.py"
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    assert AlgorithmAnalyzer().analyze(path).num_option_chains == 5


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "main.py", "class A(QCAlgorithm):\n    def initialize(self)\n")
    with pytest.raises(AnalysisError) as caught:
        AlgorithmAnalyzer().analyze(path)
    assert caught.value.line == 2
    assert f"{path}:2: syntax error" in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_syntax_error_in_an_imported_project_file_names_that_file(tmp_path: Path) -> None:
    _write(tmp_path, "helper.py", "def broken(:\n")
    path = _write(
        tmp_path, "main.py", "from helper import broken\n" + ALGORITHM.format(body="        pass")
    )
    with pytest.raises(AnalysisError) as caught:
        AlgorithmAnalyzer().analyze(path)
    assert caught.value.path.name == "helper.py"
    assert caught.value.line == 1


def test_a_file_without_qcalgorithm_is_refused_with_the_classes_found(tmp_path: Path) -> None:
    path = _write(tmp_path, "main.py", "class Strategy:\n    pass\n")
    with pytest.raises(
        AnalysisError, match=r"no class derives from QCAlgorithm.*Strategy \(line 1\)"
    ):
        AlgorithmAnalyzer().analyze(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("main.cs", b"class Algo : QCAlgorithm {}", "C# algorithm"),
        ("notes.txt", b"hello", "not a Python file"),
        ("main.py", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8"),
        ("main.py", b"x = 1\x00\n", "NUL byte"),
    ],
)
def test_files_that_are_not_python_are_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AnalysisError, match=message):
        AlgorithmAnalyzer().analyze(path)


def test_a_missing_file_and_a_folder_without_main_py_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="file not found"):
        AlgorithmAnalyzer().analyze(tmp_path / "missing.py")
    with pytest.raises(AnalysisError, match=r"without main\.py"):
        AlgorithmAnalyzer().analyze(tmp_path)


# -- properties -------------------------------------------------------------------------------

_SNIPPETS = (
    'self.add_equity("{t}")',
    'self.AddOption("{t}")',
    "self.add_option({t!r}).set_filter({n}, {m})",
    "o = self.add_option('{t}')",
    "o.set_filter(lambda u: u.strikes({n}, {m}).expiration({n}, {m}))",
    "for i in range({n}):",
    "    self.add_crypto(str(i))",
    "while True:",
    "    self.add_forex(x)",
    "self.helper({n})",
    "x = [{n}] * {m}",
    "for t in x:",
    "    self.add_option(t)",
    "self.set_universe_selection(ManualUniverseSelectionModel([{t!r}]))",
    "self.add_universe(lambda c: [s for s in c][:{n}])",
    "self.history([{t!r}], {n})",
    "self.set_warm_up(timedelta(days={n}))",
    "super().initialize()",
    "self.initialize()",
    "self.x = self.add_index_option({t!r}, 'W')",
    "self.x.set_filter(self.f)",
    "import torch",
    "y = {n} ** {m} // ({n} - {n})",
    "self.schedule.on(a, b, self.f)",
)


@st.composite
def algorithms(draw: st.DrawFn) -> str:
    """Draw a small algorithm made of API calls with arbitrary arguments and control flow."""
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        snippet = draw(st.sampled_from(_SNIPPETS))
        lines.append(
            snippet.format(
                t=draw(st.text(max_size=6)),
                n=draw(st.integers(-(10**6), 10**6)),
                m=draw(st.integers(-(10**6), 10**6)),
            )
        )
    body = "\n".join("        " + line for line in lines) or "        pass"
    helpers = "    def helper(self, n):\n        self.add_equity('H')\n        self.helper(n)\n"
    helpers += "    def f(self, u):\n        return u.strikes(-1, 1).expiration(0, 9)\n"
    return ALGORITHM.format(body=body) + helpers


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(), algorithms()))
def test_the_analyzer_raises_nothing_but_its_own_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "main.py"
        try:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
        except UnicodeEncodeError:
            path.write_bytes(text.encode("utf-8", "replace"))
        try:
            requirements = AlgorithmAnalyzer().analyze(path)
        except AnalysisError:
            return
    assert requirements.num_securities >= 0
    assert requirements.num_option_chains >= 0
    assert requirements.total_option_contracts >= 0
    lines = text.count("\n") + 1
    assert all(0 < s.line <= lines for found in requirements.sources.values() for s in found)
