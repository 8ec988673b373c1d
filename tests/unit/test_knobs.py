"""orderstream.knobs: each shared knob has one default, read the same way by every program."""

from __future__ import annotations

import pytest

from orderstream import knobs
from orderstream.knobs import Database, SettingsError, TopicNames
from orderstream.settings import Settings


def test_the_database_of_the_stack_is_the_one_loadgen_reads() -> None:
    env = {"ORDERSTREAM_DB_PORT": "3307", "ORDERSTREAM_DB_APP_USER": "app"}
    assert Settings.from_env(env).database == Database.from_env(env)
    assert Database.from_env(env).where == "database app@127.0.0.1:3307/shop"


def test_the_loadgens_settings_ignore_a_broken_stack_only_variable() -> None:
    env = {"ORDERSTREAM_KAFKA_HEAP": "lots", "ORDERSTREAM_CONNECT_PORTS": "1"}
    assert Database.from_env(env) == Database.from_env({})
    assert knobs.demo_rate(env) == knobs.demo_rate({}) == 2.0


def test_a_password_is_not_in_the_repr() -> None:
    assert "shop-app-dev-password" not in repr(Database.from_env({}))


def test_topic_names_by_contract_name() -> None:
    names = TopicNames.from_env({"ORDERSTREAM_TOPIC_DLQ": "dead"}).by_contract_name()
    assert names["orders-dlq"] == "dead" and names["mysql-orders"] == "mysql-orders"


@pytest.mark.parametrize(
    ("reader", "name", "value"),
    [
        (knobs.demo_rate, "ORDERSTREAM_DEMO_RATE", "nan"),
        (knobs.kafka_ports, "ORDERSTREAM_KAFKA_PORTS", "1,2"),
        (knobs.window_seconds, "ORDERSTREAM_WINDOW_SECONDS", "0"),
        (Database.from_env, "ORDERSTREAM_DB_APP_PASSWORD", " "),
    ],
)
def test_bad_values_name_the_variable(reader: object, name: str, value: str) -> None:
    assert callable(reader)
    with pytest.raises(SettingsError, match=name):
        reader({name: value})


def test_port_clashes_name_both_settings() -> None:
    with pytest.raises(SettingsError, match="B: port 2 is also used by A"):
        knobs.check_port_clashes([("A", (1, 2)), ("B", (2,))])


def test_the_stack_settings_do_not_print_passwords() -> None:
    text = repr(Settings.from_env({"ORDERSTREAM_DB_CDC_PASSWORD": "cdc-secret"}))
    assert "cdc-secret" not in text and "shop-app-dev-password" not in text
