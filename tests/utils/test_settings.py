"""Specification of config/settings.json: its values, its defaults and every rejection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from utils import SettingsError, load_settings
from utils.node_catalog import Family
from utils.settings import ResourceLimits, Settings, parse_settings, section_from_mapping

SEED_NODES = {
    "backtesting": {"model": "B8-16", "cores": 8, "ram_gb": 16, "monthly_cost": 28},
    "research": {"model": "R8-16", "cores": 8, "ram_gb": 16, "monthly_cost": 14},
    "live_trading": {
        "model": "L2-4", "cores": 2, "ram_gb": 4, "monthly_cost": 50,
        "colocated": True, "max_latency_ms": 100,
    },
}  # fmt: skip


def test_bundled_settings_hold_the_seeds_structure_and_values(project_root: Path) -> None:
    raw = json.loads((project_root / "config/settings.json").read_text())
    qc = raw["quantconnect"]
    assert qc["compute_nodes"] == SEED_NODES
    assert {k: qc["resource_limits"][k] for k in (
        "max_option_chains", "max_contracts_per_chain", "memory_warning_pct",
        "memory_critical_pct", "cpu_warning_pct", "cpu_critical_pct")} == {
        "max_option_chains": 5, "max_contracts_per_chain": 100, "memory_warning_pct": 80,
        "memory_critical_pct": 90, "cpu_warning_pct": 75, "cpu_critical_pct": 85,
    }  # fmt: skip
    assert qc["monitoring"] == {"enabled": True, "check_interval_seconds": 30, "log_metrics": True}


def test_bundled_settings_load_and_name_the_seeds_nodes() -> None:
    qc = load_settings().quantconnect
    families = (Family.BACKTESTING, Family.RESEARCH, Family.LIVE_TRADING)
    assert [qc.configured_node(f).model for f in families] == ["B8-16", "R8-16", "L2-4"]
    assert qc.configured_node(Family.LIVE_TRADING).describe() == "L2-4 (2 cores, 4GB RAM)"


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(pydantic.ValidationError):
        settings.quantconnect.resource_limits.memory_warning_pct = 10  # type: ignore[misc]


def test_an_empty_object_takes_every_default() -> None:
    assert parse_settings("{}") == Settings()


def test_monthly_cost_in_settings_overrides_the_catalog_price() -> None:
    text = json.dumps({"quantconnect": {"compute_nodes": {
        "live_trading": {"model": "L2-4", "monthly_cost": 96}}}})  # fmt: skip
    node = parse_settings(text).quantconnect.configured_node(Family.LIVE_TRADING)
    assert node.price == 96
    assert "settings" in node.price_source


def test_node_prices_override_any_model_with_their_date() -> None:
    text = json.dumps(
        {"quantconnect": {"node_prices": {"b4-12": 48}, "node_prices_as_of": "2026-08-01"}}
    )
    node = parse_settings(text).quantconnect.catalog().get("B4-12")
    assert (node.price, node.price_as_of) == (48, "2026-08-01")


def _qc(**sections: Any) -> str:
    return json.dumps({"quantconnect": sections})


BAD_SETTINGS = [
    pytest.param('{"quantconnect": {', ["line 1, column 19"], id="invalid-json-line-and-column"),
    pytest.param('{"quantconnect": {"monitoring": {"enbled": true}}}',
                 ["quantconnect.monitoring.enbled: unknown key", "allowed keys: enabled"],
                 id="unknown-key"),
    pytest.param('{"extra_section": 1}', ["extra_section: unknown key"],
                 id="unknown-top-level-key"),
    pytest.param(_qc(resource_limits={"max_option_chains": "five"}),
                 ["quantconnect.resource_limits.max_option_chains", "integer", '"five"'],
                 id="wrong-type"),
    pytest.param(_qc(monitoring={"enabled": "yes please"}),
                 ["quantconnect.monitoring.enabled", "boolean"], id="wrong-type-bool"),
    pytest.param(_qc(resource_limits={"memory_warning_pct": 150}),
                 ["quantconnect.resource_limits.memory_warning_pct", "less than or equal to 100",
                  "150"], id="percentage-above-100"),
    pytest.param(_qc(resource_limits={"cpu_critical_pct": -5}),
                 ["quantconnect.resource_limits.cpu_critical_pct", "greater than 0", "-5"],
                 id="percentage-below-0"),
    pytest.param(_qc(resource_limits={"memory_warning_pct": 95}),
                 ["quantconnect.resource_limits.memory_warning_pct: 95 must be below "
                  "memory_critical_pct (90)"], id="memory-warning-not-below-critical"),
    pytest.param(_qc(resource_limits={"cpu_warning_pct": 85}),
                 ["quantconnect.resource_limits.cpu_warning_pct: 85 must be below"],
                 id="cpu-warning-equal-to-critical"),
    pytest.param(_qc(resource_limits={"latency_warning_ms": 3000}),
                 ["quantconnect.resource_limits.latency_warning_ms: 3000 must be below"],
                 id="latency-warning-above-critical"),
    pytest.param(_qc(compute_nodes={"research": {"model": "R9-16"}}),
                 ["quantconnect.compute_nodes.research.model: unknown node model 'R9-16'",
                  "Did you mean R8-16", "Valid research models: R1-4"], id="unknown-node-model"),
    pytest.param(_qc(compute_nodes={"backtesting": {"model": "L2-4"}}),
                 ["quantconnect.compute_nodes.backtesting.model: L2-4 is a live trading node",
                  "Valid backtesting models: B-MICRO"], id="node-of-the-wrong-family"),
    pytest.param(_qc(compute_nodes={"research": {"model": "R8-16", "colocated": True}}),
                 ["quantconnect.compute_nodes.research.colocated: applies to live_trading nodes"],
                 id="colocated-on-a-non-live-node"),
    pytest.param(_qc(compute_nodes={"backtesting": {"model": "B8-16", "max_latency_ms": 50}}),
                 ["quantconnect.compute_nodes.backtesting.max_latency_ms: applies to live_trading"],
                 id="latency-on-a-non-live-node"),
    pytest.param(_qc(compute_nodes={"research": {"model": "R8-16", "cores": 4}}),
                 ["quantconnect.compute_nodes.research.cores: 4 does not match R8-16, which has 8"],
                 id="cores-disagree-with-the-catalog"),
    pytest.param(_qc(compute_nodes={"live_trading": {"model": "L2-4", "ram_gb": 8}}),
                 ["quantconnect.compute_nodes.live_trading.ram_gb: 8 does not match L2-4"],
                 id="ram-disagrees-with-the-catalog"),
    pytest.param(_qc(compute_nodes={"research": {"cores": 8}}),
                 ["quantconnect.compute_nodes.research.model: required key is missing"],
                 id="model-missing"),
    pytest.param(_qc(monitoring={"check_interval_seconds": 0}),
                 ["quantconnect.monitoring.check_interval_seconds", "greater than 0"],
                 id="interval-not-positive"),
    pytest.param(_qc(monitoring={"target_node": "X9-9"}),
                 ["quantconnect.monitoring.target_node: unknown node model 'X9-9'"],
                 id="unknown-target-node"),
    pytest.param(_qc(node_prices={"Z1-1": 3}),
                 ["quantconnect.node_prices.Z1-1: unknown node model"],
                 id="price-for-unknown-model"),
    pytest.param('[1, 2]', ["(top level)", "valid dictionary"], id="not-an-object"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD_SETTINGS)
def test_bad_settings_get_one_message_naming_file_field_value_and_rule(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid settings")
    for fragment in expected:
        assert fragment in message


def test_a_missing_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"nope\.json: invalid settings\n  - file not found"):
        load_settings(tmp_path / "nope.json")


def test_a_settings_file_with_a_bom_loads(tmp_path: Path, project_root: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + (project_root / "config/settings.json").read_bytes())
    assert load_settings(path) == load_settings()


def test_bad_settings_are_input_errors_with_exit_code_2() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings("nope")
    assert caught.value.exit_code == 2


def test_a_section_validates_on_its_own_with_defaults_for_omitted_keys() -> None:
    limits = section_from_mapping(ResourceLimits, {"memory_warning_pct": 70}, where="config")
    assert (limits.memory_warning_pct, limits.memory_critical_pct) == (70, 90)
    with pytest.raises(SettingsError, match=r"config\.memory_warnign_pct: unknown key"):
        section_from_mapping(ResourceLimits, {"memory_warnign_pct": 70}, where="config")
