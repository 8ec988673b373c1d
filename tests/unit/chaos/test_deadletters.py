"""What a scenario dead-lettered, by the dataflow's reason field."""

from __future__ import annotations

import json
from collections import Counter

from orderstream.chaos.deadletters import UNREADABLE, describe, reason_of


def test_reason_of_reads_the_reason_field_and_flags_anything_else() -> None:
    assert reason_of(json.dumps({"reason": "window_expired", "detail": "x"}).encode()) == (
        "window_expired"
    )
    for bad in (None, b"", b"not json", b"[]", b'{"reason": 3}', b'{"reason": ""}', b"{}"):
        assert reason_of(bad) == UNREADABLE


def test_describe_says_how_many_and_why_most_first() -> None:
    assert describe(Counter()) == "0"
    reasons = Counter({"bad_amount": 1, "window_expired": 2})
    assert describe(reasons) == "3 (window_expired 2, bad_amount 1)"
