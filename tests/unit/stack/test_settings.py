from __future__ import annotations

import pytest

from orderstream.settings import Settings, SettingsError


def test_defaults_are_the_documented_ports() -> None:
    s = Settings.from_env({})
    assert s.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    assert s.connect_urls == ("http://127.0.0.1:8083", "http://127.0.0.1:8084")
    assert s.db_port == 3306
    assert s.topic_cdc == "mysql-orders"
    assert s.window_seconds == 60


def test_bootstrap_override_wins() -> None:
    s = Settings.from_env({"ORDERSTREAM_KAFKA_BOOTSTRAP": "kafka:9092"})
    assert s.bootstrap_servers == "kafka:9092"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ORDERSTREAM_DB_PORT": "abc"}, "ORDERSTREAM_DB_PORT"),
        ({"ORDERSTREAM_DB_PORT": "70000"}, "ORDERSTREAM_DB_PORT"),
        ({"ORDERSTREAM_KAFKA_PORTS": "9092,9192"}, "ORDERSTREAM_KAFKA_PORTS"),
        ({"ORDERSTREAM_CONNECT_PORTS": "8083,x"}, "ORDERSTREAM_CONNECT_PORTS"),
        ({"ORDERSTREAM_KAFKA_HEAP": "lots"}, "ORDERSTREAM_KAFKA_HEAP"),
        ({"ORDERSTREAM_DEMO_RATE": "-1"}, "ORDERSTREAM_DEMO_RATE"),
        ({"ORDERSTREAM_DEMO_RATE": "nan"}, "ORDERSTREAM_DEMO_RATE"),
        ({"ORDERSTREAM_WINDOW_SECONDS": "0"}, "ORDERSTREAM_WINDOW_SECONDS"),
        ({"ORDERSTREAM_DB_APP_USER": " "}, "ORDERSTREAM_DB_APP_USER"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
