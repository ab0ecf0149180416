"""The README and docs/ teach the public surface only: every ``import`` of otel_agents in
them names a public module (no ``_name`` part), so a user who copies an example depends on
nothing that may move in the next release."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
IMPORT = re.compile(
    r"^\s*(?:from\s+(otel_agents[\w.]*)\s+import\s+(.+)|import\s+(otel_agents[\w.]*))"
)


def imports() -> list[tuple[str, int, str, str]]:
    """(file, line number, module, imported names) of every otel_agents import in a code line."""
    found = []
    for path in DOCS:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = IMPORT.match(line)
            if match:
                module = match[1] or match[3]
                found.append((path.name, number, module, (match[2] or "").strip("() ")))
    return found


def test_the_docs_import_otel_agents_somewhere() -> None:
    assert len(imports()) >= 5  # the pattern still matches what the docs write


def test_the_docs_import_only_public_modules() -> None:
    private = [
        f"{name}:{number}: {module}"
        for name, number, module, _ in imports()
        if any(part.startswith("_") for part in module.split("."))
    ]
    assert private == []


def test_every_name_the_docs_import_exists() -> None:
    missing = []
    for name, number, module, names in imports():
        if not names:
            continue
        loaded = importlib.import_module(module)
        for imported in (n.split(" as ")[0].strip() for n in names.split(",")):
            if imported and imported != "*" and not hasattr(loaded, imported):
                missing.append(f"{name}:{number}: {module}.{imported}")
    assert missing == []
