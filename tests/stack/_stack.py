"""Paths and loaders shared by the stack tests; puts the generators (grafana/) on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
# The generators live outside the runtime package, next to what they generate.
if str(REPO / "grafana") not in sys.path:
    sys.path.insert(0, str(REPO / "grafana"))


def load_yaml(relative: str) -> Any:
    """Parse the repository file ``relative`` (YAML merge keys resolved)."""
    return yaml.safe_load((REPO / relative).read_text(encoding="utf-8"))
