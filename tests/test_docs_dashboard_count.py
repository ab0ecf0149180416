"""Where the README or docs/ count the Grafana dashboards, the count is the real one.

The README said "all six" while ``grafana/dashboards`` held eight: a dashboard added later is
not counted by hand, so the count is derived here from the files.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parents[1]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
#: "all eight dashboards", "the 8 Grafana dashboards", "all six are in the **otel-agents**
#: folder", across line breaks ("with two dashboards", of PerformanceDashboard objects, is not
#: a count of the Grafana ones).
COUNTED = re.compile(
    r"\b(?:all|the)\s+(" + "|".join(NUMBERS) + r"|\d+)\s+"
    r"(?:(?:Grafana\s+)?dashboards\b|are\s+in\s+the\s+\*\*otel-agents\*\*)",
    re.IGNORECASE,
)


def _counts(path: Path) -> list[str]:
    return [m.group(1).lower() for m in COUNTED.finditer(path.read_text(encoding="utf-8"))]


def test_every_dashboard_count_in_the_docs_is_the_number_of_dashboards() -> None:
    real = len(list((REPO / "grafana" / "dashboards").glob("*.json")))
    documents = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    found = {path.name: _counts(path) for path in documents}
    assert any(found.values()), "no document counts the dashboards any more: drop this test"
    wrong = {
        name: counts
        for name, counts in found.items()
        if any(c != str(real) and c != NUMBERS[real] for c in counts)
    }
    assert wrong == {}, f"there are {real} dashboards in grafana/dashboards"
