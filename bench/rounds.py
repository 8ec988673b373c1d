"""Rounds (``bench.dataflow_throughput --rounds``): each round's rates, its paired ratios and
their medians. On a noisy machine one pair's ratio moves by 10-15 % from run to run; the
median of a few pairs says more. The peers (``--peers``) drain in every round too: Kafka
Streams' rate moved by half between two runs on the same brokers (bench/README.md)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.dataflow_run import DataflowResult
from bench.passthrough import PassthroughResult
from bench.report_peers import PEER_NAMES


@dataclass(frozen=True)
class Round:
    """Events/s of one round: the baseline, the dataflow, (``--also-processes``) the other
    layout and (``--peers``) each peer, measured one after the other on the run's input."""

    baseline: float
    dataflow: float
    other: float | None = None
    #: By peer name; a peer that failed in the round is missing.
    peers: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        baseline: PassthroughResult,
        dataflow: DataflowResult,
        other: DataflowResult | None = None,
        peers: Mapping[str, PassthroughResult] | None = None,
    ) -> Round:
        return cls(
            baseline.records / baseline.seconds,
            dataflow.records / dataflow.seconds,
            None if other is None else other.records / other.seconds,
            {name: peer.records / peer.seconds for name, peer in (peers or {}).items()},
        )

    @property
    def ratio(self) -> float:
        return self.dataflow / self.baseline

    @property
    def scaling(self) -> float | None:
        return None if self.other is None else self.other / self.dataflow

    def ahead_of(self, peer: str) -> float | None:
        """The dataflow's rate over ``peer``'s in this round (None: the peer did not run)."""
        rate = self.peers.get(peer)
        return None if rate is None else self.dataflow / rate

    def summary(self) -> str:
        other = "" if self.other is None else f", other layout {self.other:,.0f} events/s"
        peers = "".join(f", {name} {rate:,.0f}" for name, rate in self.peers.items())
        return (
            f"baseline {self.baseline:,.0f}, dataflow {self.dataflow:,.0f} events/s "
            f"(ratio {self.ratio:.3f}){other}{peers}"
        )


def round_lines(rounds: Sequence[Round], other: str | None) -> list[str]:
    """The rounds and their medians; nothing for a single round. ``other``: the second
    layout, e.g. "2 processes" (None: none was measured)."""
    if len(rounds) < 2:
        return []
    peers = list(dict.fromkeys(name for one in rounds for name in one.peers))
    order = "baseline, dataflow" + ("" if other is None else f", dataflow with {other}")
    order += "".join(f", {PEER_NAMES.get(name, name)}" for name in peers)
    header = ["round", "baseline events/s", "dataflow events/s", "ratio"]
    if other is not None:
        header += [f"{other}, events/s", "times the dataflow"]
    for name in peers:
        title = PEER_NAMES.get(name, name)
        header += [f"{title}, events/s", f"dataflow / {title}"]
    rows = [_round_cells(str(number), one, peers) for number, one in enumerate(rounds, 1)]
    median = statistics.median
    medians = [
        "**median**",
        f"{median(one.baseline for one in rounds):,.0f}",
        f"{median(one.dataflow for one in rounds):,.0f}",
        f"**{median(one.ratio for one in rounds):.3f}**",
    ]
    if other is not None:
        medians += [
            f"{median(one.other or 0.0 for one in rounds):,.0f}",
            f"**{median(one.scaling or 0.0 for one in rounds):.2f}**",
        ]
    for name in peers:  # over the rounds in which the peer ran
        rates = [one.peers[name] for one in rounds if name in one.peers]
        ahead = [ratio for one in rounds if (ratio := one.ahead_of(name)) is not None]
        medians += [f"{median(rates):,.0f}", f"**{median(ahead):.3f}**"]
    return [
        "",
        f"Rounds on the same input (`--rounds {len(rounds)}`; each round: {order}, one after "
        "the other, into fresh output topics; round 1 is the table above, later rounds skip "
        "the revenue check):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(header),
        *("| " + " | ".join(cells) + " |" for cells in [*rows, medians]),
    ]


def _round_cells(name: str, one: Round, peers: Sequence[str]) -> list[str]:
    cells = [name, f"{one.baseline:,.0f}", f"{one.dataflow:,.0f}", f"{one.ratio:.3f}"]
    if one.other is not None and one.scaling is not None:
        cells += [f"{one.other:,.0f}", f"{one.scaling:.2f}"]
    for peer in peers:
        ahead = one.ahead_of(peer)
        cells += ["failed", ""] if ahead is None else [f"{one.peers[peer]:,.0f}", f"{ahead:.3f}"]
    return cells
