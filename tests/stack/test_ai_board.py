"""The AI usage board and the token and cost budget rules, as generated (grafana/stackgen)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from _prometheus import promtool_binary
from _stack import REPO, load_yaml
from stackgen.boards_ai import AI_USAGE, COST_UNIT, TOP_CONVERSATIONS
from stackgen.queries import dashboard_queries
from stackgen.rules_ai import AGENT_HOURLY_COST_BUDGET_USD, AGENT_TOKENS_PER_SECOND_BUDGET

BOARD = REPO / "grafana" / "dashboards" / AI_USAGE.file_name


def _panels() -> dict[str, dict[str, Any]]:
    dashboard = json.loads(BOARD.read_text(encoding="utf-8"))
    return {p["title"]: p for p in dashboard["panels"] if p["type"] != "row"}


def _exprs(panel: dict[str, Any]) -> list[str]:
    return [target["expr"] for target in panel["targets"]]


def test_every_cost_panel_is_in_us_dollars_and_no_other_panel_is() -> None:
    panels = _panels()
    cost = {t for t, p in panels.items() if "agent_model_cost_total" in "".join(_exprs(p))}
    cost |= {t for t, p in panels.items() if "agent_conversation_cost" in "".join(_exprs(p))}

    units = {t: p["fieldConfig"]["defaults"]["unit"] for t, p in panels.items()}

    assert cost == {
        "Spend rate",
        "Cost by agent (per hour)",
        "Cost by model (per hour)",
        "Top conversations by cost",
    }
    assert {units[t] for t in cost} == {COST_UNIT} == {"currencyUSD"}
    assert all(unit != COST_UNIT for t, unit in units.items() if t not in cost)


def test_the_issue_asks_for_these_panels() -> None:
    """Tokens/s and cost by agent and model, model latency p50/p95/p99, tool calls and errors,
    finish reasons, top conversations by cost, unpriced calls."""
    panels = _panels()
    latency = _exprs(panels["Model latency percentiles by model"])
    assert [e.split(",")[0] for e in latency] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]
    assert all("gen_ai_client_operation_duration_seconds_bucket" in e for e in latency)
    assert all("by (le, gen_ai_request_model)" in e for e in latency)
    (top,) = _exprs(panels["Top conversations by cost"])
    assert top.startswith(f"topk({TOP_CONVERSATIONS}, sum by (gen_ai_conversation_id) (")
    assert panels["Top conversations by cost"]["type"] == "table"
    (errors,) = _exprs(panels["Tool errors by tool and error type"])
    assert 'error_type!=""' in errors
    (reasons,) = _exprs(panels["Model calls by finish reason"])
    assert "sum by (agent_model_finish_reason, error_type)" in reasons
    assert "agent_model_unpriced_total" in _exprs(panels["Unpriced calls by model"])[0]
    assert "gen_ai_token_type" in _exprs(panels["Tokens per second by agent"])[0]


def test_agent_and_model_variables_narrow_every_query_that_has_the_label() -> None:
    dashboard = json.loads(BOARD.read_text(encoding="utf-8"))
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names[-2:] == ["agent", "model"]
    for panel in _panels().values():
        for expr in _exprs(panel):
            if "agent_model_unpriced_total" not in expr:  # a model's, no agent's, series
                assert 'gen_ai_agent_id=~"$agent"' in expr, expr
            if "agent_conversation_" not in expr and "agent_tool_calls_total" not in expr:
                assert 'gen_ai_request_model=~"$model"' in expr, expr


#: One process's series, once inside the agent "planner" and once outside any agent (no
#: gen_ai_agent_id label), each growing this much every 15 s sample (whole rates per second:
#: promtool compares floats exactly).
_CALL = 'job="agents",gen_ai_provider_name="openai",gen_ai_request_model="gpt-4o"'
_GROWTH = {
    f"agent_model_cost_total{{{_CALL}}}": 7.5,
    f'agent_model_calls_total{{{_CALL},agent_model_finish_reason="stop"}}': 15,
    f'gen_ai_client_token_usage_sum{{{_CALL},gen_ai_token_type="input"}}': 150,
}
_PLANNER = 'gen_ai_agent_id="planner",'


@pytest.mark.integration
def test_all_agents_counts_model_calls_made_outside_any_agent(tmp_path: Path) -> None:
    """With the agent variable at "All", a call without gen_ai.agent.id is spend, calls and
    tokens like any other: promtool evaluates the committed panels' queries (the old "All",
    ``.+``, dropped it and showed half of each)."""
    series = []
    for selector, step in _GROWTH.items():
        inside = selector.replace("{", "{" + _PLANNER, 1)
        series += [{"series": s, "values": f"0+{step:g}x20"} for s in (selector, inside)]
    queries = {q.panel: q.expr for q in dashboard_queries([BOARD])}
    # Per second: 2 x step / 15 s.
    expected = {
        "Spend rate": 3600 * 2 * 7.5 / 15,
        "Model calls per second": 2 * 15 / 15,
        "Tokens per second": 2 * 150 / 15,
    }
    checks: list[dict[str, Any]] = [
        {"expr": queries[title], "eval_time": "4m", "exp_samples": [{"labels": "{}", "value": v}]}
        for title, v in expected.items()
    ]
    checks.append(
        {
            "expr": queries["Cost by agent (per hour)"],
            "eval_time": "4m",
            "exp_samples": [
                {"labels": '{gen_ai_agent_id="planner"}', "value": 3600 * 7.5 / 15},
                {"labels": "{}", "value": 3600 * 7.5 / 15},
            ],
        }
    )
    case = {"interval": "15s", "input_series": series, "promql_expr_test": checks}
    tests = tmp_path / "ai-board.test.yml"
    tests.write_text(yaml.safe_dump({"rule_files": [], "tests": [case]}), encoding="utf-8")

    result = subprocess.run(
        [str(promtool_binary()), "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_agent_panels_link_to_the_agents_performance_board() -> None:
    panel = _panels()["Cost by agent (per hour)"]
    (link,) = panel["fieldConfig"]["defaults"]["links"]
    assert link["url"].startswith(
        "/d/otel-agents-performance?var-agent=${__field.labels.gen_ai_agent_id}"
    )


def test_the_budget_rules_use_the_named_budgets_per_agent() -> None:
    rules = {
        rule["alert"]: rule
        for group in load_yaml("prometheus/rules/otel-agents.rules.yml")["groups"]
        for rule in group["rules"]
    }
    cost, tokens = rules["OtelAgentsAgentCostBudget"], rules["OtelAgentsAgentTokenBudget"]

    # First occurrences count (names.growth): a new process's first export is spend too.
    # The value an hour ago is the last sample before it, across a gap in the data.
    growth = (
        "agent_model_cost_total - last_over_time(agent_model_cost_total[1h] offset 1h) >= 0 "
        "or agent_model_cost_total"
    )
    assert cost["expr"] == (
        f"sum by (gen_ai_agent_id) (({growth})) > {AGENT_HOURLY_COST_BUDGET_USD:g}"
    )
    assert cost["for"] == "1m"
    assert tokens["expr"] == (
        "sum by (gen_ai_agent_id) (rate(gen_ai_client_token_usage_sum[5m])) "
        f"> {AGENT_TOKENS_PER_SECOND_BUDGET:g}"
    )
    for rule in (cost, tokens):
        assert rule["labels"] == {"severity": "warning", "service": "agents"}
        assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
        assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{rule['alert'].lower()}"
        assert f"## {rule['alert']}" in (REPO / "docs" / "runbook.md").read_text()
