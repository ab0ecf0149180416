from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import otel_agents
from otel_agents._errors import (
    InvalidTypeError,
    InvalidValueError,
    OtelAgentsError,
    invalid_value,
    short_repr,
)

#: Exceptions that are not part of the public hierarchy, on purpose (private ones, whose
#: names start with "_", are control flow inside one module and are skipped too). StepFailed
#: and ToolFailed are the demo's simulated failures; RequestError is the fake model server's
#: refusal of a request, answered as an HTTP error (it never reaches a caller).
INTERNAL = {"InvalidSetting", "RequestError", "StepFailed", "ToolFailed"}


def _exception_classes() -> list[type[BaseException]]:
    found = []
    for module_info in pkgutil.walk_packages(otel_agents.__path__, "otel_agents."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not value.__name__.startswith("_")
                and value.__name__ not in INTERNAL
            ):
                found.append(value)
    return found


@pytest.mark.parametrize("error", _exception_classes(), ids=lambda e: e.__qualname__)
def test_every_exception_the_package_defines_is_an_otel_agents_error(
    error: type[BaseException],
) -> None:
    assert issubclass(error, OtelAgentsError)


def test_argument_errors_are_also_builtin_value_and_type_errors() -> None:
    assert issubclass(InvalidValueError, ValueError)
    assert issubclass(InvalidTypeError, TypeError)


def test_messages_name_the_parameter_the_value_and_the_choices() -> None:
    error = invalid_value("priority", "critical", "a priority", ["low", "high"])
    assert str(error) == (
        "priority='critical' is not valid: expected a priority; valid choices: high, low"
    )


class _BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr failed")


@pytest.mark.parametrize(
    "value",
    [
        None,
        3.5,
        "critical",
        b"\x00'",
        (1,),
        frozenset(),
        {"b": [1, (2,)], "a": {3}},
        "x" * 200,
        "it's " * 40,
        'say "hi" it\'s ' * 20,
        b'\xff"' * 100,
        list(range(100)),
        {str(n): "v" * n for n in range(30)},
    ],
    ids=repr,
)
def test_short_repr_is_repr_cut_at_80_characters(value: object) -> None:
    shown = repr(value)
    assert short_repr(value) == (shown if len(shown) <= 80 else shown[:77] + "...")


def test_short_repr_handles_values_repr_itself_cannot() -> None:
    deep: list[object] = []
    for _ in range(100_000):  # repr(deep) raises RecursionError
        deep = [deep]
    looped: list[object] = []
    looped.append(looped)

    assert short_repr(deep) == "[" * 77 + "..."
    assert short_repr(looped) == "[[...]]"
    assert short_repr(["x" * 10**6] * 10**5) == "['" + "x" * 75 + "..."
    assert short_repr(_BrokenRepr()) == "<_BrokenRepr object>"


def test_a_long_bad_value_is_cut_and_the_message_still_names_parameter_and_fix() -> None:
    error = invalid_value("agent_id", "a" * 10_000, "at most 128 characters")
    assert str(error) == f"agent_id='{'a' * 76}... is not valid: expected at most 128 characters"
