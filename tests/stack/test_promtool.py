"""The bundled alert rules pass ``promtool check rules`` and their ``promtool test rules`` cases.

promtool comes with the e2e harness's Prometheus (``scripts/fetch-prometheus``): outside CI a
machine that cannot fetch it skips these tests with the reason, with ``CI=true`` it fails them.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from _prometheus import MODULE_TIMEOUT, TIMINGS, promtool_binary
from _stack import REPO
from stackgen.rules import RULES as GENERATED_RULES

RULES = REPO / "prometheus" / "rules" / "otel-agents.rules.yml"
RULE_TESTS = sorted((REPO / "prometheus" / "tests").glob("*.test.yml"))
TIMEOUT = 60.0

pytestmark = [pytest.mark.integration, pytest.mark.timeout(MODULE_TIMEOUT)]


def _promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = subprocess.run(
        [str(promtool_binary()), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=REPO,
    )
    TIMINGS[f"promtool {args[0]} {args[1]}"] = time.monotonic() - started
    return result


def _test_mutated(tmp_path: Path, rules: str, alerts: set[str]) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` with the shipped cases of ``alerts`` only (each run of every
    case costs seconds of CPU), against ``rules`` in place of the shipped rule file."""
    broken_rules = tmp_path / "rules" / RULES.name
    broken_rules.parent.mkdir()
    broken_rules.write_text(rules, encoding="utf-8")
    cases = yaml.safe_load(RULE_TESTS[0].read_text(encoding="utf-8"))
    cases["tests"] = [
        case
        for case in cases["tests"]
        if {check["alertname"] for check in case.get("alert_rule_test", ())} & alerts
    ]
    assert cases["tests"], f"no shipped case tests {sorted(alerts)}"
    tests = tmp_path / "tests" / "otel-agents.test.yml"
    tests.parent.mkdir()
    tests.write_text(yaml.safe_dump(cases, sort_keys=False), encoding="utf-8")
    return _promtool("test", "rules", tests)


def test_promtool_check_rules_accepts_the_rule_file() -> None:
    result = _promtool("check", "rules", RULES)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(GENERATED_RULES)} rules found" in result.stdout


def test_promtool_test_rules_passes_every_firing_and_quiet_case() -> None:
    assert RULE_TESTS, "no prometheus/tests/*.test.yml"

    result = _promtool("test", "rules", *RULE_TESTS)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules_fails_when_a_rule_does_not_fire_as_expected(
    tmp_path: Path,
) -> None:
    """The cases have teeth: a threshold no input reaches makes the firing cases fail."""
    text = RULES.read_text(encoding="utf-8")
    rules = text.replace("(agent_cpu_usage_percent) >= 85\n", "(agent_cpu_usage_percent) >= 1000\n")
    assert rules != text
    result = _test_mutated(tmp_path, rules, {"OtelAgentsAgentHighCpu"})

    assert result.returncode != 0
    assert "OtelAgentsAgentHighCpu" in result.stdout + result.stderr


def test_the_consumer_lag_rule_alerts_only_on_a_lag_that_still_grows(tmp_path: Path) -> None:
    """Without its trend clause the lag rule would fire on a large backlog being worked off:
    promtool's quiet case (a steady lag of 500) then fails, naming the rule."""
    rules = RULES.read_text(encoding="utf-8")
    trend = re.search(
        r" and max by \([^)]*\) \(deriv\(agent_message_consumer_lag\[10m\]\)\) > 0", rules
    )
    assert trend, "the lag rule's trend clause is not in the rule file"
    result = _test_mutated(tmp_path, rules.replace(trend[0], ""), {"OtelAgentsConsumerLagGrowing"})

    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "OtelAgentsConsumerLagGrowing stays quiet" in output
    assert "OtelAgentsConsumerLagGrowing fires" not in output


#: grafana/stackgen/names.py's growth(): ``(X - last_over_time(X[lookback] offset W) >= 0 or X)``.
GROWTH = re.compile(
    r"\((\S+) - last_over_time\(\1\[(\d+[smhdw])\] offset (\d+[smhdw])\) >= 0 or \1\)"
)


#: The alerts built on ``growth()`` (first-appearance and gap-aware counter increase).
GROWTH_ALERTS = {
    "OtelAgentsMessagesDeadLettered",
    "OtelAgentsCollectorExportFailing",
    "OtelAgentsCollectorDroppingData",
    "OtelAgentsServiceLosingTelemetry",
    "OtelAgentsAgentCostBudget",
}


def _failing_growth_cases(tmp_path: Path, rules: str) -> set[str]:
    """The names of the growth alerts' shipped cases that fail against ``rules``."""
    result = _test_mutated(tmp_path, rules, GROWTH_ALERTS)
    assert result.returncode != 0
    return set(re.findall(r"name: (.+),\n", result.stdout + result.stderr))


