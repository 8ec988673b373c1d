"""The records the orders flow is expected to write, and metric deltas, for the flow tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from prometheus_client import REGISTRY

from tests.dataflow.flow_harness import NOW_ISO, T0


def s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return s(seconds).isoformat()


def processed(
    order_id: int,
    version: int,
    op: str,
    status: str,
    previous: str | None,
    amount: str,
    updated_s: float,
    anomalies: tuple[str, ...] = (),
    *,
    currency: str = "USD",
    ts_ms: int = 1_000,
) -> tuple[str, dict[str, Any]]:
    return (
        str(order_id),
        {
            "order_id": order_id,
            "version": version,
            "op": op,
            "status": status,
            "previous_status": previous,
            "customer_id": 7,
            "total_amount": amount,
            "currency": currency,
            "created_at": T0.isoformat(),
            "updated_at": iso(updated_s),
            "source_ts_ms": ts_ms,
            "source_position": f"mariadb-bin.000001:{4000 + ts_ms}:0",
            "processed_at": NOW_ISO,
            "anomalies": list(anomalies),
        },
    )


def revenue(
    start_s: int,
    currency: str,
    gross: str = "0.00",
    refunds: str = "0.00",
    adjustments: str = "0.00",
    net: str = "0.00",
    paid_count: int = 0,
    refund_count: int = 0,
    revision: int = 1,
) -> tuple[str, dict[str, Any]]:
    return (
        f"{iso(start_s)}|{currency}",
        {
            "window_start": iso(start_s),
            "window_end": iso(start_s + 60),
            "currency": currency,
            "gross": gross,
            "refunds": refunds,
            "adjustments": adjustments,
            "net": net,
            "paid_count": paid_count,
            "refund_count": refund_count,
            "revision": revision,
        },
    )


def transition(
    start_s: int,
    from_status: str,
    to_status: str,
    count: int,
    timed: list[float] | None = None,
    p50: float | None = None,
    p95: float | None = None,
    max_: float | None = None,
    untimed: int = 0,
    revision: int = 1,
) -> tuple[str, dict[str, Any]]:
    return (
        f"{iso(start_s)}|{from_status}|{to_status}",
        {
            "window_start": iso(start_s),
            "window_end": iso(start_s + 60),
            "from_status": from_status,
            "to_status": to_status,
            "count": count,
            "timed_count": count - untimed,
            "untimed_count": untimed,
            "p50_seconds": p50,
            "p95_seconds": p95,
            "max_seconds": max_,
            "revision": revision,
        },
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class MetricDelta:
    def __init__(self, name: str, **labels: str) -> None:
        self.name, self.labels = name, labels
        self.before = metric(name, **labels)

    @property
    def delta(self) -> float:
        return metric(self.name, **self.labels) - self.before
