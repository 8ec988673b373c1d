"""The seeded order-lifecycle simulator: a timeline of order changes. Pure, no IO.

The schedule is open-loop: change number ``k`` is due ``k / rate`` seconds after the start,
whatever the database does. For each slot the simulator takes the live order whose next step
is most overdue; when no step is due yet it places a new order. Orders then walk the status
machine of :mod:`orderstream.contract` with exponential delays (compressed: seconds where a
real shop has hours), so the mix of inserts and updates emerges from the lifecycle
probabilities while the total rate stays exactly on target.

Identical :class:`PlanConfig` (seed included) give an identical sequence of changes.
Orders are numbered 0, 1, 2, ... here; the writer maps those numbers to database ids.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from orderstream.contract import (
    INITIAL_STATUSES,
    TERMINAL_STATUSES,
    OrderStatus,
    is_legal_transition,
)
from orderstream.loadgen import catalog

S = OrderStatus


class ChangeKind(StrEnum):
    INSERT = "insert"  # a new order (version 1)
    STATUS = "status"  # a status change
    AMOUNT = "amount"  # an amount edit that keeps the status


@dataclass(frozen=True)
class PlanConfig:
    rate: float  # order changes (inserts + updates) per second
    duration: float | None  # seconds; None plans forever
    seed: int
    customers: int = 1000
    currencies: tuple[str, ...] = ("KRW", "USD", "EUR")
    illegal_rate: float = 0.0  # fraction of changes made illegal transitions
    products: int = catalog.PRODUCT_COUNT

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")
        if self.duration is not None and not self.duration > 0:
            raise ValueError(f"duration must be > 0, got {self.duration}")
        if self.customers < 1 or self.products < 1:
            raise ValueError("customers and products must be >= 1")
        if not self.currencies:
            raise ValueError("currencies must not be empty")
        if not 0.0 <= self.illegal_rate <= 1.0:
            raise ValueError(f"illegal_rate must be within [0, 1], got {self.illegal_rate}")


@dataclass(frozen=True)
class OrderItem:
    product: int  # catalog index
    quantity: int
    unit_price: Decimal  # in the order's currency


@dataclass(frozen=True)
class PlannedChange:
    """One order change; the writer applies it as one order row change plus one history row."""

    seq: int  # 0, 1, 2, ... in schedule order
    at: float  # due time, seconds after the start of the run
    order: int  # the order's number within this plan
    kind: ChangeKind
    version: int  # the order's version after this change
    from_status: OrderStatus | None  # None for an insert
    to_status: OrderStatus
    previous_amount: Decimal | None  # None for an insert
    amount: Decimal
    illegal: bool  # not a legal transition of the contract
    final: bool  # no further change of this order is planned
    customer: int | None = None  # insert only: catalog index
    currency: str | None = None  # insert only
    items: tuple[OrderItem, ...] = ()  # insert only


# --- the lifecycle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    weight: int
    to: OrderStatus | None  # None: an amount edit
    mean_delay: float  # seconds (exponential)


#: What an order does next, by its current status (weights per status add up to 100).
#: A status missing here (CANCELLED, REFUNDED) ends the order's life; so does an END step.
LIFECYCLE: dict[OrderStatus, tuple[Step, ...]] = {
    S.PENDING: (Step(85, S.PAID, 2.0), Step(15, S.CANCELLED, 4.0)),
    S.PAID: (Step(80, S.SHIPPED, 4.0), Step(10, S.CANCELLED, 3.0), Step(10, None, 2.0)),
    S.SHIPPED: (Step(88, S.DELIVERED, 6.0), Step(7, S.REFUNDED, 6.0), Step(5, None, 3.0)),
    S.DELIVERED: (Step(20, S.REFUNDED, 8.0), Step(5, None, 5.0)),  # 75: nothing more
}
INSERT_AS_PAID = 0.2  # share of orders placed already paid (card captured at checkout)
MAX_AMOUNT_EDITS = 2
MAX_CHANGES_PER_ORDER = 16  # bounds an order that keeps taking illegal turns
MIN_DELAY = 0.05
ALL_STATUSES: tuple[OrderStatus, ...] = tuple(OrderStatus)


@dataclass
class _Order:
    number: int
    status: OrderStatus
    amount: Decimal
    currency: catalog.Currency
    version: int = 1
    amount_edits: int = 0
    next_to: OrderStatus | None = None  # the planned step: a status, or None for an amount edit
    next_delay: float = 1.0  # mean delay of the planned step, seconds


@dataclass(order=True)
class _Due:
    at: float
    tiebreak: int
    order: _Order = field(compare=False)


def plan(config: PlanConfig) -> Iterator[PlannedChange]:
    """The run's changes in schedule order (finite when ``config.duration`` is set)."""
    rng = random.Random(config.seed)
    products = [catalog.product(i) for i in range(config.products)]
    currencies = [catalog.currency(c) for c in config.currencies]
    due: list[_Due] = []
    tiebreak = itertools.count()
    next_order = 0

    for seq in itertools.count():
        at = seq / config.rate
        if config.duration is not None and at >= config.duration:
            return
        illegal = rng.random() < config.illegal_rate
        if due and due[0].at <= at:
            order = heapq.heappop(due).order
            change = _update(rng, order, seq, at, illegal)
        else:
            order = _new_order(rng, next_order, currencies, config, products, illegal)
            next_order += 1
            change = _insert(order, seq, at, rng, config, products, illegal)
        if _schedule_next(rng, order):
            delay = max(MIN_DELAY, rng.expovariate(1.0 / order.next_delay))
            heapq.heappush(due, _Due(at + delay, next(tiebreak), order))
        else:
            change = dataclasses.replace(change, final=True)
        yield change


