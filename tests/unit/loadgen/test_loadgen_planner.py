"""The seeded lifecycle planner: determinism, schedule, and per-order invariants."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderstream.contract import INITIAL_STATUSES, OrderStatus, is_legal_transition
from orderstream.loadgen import catalog
from orderstream.loadgen.planner import ChangeKind, PlanConfig, PlannedChange, plan


def by_order(changes: list[PlannedChange]) -> dict[int, list[PlannedChange]]:
    out: dict[int, list[PlannedChange]] = defaultdict(list)
    for c in changes:
        out[c.order].append(c)
    return out


def check_invariants(config: PlanConfig, changes: list[PlannedChange]) -> None:
    assert [c.seq for c in changes] == list(range(len(changes)))
    assert all(c.at == c.seq / config.rate for c in changes)
    for number, history in by_order(changes).items():
        first, updates = history[0], history[1:]
        assert first.kind is ChangeKind.INSERT and first.version == 1
        assert first.from_status is None and first.previous_amount is None
        assert first.currency in config.currencies
        assert first.customer is not None and 0 <= first.customer < config.customers
        assert first.items and first.amount == sum(i.unit_price * i.quantity for i in first.items)
        # version = 1 + number of updates, increasing by exactly one per change
        assert [c.version for c in history] == list(range(1, len(history) + 1))
        assert all(c.kind is not ChangeKind.INSERT for c in updates)
        for before, after in zip(history, updates, strict=False):
            assert after.from_status == before.to_status  # one status chain, no gaps
            assert after.previous_amount == before.amount
            assert after.at > before.at
        for c in updates:
            if c.kind is ChangeKind.AMOUNT:
                assert c.from_status == c.to_status and c.amount != c.previous_amount
            else:
                assert c.from_status != c.to_status
            assert c.amount >= 0
        for c in history:
            assert c.illegal == (not is_legal_transition(c.from_status, c.to_status)), c
        # only the last change may be final, and a final one is the last
        assert not any(c.final for c in history[:-1]), number


def test_same_seed_same_sequence() -> None:
    config = PlanConfig(rate=200, duration=30, seed=42, illegal_rate=0.1)
    assert list(plan(config)) == list(plan(config))


def test_different_seed_different_sequence() -> None:
    a = list(plan(PlanConfig(rate=200, duration=5, seed=1)))
    b = list(plan(PlanConfig(rate=200, duration=5, seed=2)))
    assert len(a) == len(b) and a != b


def test_schedule_is_open_loop_and_exact() -> None:
    changes = list(plan(PlanConfig(rate=7.5, duration=10, seed=3)))
    assert len(changes) == math.ceil(7.5 * 10)
    assert changes[-1].at < 10


def test_unbounded_plan_goes_on() -> None:
    stream = plan(PlanConfig(rate=1000, duration=None, seed=3))
    assert len([next(stream) for _ in range(20_000)]) == 20_000


def test_realistic_mix() -> None:
    changes = list(plan(PlanConfig(rate=100, duration=600, seed=5)))
    check_invariants(PlanConfig(rate=100, duration=600, seed=5), changes)
    kinds = {k: sum(1 for c in changes if c.kind is k) for k in ChangeKind}
    pairs = {(c.from_status, c.to_status) for c in changes}
    S = OrderStatus
    # every legal transition, inserts as PENDING and as PAID, and amount edits all happen
    for pair in [
        (None, S.PENDING), (None, S.PAID), (S.PENDING, S.PAID), (S.PENDING, S.CANCELLED),
        (S.PAID, S.SHIPPED), (S.PAID, S.CANCELLED), (S.SHIPPED, S.DELIVERED),
        (S.SHIPPED, S.REFUNDED), (S.DELIVERED, S.REFUNDED), (S.PAID, S.PAID),
    ]:
        assert pair in pairs, pair
    assert 0.15 < kinds[ChangeKind.INSERT] / len(changes) < 0.45
    assert not any(c.illegal for c in changes)


@pytest.mark.parametrize("illegal_rate", [0.0, 0.3, 1.0])
def test_illegal_rate(illegal_rate: float) -> None:
    config = PlanConfig(rate=200, duration=100, seed=9, illegal_rate=illegal_rate)
    changes = list(plan(config))
    check_invariants(config, changes)
    share = sum(c.illegal for c in changes) / len(changes)
    assert abs(share - illegal_rate) < 0.02
    if illegal_rate == 1.0:
        assert all(c.to_status not in INITIAL_STATUSES for c in changes if c.from_status is None)


def test_currencies_and_customers_respected() -> None:
    config = PlanConfig(rate=100, duration=20, seed=1, customers=3, currencies=("JPY",))
    changes = list(plan(config))
    inserts = [c for c in changes if c.kind is ChangeKind.INSERT]
    assert {c.currency for c in inserts} == {"JPY"}
    assert {c.customer for c in inserts} <= {0, 1, 2}
    assert all(c.amount == c.amount.to_integral_value() for c in changes)  # yen: no minor unit


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    rate=st.floats(0.5, 500),
    illegal_rate=st.sampled_from([0.0, 0.05, 0.5, 1.0]),
    currencies=st.lists(st.sampled_from(sorted(catalog.CURRENCIES)), min_size=1, unique=True),
)
def test_invariants_hold_for_any_config(
    seed: int, rate: float, illegal_rate: float, currencies: list[str]
) -> None:
    config = PlanConfig(
        rate=rate, duration=20, seed=seed, illegal_rate=illegal_rate, currencies=tuple(currencies)
    )
    check_invariants(config, list(plan(config)))


@pytest.mark.parametrize(
    "kwargs",
    [{"rate": 0}, {"rate": -1}, {"duration": 0}, {"illegal_rate": 1.5}, {"currencies": ()},
     {"customers": 0}],
)
def test_config_rejects_nonsense(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {"rate": 1.0, "duration": 1.0, "seed": 0}
    with pytest.raises(ValueError):
        PlanConfig(**{**base, **kwargs})  # type: ignore[arg-type]


def test_catalog_is_fixed_and_covers_known_currencies() -> None:
    from orderstream.contract import KNOWN_CURRENCIES

    assert catalog.product(7) == catalog.product(7)
    assert catalog.product(7).sku == "LG-00007"
    assert len({catalog.customer(i).email for i in range(5000)}) == 5000
    assert set(catalog.CURRENCIES) == set(KNOWN_CURRENCIES)
    assert catalog.currency("KRW").from_usd(Decimal("9.99")) == Decimal("13486")
    assert catalog.currency("EUR").from_usd(Decimal("9.99")) == Decimal("9.19")
