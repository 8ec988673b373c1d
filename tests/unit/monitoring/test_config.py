"""Native rendering of the monitoring configuration, and the monitoring settings."""

from __future__ import annotations

import pytest
import yaml

from orderstream.monitoring import config
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.settings import SettingsError


def test_native_targets_follow_the_settings() -> None:
    ms = MonitoringSettings.from_env(
        {
            "ORDERSTREAM_KAFKA_JMX_PORTS": "8071,8072,8073",
            "ORDERSTREAM_MYSQLD_EXPORTER_PORT": "9999",
        }
    )
    targets = config.native_targets(ms)
    assert targets["kafka"][1] == {"targets": ["127.0.0.1:8072"], "labels": {"instance": "kafka-2"}}
    assert targets["mysqld"] == [{"targets": ["127.0.0.1:9999"], "labels": {"instance": "mariadb"}}]
    assert [g["labels"]["instance"] for g in targets["connect"]] == ["connect-1", "connect-2"]


def test_prometheus_files_copy_config_and_rules() -> None:
    ms = MonitoringSettings.from_env({})
    text = config.PROMETHEUS_CONFIG.read_text()
    files = config.prometheus_files(ms, text, {"a.yml": "groups: []\n"})
    assert files["prometheus.yml"] == text
    assert files["rules/a.yml"] == "groups: []\n"
    assert yaml.safe_load(files["targets/alertmanager.yml"])[0]["targets"] == ["127.0.0.1:9093"]


def test_native_targets_cover_every_file_prometheus_yml_names() -> None:
    files = config.prometheus_files(
        MonitoringSettings.from_env({}), config.PROMETHEUS_CONFIG.read_text(), {}
    )
    named = config.target_files(config.PROMETHEUS_CONFIG.read_text())
    assert named == {name for name in files if name.startswith("targets/")}


def test_exporter_cnf() -> None:
    ms = MonitoringSettings.from_env({"ORDERSTREAM_DB_EXPORTER_PASSWORD": "p#w;d"})
    cnf = config.mysqld_exporter_cnf(ms)
    assert cnf.splitlines() == [
        "[client]", 'user="exporter"', 'password="p#w;d"', "host=127.0.0.1", "port=3306",
    ]  # fmt: skip


def test_exporter_password_with_a_quote_is_refused() -> None:
    ms = MonitoringSettings.from_env({"ORDERSTREAM_DB_EXPORTER_PASSWORD": 'a"b'})
    with pytest.raises(SettingsError, match="ORDERSTREAM_DB_EXPORTER_PASSWORD"):
        config.mysqld_exporter_cnf(ms)


def test_a_malformed_port_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="ORDERSTREAM_ALERTMANAGER_PORT='x'"):
        MonitoringSettings.from_env({"ORDERSTREAM_ALERTMANAGER_PORT": "x"})


def test_alert_log_defaults_under_the_runtime_dir() -> None:
    ms = MonitoringSettings.from_env({"ORDERSTREAM_RUNTIME_DIR": "/rt"})
    assert str(ms.alert_log) == "/rt/alerts/notifications.jsonl"
