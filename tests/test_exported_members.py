"""The public surface: ``otel_agents``, its public subpackages and the telemetry contract.

Every surface is checked the same way, with no exclusions: each name in ``__all__`` resolves,
``__all__`` is sorted (ruff's RUF022 order), ``dir()`` lists exactly ``__all__``, and no private
name is exported. The packages import their names lazily (PEP 562), so resolving them all here
also proves that no entry of the lazy tables points at a missing module or name.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from types import ModuleType

import pytest

from otel_agents import semconv

SURFACES = ["otel_agents", "otel_agents.gateway", "otel_agents.genai", "otel_agents.messaging"]


def _ruff_order(name: str) -> tuple[int, str]:
    """RUF022's isort-style order: SCREAMING_CASE, then CamelCase, then everything else."""
    if len(name) > 1 and name.isupper():
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def _surface(name: str) -> ModuleType:
    return importlib.import_module(name)


@pytest.mark.parametrize("package", SURFACES)
def test_every_exported_name_resolves(package: str) -> None:
    module = _surface(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


@pytest.mark.parametrize("package", SURFACES)
def test_all_is_sorted_without_duplicates(package: str) -> None:
    exported = _surface(package).__all__
    assert exported == sorted(exported, key=_ruff_order)
    assert len(set(exported)) == len(exported)


@pytest.mark.parametrize("package", SURFACES)
def test_dir_lists_exactly_all(package: str) -> None:
    """Submodules imported on the way (``otel_agents._tracker``) do not become public names."""
    module = _surface(package)
    for name in module.__all__:
        getattr(module, name)  # imports every implementation module
    assert dir(module) == sorted(module.__all__)


@pytest.mark.parametrize("package", SURFACES)
def test_no_private_name_is_exported(package: str) -> None:
    private = [n for n in _surface(package).__all__ if n.startswith("_") and n != "__version__"]
    assert private == []


@pytest.mark.parametrize("package", SURFACES)
def test_the_lazy_table_serves_exactly_all(package: str) -> None:
    """No name is importable from the package without being listed (a hidden export)."""
    module = _surface(package)
    assert set(module._SOURCES) == set(module.__all__) - {"__version__"}


@pytest.mark.parametrize("package", SURFACES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = _surface(package).no_such_name


@pytest.mark.parametrize("package", SURFACES)
def test_every_exported_callable_has_a_docstring(package: str) -> None:
    module = _surface(package)
    for name in module.__all__:
        member = getattr(module, name)
        if callable(member):
            assert member.__doc__, f"{package}.{name}"


def _defined_at_top_level(path: Path) -> set[str]:
    """The names a module's source assigns, or defines with ``def``/``class``, at top level."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_semconv_all_lists_every_public_name() -> None:
    """The telemetry contract is all of semconv: a new constant must be listed too."""
    assert semconv.__file__ is not None
    defined = _defined_at_top_level(Path(semconv.__file__))
    public = {name for name in defined if not name.startswith("_")}
    assert sorted(public - set(semconv.__all__)) == []
    assert sorted(set(semconv.__all__) - public) == []
    assert semconv.__all__ == sorted(semconv.__all__, key=_ruff_order)


def test_implementation_modules_are_private() -> None:
    """Only the surfaces, the telemetry contract and the test helpers are public modules."""
    package = Path(semconv.__file__).parent
    public_modules = {"semconv", "testing"}
    public = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if not path.stem.startswith("_") and path.stem not in public_modules
    ]
    assert public == []
