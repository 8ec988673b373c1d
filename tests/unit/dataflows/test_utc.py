"""Epoch microseconds and aware UTC datetimes (dataflows/utc.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataflows.utc import EPOCH, from_micros, micros

# datetime's range in microseconds since the epoch (years 1..9999), in UTC.
LOWEST = micros(datetime(1, 1, 1, tzinfo=UTC))
HIGHEST = micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))


def test_known_instants() -> None:
    assert micros(EPOCH) == 0
    moment = datetime(2026, 11, 25, 0, 0, 1, 250, tzinfo=UTC)
    assert micros(moment) == 1_795_564_801_000_250
    assert from_micros(1_795_564_801_000_250) == moment
    assert from_micros(-1) == EPOCH - timedelta(microseconds=1)


def test_other_zones_count_the_same_instant() -> None:
    plus_two = datetime(2026, 11, 25, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert micros(plus_two) == micros(datetime(2026, 11, 25, tzinfo=UTC))


@given(st.integers(LOWEST, HIGHEST))
def test_round_trip_is_exact_and_utc(value: int) -> None:
    moment = from_micros(value)
    assert moment.tzinfo is UTC
    assert micros(moment) == value


@pytest.mark.parametrize("value", [LOWEST - 1, HIGHEST + 1])
def test_out_of_range_raises_every_time(value: int) -> None:
    for _ in range(2):  # an error is not cached as a value
        with pytest.raises(OverflowError):
            from_micros(value)
