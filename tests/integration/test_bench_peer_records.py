"""The Kafka Streams peer writes the dataflow's processed-order record (bench/peer_apps.py).

The bench compares the dataflow with that peer (bench/README.md, "Fair peers"); the
comparison holds only while the peer does the same work for each change. Runs the real peer
(built by Maven on first use, as the bench builds it) on envelopes of the bench's generator,
plus the cases the generator has none of: a delete, an illegal transition, whole-second
times.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from typing import Any

import orjson

from bench import peer_apps
from bench.envelopes import EnvelopeBuilder, planned_changes
from dataflows import records
from dataflows.cdc import OrderChange, RawChange, parse_change
from dataflows.dedupe import ILLEGAL_TRANSITION, track

CHANGES = 400
PROCESSED_AT = "processed_at"  # when each side formatted it: compared for its form only


def _envelopes() -> list[dict[str, Any]]:
    builder = EnvelopeBuilder()
    values = [orjson.loads(builder.build(c).value) for c in planned_changes(CHANGES, seed=1)]
    update = next(v for v in values if v["op"] == "u")
    illegal = {
        **update,
        "before": {**update["before"], "status": "DELIVERED"},
        "after": {**update["after"], "status": "PAID"},
    }
    delete = {**update, "op": "d", "after": None}
    whole_seconds = {
        **values[0],
        "after": {**values[0]["after"], "created_at": 1_795_564_800_000_000},
    }
    # Amounts written without their scale (the decimal's string as another connector
    # setting gives it): both sides print exactly two decimals, never -0.00.
    short_amounts = [
        {**values[0], "after": {**values[0]["after"], "total_amount": amount}}
        for amount in ("12.5", "7", "-0.00")
    ]
    return [*values, illegal, delete, whole_seconds, *short_amounts]


def _dataflow_record(value: dict[str, Any]) -> dict[str, Any]:
    change = parse_change(RawChange("cdc", 0, 0, None, orjson.dumps(value)))
    assert isinstance(change, OrderChange), change
    _, tracked = track(None, change, 0)
    assert tracked is not None
    record: dict[str, Any] = orjson.loads(records.processed_order(tracked, "now").value)
    return record


def test_the_kafka_streams_peer_writes_the_dataflows_processed_record() -> None:
    envelopes = _envelopes()
    completed = subprocess.run(
        peer_apps.kstreams_command("--processed-records"),
        input=b"".join(orjson.dumps(value) + b"\n" for value in envelopes),
        capture_output=True,
        check=True,
        timeout=600,
    )
    peer = [orjson.loads(line) for line in completed.stdout.splitlines()]
    assert len(peer) == len(envelopes)
    for value, theirs in zip(envelopes, peer, strict=True):
        ours = _dataflow_record(value)
        assert set(theirs) == set(ours)
        processed_at = datetime.fromisoformat(theirs.pop(PROCESSED_AT))
        assert processed_at.tzinfo is not None and processed_at.utcoffset() == UTC.utcoffset(None)
        ours.pop(PROCESSED_AT)
        assert theirs == ours, value
    # The cases the comparison must cover are there.
    assert {record["op"] for record in peer} >= {"c", "u", "d"}
    assert any(record["anomalies"] == [ILLEGAL_TRANSITION] for record in peer)
    assert any(record["created_at"].endswith(":00+00:00") for record in peer)
    assert [record["total_amount"] for record in peer[-3:]] == ["12.50", "7.00", "0.00"]
