"""cluster/monitoring: alert rules, their promtool unit tests, the Prometheus config and the dashboards.

The promtool checks skip when `promtool` (Debian/Ubuntu package `prometheus`) is not on PATH; the
dashboard structure and metric-name checks always run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "cluster" / "monitoring"
DASHBOARDS = MONITORING / "dashboards"
PROMTOOL_TIMEOUT_SECONDS = 60

_COUNTERS = (
    "ray_agent_requests_total",
    "ray_agent_tokens_total",
    "ray_guardrail_hits_total",
    "ray_rate_limit_rejections_total",
    "ray_workflow_executions_total",
)
_HISTOGRAMS = ("ray_agent_processing_seconds", "ray_workflow_duration_seconds")
PLATFORM_METRICS = frozenset(
    (*_COUNTERS, *(f"{name}_{suffix}" for name in _HISTOGRAMS for suffix in ("bucket", "sum", "count")))
)

EXPECTED_DASHBOARDS = {
    "platform-overview.json",
    "agent-performance.json",
    "workflow-analytics.json",
    "infrastructure.json",
}
EXPECTED_ALERTS = {
    "AgentErrorRateHigh",
    "PlatformErrorRateHigh",
    "AgentP99LatencyHigh",
    "WorkflowFailureRateHigh",
    "NodeDiskUsageHigh",
    "NodeMemoryUsageHigh",
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRAFANA_BUILTIN_DATASOURCE = {"type": "grafana", "uid": "-- Grafana --"}

_PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "atan2", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_WINDOWS = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER_NOT_CALLED = re.compile(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()")
_LABEL_VALUES = re.compile(r"label_values\((?P<selector>.*),\s*(?P<label>\w+)\)")
_GRAFANA_VARIABLE = re.compile(r"\$(?:__rate_interval|__range|__interval)\b|\$(?P<name>[A-Za-z]\w*)\b")

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH (install the Debian/Ubuntu package `prometheus`)"
)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_SECONDS,
        check=False,
    )


def _output(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


@cache
def ray_dashboard_metrics() -> frozenset[str]:
    """Every `ray_...` name in the Grafana dashboard definitions shipped with the installed Ray."""
    spec = importlib.util.find_spec("ray")
    assert spec is not None, "ray is not installed"
    assert spec.submodule_search_locations, "ray is not a package"
    folder = Path(next(iter(spec.submodule_search_locations))) / "dashboard/modules/metrics/dashboards"
    names = {
        name
        for source in folder.glob("*.py")
        for name in re.findall(r"ray_[a-z_]+", source.read_text(encoding="utf-8"))
    }
    return frozenset(names)


def known_metrics() -> frozenset[str]:
    return PLATFORM_METRICS | ray_dashboard_metrics()


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (string literals, label lists and calls removed)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _WINDOWS.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    return {token for token in _IDENTIFIER_NOT_CALLED.findall(text) if token.lower() not in _PROMQL_KEYWORDS}


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def alert_rules() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = load_yaml(MONITORING / "alerts.yaml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def load_dashboard(name: str) -> dict[str, Any]:
    data = json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: load_dashboard(path.name) for path in sorted(DASHBOARDS.glob("*.json"))}


def variable_queries(dashboard: dict[str, Any]) -> list[str]:
    return [
        variable["query"]["query"]
        for variable in dashboard["templating"]["list"]
        if variable["type"] == "query"
    ]


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """Panel targets' PromQL plus the selectors of `label_values(...)` variable queries."""
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    for query in variable_queries(dashboard):
        match = _LABEL_VALUES.fullmatch(query)
        assert match is not None, f"unexpected variable query {query!r}"
        exprs.append(match["selector"])
    return exprs


def as_promql(expr: str, variables: set[str]) -> str:
    """A Grafana query with its variables replaced by values Prometheus accepts."""

    def substitute(match: re.Match[str]) -> str:
        name = match["name"]
        if name is None:
            return "5m"
        assert name in variables, f"undefined dashboard variable ${name} in {expr!r}"
        return "x"

    return _GRAFANA_VARIABLE.sub(substitute, expr)


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# --------------------------------------------------------------------------- the name check itself


