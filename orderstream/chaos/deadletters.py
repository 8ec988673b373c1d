"""What a scenario dead-lettered: the dead-letter topic's records since a mark, by reason."""

from __future__ import annotations

import json
from collections import Counter

from orderstream.chaos.midstream import TopicWatch
from orderstream.settings import Settings

#: A dead letter whose value is not the dataflow's JSON object (it should not happen).
UNREADABLE = "unreadable"


def reason_of(value: bytes | None) -> str:
    """The ``reason`` field of a dead-letter record (docs/dataflow.md)."""
    try:
        obj = json.loads(value or b"")
    except ValueError:
        return UNREADABLE
    reason = obj.get("reason") if isinstance(obj, dict) else None
    return reason if isinstance(reason, str) and reason else UNREADABLE


def describe(reasons: Counter[str]) -> str:
    """``0`` or ``3 (window_expired 2, bad_amount 1)``: how many, and why, most first."""
    total = sum(reasons.values())
    if not total:
        return "0"
    why = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common())
    return f"{total} ({why})"


class DeadLetterMark:
    """The dead-letter topic's end offsets when a scenario began; :meth:`since` reads the
    records added after them (all of a topic recreated meanwhile, as by ``stack-purge``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topics.dlq
        watch = TopicWatch(settings, self.topic)
        self.starts = dict(watch.next)
        watch.close()

    def since(self, timeout: float = 60) -> Counter[str]:
        reasons: Counter[str] = Counter()

        def count(_key: bytes | None, value: bytes | None) -> None:
            reasons[reason_of(value)] += 1

        watch = TopicWatch(self.settings, self.topic, self.starts)
        try:
            if not watch.read_to(count, watch.end_offsets(), timeout):
                raise RuntimeError(f"could not read {self.topic} to its end in {timeout:.0f}s")
        finally:
            watch.close()
        return reasons
