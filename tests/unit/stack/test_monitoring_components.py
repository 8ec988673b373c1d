"""The monitoring components: what they render and run, their ports, the configuration
checks that run before anything starts, and their status lines when nothing answers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from orderstream.knobs import SettingsError
from orderstream.monitoring import tools
from orderstream.settings import REPO_ROOT
from orderstream.stack import components
from orderstream.stack.components import StackContext, StackError
from orderstream.stack.components.alert_receiver import AlertReceiver
from orderstream.stack.components.alertmanager import Alertmanager
from orderstream.stack.components.mysqld_exporter import MysqldExporter
from orderstream.stack.components.prometheus import Prometheus
from tests.unit.stack.conftest import make_context


def test_monitoring_components_start_last_receiver_before_alertmanager_before_prometheus() -> None:
    names = [c.name for c in components.COMPONENTS]
    assert names[-4:] == ["mysqld-exporter", "alert-receiver", "alertmanager", "prometheus"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORDERSTREAM_PROMETHEUS_PORT": "3306"}, "ORDERSTREAM_PROMETHEUS_PORT: port 3306"),
        ({"ORDERSTREAM_ALERT_RECEIVER_PORT": "9093"}, "port 9093 is also used by"),
        ({"ORDERSTREAM_MYSQLD_EXPORTER_PORT": "9108"}, "port 9108"),
    ],
)
def test_port_clashes_name_both_variables(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        components.build(make_context(env))


def test_prometheus_renders_config_rules_and_native_targets(ctx: StackContext) -> None:
    prometheus = Prometheus(make_context(repo=REPO_ROOT))
    files = {str(f.path): f.text for f in prometheus.files()}
    conf = "/rt/conf/prometheus"
    assert files[f"{conf}/prometheus.yml"] == (REPO_ROOT / "prometheus.yml").read_text()
    assert f"{conf}/rules/kafka.yml" in files
    kafka = yaml.safe_load(files[f"{conf}/targets/kafka.yml"])
    assert [g["labels"]["instance"] for g in kafka] == ["kafka-1", "kafka-2", "kafka-3"]
    [program] = prometheus.programs()
    assert program.command[0] == "/usr/bin/prometheus"
    assert f"--config.file={conf}/prometheus.yml" in program.command
    assert "--storage.tsdb.path=/rt/data/prometheus" in program.command
    assert "--web.listen-address=127.0.0.1:9090" in program.command
    assert "--web.enable-lifecycle" in program.command
    assert prometheus.purge_paths() == [Path("/rt/data/prometheus")]


def test_alertmanager_runs_alone_with_the_native_receiver() -> None:
    am = Alertmanager(make_context({"ORDERSTREAM_ALERT_RECEIVER_PORT": "9195"}, repo=REPO_ROOT))
    [file] = am.files()
    hooks = [h["url"] for r in yaml.safe_load(file.text)["receivers"] for h in r["webhook_configs"]]
    assert all(url.startswith("http://127.0.0.1:9195/alerts/") for url in hooks)
    [program] = am.programs()
    assert "--cluster.listen-address=" in program.command  # no gossip port on 0.0.0.0:9094
    assert "--web.listen-address=127.0.0.1:9093" in program.command


def test_exporter_reads_an_owner_only_cnf() -> None:
    exporter = MysqldExporter(make_context({"ORDERSTREAM_DB_EXPORTER_PASSWORD": "s3cret"}))
    [file] = exporter.files()
    assert file.mode == 0o600 and 'password="s3cret"' in file.text
    [program] = exporter.programs()
    assert f"--config.my-cnf={file.path}" in program.command
    assert "s3cret" not in " ".join(program.command)


def test_receiver_runs_the_subcommand() -> None:
    [program] = AlertReceiver(make_context()).programs()
    assert program.command[:3] == ["/venv/bin/python", "-m", "orderstream.monitoring.receiver"]
    assert program.command[-2:] == ["--log", "/rt/alerts/notifications.jsonl"]


def repo_copy(tmp_path: Path) -> tuple[StackContext, Path]:
    """A copy of the repository's monitoring configuration, to break."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "prometheus", repo / "prometheus")
    shutil.copytree(REPO_ROOT / "alertmanager", repo / "alertmanager")
    shutil.copy(REPO_ROOT / "prometheus.yml", repo / "prometheus.yml")
    return make_context(root=tmp_path / "rt", repo=repo), repo


def test_the_repository_configuration_passes_the_checks(tmp_path: Path) -> None:
    ctx, _ = repo_copy(tmp_path)
    Prometheus(ctx).check_installed()
    Alertmanager(ctx).check_installed()


def test_a_broken_rule_stops_the_start_naming_file_and_line(tmp_path: Path) -> None:
    ctx, repo = repo_copy(tmp_path)
    path = repo / "prometheus" / "rules" / "dataflow.yml"
    path.write_text(
        path.read_text().replace(
            '(sum(up{job="dataflow"}) or vector(0)) == 0', 'sum(up{job="dataflow"} == 0'
        )
    )
    with pytest.raises(StackError) as err:
        Prometheus(ctx).check_installed()
    assert "prometheus/rules/dataflow.yml: 7:15" in str(err.value)
    assert "could not parse expression" in str(err.value)


def test_a_broken_prometheus_yml_stops_the_start_naming_the_line(tmp_path: Path) -> None:
    ctx, repo = repo_copy(tmp_path)
    path = repo / "prometheus.yml"
    path.write_text(path.read_text().replace("scrape_interval: 15s", "scrape_interval: 15s\n oops"))
    with pytest.raises(StackError, match=r"prometheus.yml: yaml: line \d+"):
        Prometheus(ctx).check_installed()


def test_a_broken_alertmanager_yml_stops_the_start(tmp_path: Path) -> None:
    ctx, repo = repo_copy(tmp_path)
    path = repo / "alertmanager" / "alertmanager.yml"
    path.write_text(path.read_text().replace("receiver: ticket\n", "receiver: tickets\n"))
    with pytest.raises(StackError, match='undefined receiver "tickets"'):
        Alertmanager(ctx).check_installed()


def test_missing_binaries_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(tools, "BIN_DIRS", "/nonexistent")
    ctx = make_context(repo=REPO_ROOT)
    for component in (Prometheus(ctx), Alertmanager(ctx), MysqldExporter(ctx)):
        with pytest.raises(StackError, match="is not installed: run scripts/start.sh"):
            component.check_installed()


def test_status_names_what_does_not_answer() -> None:
    env = {
        "ORDERSTREAM_PROMETHEUS_PORT": "1",
        "ORDERSTREAM_ALERTMANAGER_PORT": "2",
        "ORDERSTREAM_MYSQLD_EXPORTER_PORT": "3",
        "ORDERSTREAM_ALERT_RECEIVER_PORT": "4",
    }
    ctx = make_context(env, repo=REPO_ROOT)
    checks = [c for comp in (Prometheus(ctx), Alertmanager(ctx), MysqldExporter(ctx),
                             AlertReceiver(ctx)) for c in comp.checks()]  # fmt: skip
    assert [(c.component, c.healthy) for c in checks] == [
        ("prometheus", False),
        ("scrape-targets", False),
        ("alertmanager", False),
        ("mysqld-exporter", False),
        ("alert-receiver", False),
    ]
    assert "http://127.0.0.1:1 is not ready" in checks[0].detail
    assert "http://127.0.0.1:3/metrics does not answer" in checks[3].detail
