from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import otel_agents
from otel_agents._errors import InvalidTypeError, InvalidValueError, OtelAgentsError, invalid_value

#: Exceptions that are not part of the public hierarchy, on purpose (private ones, whose
#: names start with "_", are control flow inside one module and are skipped too). StepFailed
#: and ToolFailed are the demo's simulated failures.
INTERNAL = {"InvalidSetting", "StepFailed", "ToolFailed"}


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
