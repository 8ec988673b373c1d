"""bench.peer_apps and the bench's --peers flag: names, build stamps, the peers' table."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import dataflow_throughput, peer_apps
from bench.kafka_topics import other_runs
from bench.passthrough import PassthroughResult
from bench.report_peers import PEER_TITLES, peer_lines
from dataflows.settings import PRODUCER_SETTINGS


def test_peers_flag_takes_known_names_and_names_the_flag_otherwise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = dataflow_throughput.parse_args(["--peers", "kstreams,quix"])
    assert args.peers == ["kstreams", "quix"]
    assert dataflow_throughput.parse_args([]).peers == []
    with pytest.raises(SystemExit) as exit_info:
        dataflow_throughput.parse_args(["--peers", "kstreams,flink"])
    assert exit_info.value.code != 0
    assert "--peers: unknown flink" in capsys.readouterr().err


def test_every_peer_has_a_title_and_its_sources_in_the_repository() -> None:
    assert set(PEER_TITLES) == set(peer_apps.NAMES)
    assert (peer_apps.KSTREAMS_DIR / "pom.xml").is_file()
    assert list((peer_apps.KSTREAMS_DIR / "src").rglob("PeerApp.java"))
    requirements = (peer_apps.QUIX_DIR / "requirements.txt").read_text().split()
    assert requirements and all("==" in line for line in requirements)  # pinned


def test_the_build_stamp_changes_with_the_sources(tmp_path: Path) -> None:
    pom = peer_apps.KSTREAMS_DIR / "pom.xml"
    before = peer_apps._digest([pom])
    assert before == peer_apps._digest([pom])
    assert before != peer_apps._digest([pom, peer_apps.QUIX_DIR / "requirements.txt"])


def test_unknown_peer_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown peer 'flink'"):
        peer_apps.run_peer("flink", "127.0.0.1:1", "t", "run", 1, tmp_path, 6)


def test_peer_table_ratios_come_from_the_same_run() -> None:
    peer = PassthroughResult(
        records=1000, seconds=2.0, cpu_seconds=1.5, total_cpu_seconds=3.0, peak_rss_bytes=2**20
    )
    lines = peer_lines({"quix": peer}, baseline_rate=2000.0, dataflow_rate=250.0)
    # 500 events/s: 0.25 of the baseline, the dataflow 0.5 of it; 1,500 CPU s per million.
    assert lines[-1] == (
        f"| {PEER_TITLES['quix']} | 2.0 | 500 | 0.250 | 0.500 | 1500.0 | 1 | not reported |"
    )
    assert peer_lines({}, baseline_rate=2000.0, dataflow_rate=250.0) == []
    assert "the same run" in lines[1]
    several = peer_lines({"quix": peer}, baseline_rate=2000.0, dataflow_rate=250.0, rounds=3)
    assert "round 1 of 3; the rounds above have every round's rate" in several[1]


def test_peer_table_shows_the_window_inputs_a_peer_dropped_as_late() -> None:
    peer = PassthroughResult(
        records=1000,
        seconds=2.0,
        cpu_seconds=1.5,
        total_cpu_seconds=3.0,
        peak_rss_bytes=2**20,
        window_inputs=400,
        late_dropped=30,
    )
    lines = peer_lines({"kstreams": peer}, baseline_rate=2000.0, dataflow_rate=250.0)
    assert lines[-1].endswith("| 30 of 400 (7.5%) |")


def test_each_rounds_peer_writes_apart_inside_the_runs_topics() -> None:
    run = "20261205T011410-27941"
    first, later = (
        peer_apps.peer_label(run, "kstreams"),
        peer_apps.peer_label(run, "kstreams", "r2"),
    )
    assert first == f"bench-{run}-kstreams" and first != later
    names = [f"{label}-processed" for label in (first, later)]
    # Deleted with the run (delete_run_topics' marker) and never taken for another run's.
    assert all(f"bench-{run}-" in name for name in names)
    assert other_runs(names, run) == []


def test_peers_write_with_the_dataflows_producer_settings() -> None:
    settings = dict(argument.split("=", 1) for argument in peer_apps.producer_arguments())
    assert set(settings) == set(peer_apps.PEER_PRODUCER_KEYS)
    for key, value in settings.items():
        assert value == str(PRODUCER_SETTINGS[key]).lower()
    assert settings["linger.ms"] == str(PRODUCER_SETTINGS["linger.ms"])
    assert settings["enable.idempotence"] == "true"  # as Java and librdkafka spell it
