"""The alert rules and the dashboard: promtool validates and unit-tests the rules, and both
name only metrics the code exports; the canary judge's Prometheus selector."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from raygate.telemetry.metrics import EXPORTED_NAMES

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yaml"
METRIC = re.compile(r"\bray_raygate_\w+")
RECORDED = re.compile(r"\braygate:[\w:]+")


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: run `make test` (it installs Debian's prometheus package)"
    return path


def test_promtool_accepts_the_rules():
    result = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts_pass():
    result = subprocess.run([_promtool(), "test", "rules", "alerts_test.yaml"], cwd=RULES.parent,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def _rules() -> list[dict]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


def test_rules_and_dashboard_name_only_metrics_the_router_exports():
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    dashboard = (DEPLOY / "grafana" / "raygate-variants.json").read_text()
    exprs = [rule["expr"] for rule in _rules()] + [
        target["expr"] for panel in json.loads(dashboard)["panels"] for target in panel["targets"]
    ]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used and used <= EXPORTED_NAMES, used - EXPORTED_NAMES
    assert {name for expr in exprs for name in RECORDED.findall(expr)} <= recorded


ALERTS = ["RaygateErrorBudgetBurnFast", "RaygateLatencyP95High", "RaygateCostPerMinuteUp",
          "RaygateSafetyBlockSpike"]  # fmt: skip


@pytest.mark.parametrize("alert", ALERTS)
def test_each_alert_the_issue_names_exists_and_is_tested(alert):
    assert alert in {rule.get("alert") for rule in _rules()}
    assert f"alertname: {alert}" in (RULES.parent / "alerts_test.yaml").read_text()


def test_the_prometheus_judge_selects_one_model_of_one_application():
    from raygate.canary.prometheus import selector

    assert selector("raygate", None) == 'application="raygate"'
    assert selector(None, "support-agent") == 'model="support-agent"'
    assert selector("raygate", "support-agent") == 'application="raygate",model="support-agent"'
    assert selector("app", 'odd "name" \\') == 'application="app",model="odd \\"name\\" \\\\"'
