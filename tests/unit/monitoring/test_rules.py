"""The alert rules: promtool checks them, their unit tests pass and cover every alert both
ways, and each alert carries what a person needs (severity, summary, what to do)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from orderstream.monitoring import config
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.settings import REPO_ROOT

RUNBOOK = REPO_ROOT / "docs" / "monitoring.md"
SEVERITIES = {"page", "ticket", "none"}
#: The alert list of docs/monitoring.md (docs/architecture.md §9).
EXPECTED_ALERTS = {
    "KafkaBrokerDown", "KafkaQuorumAtRisk", "KafkaNoActiveController", "KafkaOfflinePartitions",
    "KafkaUnderMinIsr", "KafkaUnderReplicated", "ConnectWorkerDown", "ConnectAllWorkersDown",
    "ConnectorNotRunning", "DebeziumNotConnected", "DebeziumBehind", "DebeziumQueueSaturated",
    "DataflowDown", "DataflowStalled", "DataflowLagGrowing", "DataflowDeadLetters",
    "DataflowLatencyHigh", "MariaDBDown", "MariaDBBinlogOff", "Watchdog",
}  # fmt: skip
#: Alerts that fire by design at all times, so have no case where they do not.
ALWAYS_FIRING = {"Watchdog"}


def alert_rules() -> dict[str, dict[str, Any]]:
    rules = {}
    for path in sorted(config.RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                assert "alert" in rule, f"{path.name}: recording rules belong elsewhere"
                rules[rule["alert"]] = rule
    return rules


def run(cmd: list[str | Path], cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd)


def test_promtool_checks_every_rule_file(promtool: Path) -> None:
    files = sorted(config.RULES_DIR.glob("*.yml"))
    result = run([promtool, "check", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass(promtool: Path) -> None:
    files = sorted(config.RULE_TESTS_DIR.glob("*_test.yml"))
    assert files
    result = run([promtool, "test", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_are_the_documented_set() -> None:
    assert set(alert_rules()) == EXPECTED_ALERTS


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    fires: set[str] = set()
    quiet: set[str] = set()
    for path in config.RULE_TESTS_DIR.glob("*_test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert EXPECTED_ALERTS - fires == set()
    assert EXPECTED_ALERTS - ALWAYS_FIRING - quiet == set()


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alert_says_how_bad_and_what_to_do(name: str) -> None:
    rule = alert_rules()[name]
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"].strip()
    description = rule["annotations"]["description"]
    anchor = f"docs/monitoring.md#{name.lower()}"
    assert anchor in description, f"{name}: the description must link {anchor}"
    headings = re.findall(r"^#+ (\w+)\s*$", RUNBOOK.read_text(), flags=re.MULTILINE)
    assert name in headings, f"docs/monitoring.md has no section for {name}"


def test_rules_name_the_connector_that_is_registered() -> None:
    connector = yaml.safe_load((REPO_ROOT / "connectors" / "orders-cdc.json").read_text())["name"]
    expr = alert_rules()["ConnectorNotRunning"]["expr"]
    assert f'connector="{connector}"' in expr


def test_native_prometheus_config_is_valid(promtool: Path, tmp_path: Path) -> None:
    ms = MonitoringSettings.from_env({"ORDERSTREAM_RUNTIME_DIR": str(tmp_path)})
    files = config.prometheus_files(ms, config.PROMETHEUS_CONFIG.read_text(), config.repo_rules())
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    result = run([promtool, "check", "config", tmp_path / "prometheus.yml"])
    assert result.returncode == 0, result.stdout + result.stderr
    # the rule files are found through rule_files and checked with the config
    assert f"SUCCESS: {len(config.repo_rules())} rule files found" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_compose_has_targets_for_every_job() -> None:
    text = config.PROMETHEUS_CONFIG.read_text()
    wanted = {Path(name).name for name in config.target_files(text)}
    present = {p.name for p in config.COMPOSE_TARGETS_DIR.glob("*.yml")}
    assert wanted == present
    for path in config.COMPOSE_TARGETS_DIR.glob("*.yml"):
        for group in yaml.safe_load(path.read_text()):
            assert group["labels"]["instance"], f"{path.name}: every target needs an instance"


def test_every_job_reads_its_targets_from_a_file() -> None:
    text = config.PROMETHEUS_CONFIG.read_text()
    for job in yaml.safe_load(text)["scrape_configs"]:
        assert job["file_sd_configs"][0]["files"] == [f"targets/{job['job_name']}.yml"]
    assert set(config.scrape_jobs(text)) == {
        "kafka", "connect", "dataflow", "mysqld", "prometheus", "alertmanager",
    }  # fmt: skip
