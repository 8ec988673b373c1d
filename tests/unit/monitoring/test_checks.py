"""A syntax error in a rule file, prometheus.yml or alertmanager.yml is caught before start,
naming the repository file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderstream.monitoring import checks, config
from orderstream.monitoring.settings import MonitoringSettings


def render(tmp_path: Path, config_text: str, rules: dict[str, str]) -> Path:
    ms = MonitoringSettings.from_env({})
    for rel, text in config.prometheus_files(ms, config_text, rules).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_the_repository_config_passes(promtool: Path, tmp_path: Path) -> None:
    conf = render(tmp_path, config.PROMETHEUS_CONFIG.read_text(), config.repo_rules())
    checks.check_prometheus_config(promtool, conf)


def test_bad_promql_in_a_rule_names_file_and_line(promtool: Path, tmp_path: Path) -> None:
    rules = dict(config.repo_rules())
    rules["broken.yml"] = (
        "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: up ==\n"
    )
    conf = render(tmp_path, config.PROMETHEUS_CONFIG.read_text(), rules)
    with pytest.raises(checks.ConfigInvalid) as err:
        checks.check_prometheus_config(promtool, conf)
    assert "prometheus/rules/broken.yml: 5:15" in str(err.value)
    assert "could not parse expression" in str(err.value)


def test_bad_yaml_in_a_rule_names_file_and_line(promtool: Path, tmp_path: Path) -> None:
    rules = {"broken.yml": "groups:\n  - name: x\n    rules:\n  bad: [\n"}
    conf = render(tmp_path, config.PROMETHEUS_CONFIG.read_text(), rules)
    with pytest.raises(checks.ConfigInvalid, match=r"prometheus/rules/broken.yml: yaml: line \d"):
        checks.check_prometheus_config(promtool, conf)


def test_bad_prometheus_yml_names_the_line(promtool: Path, tmp_path: Path) -> None:
    text = config.PROMETHEUS_CONFIG.read_text().replace(
        "  scrape_interval: 15s", "  scrape_interval: 15s\n bad"
    )
    conf = render(tmp_path, text, config.repo_rules())
    with pytest.raises(checks.ConfigInvalid) as err:
        checks.check_prometheus_config(promtool, conf)
    assert "prometheus.yml: yaml: line" in str(err.value)
    assert str(tmp_path) not in str(err.value)


def test_bad_alertmanager_config(amtool: Path, tmp_path: Path) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(
        config.ALERTMANAGER_CONFIG.read_text().replace("receiver: page", "receiver: nobody")
    )
    with pytest.raises(checks.ConfigInvalid, match='undefined receiver "nobody"'):
        checks.check_alertmanager_config(amtool, path)
    checks.check_alertmanager_config(amtool, config.ALERTMANAGER_CONFIG)
