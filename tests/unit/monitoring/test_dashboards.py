"""The committed dashboards are what the code generates, every query parses, and every
panel uses the provisioned datasource."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from orderstream.monitoring import queries
from orderstream.monitoring.dashboards import DASHBOARDS_DIR, generate
from orderstream.monitoring.dashboards.__main__ import main as dashboards_main
from orderstream.settings import REPO_ROOT

PROVISIONING = REPO_ROOT / "grafana" / "provisioning"


def dashboards() -> dict[str, dict[str, Any]]:
    return queries.load_dashboards(DASHBOARDS_DIR)


def test_committed_json_is_what_the_code_generates() -> None:
    wanted = generate()
    assert sorted(wanted) == sorted(p.name for p in DASHBOARDS_DIR.glob("*.json"))
    for name, text in wanted.items():
        assert (DASHBOARDS_DIR / name).read_text() == text, (
            f"grafana/dashboards/{name} is stale: run python -m orderstream.monitoring.dashboards"
        )


def test_check_mode_names_a_stale_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, text in generate().items():
        (tmp_path / name).write_text(text)
    (tmp_path / "kafka.json").write_text("{}")
    monkeypatch.setattr("orderstream.monitoring.dashboards.__main__.DASHBOARDS_DIR", tmp_path)
    assert dashboards_main(["--check"]) == 1
    assert "grafana/dashboards/kafka.json differs" in capsys.readouterr().err
    assert dashboards_main([]) == 0
    assert dashboards_main(["--check"]) == 0


def test_the_four_dashboards_exist() -> None:
    titles = {d["title"] for d in dashboards().values()}
    assert titles == {
        "orderstream / Pipeline",
        "orderstream / Kafka",
        "orderstream / Connect & Debezium",
        "orderstream / MariaDB",
    }
    uids = [d["uid"] for d in dashboards().values()]
    assert len(set(uids)) == len(uids)


def test_panels_use_the_provisioned_datasource_and_have_unique_ids() -> None:
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for name, board in dashboards().items():
        ids = []
        for panel in board["panels"]:
            ids.append(panel["id"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == uid, f"{name}: {panel['title']}"
            assert panel["targets"], f"{name}: {panel['title']} has no query"
            if panel["type"] == "timeseries":
                assert panel["options"]["legend"]["showLegend"] is True
        assert len(set(ids)) == len(ids), name


def test_every_query_parses(promtool: Path, tmp_path: Path) -> None:
    """promtool parses each substituted panel query, as a recording rule."""
    exprs = [
        queries.substitute(q.expr)
        for board in dashboards().values()
        for q in queries.panel_queries(board)
    ]
    assert len(exprs) > 40
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [str(promtool), "check", "rules", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_variable_queries_are_label_values_calls() -> None:
    variables = [v for board in dashboards().values() for v in queries.variable_queries(board)]
    assert {v.name for v in variables} == {"currency", "instance", "topic", "connector"}
    for v in variables:
        selector, label = queries.label_values_call(v.query)
        assert selector and label


def test_provisioning_points_at_the_dashboards_mount() -> None:
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "orderstream.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    datasource = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["jsonData"]["timeInterval"] == "15s"


def test_substitution() -> None:
    expr = 'sum by (x) (rate(m{a=~"$currency", b=~"${topic}"}[$__rate_interval])) [[instance]]'
    assert queries.substitute(expr) == 'sum by (x) (rate(m{a=~".*", b=~".*"}[1m])) .*'
    assert queries.substitute("$__range $x", {"x": "kafka-1"}) == "1h kafka-1"
    with pytest.raises(ValueError):
        queries.label_values_call("up")
