"""The peers' table (bench/peer_apps.py): each peer's drain of the run's topic beside the
dataflow's."""

from __future__ import annotations

from bench.passthrough import PassthroughResult
from bench.procstats import MIB

#: Short names, for column headers.
PEER_NAMES = {"kstreams": "Kafka Streams", "quix": "Quix Streams"}
PEER_TITLES = {
    "kstreams": "Kafka Streams 4.1.1 (RocksDB, at-least-once, 1 thread; dedupe, processed "
    "records, revenue, transition counts)",
    "quix": "Quix Streams (own venv; dedupe, revenue)",
}


def peer_lines(
    peers: dict[str, PassthroughResult],
    baseline_rate: float,
    dataflow_rate: float,
    rounds: int = 1,
) -> list[str]:
    """The peers' table (events/s of the run's baseline and dataflow for the ratios);
    ``rounds``: how many the run had (the peers drained in each)."""
    if not peers:
        return []
    which = (
        f"round 1 of {rounds}; the rounds above have every round's rate and the medians"
        if rounds > 1
        else "the same run"
    )
    lines = [
        "",
        f"Peers on the same topic, {which} (bench/peer_apps.py; drain time until every "
        "record went through every stage, repartition topics included):",
        "",
        "| peer | drain s | events/s | peer / baseline | dataflow / peer | CPU s per million "
        "| peak RSS MiB | window inputs dropped as late |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, peer in peers.items():
        rate = peer.records / peer.seconds
        lines.append(
            f"| {PEER_TITLES.get(name, name)} | {peer.seconds:.1f} | {rate:,.0f} "
            f"| {rate / baseline_rate:.3f} | {dataflow_rate / rate:.3f} "
            f"| {peer.cpu_seconds / peer.records * 1e6:.1f} | {peer.peak_rss_bytes / MIB:.0f} "
            f"| {_dropped(peer)} |"
        )
    return lines


def _dropped(peer: PassthroughResult) -> str:
    if peer.late_dropped is None or not peer.window_inputs:
        return "not reported"
    share = peer.late_dropped / peer.window_inputs
    return f"{peer.late_dropped:,} of {peer.window_inputs:,} ({share:.1%})"
