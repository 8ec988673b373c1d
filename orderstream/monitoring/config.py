"""Pure renderers of the native stack's monitoring configuration.

The repository holds one ``prometheus.yml`` (jobs, rule files, Alertmanager discovery), the
rules in ``prometheus/rules/`` and ``alertmanager/alertmanager.yml``; docker-compose mounts them
with its own target files (``prometheus/targets/compose/``). The native stack gets the same
files in ``<runtime>/conf/prometheus/`` plus targets rendered from the settings here, and an
``alertmanager.yml`` whose webhook URLs point at the native receiver (a structured change of
the loaded YAML, nothing else). Nothing here writes files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from orderstream.knobs import SettingsError
from orderstream.monitoring.settings import MonitoringSettings
from orderstream.settings import REPO_ROOT
from orderstream.stack.components import connect_workers, kafka

PROMETHEUS_CONFIG = REPO_ROOT / "prometheus.yml"
RULES_DIR = REPO_ROOT / "prometheus" / "rules"
RULE_TESTS_DIR = REPO_ROOT / "prometheus" / "tests"
COMPOSE_TARGETS_DIR = REPO_ROOT / "prometheus" / "targets" / "compose"
ALERTMANAGER_CONFIG = REPO_ROOT / "alertmanager" / "alertmanager.yml"

#: A target group of Prometheus' file-based discovery.
TargetGroup = dict[str, Any]


def scrape_jobs(config_text: str) -> list[str]:
    """Job names of a prometheus.yml, in order."""
    config = yaml.safe_load(config_text)
    return [str(job["job_name"]) for job in config.get("scrape_configs", [])]


def target_files(config_text: str) -> set[str]:
    """Every file_sd file a prometheus.yml names (scrape jobs and Alertmanager discovery)."""
    config = yaml.safe_load(config_text)
    sections = list(config.get("scrape_configs", []))
    sections += config.get("alerting", {}).get("alertmanagers", [])
    return {
        str(name)
        for section in sections
        for sd in section.get("file_sd_configs", [])
        for name in sd.get("files", [])
    }


def _group(address: str, instance: str) -> TargetGroup:
    return {"targets": [address], "labels": {"instance": instance}}


def native_targets(ms: MonitoringSettings) -> dict[str, list[TargetGroup]]:
    """The native stack's target groups per job, with readable instance labels."""
    s, host = ms.stack, ms.host
    return {
        "kafka": [
            _group(f"{host}:{port}", kafka.program_name(node))
            for node, port in zip(kafka.NODE_IDS, s.broker_jmx_ports, strict=True)
        ],
        "connect": [
            _group(f"{host}:{port}", connect_workers.program_name(worker))
            for worker, port in zip(connect_workers.WORKER_IDS, s.connect_jmx_ports, strict=True)
        ],
        # the supervised dataflow is one process (its -w workers share one /metrics)
        "dataflow": [_group(f"{host}:{s.dataflow_metrics_port}", "dataflow-1")],
        "mysqld": [_group(f"{host}:{ms.mysqld_exporter_port}", "mariadb")],
        "prometheus": [_group(f"{host}:{ms.prometheus_port}", "prometheus")],
        "alertmanager": [_group(f"{host}:{ms.alertmanager_port}", "alertmanager")],
    }


def targets_yaml(groups: list[TargetGroup]) -> str:
    header = "# rendered by orderstream from the ORDERSTREAM_* settings; do not edit\n"
    return header + yaml.safe_dump(groups, sort_keys=False)


def prometheus_files(
    ms: MonitoringSettings,
    config_text: str,
    rules: Mapping[str, str],
) -> dict[str, str]:
    """Relative path -> text of the native ``conf/prometheus`` directory.

    ``config_text`` is the repository's prometheus.yml, copied as it is (not parsed here:
    promtool judges it, see checks.py); ``rules`` maps rule file names to their text, copied
    under rules/; targets/<job>.yml for every job of :func:`native_targets`.
    """
    files = {"prometheus.yml": config_text}
    files.update({f"rules/{name}": text for name, text in rules.items()})
    for job, groups in native_targets(ms).items():
        files[f"targets/{job}.yml"] = targets_yaml(groups)
    return files


def rule_names(rule_texts: Iterable[str]) -> list[str]:
    """Names of the alerting and recording rules of some rule files."""
    return [
        str(rule.get("alert") or rule.get("record"))
        for text in rule_texts
        for group in (yaml.safe_load(text) or {}).get("groups", [])
        for rule in group.get("rules", [])
    ]


def repo_rules() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(RULES_DIR.glob("*.yml"))}


def alertmanager_config(config_text: str, receiver_url: str) -> str:
    """The Alertmanager config with every webhook URL moved to ``receiver_url`` (path kept)."""
    config = yaml.safe_load(config_text)
    base = urlsplit(receiver_url)
    for receiver in config.get("receivers", []):
        for hook in receiver.get("webhook_configs", []):
            url = urlsplit(str(hook["url"]))
            hook["url"] = urlunsplit((base.scheme, base.netloc, url.path, url.query, ""))
    header = (
        "# rendered by orderstream from alertmanager/alertmanager.yml"
        " (webhook URLs point at the native receiver); do not edit\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False)


def mysqld_exporter_cnf(ms: MonitoringSettings) -> str:
    """The exporter's ``--config.my-cnf``: a [client] section (written owner-only)."""
    for name, value in (
        ("ORDERSTREAM_DB_EXPORTER_USER", ms.db_exporter_user),
        ("ORDERSTREAM_DB_EXPORTER_PASSWORD", ms.db_exporter_password),
    ):
        if any(c in value for c in '"\n\r'):
            raise SettingsError(f"{name} must not contain a double quote or a line break")
    return "\n".join(
        [
            "[client]",
            f'user="{ms.db_exporter_user}"',
            f'password="{ms.db_exporter_password}"',
            f"host={ms.host}",
            f"port={ms.stack.db_port}",
            "",
        ]
    )
