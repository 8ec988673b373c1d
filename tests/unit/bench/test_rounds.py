"""bench.rounds: every round of a run and the medians of their paired ratios."""

from __future__ import annotations

from bench.dataflow_run import DataflowResult
from bench.passthrough import PassthroughResult
from bench.rounds import Round, round_lines


def test_rounds_are_listed_with_the_medians_of_their_paired_ratios() -> None:
    rounds = [
        Round(100_000.0, 40_000.0, 56_000.0),  # ratio 0.400, 1.40 times
        Round(80_000.0, 44_000.0, 44_000.0),  # ratio 0.550, 1.00 times
        Round(90_000.0, 45_000.0, 58_500.0),  # ratio 0.500, 1.30 times
    ]
    lines = round_lines(rounds, "2 processes")
    assert "`--rounds 3`" in lines[1] and "dataflow with 2 processes" in lines[1]
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == (
        "| round | baseline events/s | dataflow events/s | ratio | 2 processes, events/s "
        "| times the dataflow |"
    )
    assert table[1] == "| 1 | 100,000 | 40,000 | 0.400 | 56,000 | 1.40 |"
    # The median of each column: of the ratios, not the ratio of the medians (0.489).
    assert table[-1] == "| **median** | 90,000 | 44,000 | **0.500** | 56,000 | **1.30** |"


def test_one_round_adds_no_lines_and_rounds_without_another_layout_have_four_columns() -> None:
    assert round_lines([Round(2.0, 1.0)], None) == []
    lines = round_lines([Round(2.0, 1.0), Round(4.0, 1.0)], None)
    table = [line for line in lines if line.startswith("| ")]
    assert table[0] == "| round | baseline events/s | dataflow events/s | ratio |"
    assert table[-1] == "| **median** | 3 | 1 | **0.375** |"


def test_peers_drain_in_every_round_and_the_dataflow_is_compared_round_by_round() -> None:
    rounds = [
        Round(100_000.0, 60_000.0, peers={"kstreams": 40_000.0}),  # 1.500
        Round(100_000.0, 50_000.0, peers={"kstreams": 62_500.0}),  # 0.800
        Round(100_000.0, 66_000.0, peers={"kstreams": 60_000.0}),  # 1.100
        Round(100_000.0, 55_000.0),  # the peer failed in this round
    ]
    lines = round_lines(rounds, None)
    assert "each round: baseline, dataflow, Kafka Streams," in lines[1]
    table = [line for line in lines if line.startswith("| ")]
    assert table[0].endswith("| Kafka Streams, events/s | dataflow / Kafka Streams |")
    assert table[1] == "| 1 | 100,000 | 60,000 | 0.600 | 40,000 | 1.500 |"
    assert table[4] == "| 4 | 100,000 | 55,000 | 0.550 | failed |  |"
    # Over the rounds the peer ran in; the median of the paired ratios (1.100), not the
    # ratio of the median rates (57,500 / 60,000 = 0.958).
    assert table[-1] == "| **median** | 100,000 | 57,500 | **0.575** | 60,000 | **1.100** |"


def test_a_round_takes_each_peer_rate_from_its_drain() -> None:
    def drained(records: int, seconds: float) -> PassthroughResult:
        return PassthroughResult(
            records=records,
            seconds=seconds,
            cpu_seconds=1.0,
            total_cpu_seconds=1.0,
            peak_rss_bytes=1,
        )

    flow = DataflowResult(
        records=1000,
        seconds=4.0,
        seconds_with_startup=5.0,
        cpu_seconds=1.0,
        total_cpu_seconds=1.0,
        peak_rss_bytes=1,
        max_tracked_orders=1,
        processes=1,
        metrics={},
    )
    one = Round.of(drained(1000, 2.0), flow, None, {"quix": drained(1000, 10.0)})
    assert one.peers == {"quix": 100.0}
    assert one.ahead_of("quix") == 2.5 and one.ahead_of("kstreams") is None
    assert "quix 100" in one.summary()
