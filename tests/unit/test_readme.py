"""The README's settings table lists every ORDERSTREAM_* variable the code reads, and no other."""

from __future__ import annotations

import re

from orderstream.settings import REPO_ROOT

SOURCES = ["orderstream", "dataflows", "scripts"]
ENV_NAME = re.compile(r"\bORDERSTREAM_[A-Z][A-Z0-9_]*[A-Z0-9]\b")


def names_in_code() -> set[str]:
    names: set[str] = set()
    for folder in SOURCES:
        for path in (REPO_ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".sh"} and path.is_file():
                names |= set(ENV_NAME.findall(path.read_text()))
    # names that are not settings: the allow-list pattern and values passed to Connect
    return {n for n in names if not n.endswith("_")}


def names_in_readme_table() -> set[str]:
    text = (REPO_ROOT / "README.md").read_text()
    return set(re.findall(r"^\| `(ORDERSTREAM_[A-Z0-9_]+)` \|", text, flags=re.MULTILINE))


def test_every_setting_is_documented() -> None:
    assert names_in_code() - names_in_readme_table() == set()


def test_every_documented_setting_exists() -> None:
    assert names_in_readme_table() - names_in_code() == set()
