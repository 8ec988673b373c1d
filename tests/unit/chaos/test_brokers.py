"""brokers-2-of-3-down: under min ISR nothing may commit (the producers block)."""

from __future__ import annotations

from orderstream.chaos.brokers import judge_blocked


def test_no_growth_on_the_partitions_that_answered_both_times_is_blocked() -> None:
    held, note = judge_blocked("t", {0: 5, 1: 7, 2: 9}, {0: 5, 2: 9, 3: 4})
    assert held
    assert note == "t committed nothing on the 2 partition(s) that answered (producers blocked)"


def test_a_partition_that_committed_records_under_min_isr_fails() -> None:
    held, note = judge_blocked("t", {0: 5, 1: 7}, {0: 5, 1: 9})
    assert not held
    assert note == "records were committed while under min ISR: t[1] +2"


def test_no_partition_answering_is_said_not_hidden() -> None:
    held, note = judge_blocked("t", {}, {0: 1})
    assert held and "no partition of t answered" in note
