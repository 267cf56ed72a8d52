"""The memory model reproduces the seed's breakdown and says what runs where."""

from __future__ import annotations

import pytest

from utils import Family, MemoryModel, Workload
from utils.memory_model import RunsOn

SEED_TABLE = {
    "Base overhead": 1100,
    "Securities (10)": 50,
    "Option contracts (500)": 2500,
    "Greeks calculations": 200,
    "Scanners (options+movement)": 150,
    "LLM API calls": 50,
    "Risk management": 100,
    "Two-part spread tracker": 200,
    "Profit-taking engine": 100,
    "UI dashboard": 300,
}


def test_seed_workload_reproduces_the_seed_table_exactly() -> None:
    estimate = MemoryModel().estimate(Workload(), Family.LIVE_TRADING)
    assert {line.label: line.mb for line in estimate.lines} == SEED_TABLE
    assert estimate.components_mb == 4750


def test_the_dashboard_runs_on_the_desktop_not_on_the_node() -> None:
    estimate = MemoryModel().estimate(Workload(), Family.LIVE_TRADING)
    dashboard = next(line for line in estimate.lines if line.key == "ui_dashboard")
    assert dashboard.runs_on is RunsOn.DESKTOP
    assert estimate.node_mb == 4450


@pytest.mark.parametrize("family", [Family.BACKTESTING, Family.RESEARCH])
def test_backtests_and_research_hold_more_than_live(family: Family) -> None:
    model = MemoryModel()
    live = model.estimate(Workload(), Family.LIVE_TRADING).node_mb
    assert model.estimate(Workload(), family).node_mb == pytest.approx(live * 2.5)


def test_switched_off_components_cost_nothing() -> None:
    lean = Workload(num_securities=1, num_option_contracts=0, greeks=False, scanners=False,
                    llm_analysis=False, risk_management=False, spread_tracker=False,
                    profit_taking=False, ui_dashboard=False)  # fmt: skip
    assert MemoryModel().estimate(lean).node_mb == 1105


def test_max_contracts_fitting_is_the_largest_count_that_fits() -> None:
    model = MemoryModel()
    workload = Workload()
    capacity = 0.8 * 4096
    most = model.max_contracts_fitting(workload, Family.LIVE_TRADING, capacity)
    assert most is not None
    fits = model.estimate(Workload(num_option_contracts=most), Family.LIVE_TRADING).node_mb
    too_many = model.estimate(Workload(num_option_contracts=most + 1), Family.LIVE_TRADING).node_mb
    assert fits <= capacity < too_many


def test_max_contracts_fitting_is_none_when_nothing_fits() -> None:
    assert MemoryModel().max_contracts_fitting(Workload(), Family.LIVE_TRADING, 500) is None
