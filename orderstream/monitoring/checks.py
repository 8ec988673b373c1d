"""Configuration checks run before Prometheus or Alertmanager (re)start: promtool and amtool.

A broken rule file or prometheus.yml must stop `orderstream stack start` with the file and
line, not leave Prometheus crash-looping or silently keeping its old rules. The rendered
files are verbatim copies of the repository's, so the message names the repository file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


class ConfigInvalid(RuntimeError):
    """promtool or amtool refused a configuration; the message names file and line."""


def _failures(output: str) -> str:
    """The lines of promtool/amtool output that say what is wrong."""
    picked = []
    for line in output.splitlines():
        line = re.sub(r"^Checking \S+\s*", "", line.strip())
        line = re.sub(r"^FAILED:?\s*", "", line)
        if line and not line.startswith(("SUCCESS", "amtool: error: failed to validate")):
            picked.append(line)
    return "; ".join(dict.fromkeys(picked)) or output.strip()


def check_prometheus_config(promtool: Path, config_dir: Path) -> None:
    """``promtool check config`` on a rendered directory (prometheus.yml and its rules)."""
    result = subprocess.run(
        [str(promtool), "check", "config", str(config_dir / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        detail = _failures(result.stderr + result.stdout)
        detail = detail.replace(f"{config_dir}/rules/", "prometheus/rules/")
        detail = detail.replace(f"{config_dir}/prometheus.yml", "prometheus.yml")
        raise ConfigInvalid(f"Prometheus configuration is invalid: {detail}")


def check_alertmanager_config(amtool: Path, path: Path) -> None:
    result = subprocess.run(
        [str(amtool), "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        detail = _failures(result.stderr + result.stdout).replace(
            str(path), "alertmanager/alertmanager.yml"
        )
        raise ConfigInvalid(f"Alertmanager configuration is invalid: {detail}")