def test_metric_names_sees_selectors_and_ignores_labels_strings_and_functions() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (agent_name, le) (rate(ray_agent_processing_seconds_bucket{le!="x",'
        ' category=~"ray_fake_name"}[5m]))) / on (agent_name) group_left sum(ray_node_mem_total) or vector(0)'
    )
    assert metric_names(expr) == {"ray_agent_processing_seconds_bucket", "ray_node_mem_total"}


def test_metric_names_catches_a_missing_prefix_and_a_typo() -> None:
    names = metric_names("sum(rate(agent_requests_total[5m])) / sum(rate(ray_agent_request_total[5m]))")
    assert names - known_metrics() == {"agent_requests_total", "ray_agent_request_total"}


def test_ray_dashboard_metric_names_are_read_from_the_installed_ray() -> None:
    names = ray_dashboard_metrics()
    assert {"ray_node_cpu_utilization", "ray_node_mem_used", "ray_node_disk_usage"} <= names
    assert {"ray_component_cpu_percentage", "ray_serve_deployment_replica_healthy"} <= names


# --------------------------------------------------------------------------- alert rules


@needs_promtool
def test_promtool_check_rules_accepts_the_alerts() -> None:
    done = promtool("check", "rules", "alerts.yaml", cwd=MONITORING)
    assert done.returncode == 0, _output(done)
    assert f"{len(EXPECTED_ALERTS)} rules found" in done.stdout


@needs_promtool
def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    done = promtool("test", "rules", "alerts_test.yaml", cwd=MONITORING)
    assert done.returncode == 0, _output(done)
    assert "SUCCESS" in done.stdout


@needs_promtool
@pytest.mark.parametrize(
    "rule",
    [
        {"alert": "BrokenExpression", "expr": "sum(rate(ray_agent_requests_total[5m]) > "},
        {
            "alert": "BrokenTemplate",
            "expr": "vector(1)",
            "annotations": {"summary": "{{ $value | noSuchFunction }}"},
        },
        {"alert": "BrokenDuration", "expr": "vector(1)", "for": "five minutes"},
    ],
    ids=["expression", "template", "duration"],
)
def test_promtool_check_rules_rejects_a_broken_rule(tmp_path: Path, rule: dict[str, Any]) -> None:
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [rule]}]}))
    done = promtool("check", "rules", "broken.yaml", cwd=tmp_path)
    assert done.returncode != 0, _output(done)


def test_every_expected_alert_is_defined_once_with_for_severity_and_annotations() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert sorted(names) == sorted(EXPECTED_ALERTS)
    for rule in rules:
        assert rule.get("for"), f"{rule['alert']} has no `for:`"
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        for annotation in ("summary", "description"):
            assert "$value" in rule["annotations"][annotation], f"{rule['alert']} {annotation} shows no value"


def test_alert_ratios_only_divide_by_a_positive_denominator() -> None:
    for rule in alert_rules():
        expr = " ".join(rule["expr"].split())
        if " / " in expr:
            assert re.search(r"/ \(.*> 0\)", expr), f"{rule['alert']} can divide by zero"


def test_alert_expressions_use_known_metric_names() -> None:
    for rule in alert_rules():
        unknown = metric_names(rule["expr"]) - known_metrics()
        assert not unknown, f"{rule['alert']} uses unknown metrics {sorted(unknown)}"


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    cases = [
        case
        for test in load_yaml(MONITORING / "alerts_test.yaml")["tests"]
        for case in test["alert_rule_test"]
    ]
    for alert in EXPECTED_ALERTS:
        outcomes = [bool(case.get("exp_alerts")) for case in cases if case["alertname"] == alert]
        assert True in outcomes, f"no test case where {alert} fires"
        assert False in outcomes, f"no test case where {alert} stays silent"


# --------------------------------------------------------------------------- Prometheus config


