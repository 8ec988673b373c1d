"""The Quix Streams peer of bench.dataflow_throughput (runs in its own venv, bench/peers).

    python app.py --bootstrap B --source T --group G --prefix P --expect N --state-dir D
                  [--producer KEY=VALUE ...]

Reads the bench's CDC topic from the beginning, drops changes whose order version was
already seen (state per order key, RocksDB), and keeps 1-minute event-time windows of revenue
per currency (grace 10 s, behind a repartition topic). Prints one JSON line once every input
record went through every stage: records, seconds and cpu_seconds from the first record
read, total_cpu_seconds, peak_rss_bytes. Only the Python standard library and quixstreams.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from decimal import Decimal
from typing import Any

from quixstreams import Application

counts = {"read": 0, "to_windows": 0, "arrived": 0, "windowed": 0}
started = {"wall": 0.0, "cpu": 0.0}
ZERO = Decimal("0")


def event_millis(value: Any, _headers: Any, timestamp: int, _type: Any) -> int:
    if not value:
        return timestamp
    image = value["after"] or value["before"]
    return int(image["updated_at"]) // 1000


def count_read(_value: Any) -> None:
    if counts["read"] == 0:
        started["wall"], started["cpu"] = time.perf_counter(), time.process_time()
    counts["read"] += 1


def new_version(value: Any, state: Any) -> bool:
    """The change's order version is above every one seen for the order."""
    if not value:
        return False  # tombstone
    image = value["after"] or value["before"]
    seen = state.get("version")
    if seen is not None and seen >= image["version"]:
        return False
    state.set("version", image["version"])
    return True


def contribution(value: Any) -> dict[str, str] | None:
    before, after = value["before"], value["after"]
    if after is None:
        return None
    to = after["status"]
    was = None if before is None else before["status"]
    amount = Decimal(after["total_amount"])
    zero = "0"
    if to == "PAID" and was != "PAID":
        return {"currency": after["currency"], "gross": str(amount), "refunds": zero, "adj": zero}
    if to == "REFUNDED" and was not in (None, "REFUNDED"):
        refund = str(Decimal(before["total_amount"]))
        return {"currency": after["currency"], "gross": zero, "refunds": refund, "adj": zero}
    if before is not None and was == to and before["total_amount"] != after["total_amount"]:
        adj = str(amount - Decimal(before["total_amount"]))
        return {"currency": after["currency"], "gross": zero, "refunds": zero, "adj": adj}
    return None


def initializer(part: dict[str, str]) -> dict[str, str]:
    counts["windowed"] += 1
    return {k: part[k] for k in ("gross", "refunds", "adj")}


def reducer(totals: dict[str, str], part: dict[str, str]) -> dict[str, str]:
    counts["windowed"] += 1
    return {k: str(Decimal(totals[k]) + Decimal(part[k])) for k in ("gross", "refunds", "adj")}


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for name in ("bootstrap", "source", "group", "prefix", "state-dir"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument(
        "--producer", action="append", default=[], help="a librdkafka producer setting KEY=VALUE"
    )
    args = parser.parse_args()
    malformed = [setting for setting in args.producer if "=" not in setting]
    if malformed:
        parser.error(f"--producer: not KEY=VALUE: {', '.join(malformed)}")
    producer = dict(setting.split("=", 1) for setting in args.producer)

    def done(*_: Any) -> None:
        if counts["read"] >= args.expect and counts["arrived"] >= counts["to_windows"]:
            app.stop()

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        processing_guarantee="at-least-once",
        # Not WARNING: Quix logs every record it drops as late (133,044 lines in one 1 M run),
        # which measures logging; the drops are counted and reported instead.
        loglevel="ERROR",
        on_message_processed=done,
        producer_extra_config=producer,  # the dataflow's (bench/peer_apps.py)
    )
    source = app.topic(
        args.source,
        key_deserializer="bytes",
        value_deserializer="json",
        timestamp_extractor=event_millis,
    )
    sdf = app.dataframe(source)
    sdf = sdf.update(count_read)
    sdf = sdf.filter(new_version, stateful=True)
    sdf.to_topic(app.topic(args.prefix + "processed", value_serializer="json"))
    money = sdf.apply(contribution).filter(lambda part: part is not None)
    money = money.update(lambda _part: counts.__setitem__("to_windows", counts["to_windows"] + 1))
    money = money.group_by(lambda part: part["currency"], name="currency")
    # Read back from the repartition topic; the window drops those later than its grace.
    money = money.update(lambda _part: counts.__setitem__("arrived", counts["arrived"] + 1))
    windows = money.tumbling_window(duration_ms=60_000, grace_ms=10_000)
    windows.reduce(reducer=reducer, initializer=initializer).final().to_topic(
        app.topic(args.prefix + "revenue", value_serializer="json")
    )
    app.run()
    late = counts["arrived"] - counts["windowed"]
    sys.stderr.write(f"windowed {counts['windowed']}; dropped as later than the grace: {late}\n")
    result = {
        "records": counts["read"],
        "seconds": time.perf_counter() - started["wall"],
        "cpu_seconds": time.process_time() - started["cpu"],
        "total_cpu_seconds": time.process_time(),
        "peak_rss_bytes": peak_rss_bytes(),
        "window_inputs": counts["arrived"],
        "late_dropped": late,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
