"""The extras table, ``has_extra`` and the placeholders of a missing extra's names, in process.

A missing dependency is a module name that does not exist (``ModuleNotFoundError``, as if
never installed); the real core install is simulated in ``tests/test_light_import.py``.
"""

from __future__ import annotations

import inspect
import pydoc
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import otel_agents
from otel_agents._errors import InvalidValueError, MissingDependencyError
from otel_agents._extras import EXTRAS, has_extra, lazy_package
from otel_agents.testing import reset_configure

ABSENT = "otel_agents_test_absent_dependency"  # no such module anywhere


def _package() -> dict[str, Any]:
    """A package namespace whose ``Thing`` lives in a module that needs an absent one."""
    namespace: dict[str, Any] = {
        "__name__": "fakepkg",
        "__all__": ["MissingDependencyError", "Thing"],
    }
    sources = {"Thing": ABSENT, "MissingDependencyError": "otel_agents._errors"}
    namespace["__getattr__"], namespace["__dir__"] = lazy_package(
        namespace, sources, lambda _source: "gateway"
    )
    return namespace


def test_every_extra_of_pyproject_is_in_the_table() -> None:
    """``has_extra`` knows every extra a user can install (``all`` and ``dev`` are bundles)."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    assert set(extras) - {"all", "dev"} == set(EXTRAS)


def test_has_extra_is_true_for_every_extra_of_the_dev_install() -> None:
    assert [extra for extra in EXTRAS if not has_extra(extra)] == []
    assert otel_agents.has_extra is has_extra


def test_has_extra_of_an_unknown_extra_names_the_known_ones() -> None:
    with pytest.raises(InvalidValueError, match=r"extra='gatway' .* use one of \['crypto'"):
        has_extra("gatway")


def test_a_name_whose_dependency_is_missing_is_a_placeholder_that_fails_on_use() -> None:
    namespace = _package()
    thing = namespace["__getattr__"]("Thing")
    assert namespace["Thing"] is thing  # cached: __getattr__ is not asked again
    expected = (
        f"fakepkg.Thing needs the 'gateway' extra ({ABSENT} is not installed): "
        "pip install 'otel-agents[gateway]'"
    )
    for use in (lambda: thing(), lambda: thing(1, key=2), lambda: thing.method):
        with pytest.raises(MissingDependencyError) as raised:
            use()
        assert str(raised.value) == expected
        assert raised.value.name == ABSENT
    assert isinstance(raised.value, ImportError)  # `except ImportError` still catches it


def test_a_placeholder_documents_itself_for_help_and_inspect() -> None:
    thing = _package()["__getattr__"]("Thing")
    assert thing.__name__ == "Thing"
    assert thing.__module__ == "fakepkg"
    assert "pip install 'otel-agents[gateway]'" in repr(thing)
    assert "needs the 'gateway' extra" in (inspect.getdoc(thing) or "")
    assert "needs the 'gateway' extra" in pydoc.render_doc(thing, renderer=pydoc.plaintext)
    assert dict(inspect.getmembers(thing))["__module__"] == "fakepkg"
    assert not hasattr(thing, "__wrapped__")  # private probes are plain AttributeErrors


def test_a_name_whose_dependencies_are_installed_is_the_real_one() -> None:
    assert _package()["__getattr__"]("MissingDependencyError") is MissingDependencyError


def test_reset_configure_without_the_testing_extra_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Users' own tests call it: a missing test-utils is the install hint, not a raw
    ModuleNotFoundError of a package they never heard of (``None`` in ``sys.modules`` makes
    the import fail as if it were not installed)."""
    monkeypatch.setitem(sys.modules, "opentelemetry.test.globals_test", None)
    with pytest.raises(MissingDependencyError) as raised:
        reset_configure()
    assert str(raised.value) == (
        "otel_agents.testing.reset_configure() needs the 'testing' extra "
        "(opentelemetry.test.globals_test is not installed): pip install 'otel-agents[testing]'"
    )
