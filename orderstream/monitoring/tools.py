"""The Debian monitoring binaries (prometheus, promtool, prometheus-alertmanager, amtool,
prometheus-mysqld-exporter), installed by scripts/lib.sh (``ensure_monitoring_packages``)
with their Debian services kept off."""

from __future__ import annotations

import shutil
from pathlib import Path

#: Where Debian installs them; also looked up on PATH.
BIN_DIRS = "/usr/bin:/usr/sbin:/bin:/sbin"


class ToolMissing(RuntimeError):
    """A monitoring binary is not installed; the message says how to get it."""


def binary(name: str) -> Path:
    path = shutil.which(name) or shutil.which(name, path=BIN_DIRS)
    if path is None:
        raise ToolMissing(
            f"{name} is not installed: run scripts/start.sh (or `source scripts/lib.sh && "
            "install_everything`), which installs the Debian monitoring packages"
        )
    return Path(path)