@needs_promtool
def test_promtool_check_config_accepts_the_prometheus_config() -> None:
    done = promtool("check", "config", "prometheus.yaml", cwd=MONITORING)
    assert done.returncode == 0, _output(done)


def test_prometheus_config_discovers_ray_targets_and_loads_the_alerts() -> None:
    config = load_yaml(MONITORING / "prometheus.yaml")
    assert config["rule_files"] == ["alerts.yaml"]
    files = [
        path
        for job in config["scrape_configs"]
        for sd in job.get("file_sd_configs", [])
        for path in sd["files"]
    ]
    assert "/tmp/ray/prom_metrics_service_discovery.json" in files


# --------------------------------------------------------------------------- dashboards


def test_the_four_dashboards_exist_with_unique_uids_and_titles() -> None:
    found = dashboards()
    assert set(found) == EXPECTED_DASHBOARDS
    uids = [dashboard["uid"] for dashboard in found.values()]
    titles = [dashboard["title"] for dashboard in found.values()]
    assert all(uid and len(uid) <= 40 for uid in uids), uids
    assert len(set(uids)) == len(uids), uids
    assert len(set(titles)) == len(titles), titles
    assert all(dashboard["schemaVersion"] >= 36 for dashboard in found.values())


@pytest.mark.parametrize("name", sorted(EXPECTED_DASHBOARDS))
def test_dashboard_takes_its_prometheus_datasource_from_a_variable(name: str) -> None:
    dashboard = load_dashboard(name)
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for key, value in walk(dashboard):
        if key == "datasource":
            assert value in (DATASOURCE, GRAFANA_BUILTIN_DATASOURCE), f"hard-coded datasource {value!r}"


@pytest.mark.parametrize("name", sorted(EXPECTED_DASHBOARDS))
def test_every_panel_queries_prometheus_through_the_variable(name: str) -> None:
    panels = load_dashboard(name)["panels"]
    assert panels
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids), f"duplicate panel ids in {name}"
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no target"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), f"{panel['title']} has an empty expr"
            assert target["datasource"] == DATASOURCE, panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


@pytest.mark.parametrize("name", sorted(EXPECTED_DASHBOARDS))
def test_dashboard_queries_use_known_metric_names(name: str) -> None:
    for expr in dashboard_exprs(load_dashboard(name)):
        unknown = metric_names(expr) - known_metrics()
        assert not unknown, f"{name}: unknown metrics {sorted(unknown)} in {expr!r}"


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    rules = []
    for name, dashboard in dashboards().items():
        variables = {variable["name"] for variable in dashboard["templating"]["list"]}
        for index, expr in enumerate(dashboard_exprs(dashboard)):
            record = f"dashboard:{name.removesuffix('.json').replace('-', '_')}:{index}"
            rules.append({"record": record, "expr": as_promql(expr, variables)})
    (tmp_path / "dashboards.yaml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]})
    )
    done = promtool("check", "rules", "dashboards.yaml", cwd=tmp_path)
    assert done.returncode == 0, _output(done)
    assert f"{len(rules)} rules found" in done.stdout


def test_agent_performance_filters_by_agent_and_category() -> None:
    dashboard = load_dashboard("agent-performance.json")
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["category"]["query"]["query"] == "label_values(ray_agent_requests_total, category)"
    assert re.fullmatch(
        r"label_values\(ray_agent_requests_total\{[^}]*\}, agent_name\)", variables["agent"]["query"]["query"]
    )
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            assert 'agent_name=~"$agent"' in target["expr"], panel["title"]
            assert 'category=~"$category"' in target["expr"], panel["title"]


def test_overview_shows_the_required_panels() -> None:
    exprs = " ".join(dashboard_exprs(load_dashboard("platform-overview.json")))
    for metric in (
        "ray_agent_requests_total",
        "ray_agent_processing_seconds_bucket",
        "ray_agent_tokens_total",
        "ray_guardrail_hits_total",
        "ray_rate_limit_rejections_total",
    ):
        assert metric in exprs, metric
    for quantile in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({quantile}," in exprs, quantile
