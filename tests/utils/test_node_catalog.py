"""Contract tests over the node table: every model complete and consistent with its name."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest

from utils import DEFAULT_CATALOG, Family, UnknownNodeError
from utils.node_catalog import NodeSpec, PriceUnit, parse_model_name

ALL_NODES = list(DEFAULT_CATALOG)
REFERENCE_MODELS = {
    "B-MICRO", "B2-8", "B4-12", "B4-16-GPU", "B8-16", "R1-4", "R2-8", "R4-12", "R4-16-GPU",
    "R8-16", "L-MICRO", "L1-1", "L1-2", "L2-4", "L8-16-GPU", "O2-8", "O4-12", "O8-16",
}  # fmt: skip


def test_catalog_holds_every_model_of_the_four_families() -> None:
    assert set(DEFAULT_CATALOG.models()) == REFERENCE_MODELS
    assert {n.family for n in ALL_NODES} == set(Family)


@pytest.mark.parametrize("node", ALL_NODES, ids=lambda n: n.model)
def test_every_model_name_matches_its_family_and_figures(node: NodeSpec) -> None:
    prefix, cores, ram_gb, gpu = parse_model_name(node.model)
    assert prefix == node.family.prefix
    if cores is not None:
        assert (node.cores, node.ram_gb) == (cores, ram_gb)
    assert gpu == node.has_gpu


@pytest.mark.parametrize("node", ALL_NODES, ids=lambda n: n.model)
def test_every_model_has_every_figure_and_a_dated_sourced_price(node: NodeSpec) -> None:
    assert node.cores > 0
    assert node.ram_gb > 0
    assert node.ghz is None or 1 < node.ghz < 6
    assert node.price >= 0
    assert node.price_unit is (
        PriceUnit.HOUR if node.family is Family.OPTIMIZATION else PriceUnit.MONTH
    )
    date.fromisoformat(node.price_as_of)
    assert node.price_source
    assert (node.max_parallel is not None) == (node.family is Family.OPTIMIZATION)


def test_seed_figures_are_the_default_prices() -> None:
    prices = {m: DEFAULT_CATALOG.get(m).price for m in ("B8-16", "R8-16", "L2-4", "B4-12", "R4-12")}
    assert prices == {"B8-16": 28, "R8-16": 14, "L2-4": 50, "B4-12": 20, "R4-12": 14}
    assert DEFAULT_CATALOG.get("B8-16").ghz == 4.9


@pytest.mark.parametrize("name", ["b8-16", "B8-16", " b8-16 ", "B8-16".lower()])
def test_lookup_ignores_case_and_surrounding_space(name: str) -> None:
    assert DEFAULT_CATALOG.get(name).model == "B8-16"


def test_lookup_of_an_unknown_model_lists_choices_and_the_closest_name() -> None:
    with pytest.raises(UnknownNodeError, match=r"unknown node model 'L2-8'\. Did you mean L2-4"):
        DEFAULT_CATALOG.get("L2-8", Family.LIVE_TRADING)


def test_lookup_with_a_family_refuses_a_node_of_another_family() -> None:
    with pytest.raises(
        UnknownNodeError, match="L2-4 is a live trading node, not a backtesting node"
    ):
        DEFAULT_CATALOG.get("L2-4", Family.BACKTESTING)


def test_family_lists_nodes_cheapest_first() -> None:
    live = DEFAULT_CATALOG.family(Family.LIVE_TRADING)
    assert [n.model for n in live] == ["L-MICRO", "L1-1", "L1-2", "L2-4", "L8-16-GPU"]
    assert all(a.price <= b.price for a, b in itertools.pairwise(live))


def test_price_override_returns_a_new_catalog_and_keeps_the_old() -> None:
    cheaper = DEFAULT_CATALOG.with_prices({"L2-4": 96}, as_of="2026-08-01", source="test")
    assert cheaper.get("L2-4").price == 96
    assert DEFAULT_CATALOG.get("L2-4").price == 50


def test_price_override_for_an_unknown_model_is_refused() -> None:
    with pytest.raises(UnknownNodeError):
        DEFAULT_CATALOG.with_prices({"L3-4": 1}, as_of="2026-08-01", source="test")


@pytest.mark.parametrize("bad", ["", "B8", "X2-4", "L2-4-TPU", "B8_16"])
def test_a_malformed_model_name_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="not a node model name"):
        parse_model_name(bad)


def test_describe_matches_the_seeds_node_info_format() -> None:
    assert re.fullmatch(r"L2-4 \(2 cores, 4GB RAM\)", DEFAULT_CATALOG.get("L2-4").describe())
