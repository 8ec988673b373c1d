"""Where the Debian monitoring binaries are: unpacked by scripts/lib.sh
(``ensure_monitoring_packages``) under ``<runtime>/debian/root``, never installed system-wide."""

from __future__ import annotations

from pathlib import Path


class ToolMissing(RuntimeError):
    """A monitoring binary is not unpacked; the message says how to get it."""


def debian_root(runtime_dir: Path) -> Path:
    return runtime_dir / "debian" / "root"


def binary(runtime_dir: Path, name: str) -> Path:
    """Path of ``prometheus``, ``promtool``, ``prometheus-alertmanager``, ``amtool`` or
    ``prometheus-mysqld-exporter``."""
    path = debian_root(runtime_dir) / "usr" / "bin" / name
    if not path.exists():
        raise ToolMissing(
            f"{name} is missing at {path}: run scripts/start.sh (or `source scripts/lib.sh && "
            "install_everything`), which unpacks the Debian monitoring packages"
        )
    return path
