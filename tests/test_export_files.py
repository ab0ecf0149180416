"""``write_json_atomic``: what an export file holds, and what a failed export leaves behind."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from otel_agents._encryption import EXPORT_KEY_ENV, decrypt_export, generate_export_key
from otel_agents._errors import ExportError
from otel_agents._export import REDACTED, write_json_atomic

#: Latin-1, CJK, an emoji and a lone surrogate (UTF-8 cannot hold it; JSON escapes it).
TEXT = {"name": "caf\u00e9 \u00ff\u00ff \u6f22\u5b57 \U0001f600", "odd": "a\ud800b"}


def _nested(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["n"] = {}
        node = node["n"]
    return root


def test_data_nested_too_deep_for_the_encoder_is_written_cut_at_the_depth_bound(
    tmp_path: Path,
) -> None:
    """json.dumps raises RecursionError at ~1,000 levels; the depth-bounded pass writes it."""
    path = write_json_atomic(tmp_path / "deep.json", {"deep": _nested(3000)})

    node: Any = json.loads(path.read_text())["deep"]
    depth = 0
    while isinstance(node, dict):
        node, depth = node["n"], depth + 1
    assert node == REDACTED
    assert 100 < depth < 200


def test_an_export_is_utf8_with_non_ascii_text_as_itself(tmp_path: Path) -> None:
    """Not ``\\u00ff`` escapes: those made a latin-1 character six bytes in the file."""
    path = write_json_atomic(tmp_path / "text.json", TEXT)

    raw = path.read_bytes()
    assert "caf\u00e9 \u00ff\u00ff \u6f22\u5b57 \U0001f600".encode() in raw
    assert b"\\u00ff" not in raw
    assert b"a\\ud800b" in raw  # the one character UTF-8 cannot hold stays escaped
    assert json.loads(raw) == TEXT


def test_an_encrypted_export_of_non_ascii_text_decrypts_to_the_same_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXPORT_KEY_ENV, generate_export_key())

    path = write_json_atomic(tmp_path / "text.json", TEXT, encrypt=True)

    assert "\u00ff".encode() not in path.read_bytes()
    assert decrypt_export(path) == TEXT


@pytest.mark.parametrize("encrypt", [False, True])
def test_a_value_strict_json_refuses_late_in_a_large_export_still_gives_one_valid_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encrypt: bool
) -> None:
    """The export is encoded piece by piece: the first pass may have written megabytes
    before it meets the NaN; the second pass must start the file over."""
    monkeypatch.setenv(EXPORT_KEY_ENV, generate_export_key())
    rows = [{"i": i, "text": "x" * 100} for i in range(20_000)]

    path = write_json_atomic(
        tmp_path / "big.json", {"rows": rows, "last": math.nan}, encrypt=encrypt
    )

    data = decrypt_export(path) if encrypt else json.loads(path.read_text(encoding="utf-8"))
    assert data == {"rows": rows, "last": None}
    assert [p.name for p in tmp_path.iterdir()] == ["big.json"]


class _Interrupted:
    """An object whose encoding is cut short, as Ctrl-C cuts short a long export."""

    def to_dict(self) -> dict[str, Any]:
        raise KeyboardInterrupt


@pytest.mark.parametrize("encrypt", [False, True])
def test_an_interrupted_export_leaves_no_temporary_file_and_the_old_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encrypt: bool
) -> None:
    monkeypatch.setenv(EXPORT_KEY_ENV, generate_export_key())
    target = tmp_path / "metrics.json"
    target.write_text('{"old": true}')
    rows = [{"i": i, "text": "x" * 100} for i in range(20_000)]  # megabytes before the stop

    with pytest.raises(KeyboardInterrupt):
        write_json_atomic(target, {"rows": rows, "last": _Interrupted()}, encrypt=encrypt)

    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert target.read_text() == '{"old": true}'


def test_a_folder_that_does_not_exist_is_an_export_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="missing"):
        write_json_atomic(tmp_path / "missing" / "metrics.json", {"a": 1})
