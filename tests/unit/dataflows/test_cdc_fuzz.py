"""Fuzzing the change parser: whatever arrives on the CDC topic, ``parse_change`` returns a
change, a tombstone or a dead letter, and never raises.

Three generators: arbitrary bytes, arbitrary JSON, and JSON shaped like a Debezium envelope
whose every field may be right or wrong in any way. A coverage-guided run with atheris
(tests/unit/dataflows/cdc_atheris.py) goes further when atheris is installed.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflows import cdc
from dataflows.cdc import OP_CODES, DeadLetter, OrderChange, RawChange, Tombstone, parse_change
from orderstream.contract import OrderStatus

FUZZ = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)

# Values that are valid for some field, and the near misses around them.
tricky_text = st.sampled_from(
    [
        "", " ", "PAID", "paid", "PENDING ", "USD", "usd", "US", "USDX", "EU€",
        "12.50", "12.5", "12.505", "-1.00", "1e3", "1E+999999999", "1e-999999999", "NaN",
        "sNaN", "Infinity", "-0", "0.00", "9" * 400,
        "2026-11-25T10:00:00", "2026-11-25T10:00:00+00:00", "2026-11-25T10:00:00Z",
        "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00",
        "9999-12-31T23:59:59.999999", "2026-13-01", "\x00",
    ]
)
tricky_ints = st.sampled_from(
    [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1,
     253402300799999999, 253402300800000000, -62135596800000000, -62135596800000001]
)
field_value = tricky_text | tricky_ints | json_values


@st.composite
def images(draw: st.DrawFn) -> dict[str, Any] | Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not an object at all
    valid: dict[str, Any] = {
        "id": draw(st.integers(1, 10**12)),
        "customer_id": draw(st.integers(1, 1000)),
        "status": draw(st.sampled_from([str(s) for s in OrderStatus])),
        "total_amount": draw(st.sampled_from(["0.00", "12.50", "100", "99999999.99"])),
        "currency": draw(st.sampled_from(["USD", "EUR", "KRW"])),
        "version": draw(st.integers(1, 50)),
        "created_at": draw(st.integers(0, 2_000_000_000_000_000)),
        "updated_at": draw(st.integers(0, 2_000_000_000_000_000)),
    }
    for name in list(valid):
        choice = draw(st.integers(0, 5))
        if choice == 0:
            del valid[name]
        elif choice == 1:
            valid[name] = draw(field_value)
    extra = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=2))
    return {**extra, **valid}


@st.composite
def envelopes(draw: st.DrawFn) -> Any:
    document: dict[str, Any] = {
        "op": draw(st.sampled_from(sorted(OP_CODES)) | field_value),
        "before": draw(images() | st.none()),
        "after": draw(images() | st.none()),
        "source": draw(
            st.fixed_dictionaries(
                {"ts_ms": st.integers(0, 2**53) | field_value},
                optional={"file": field_value, "pos": field_value, "row": field_value},
            )
            | field_value
        ),
        "ts_ms": draw(st.integers(0, 2**53) | field_value),
    }
    for name in list(document):
        if draw(st.integers(0, 7)) == 0:
            del document[name]
    if draw(st.integers(0, 15)) == 0:
        document["payload"] = draw(json_values)
    return document


def raw(value: bytes | None) -> RawChange:
    return RawChange("mysql-orders", 0, 42, b'{"id":1}', value)


def check_outcome(value: bytes | None) -> None:
    parsed = parse_change(raw(value))
    if value is not None:  # the typed fast path (envelope.py) decides as the checked one
        assert parsed == cdc._parse_checked(raw(value))
    assert isinstance(parsed, OrderChange | DeadLetter | Tombstone)
    if isinstance(parsed, DeadLetter):
        assert parsed.detail and parsed.raw.value == value
    if isinstance(parsed, OrderChange):
        for image in (parsed.before, parsed.after):
            if image is None:
                continue
            assert image.total_amount >= 0
            assert isinstance(image.total_amount.as_tuple().exponent, int)
            assert image.total_amount == image.total_amount.quantize(Decimal("0.01"))
            assert len(image.currency) == 3 and image.currency.isupper()
            assert image.version >= 1
            for t in (image.created_at, image.updated_at):
                assert t.utcoffset() == timedelta(0)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(value: bytes) -> None:
    check_outcome(value)


@FUZZ
@given(json_values)
def test_arbitrary_json(document: Any) -> None:
    check_outcome(orjson.dumps(document))


@FUZZ
@given(envelopes())
def test_json_shaped_like_envelopes(document: Any) -> None:
    check_outcome(orjson.dumps(document))


@pytest.mark.parametrize(
    "document",
    [
        {"op": [], "source": {"ts_ms": 1}},  # an unhashable op
        {"op": {"c": 1}, "source": {"ts_ms": 1}},
        {"op": "c", "source": {"ts_ms": 1}, "after": {
            "id": 1, "customer_id": 1, "status": "PAID", "total_amount": "1.00",
            "currency": "USD", "version": 1, "created_at": "0001-01-01T00:00:00+01:00",
            "updated_at": 0}},  # before year 1 once converted to UTC
        {"op": "c", "source": {"ts_ms": 1}, "after": {
            "id": 1, "customer_id": 1, "status": "PAID", "total_amount": "1E+999999999",
            "currency": "USD", "version": 1, "created_at": 0, "updated_at": 0}},
    ],
)
def test_found_by_fuzzing(document: dict[str, Any]) -> None:
    parsed = parse_change(raw(orjson.dumps(document)))
    assert isinstance(parsed, DeadLetter), parsed


def test_coverage_guided_fuzzing_with_atheris(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    harness = Path(__file__).with_name("cdc_atheris.py")
    result = subprocess.run(  # a crashing input is written to tmp_path, shown in the output
        [sys.executable, str(harness), "-runs=100000", "-seed=1", f"-artifact_prefix={tmp_path}/"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Done 100000 runs" in result.stderr, result.stderr[-2000:]