def _new_order(
    rng: random.Random,
    number: int,
    currencies: list[catalog.Currency],
    config: PlanConfig,
    products: list[catalog.Product],
    illegal: bool,
) -> _Order:
    if illegal:
        status = rng.choice([s for s in ALL_STATUSES if s not in INITIAL_STATUSES])
    else:
        status = S.PAID if rng.random() < INSERT_AS_PAID else S.PENDING
    return _Order(number=number, status=status, amount=Decimal(0), currency=rng.choice(currencies))


def _insert(
    order: _Order,
    seq: int,
    at: float,
    rng: random.Random,
    config: PlanConfig,
    products: list[catalog.Product],
    illegal: bool,
) -> PlannedChange:
    # a few customers order a lot: square the uniform draw to skew towards low indices
    customer = min(config.customers - 1, int(config.customers * rng.random() ** 2))
    picked = rng.sample(products, k=min(len(products), rng.choice((1, 1, 1, 2, 2, 3, 4))))
    items = tuple(
        OrderItem(
            product=p.index,
            quantity=rng.choice((1, 1, 1, 1, 2, 2, 3)),
            unit_price=order.currency.from_usd(p.price),
        )
        for p in picked
    )
    order.amount = sum((i.unit_price * i.quantity for i in items), Decimal(0))
    return PlannedChange(
        seq=seq,
        at=at,
        order=order.number,
        kind=ChangeKind.INSERT,
        version=1,
        from_status=None,
        to_status=order.status,
        previous_amount=None,
        amount=order.amount,
        illegal=illegal,
        final=False,
        customer=customer,
        currency=order.currency.code,
        items=items,
    )


def _update(
    rng: random.Random, order: _Order, seq: int, at: float, illegal: bool
) -> PlannedChange:
    before_status, before_amount = order.status, order.amount
    if illegal:
        current = order.status
        order.status = rng.choice(
            [s for s in ALL_STATUSES if s != current and not is_legal_transition(current, s)]
        )
        kind = ChangeKind.STATUS
    elif order.next_to is None:
        order.amount = _edited_amount(rng, order)
        order.amount_edits += 1
        kind = ChangeKind.AMOUNT
    else:
        order.status = order.next_to
        kind = ChangeKind.STATUS
    order.version += 1
    return PlannedChange(
        seq=seq,
        at=at,
        order=order.number,
        kind=kind,
        version=order.version,
        from_status=before_status,
        to_status=order.status,
        previous_amount=before_amount,
        amount=order.amount,
        illegal=illegal,
        final=False,
    )


def _edited_amount(rng: random.Random, order: _Order) -> Decimal:
    """A discount (coupon, partial stock-out) or a surcharge (shipping upgrade) on the total."""
    factor = Decimal(str(round(rng.uniform(0.8, 1.1), 3)))
    edited = (order.amount * factor).quantize(order.currency.quantum)
    if edited == order.amount:  # always a real change: one minor unit off, or on when at 0
        step = order.currency.quantum
        edited = order.amount - step if order.amount > 0 else step
    return max(edited, Decimal(0))


def _schedule_next(rng: random.Random, order: _Order) -> bool:
    """Choose the order's next step (sets ``order.next_to``); False when its life is over."""
    if order.version >= MAX_CHANGES_PER_ORDER or order.status in TERMINAL_STATUSES:
        return False
    steps = LIFECYCLE.get(order.status, ())
    if order.amount_edits >= MAX_AMOUNT_EDITS:
        steps = tuple(s for s in steps if s.to is not None)
    # weights are percentages; what the listed steps leave free of 100 ends the order's life
    # (an amount edit no longer allowed hands its share to the others)
    removed = sum(s.weight for s in LIFECYCLE.get(order.status, ())) - sum(s.weight for s in steps)
    roll = rng.uniform(0, 100 - removed)
    for step in steps:
        if roll < step.weight:
            order.next_to = step.to
            order.next_delay = step.mean_delay
            return True
        roll -= step.weight
    return False
