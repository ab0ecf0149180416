"""A service's metadata is stored redacted: no view of the registry shows a secret put there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otel_agents.gateway import APIGateway

SECRET_METADATA = {"api_key": "sk-LIVE-123", "owner": {"password": "hunter2"}, "team": "id"}
ADMIN = {"X-Admin-Token": "admin-secret"}


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["n"] = {}
        node = node["n"]
    return root


def test_metadata_secrets_are_redacted_in_list_services_the_admin_api_and_the_export(
    tmp_path: Path,
) -> None:
    gateway = APIGateway({"admin_token": "admin-secret"}, instrument=False)
    try:
        gateway.register_service(
            "users", "Users", "v1", "http://127.0.0.1:9", metadata=SECRET_METADATA
        )
        listed = gateway.list_services()[0]["metadata"]
        admin = gateway.route_request("GET", "/_gateway/services", headers=ADMIN)
        exported = Path(gateway.export_history(tmp_path / "history.json")).read_text()
    finally:
        gateway.close()

    expected = {"api_key": "[REDACTED]", "owner": {"password": "[REDACTED]"}, "team": "id"}
    assert listed == expected
    assert admin.status_code == 200
    assert json.loads(admin.body)["services"][0]["metadata"] == expected
    assert json.loads(exported)["services"][0]["metadata"] == expected
    for text in (admin.body.decode(), exported):
        assert "sk-LIVE-123" not in text
        assert "hunter2" not in text


def test_metadata_nested_thousands_deep_is_cut_and_still_exports(tmp_path: Path) -> None:
    gateway = APIGateway(instrument=False)
    try:
        gateway.register_service(
            "users", "Users", "v1", "http://127.0.0.1:9", metadata={"deep": _deep(3000)}
        )
        path = gateway.export_history(tmp_path / "history.json")
    finally:
        gateway.close()

    node = json.loads(Path(path).read_text())["services"][0]["metadata"]["deep"]
    depth = 0
    while isinstance(node, dict):
        node, depth = node["n"], depth + 1
    assert node == "[REDACTED]"
    assert depth < 40


def test_credentials_inside_url_values_of_metadata_are_redacted_everywhere(
    tmp_path: Path,
) -> None:
    """The review's case: keys that do not look secret, URLs whose parts are."""
    metadata = {"dsn": "postgres://app:S3CRET@db/prod", "callback": "https://h/cb?token=S3CRET"}
    gateway = APIGateway({"admin_token": "admin-secret"}, instrument=False)
    try:
        gateway.register_service("db", "db", "v1", "http://127.0.0.1:9", metadata=metadata)
        listed = gateway.list_services()[0]["metadata"]
        admin = gateway.route_request("GET", "/_gateway/services", headers=ADMIN)
        exported = Path(gateway.export_history(tmp_path / "history.json")).read_text()
    finally:
        gateway.close()

    expected = {
        "dsn": "postgres://REDACTED:REDACTED@db/prod",
        "callback": "https://h/cb?token=REDACTED",
    }
    assert listed == expected
    assert json.loads(admin.body)["services"][0]["metadata"] == expected
    assert json.loads(exported)["services"][0]["metadata"] == expected
    for text in (admin.body.decode(), exported):
        assert "S3CRET" not in text
