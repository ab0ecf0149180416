"""Our commands' default ``service.name`` sits below the standard variables."""

from __future__ import annotations

import pytest

from otel_agents._service_name import HUB_SERVICE_NAME, default_service_name


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, HUB_SERVICE_NAME),
        ({"OTEL_SERVICE_NAME": "mine"}, None),
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=mine"}, None),
        ({"OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=dev"}, HUB_SERVICE_NAME),
        ({"OTEL_SERVICE_NAME": "  "}, HUB_SERVICE_NAME),
    ],
)
def test_the_default_applies_only_when_the_environment_names_no_service(
    environ: dict[str, str], expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert default_service_name(HUB_SERVICE_NAME) == expected
