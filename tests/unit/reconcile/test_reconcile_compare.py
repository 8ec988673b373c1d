"""Decoding the topics' records, the comparison rules, and the readable diff."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest

from orderstream.reconcile import cli, compare, wire
from orderstream.reconcile.model import Revenue, RevenueRecord, Transitions, iso

D = Decimal
W0 = datetime(2001, 1, 1, 0, 0, tzinfo=UTC)
W1 = W0 + timedelta(minutes=1)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def revenue_value(start: datetime, currency: object = "USD", **over: object) -> bytes:
    value: dict[str, object] = {
        "window_start": iso(start), "window_end": iso(start + timedelta(minutes=1)),
        "currency": currency, "gross": "150.00", "refunds": "50.00", "adjustments": "-10.00",
        "net": "90.00", "paid_count": 2, "refund_count": 1, "revision": 1,
    }
    return orjson.dumps({**value, **over})


def transition_value(start: datetime, f: str = "PENDING", t: str = "PAID", **over: object) -> bytes:
    value: dict[str, object] = {
        "window_start": iso(start), "window_end": iso(start + timedelta(minutes=1)),
        "from_status": f, "to_status": t, "count": 3, "timed_count": 3, "untimed_count": 0,
        "p50_seconds": 2.0, "p95_seconds": 4.5, "max_seconds": 4.5, "revision": 1,
    }
    return orjson.dumps({**value, **over})


EXPECTED_REVENUE = {(W0, "USD"): Revenue(D("150.00"), D("50.00"), D("-10.00"), D("90.00"), 2, 1)}
EXPECTED_TRANSITIONS = {
    (W0, "PENDING", "PAID"): Transitions(3, 3, 0, D("2.000"), D("4.500"), D("4.500"))
}


def all_in_range(_ws: datetime) -> bool:
    return True


def never_open(_ws: datetime) -> bool:
    return False


Raw = dict[bytes | None, bytes | None]


def revenue_diffs(raw: Raw) -> list[compare.Diff]:
    records, bad = wire.parse_revenue_topic("rev", raw)
    assert not bad, bad
    section, _ = compare.compare_revenue(
        EXPECTED_REVENUE, records, window_seconds=60, in_range=all_in_range, window_open=never_open
    )
    return list(section.diffs)


def transition_diffs(raw: Raw) -> tuple[list[compare.Diff], compare.Section]:
    records, bad = wire.parse_transition_topic("tr", raw)
    assert not bad, bad
    section, _ = compare.compare_transitions(
        EXPECTED_TRANSITIONS, records, window_seconds=60, in_range=all_in_range,
        window_open=never_open,
    )
    return list(section.diffs), section


def rkey(start: datetime, currency: str = "USD") -> bytes:
    return f"{iso(start)}|{currency}".encode()


def tkey(start: datetime, f: str = "PENDING", t: str = "PAID") -> bytes:
    return f"{iso(start)}|{f}|{t}".encode()


def test_matching_revenue_has_no_diffs() -> None:
    assert revenue_diffs({rkey(W0): revenue_value(W0)}) == []


def test_a_cent_off_is_a_mismatch() -> None:
    diffs = revenue_diffs({rkey(W0): revenue_value(W0, gross="150.01", net="90.01")})
    assert [(d.window, d.subject, d.field, d.expected, d.actual) for d in diffs] == [
        (W0, "USD", "gross", "150.00", "150.01"),
        (W0, "USD", "net", "90.00", "90.01"),
    ]


def test_missing_record_lists_expected_values() -> None:
    diffs = revenue_diffs({})
    assert {d.field for d in diffs} == {"gross", "refunds", "adjustments", "net", "paid_count",
                                        "refund_count"}
    assert all(d.actual == compare.MISSING for d in diffs)


def test_zero_record_equals_no_expectation_and_extra_revenue_is_a_mismatch() -> None:
    zero = revenue_value(W1, gross="0.00", refunds="0.00", adjustments="0.00", net="0.00",
                         paid_count=0, refund_count=0)
    assert revenue_diffs({rkey(W0): revenue_value(W0), rkey(W1): zero}) == []
    extra = revenue_diffs({rkey(W0): revenue_value(W0), rkey(W1, "EUR"): revenue_value(W1, "EUR")})
    assert {(d.window, d.subject) for d in extra} == {(W1, "EUR")}


def test_window_end_must_follow_window_length() -> None:
    wrong = revenue_value(W0, window_end=iso(W0 + timedelta(minutes=5)))
    assert [d.field for d in revenue_diffs({rkey(W0): wrong})] == ["window_end"]


def test_latest_record_per_key_wins_when_reading_a_topic() -> None:
    # read_latest keeps the last value per key; here: what wire sees after it
    assert revenue_diffs({rkey(W0): revenue_value(W0, revision=2)}) == []


def test_open_windows_are_not_judged() -> None:
    records, _ = wire.parse_revenue_topic("rev", {})
    section, open_windows = compare.compare_revenue(
        EXPECTED_REVENUE, records, window_seconds=60, in_range=all_in_range,
        window_open=lambda ws: ws >= W0,
    )
    assert section.diffs == () and section.open == 1 and open_windows == {W0}


def test_window_is_open_until_end_plus_lateness_plus_grace() -> None:
    end = W0 + timedelta(seconds=60)

    def cutoff(read_at: datetime) -> compare.Cutoff:
        return compare.Cutoff(read_at, timedelta(seconds=10), timedelta(seconds=5))

    assert cutoff(end + timedelta(seconds=14)).window_open(W0, 60)
    assert not cutoff(end + timedelta(seconds=15)).window_open(W0, 60)


def test_out_of_range_windows_are_ignored() -> None:
    records, _ = wire.parse_revenue_topic("rev", {rkey(W1, "EUR"): revenue_value(W1, "EUR")})
    section, _ = compare.compare_revenue(
        EXPECTED_REVENUE, records, window_seconds=60, in_range=lambda ws: ws < W1,
        window_open=never_open,
    )
    assert {(d.window, d.subject) for d in section.diffs} == {(W0, "USD")}  # W1/EUR: out of range


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"gross": 150.0}, "two decimals"),
        ({"gross": "150.0"}, "two decimals"),
        ({"window_start": "2001-01-01T00:00:00"}, "offset"),
        ({"revision": 0}, "revision"),
        ({"paid_count": "2"}, "paid_count"),
    ],
)
def test_malformed_revenue_records(over: dict[str, object], reason: str) -> None:
    key = b"2001-01-01T00:00:00|USD" if "window_start" in over else rkey(W0)
    records, bad = wire.parse_revenue_topic("rev", {key: revenue_value(W0, **over)})
    assert not records and len(bad) == 1 and reason in bad[0].reason


def test_key_must_match_value() -> None:
    _, bad = wire.parse_revenue_topic("rev", {rkey(W0, "EUR"): revenue_value(W0, "USD")})
    assert "does not match" in bad[0].reason
    section = compare.bad_record_diffs(bad, all_in_range)
    assert section.diffs[0].window == W0 and section.diffs[0].field == "record"
    assert compare.bad_record_diffs(bad, lambda ws: ws > W0).diffs == ()


def test_transitions_match_within_a_millisecond() -> None:
    diffs, _ = transition_diffs({tkey(W0): transition_value(W0, p95_seconds=4.501)})
    assert diffs == []
    diffs, _ = transition_diffs({tkey(W0): transition_value(W0, p95_seconds=4.502)})
    assert [(d.field, d.expected, d.actual) for d in diffs] == [("p95_seconds", "4.500", "4.502")]


def test_transition_count_mismatch_and_inconsistent_split() -> None:
    diffs, _ = transition_diffs({tkey(W0): transition_value(W0, count=4)})
    assert [(d.field, d.expected, d.actual) for d in diffs] == [
        ("count", "3", "4"),
        ("timed_count+untimed_count", "4", "3"),
    ]


def test_timings_skipped_when_the_dataflow_could_not_time_everything() -> None:
    value = transition_value(W0, timed_count=2, untimed_count=1, p50_seconds=99.0)
    diffs, section = transition_diffs({tkey(W0): value})
    assert diffs == [] and section.timings_skipped == 1


def test_null_timings_when_nothing_timed() -> None:
    value = transition_value(W0, timed_count=0, untimed_count=3, p50_seconds=None,
                             p95_seconds=None, max_seconds=None)
    record = wire.parse_transition(tkey(W0), value)
    assert record.transitions.p50_seconds is None


def test_missing_transition_record() -> None:
    diffs, _ = transition_diffs({})
    assert [(d.subject, d.field, d.actual) for d in diffs] == [
        ("PENDING->PAID", "count", "missing")
    ]


def test_processed_orders_latest_version() -> None:
    old = W0
    recent = NOW - timedelta(seconds=2)
    db = {1: (3, old), 2: (1, old), 3: (5, old), 4: (2, recent)}
    raw: Raw = {
        b"1": orjson.dumps({"version": 2}), b"1x": orjson.dumps({"version": 9}),
        b"3": orjson.dumps({"version": 6}),
    }
    raw[b"1"] = orjson.dumps({"version": 3})  # the later record for key 1 wins
    processed, bad = wire.parse_processed_topic("p", raw)
    assert processed == {1: 3, 3: 6} and len(bad) == 1
    section = compare.compare_processed(
        db, processed, pending=lambda t: t + timedelta(seconds=10) > NOW
    )
    assert [(d.subject, d.expected, d.actual) for d in section.diffs] == [
        ("order 2", "1", "missing"),
        ("order 3", "5", "6"),
    ]
    assert section.open == 1 and section.checked == 3  # order 4 changed 2 s ago: pending


def test_tombstone_removes_processed_order() -> None:
    processed, bad = wire.parse_processed_topic("p", {b"7": None})
    assert processed == {} and bad == []


def test_report_formatting() -> None:
    records = {(W0, "USD"): RevenueRecord(W0, W1, "USD", Revenue(D("1.00")), 1)}
    section, _ = compare.compare_revenue(
        EXPECTED_REVENUE, records, window_seconds=60, in_range=all_in_range,
        window_open=never_open,
    )
    report = compare.Report(60, 10, W0, None, (section,))
    text = compare.format_report(report)
    assert "MISMATCHES (6)" in text and "RESULT: MISMATCH" in text
    row = next(line for line in text.splitlines() if " gross " in line)
    assert row.split() == [iso(W0), "USD", "gross", "150.00", "1.00"]
    ok = compare.format_report(compare.Report(60, 10, W0, W1, (compare.Section("revenue", 3),)))
    assert ok.endswith("RESULT: OK, everything matches")


def parse(**kw: str | None) -> cli.Options:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args([])
    for k, v in kw.items():
        setattr(args, k, v)
    return cli.parse_options(args)


def test_time_arguments() -> None:
    opts = parse(start="2001-01-01T00:00:00Z", end="2001-01-01 01:00")
    assert opts.start == W0 and opts.end == W0 + timedelta(hours=1)
    assert parse(start="2001-01-01T09:00:00+09:00").start == W0


@pytest.mark.parametrize(
    ("kw", "name"),
    [({"start": "yesterday"}, "--from"), ({"end": "2001-13-01"}, "--to"),
     ({"wait": "-1"}, "--wait"), ({"wait": "soon"}, "--wait"), ({"wait": "inf"}, "--wait"),
     ({"wait": "nan"}, "--wait"), ({"grace": "-5"}, "--grace"), ({"grace": "1e999"}, "--grace"),
     ({"max_rows": "0"}, "--max-rows"), ({"max_rows": "ten"}, "--max-rows"),
     ({"start": "0001-01-01T00:00:00+01:00"}, "--from"), ({"end": "9999-12-31T23:59"}, "--to"),
     ({"start": "2001-01-02", "end": "2001-01-01"}, "--to")],
)
def test_bad_reconcile_arguments(kw: dict[str, str], name: str) -> None:
    with pytest.raises(cli.UsageError, match=name):
        parse(**kw)


def test_bad_argument_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args(["--from", "noon"])
    assert args.func(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--from" in err
