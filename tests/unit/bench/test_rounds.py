"""bench.rounds: every round of a run and the medians of their paired ratios."""

from __future__ import annotations

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