def test_the_failure_counter_rules_see_through_a_gap_in_the_data(tmp_path: Path) -> None:
    """With the instant ``X offset W`` as the value at the window's start (the old rules), a
    stale marker (the Collector down) or 5 minutes without samples (a paused host) at that
    point leaves nothing to subtract, and the ``or X`` branch fired with the series' lifetime
    total: exactly the gap cases fail then, every other case still passes."""
    rules = RULES.read_text(encoding="utf-8")
    assert len(GROWTH.findall(rules)) >= 3 + 5 + 1
    instant = GROWTH.sub(r"(\1 - \1 offset \3 >= 0 or \1)", rules)
    assert _failing_growth_cases(tmp_path, instant) == {
        "OtelAgentsMessagesDeadLettered stays quiet: no new dead letter across a Collector outage",
        "OtelAgentsMessagesDeadLettered stays quiet: no new dead letter across an 8-minute silence",
        "OtelAgentsAgentCostBudget stays quiet: no new spend across a Collector outage an hour ago",
        "OtelAgentsCollectorExportFailing stays quiet: no new failure across an 8-minute silence",
        "OtelAgentsCollectorDroppingData stays quiet: no new drop across an 8-minute silence",
        "OtelAgentsServiceLosingTelemetry stays quiet: no new loss across a Collector outage",
        "OtelAgentsServiceLosingTelemetry stays quiet: no new loss across an 8-minute silence",
    }


def test_the_failure_counter_rules_need_their_first_appearance_branch(tmp_path: Path) -> None:
    """Without the branch that counts a new series whole (``... >= 0 or X``), a counter that
    appears at its first count (the SDK's first add, the Collector's first failure, a
    short-lived agent's first cost export) would not alert, nor would the first failure after
    a Collector restart (the counter back below its old value): exactly those cases fail,
    every other case still passes."""
    rules = RULES.read_text(encoding="utf-8")
    # dead letters, 2 x 3 Collector items, SDK, agent cost
    assert len(GROWTH.findall(rules)) >= 3 + 5 + 1
    mutated = GROWTH.sub(r"(\1 - last_over_time(\1[\2] offset \3) >= 0)", rules)
    assert _failing_growth_cases(tmp_path, mutated) == {
        "OtelAgentsMessagesDeadLettered fires: the first dead letter",
        "OtelAgentsCollectorExportFailing fires: the first failure",
        "OtelAgentsCollectorDroppingData fires: the first drop",
        "OtelAgentsCollectorExportFailing fires: the first failure after a Collector restart",
        "OtelAgentsCollectorDroppingData fires: the first failure after a Collector restart",
        "OtelAgentsServiceLosingTelemetry fires",
        "OtelAgentsAgentCostBudget fires",
        "OtelAgentsAgentCostBudget fires: a short-lived process whose first export is over the "
        "budget",
    }


def test_the_cost_budget_alert_fires_while_a_short_lived_agent_series_exists(
    tmp_path: Path,
) -> None:
    """A batch job's cost series lives the Collector's metric_expiration (5m) after its one
    export: with the old 5-minute hold the alert would resolve before it ever fired."""
    rules = RULES.read_text(encoding="utf-8")
    rule = re.search(r"- alert: OtelAgentsAgentCostBudget\n    expr: .*\n    for: 1m\n", rules)
    assert rule, "the cost budget rule with its 1m hold is not in the rule file"
    held = rules.replace(rule[0], rule[0].replace("for: 1m", "for: 5m"))
    result = _test_mutated(tmp_path, held, {"OtelAgentsAgentCostBudget"})

    assert result.returncode != 0
    failed = set(re.findall(r"name: (.+),\n", result.stdout + result.stderr))
    assert failed == {
        "OtelAgentsAgentCostBudget fires: a short-lived process whose first export is over the "
        "budget"
    }


def test_a_stopped_service_alert_outlives_a_short_seen_before_window(tmp_path: Path) -> None:
    """With the old 30-minute "seen before" window the alert resolved 30 minutes after a crash
    while the service was still down: the case still stopped at minute 50 then fails."""
    rules = RULES.read_text(encoding="utf-8")
    window = 'max_over_time(target_info{job!="otelcol"}[7d])'
    assert window in rules
    result = _test_mutated(
        tmp_path,
        rules.replace(window, window.replace("[7d]", "[30m]")),
        {"OtelAgentsServiceStoppedExporting"},
    )

    assert result.returncode != 0
    output = result.stdout + result.stderr
    failed = set(re.findall(r"name: (.+),\n", output))
    case = "OtelAgentsServiceStoppedExporting fires: stopped at minute 10, still stopped"
    assert failed == {case}
    assert "time: 50m" in output
    assert "time: 20m" not in output
