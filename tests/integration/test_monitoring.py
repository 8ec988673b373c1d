"""The monitoring of the live stack: every target up, every rule evaluates, each exporter
serves the series the rules and dashboards use, every dashboard query returns data."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable

import pytest
import requests
import yaml

from orderstream.monitoring import config, queries
from orderstream.monitoring.dashboards import DASHBOARDS_DIR
from orderstream.monitoring.prometheus_api import PrometheusClient
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.settings import Settings
from tests.integration.conftest import poll_until

#: Panel queries that return nothing on a healthy stack: the series exist only after a fault.
EMPTY_UNTIL_A_FAULT = {
    # orders_illegal_transitions_total{from,to}: a child per pair, created by the first one
    "orderstream / Pipeline / Illegal transitions / A",
}
#: Series of the exporters' own (jvm_*, process_*) are not checked here.
EXPORTED = re.compile(r"\b((?:kafka|debezium)_[a-z0-9_]+)\b")


@pytest.fixture(scope="module")
def monitoring() -> MonitoringSettings:
    return MonitoringSettings.from_env()


@pytest.fixture(scope="module")
def prometheus(monitoring: MonitoringSettings) -> PrometheusClient:
    client = PrometheusClient(monitoring.prometheus_url, timeout=10)
    poll_until("Prometheus to be ready", client.ready, timeout=60)
    return client


def expected_instances(monitoring: MonitoringSettings) -> set[tuple[str, str]]:
    return {
        (job, group["labels"]["instance"])
        for job, groups in config.native_targets(monitoring).items()
        for group in groups
    }


def test_every_target_is_up_with_a_readable_instance(
    prometheus: PrometheusClient, monitoring: MonitoringSettings
) -> None:
    wanted = expected_instances(monitoring)
    last: list[str] = []

    def all_up() -> bool:
        targets = prometheus.targets()
        seen = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
        last[:] = [
            f"{t['labels']['instance']}: {t['health']} {t.get('lastError', '')}"
            for t in targets
            if t["health"] != "up"
        ]
        return seen == wanted and not last

    try:
        poll_until("every Prometheus target to be up", all_up, timeout=90, interval=2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; not up: {last}") from None


def test_every_rule_is_loaded_and_evaluates_without_error(prometheus: PrometheusClient) -> None:
    expected = {
        rule["alert"]
        for path in config.RULES_DIR.glob("*.yml")
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    }

    def evaluated() -> bool:
        rules = [r for g in prometheus.rule_groups() for r in g["rules"]]
        return {r["name"] for r in rules} == expected and all(
            not r["lastEvaluation"].startswith("0001") for r in rules
        )

    poll_until("every rule to be loaded and evaluated", evaluated, timeout=60, interval=2)
    broken = [
        f"{r['name']}: {r.get('lastError')}"
        for g in prometheus.rule_groups()
        for r in g["rules"]
        if r["health"] != "ok"
    ]
    assert broken == []


def test_watchdog_fires_and_no_page_alert(prometheus: PrometheusClient) -> None:
    def settled() -> bool:
        firing = {
            a["labels"]["alertname"]: a for a in prometheus.alerts() if a["state"] == "firing"
        }
        pages = [n for n, a in firing.items() if a["labels"].get("severity") == "page"]
        return "Watchdog" in firing and not pages

    poll_until("the Watchdog firing and no page alert", settled, timeout=120, interval=3)


def scrape(url: str) -> str:
    resp = requests.get(url, timeout=10)
    resp.raise_for_status()
    return resp.text


def used_series() -> set[str]:
    """kafka_* and debezium_* names the rules and the dashboards query."""
    texts = [p.read_text() for p in config.RULES_DIR.glob("*.yml")]
    texts += [q.expr for b in queries.load_dashboards(DASHBOARDS_DIR).values()
              for q in queries.panel_queries(b)]  # fmt: skip
    texts += [v.query for b in queries.load_dashboards(DASHBOARDS_DIR).values()
              for v in queries.variable_queries(b)]  # fmt: skip
    return {name for text in texts for name in EXPORTED.findall(text)}


def test_exporters_serve_every_series_the_rules_and_dashboards_use(settings: Settings) -> None:
    names = used_series()
    assert "kafka_raft_state" in names and "kafka_connect_task_status" in names
    kafka = [scrape(f"http://{settings.host}:{p}/metrics") for p in settings.broker_jmx_ports]
    connect = [scrape(f"http://{settings.host}:{p}/metrics") for p in settings.connect_jmx_ports]

    def served(text: str) -> set[str]:
        return {ln.split("{")[0].split(" ")[0] for ln in text.splitlines() if ln and ln[0] != "#"}

    kafka_names = {n for n in names if not n.startswith(("kafka_connect", "debezium"))}
    for i, text in enumerate(kafka, start=1):
        # per-topic series exist on the nodes that served the topic: checked together below
        missing = {n for n in kafka_names if not n.startswith("kafka_topic_")} - served(text)
        assert missing == set(), f"kafka-{i} does not export {sorted(missing)}"
    missing = kafka_names - set().union(*(served(text) for text in kafka))
    assert missing == set(), f"no Kafka node exports {sorted(missing)}"
    # the connector and its task run on one worker: look at both together
    missing = {n for n in names if n.startswith(("kafka_connect", "debezium"))}
    missing -= served(connect[0]) | served(connect[1])
    assert missing == set(), f"the Connect workers do not export {sorted(missing)}"
    # strings exported as labels: the KRaft role and the connector/task status
    assert any('kafka_raft_state{state="leader"} 1.0' in t for t in kafka)
    assert any(
        'kafka_connect_task_status{connector="orders-cdc",status="running",task="0"} 1.0' in t
        for t in connect
    )


def test_every_dashboard_query_returns_data(prometheus: PrometheusClient) -> None:
    boards = queries.load_dashboards(DASHBOARDS_DIR)
    panel_queries = [q for b in boards.values() for q in queries.panel_queries(b)]
    assert len(panel_queries) > 40
    # rates need two samples in their window, and the load must have run a while
    poll_until(
        "a minute of scraped dataflow metrics",
        lambda: bool(prometheus.query("sum(increase(orders_events_in_total[1m])) > 0")),
        timeout=180,
        interval=5,
    )

    # every query parses now (a parse error raises at once); a series that was just
    # re-created (a Connect task moved by an earlier test) may need a few scrapes for rate()
    def query_has_data(expr: str) -> bool:
        return bool(prometheus.query(expr))

    def variable_has_values(label: str, selector: str | None) -> bool:
        return bool(prometheus.label_values(label, selector))

    todo: dict[str, Callable[[], bool]] = {}
    for q in panel_queries:
        expr = queries.substitute(q.expr)
        prometheus.query(expr)
        if q.where not in EMPTY_UNTIL_A_FAULT:
            todo[q.where] = functools.partial(query_has_data, expr)
    for v in (v for b in boards.values() for v in queries.variable_queries(b)):
        selector, label = queries.label_values_call(v.query)
        todo[f"{v.dashboard} / variable {v.name}"] = functools.partial(
            variable_has_values, label, selector
        )
    deadline = time.monotonic() + 120
    while todo and time.monotonic() < deadline:
        todo = {where: has_data for where, has_data in todo.items() if not has_data()}
        if todo:
            time.sleep(5)
    assert list(todo) == [], "queries without data for 2 minutes: " + "; ".join(todo)


def test_allow_listed_queries_still_parse_and_exist(prometheus: PrometheusClient) -> None:
    boards = queries.load_dashboards(DASHBOARDS_DIR)
    wheres = {q.where for b in boards.values() for q in queries.panel_queries(b)}
    assert wheres >= EMPTY_UNTIL_A_FAULT, "the allow-list names a query that no longer exists"
