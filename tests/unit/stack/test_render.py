"""The one renderer of each kind of file: properties, INI, SQL string literals."""

from __future__ import annotations

from pathlib import Path

import pymysql
import pytest

from orderstream.stack import render
from orderstream.stack.components.mariadb import users_sql
from tests.unit.stack.conftest import make_context


def test_properties_renders_booleans_lower_case_and_rejects_newlines() -> None:
    assert render.properties({"a": True, "b": 3}) == "a=true\nb=3\n"
    with pytest.raises(ValueError, match="x"):
        render.properties({"x": "one\ntwo"})


def test_ini_sections_bare_keys_and_no_newlines() -> None:
    text = render.ini({"s": {"a": 1, "flag": None, "p": Path("/x")}, "t": {"b": False}})
    assert text == "[s]\na=1\nflag\np=/x\n\n[t]\nb=false\n"
    with pytest.raises(ValueError, match="k"):
        render.ini({"s": {"k": "a\nb"}})


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("back\\slash", "'back\\\\slash'"),
        ('dou"ble', "'dou\\\"ble'"),
        ("new\nline", "'new\\nline'"),
        ("nul\0byte", "'nul\\0byte'"),
        ("'; DROP USER root; --", "'\\'; DROP USER root; --'"),
    ],
)
def test_production_sql_quoter_escapes_what_would_end_the_literal(
    value: str, literal: str
) -> None:
    assert render.quote_sql_string(value) == literal


def test_quoted_literal_reads_back_as_the_value() -> None:
    # pymysql's own literal() is the reference: the server reads back exactly the value
    for value in ["it's", "a\\b", "x\ny", "p%w\"d", "\0"]:
        assert render.quote_sql_string(value) == pymysql.converters.escape_item(value, "utf8mb4")


def test_fill_sql_quotes_every_value_and_keeps_percent_literals() -> None:
    sql = render.fill_sql("CREATE USER %(u)s@'%%' IDENTIFIED BY %(p)s;", {"u": "a", "p": "it's"})
    assert sql == "CREATE USER 'a'@'%' IDENTIFIED BY 'it\\'s';"
    with pytest.raises(KeyError, match="missing"):
        render.fill_sql("%(missing)s", {})


def test_users_sql_quotes_every_value() -> None:
    s = make_context({"ORDERSTREAM_DB_APP_PASSWORD": "it's"}).settings
    template = (
        "CREATE USER %(app_user)s IDENTIFIED BY %(app_password)s; %(cdc_user)s %(cdc_password)s"
    )
    sql = users_sql(template, s)
    assert sql.startswith("CREATE USER 'shop_app' IDENTIFIED BY 'it\\'s';")


def test_the_shipped_users_sql_has_only_quoted_values() -> None:
    from orderstream.settings import REPO_ROOT

    s = make_context({"ORDERSTREAM_DB_CDC_PASSWORD": "x'y"}).settings
    sql = users_sql((REPO_ROOT / "mysql-init" / "02-users.sql").read_text(), s)
    assert "%(" not in sql and "'x\\'y'" in sql and "@'%'" in sql


def test_write_if_changed(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "a.properties"
    assert render.write_if_changed(path, "a=1\n", mode=0o600)
    assert not render.write_if_changed(path, "a=1\n", mode=0o600)
    assert render.write_if_changed(path, "a=2\n", mode=0o600)
    assert path.read_text() == "a=2\n" and path.stat().st_mode & 0o777 == 0o600
