"""Lazy package exports: a name loads its module on first use, unknown names are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

import ui
import utils
from utils.lazy_exports import lazy_exports


def test_a_name_is_imported_from_its_module_on_first_use_and_kept() -> None:
    namespace: dict[str, Any] = {}
    get, _ = lazy_exports("pkg", {"dumps": "json"}, namespace)

    assert get("dumps") is json.dumps
    assert namespace["dumps"] is json.dumps


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    get, _ = lazy_exports("pkg", {"dumps": "json"}, {})

    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        get("loads")


def test_dir_lists_the_exports_before_they_are_loaded() -> None:
    _, listing = lazy_exports("pkg", {"dumps": "json"}, {"version": 1})

    assert listing() == ["dumps", "version"]


@pytest.mark.parametrize("package", [utils, ui])
def test_utils_and_ui_refuse_names_they_do_not_export(package: Any) -> None:
    with pytest.raises(AttributeError, match=f"module '{package.__name__}' has no attribute"):
        package.NotExported  # noqa: B018 - the attribute access is the test
    assert set(package.__all__) <= set(dir(package))
