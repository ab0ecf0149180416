"""``write_json_atomic``: what an export file holds, and what a failed export leaves behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otel_agents._export import REDACTED, write_json_atomic


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
