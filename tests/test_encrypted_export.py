"""Exports encrypted with the key in OTEL_AGENTS_EXPORT_KEY (Fernet, the crypto extra)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from otel_agents import decrypt_export, generate_export_key
from otel_agents._encryption import EXPORT_KEY_ENV
from otel_agents._errors import ConfigurationError, ExportError, MissingDependencyError
from otel_agents._tracker import PerformanceTracker


@pytest.fixture
def tracker() -> PerformanceTracker:
    tracker = PerformanceTracker({"snapshot_interval": 0})
    tracker.record_metric("response_time", 0.5, agent_id="planner", context={"step": 1})
    return tracker


def test_an_encrypted_export_is_unreadable_without_the_key_and_opens_with_it(
    tracker: PerformanceTracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_export_key()
    monkeypatch.setenv(EXPORT_KEY_ENV, key)
    path = tracker.export_metrics(tmp_path / "m.json", encrypt=True)
    raw = path.read_bytes()
    assert b"planner" not in raw
    assert b"response_time" not in raw
    assert key.encode() not in raw
    data = decrypt_export(path)
    assert data["kind"] == "metrics"
    assert data["metrics"][0]["agent_id"] == "planner"

    monkeypatch.setenv(EXPORT_KEY_ENV, generate_export_key())
    with pytest.raises(ExportError, match=EXPORT_KEY_ENV):
        decrypt_export(path)


def test_a_missing_key_is_an_error_naming_the_variable_and_writes_nothing(
    tracker: PerformanceTracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(EXPORT_KEY_ENV, raising=False)
    with pytest.raises(ConfigurationError, match=EXPORT_KEY_ENV):
        tracker.export_metrics(tmp_path / "m.json", encrypt=True)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_key_is_an_error_that_does_not_echo_it(
    tracker: PerformanceTracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXPORT_KEY_ENV, "hunter2-not-a-key")
    with pytest.raises(ConfigurationError, match=EXPORT_KEY_ENV) as caught:
        tracker.export_metrics(tmp_path / "m.json", encrypt=True)
    assert "hunter2" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unencrypted_exports_are_unchanged(tracker: PerformanceTracker, tmp_path: Path) -> None:
    path = tracker.export_metrics(tmp_path / "m.json")
    assert json.loads(path.read_text())["kind"] == "metrics"


def _encrypting_demo(folder: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``otel-agents demo --export out --encrypt`` in ``folder``, without our OTEL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | extra_env
    cli = Path(sys.executable).with_name("otel-agents")
    return subprocess.run(
        [str(cli), "demo", "--duration", "0.5", "--export", "out", "--encrypt"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.integration
def test_the_demo_encrypts_every_exported_file(tmp_path: Path) -> None:
    key = generate_export_key()
    result = _encrypting_demo(tmp_path, {EXPORT_KEY_ENV: key})
    assert result.returncode == 0, result.stderr
    assert key not in result.stdout + result.stderr
    files = sorted((tmp_path / "out").iterdir())
    assert len(files) == 5
    os.environ[EXPORT_KEY_ENV] = key
    try:
        for file in files:
            assert b"planner" not in file.read_bytes()
            assert decrypt_export(file)["kind"]
    finally:
        del os.environ[EXPORT_KEY_ENV]


@pytest.mark.integration
def test_the_demo_without_a_key_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = _encrypting_demo(tmp_path, {})
    assert result.returncode == 2
    assert EXPORT_KEY_ENV in result.stderr
    assert not (tmp_path / "out").exists()


def test_decrypting_without_the_crypto_extra_is_an_error_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXPORT_KEY_ENV, generate_export_key())
    # What an absent package looks like to ``import``: ModuleNotFoundError.
    monkeypatch.setitem(sys.modules, "cryptography.fernet", None)

    with pytest.raises(MissingDependencyError) as raised:
        decrypt_export(tmp_path / "m.json")
    assert str(raised.value) == (
        "decrypt_export() needs the 'crypto' extra (cryptography.fernet is not installed): "
        "pip install 'otel-agents[crypto]'"
    )


def test_generating_a_key_without_the_crypto_extra_is_a_missing_dependency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ImportError like every other missing extra (``except ImportError`` catches it)."""
    monkeypatch.setitem(sys.modules, "cryptography.fernet", None)

    with pytest.raises(MissingDependencyError, match=r"generate_export_key\(\) needs the 'crypto'"):
        generate_export_key()
