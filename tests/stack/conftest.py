"""Fixtures for the static checks of the bundled stack (compose, Prometheus, Grafana)."""

from __future__ import annotations

from typing import Any

import pytest
from _stack import load_yaml


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml("docker-compose.yml")
    return document


@pytest.fixture(scope="session")
def collector_config() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml("collector/otel-collector.yaml")
    return document
