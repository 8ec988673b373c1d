"""The audit under a continuous load: what is due on the topics, and in which order to read.

A simulated world writes order changes all the time, also while the audit reads. The topics
show the world as the dataflow published it (a little behind); the database shows it as of
the moment it is read. The audit must never call the difference a mismatch, and must still
report an order that the dataflow really left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from orderstream.reconcile import cli, compare
from orderstream.reconcile.model import Revenue, iso, window_start
from orderstream.reconcile.truth import Truth
from orderstream.settings import Settings

W = 60
LATENESS = 10
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SETTINGS = Settings.from_env(
    {"ORDERSTREAM_WINDOW_SECONDS": str(W), "ORDERSTREAM_ALLOWED_LATENESS_SECONDS": str(LATENESS)}
)
CLOSED = T0 - timedelta(minutes=5)  # a window long closed, the same on both sides
CLOSED_REVENUE = Revenue(Decimal("42.42"), paid_count=1, net=Decimal("42.42"))


def cutoff(read_at: datetime, grace: float = 5) -> compare.Cutoff:
    return compare.Cutoff(read_at, timedelta(seconds=LATENESS), timedelta(seconds=grace))


def test_cutoff_horizon_is_read_time_minus_lateness_minus_grace() -> None:
    c = cutoff(T0)
    assert c.horizon == T0 - timedelta(seconds=15)
    window = T0 - timedelta(seconds=15 + W)  # ends exactly at the horizon: due
    assert not c.window_open(window, W)
    assert c.window_open(window + timedelta(microseconds=1), W)
    assert not c.order_pending(c.horizon)
    assert c.order_pending(c.horizon + timedelta(microseconds=1))
    assert c.order_pending(T0 + timedelta(seconds=3))  # written after the topics were read


def test_an_order_changed_while_the_audit_ran_is_pending_not_wrong() -> None:
    # Topic read at T0 saw version 4; the database, read after it, already has 6.
    c = cutoff(T0)
    section = compare.compare_processed(
        {1: (6, T0 + timedelta(seconds=1))}, {1: 4}, pending=c.order_pending
    )
    assert section.diffs == () and section.open == 1


def test_an_order_inserted_while_the_audit_ran_is_pending() -> None:
    c = cutoff(T0)
    section = compare.compare_processed(
        {1: (1, T0 + timedelta(seconds=1))}, {}, pending=c.order_pending
    )
    assert section.diffs == () and section.open == 1


def test_an_order_left_behind_by_the_dataflow_is_still_a_mismatch() -> None:
    c = cutoff(T0)
    section = compare.compare_processed(
        {1: (5, T0 - timedelta(seconds=16)), 2: (3, T0 - timedelta(minutes=3))},
        {1: 4},
        pending=c.order_pending,
    )
    assert [(d.subject, d.expected, d.actual) for d in section.diffs] == [
        ("order 1", "5", "4"),
        ("order 2", "3", compare.MISSING),
    ]


@dataclass
class World:
    """Order versions written every ``step`` seconds, round robin over ``orders`` orders,
    plus one insert per ``insert_every`` steps; the dataflow publishes ``latency`` later."""

    clock: datetime = T0
    step: float = 0.25
    orders: int = 5
    insert_every: int = 7
    latency: float = 0.3
    versions: dict[int, list[tuple[int, datetime]]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    written_through: datetime = T0
    writes: int = 0

    def __post_init__(self) -> None:
        for oid in range(1, self.orders + 1):
            self.versions[oid] = [(1, T0 - timedelta(minutes=10))]

    def advance(self, seconds: float) -> None:
        target = self.clock + timedelta(seconds=seconds)
        t = self.written_through
        while t + timedelta(seconds=self.step) <= target:
            t += timedelta(seconds=self.step)
            self.writes += 1
            if self.writes % self.insert_every == 0:
                self.versions[len(self.versions) + 1] = [(1, t)]
            else:
                oid = self.writes % self.orders + 1
                self.versions[oid].append((self.versions[oid][-1][0] + 1, t))
        self.written_through = t
        self.clock = target

    def as_of(self, at: datetime) -> dict[int, tuple[int, datetime]]:
        out = {}
        for oid, history in self.versions.items():
            seen = [v for v in history if v[1] <= at]
            if seen:
                out[oid] = seen[-1]
        return out

    # the three readers check() takes

    def now(self) -> datetime:
        return self.clock

    def read_topic(self, _bootstrap: str, topic: str) -> dict[bytes | None, bytes | None]:
        self.log.append(topic)
        published = self.clock - timedelta(seconds=self.latency)  # end offsets taken now
        self.advance(1.0)  # reading takes a while; the load goes on
        if topic == SETTINGS.topic_processed:
            return {
                str(oid).encode(): orjson.dumps({"order_id": oid, "version": v})
                for oid, (v, _) in self.as_of(published).items()
            }
        if topic == SETTINGS.topic_revenue:
            value = {
                "window_start": iso(CLOSED), "window_end": iso(CLOSED + timedelta(seconds=W)),
                "currency": "USD", "gross": "42.42", "refunds": "0.00", "adjustments": "0.00",
                "net": "42.42", "paid_count": 1, "refund_count": 0, "revision": 1,
            }
            return {f"{iso(CLOSED)}|USD".encode(): orjson.dumps(value)}
        return {}

    def read_db(self, _settings: Settings, _lo: datetime, _hi: datetime) -> Truth:
        self.log.append("database")
        self.advance(0.5)
        snapshot = self.as_of(self.clock)
        # the window under way has revenue the dataflow cannot have published: open
        current = window_start(self.clock, W)
        revenue = {
            (CLOSED, "USD"): CLOSED_REVENUE,
            (current, "USD"): Revenue(Decimal("1.00"), paid_count=1, net=Decimal("1.00")),
        }
        return Truth(revenue=revenue, transitions={}, orders=snapshot)


def audit(world: World) -> compare.Report:
    return cli.check(
        SETTINGS, now=world.now, read_topic=world.read_topic, read_db=world.read_db, grace=5
    )


@pytest.mark.parametrize("latency", [0.0, 0.3, 4.0])
def test_continuous_load_never_gives_a_false_mismatch(latency: float) -> None:
    world = World(latency=latency)
    for _ in range(40):  # audits at many phases of the load, 40 s in all
        report = audit(world)
        assert report.ok, compare.format_report(report)
        world.advance(0.37)
    assert world.log[:4] == [
        SETTINGS.topic_revenue, SETTINGS.topic_transitions, SETTINGS.topic_processed, "database",
    ]
    processed = next(s for s in report.sections if s.name == "processed")
    assert processed.open > 0  # the load really did run ahead of the topics
    revenue = next(s for s in report.sections if s.name == "revenue")
    assert revenue.checked == 1 and revenue.open == 1


def test_a_dataflow_that_stopped_publishing_is_reported() -> None:
    world = World(latency=30.0)  # 30 s behind: beyond lateness + grace
    world.advance(60)
    report = audit(world)
    assert not report.ok
    assert {d.field for d in report.diffs} == {"version"}
