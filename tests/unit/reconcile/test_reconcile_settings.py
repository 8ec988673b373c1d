"""reconcile reads only its own settings: a broken stack-only variable cannot stop it."""

from __future__ import annotations

import pytest

from orderstream.knobs import SettingsError
from orderstream.reconcile.settings import ReconcileSettings

STACK_ONLY_BROKEN = {
    "ORDERSTREAM_KAFKA_HEAP": "lots",
    "ORDERSTREAM_CONNECT_HEAP": "12",
    "ORDERSTREAM_KAFKA_JMX_PORTS": "1,2",
    "ORDERSTREAM_CONNECT_PORTS": "nope",
    "ORDERSTREAM_KAFKA_CONTROLLER_PORTS": "x",
    "ORDERSTREAM_DB_CDC_PASSWORD": "",
    "ORDERSTREAM_DATAFLOW_WORKERS": "many",
}


def test_stack_only_variables_do_not_stop_reconcile() -> None:
    settings = ReconcileSettings.from_env(
        {**STACK_ONLY_BROKEN, "ORDERSTREAM_TOPIC_REVENUE": "rev", "ORDERSTREAM_DB_PORT": "3307"}
    )
    assert settings.topic_revenue == "rev"
    assert settings.database.port == 3307
    assert settings.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"


@pytest.mark.parametrize(
    "name, value",
    [
        ("ORDERSTREAM_DB_PORT", "port"),
        ("ORDERSTREAM_WINDOW_SECONDS", "0"),
        ("ORDERSTREAM_ALLOWED_LATENESS_SECONDS", "soon"),
        ("ORDERSTREAM_TOPIC_PROCESSED", " "),
    ],
)
def test_a_bad_variable_reconcile_uses_is_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        ReconcileSettings.from_env({name: value})


def test_the_password_never_prints() -> None:
    settings = ReconcileSettings.from_env({"ORDERSTREAM_DB_APP_PASSWORD": "s3cret-pw"})
    assert "s3cret-pw" not in repr(settings)
