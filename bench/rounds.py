"""Rounds (``bench.dataflow_throughput --rounds``): each round's rates, its paired ratios and
their medians. On a noisy machine one pair's ratio moves by 10-15 % from run to run; the
median of a few pairs says more."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.dataflow_run import DataflowResult
from bench.passthrough import PassthroughResult


@dataclass(frozen=True)
class Round:
    """Events/s of one round: the baseline, the dataflow and (``--also-processes``) the
    other layout, measured one after the other on the run's input."""

    baseline: float
    dataflow: float
    other: float | None = None

    @classmethod
    def of(
        cls,
        baseline: PassthroughResult,
        dataflow: DataflowResult,
        other: DataflowResult | None = None,
    ) -> Round:
        return cls(
            baseline.records / baseline.seconds,
            dataflow.records / dataflow.seconds,
            None if other is None else other.records / other.seconds,
        )

    @property
    def ratio(self) -> float:
        return self.dataflow / self.baseline

    @property
    def scaling(self) -> float | None:
        return None if self.other is None else self.other / self.dataflow

    def summary(self) -> str:
        other = "" if self.other is None else f", other layout {self.other:,.0f} events/s"
        return (
            f"baseline {self.baseline:,.0f}, dataflow {self.dataflow:,.0f} events/s "
            f"(ratio {self.ratio:.3f}){other}"
        )



def round_lines(rounds: Sequence[Round], other: str | None) -> list[str]:
    """The rounds and their medians; nothing for a single round. ``other``: the second
    layout, e.g. "2 processes" (None: none was measured)."""
    if len(rounds) < 2:
        return []
    order = "baseline, dataflow" + ("" if other is None else f", dataflow with {other}")
    header = ["round", "baseline events/s", "dataflow events/s", "ratio"]
    if other is not None:
        header += [f"{other}, events/s", "times the dataflow"]
    rows = [_round_cells(str(number), one) for number, one in enumerate(rounds, 1)]
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


def _round_cells(name: str, one: Round) -> list[str]:
    cells = [name, f"{one.baseline:,.0f}", f"{one.dataflow:,.0f}", f"{one.ratio:.3f}"]
    if one.other is not None and one.scaling is not None:
        cells += [f"{one.other:,.0f}", f"{one.scaling:.2f}"]
    return cells
