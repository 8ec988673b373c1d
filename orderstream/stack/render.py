"""The one renderer of each kind of configuration file the stack writes.

- Java ``.properties`` (Kafka nodes, Connect workers): :func:`properties`.
- INI (``my.cnf``, ``supervisord.conf``): :func:`ini`; supervisord's own ``%`` expansion is
  escaped by :func:`orderstream.stack.supervisor.supervisord_conf`, which knows it.
- SQL with string literals (``mysql-init/02-users.sql``): :func:`fill_sql`, which quotes every
  value with :func:`quote_sql_string`.

Pure: text in, text out. Writing files is :func:`write_if_changed`'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pymysql.converters import escape_string

Value = str | int | float | bool | Path


def _text(key: str, value: Value) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"{key} has a newline in its value")
    return text


def properties(values: Mapping[str, Value]) -> str:
    """A Java .properties file; values rendered with ``str`` (booleans lower-cased)."""
    return "".join(f"{key}={_text(key, value)}\n" for key, value in values.items())


def ini(sections: Mapping[str, Mapping[str, Value | None]]) -> str:
    """An INI file: ``[section]`` then ``key=value`` lines; a ``None`` value writes the bare key
    (my.cnf flags such as ``skip-name-resolve``). Sections are separated by a blank line."""
    blocks = []
    for section, values in sections.items():
        if "]" in section or "\n" in section:
            raise ValueError(f"bad INI section name {section!r}")
        lines = [f"[{section}]"]
        for key, value in values.items():
            lines.append(key if value is None else f"{key}={_text(key, value)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def quote_sql_string(value: str) -> str:
    """A MariaDB string literal of ``value``: quotes, backslashes, NUL and newlines escaped."""
    return "'" + escape_string(value) + "'"


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


def fill_sql(template: str, values: Mapping[str, str]) -> str:
    """Fill pymysql-style ``%(name)s`` placeholders with quoted string literals (``%%`` is a
    literal ``%``); a placeholder without a value is an error naming it."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in values:
            raise KeyError(f"SQL placeholder %({name})s has no value")
        return quote_sql_string(values[name])

    return _PLACEHOLDER.sub(replace, template)


def write_if_changed(path: Path, text: str, mode: int = 0o644) -> bool:
    """Write ``text`` to ``path`` unless it already holds it; True when the file changed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text and (path.stat().st_mode & 0o777) == mode:
        return False
    path.write_text(text)
    path.chmod(mode)
    return True
