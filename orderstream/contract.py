"""The data contract as constants: statuses, transitions, topics (docs/architecture.md).

Pure: no IO, no bytewax, no confluent_kafka. Shared by the loadgen, the reconcile audit,
the stack bootstrap (topic creation) and the dataflow's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


S = OrderStatus

#: Legal (from, to) status changes. An order may also be inserted directly as PAID.
LEGAL_TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {
        (S.PENDING, S.PAID),
        (S.PENDING, S.CANCELLED),
        (S.PAID, S.SHIPPED),
        (S.PAID, S.CANCELLED),
        (S.SHIPPED, S.DELIVERED),
        (S.SHIPPED, S.REFUNDED),
        (S.DELIVERED, S.REFUNDED),
    }
)

#: Statuses an order may be inserted with.
INITIAL_STATUSES: frozenset[OrderStatus] = frozenset({S.PENDING, S.PAID})

#: Changes whose before-image amount counts as a refund.
REFUND_TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {(S.PAID, S.CANCELLED), (S.SHIPPED, S.REFUNDED), (S.DELIVERED, S.REFUNDED)}
)

#: Statuses in which an amount change (status kept) counts as an adjustment.
ADJUSTABLE_STATUSES: frozenset[OrderStatus] = frozenset({S.PAID, S.SHIPPED, S.DELIVERED})

TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset({S.CANCELLED, S.REFUNDED})


def is_legal_transition(from_status: OrderStatus | None, to_status: OrderStatus) -> bool:
    """True for a legal status change; ``from_status=None`` means an insert."""
    if from_status is None:
        return to_status in INITIAL_STATUSES
    if from_status == to_status:
        return True  # an amount edit keeps the status
    return (from_status, to_status) in LEGAL_TRANSITIONS


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    cleanup_policy: str  # "delete" or "compact"
    retention_ms: int | None = None  # None: the broker default
    max_message_bytes: int | None = None  # the largest record batch; None: the broker default


# A week of retention on the CDC topic: longer than any planned downtime of the dataflow.
CDC_RETENTION_MS = 7 * 24 * 3600 * 1000

#: The largest record batch the dataflow's output topics take (their ``max.message.bytes``),
#: and the most its producers put in one batch (dataflows.settings.PRODUCER_SETTINGS says
#: why). On the topics as well as the producers, so a batch that compresses badly still fits.
OUTPUT_BATCH_BYTES = 8 * 1024 * 1024

TOPIC_CDC = "mysql-orders"
TOPIC_PROCESSED = "processed-orders"
TOPIC_REVENUE = "order-revenue-1m"
TOPIC_TRANSITIONS = "order-status-transitions-1m"
TOPIC_DLQ = "orders-dlq"

#: The contract's topics (docs/architecture.md, "Topics"); all replicated 3x, min ISR 2.
CONTRACT_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(TOPIC_CDC, 6, "delete", CDC_RETENTION_MS),
    TopicSpec(TOPIC_PROCESSED, 6, "compact", max_message_bytes=OUTPUT_BATCH_BYTES),
    TopicSpec(TOPIC_REVENUE, 3, "compact", max_message_bytes=OUTPUT_BATCH_BYTES),
    TopicSpec(TOPIC_TRANSITIONS, 3, "compact", max_message_bytes=OUTPUT_BATCH_BYTES),
    TopicSpec(TOPIC_DLQ, 3, "delete", max_message_bytes=OUTPUT_BATCH_BYTES),
)

#: Currencies the loadgen knows (ISO 4217 codes, 3 upper-case letters).
KNOWN_CURRENCIES: frozenset[str] = frozenset({"KRW", "USD", "EUR", "JPY", "GBP"})
