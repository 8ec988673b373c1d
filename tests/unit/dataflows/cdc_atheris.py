"""Coverage-guided fuzzing of the change parser with atheris (libFuzzer).

Run: ``python tests/unit/dataflows/cdc_atheris.py -runs=100000`` (any libFuzzer flag works;
without ``-runs`` it runs until stopped). Each input is tried twice: as the raw record value,
and, when it decodes as JSON, wrapped into a Debezium envelope's ``after`` image so the
fuzzer reaches the field checks quickly. Any exception is a crash: libFuzzer stops, prints
the input and exits non-zero. test_cdc_fuzz.py runs this for a fixed number of inputs.

The envelope is structure-aware: each field is missing, a value of a random JSON type, or one
of the near misses in :data:`TRICKY` (which random bytes would take long to spell).
"""

from __future__ import annotations

import sys

import atheris
import orjson

with atheris.instrument_imports(include=["dataflows.cdc"]):
    from dataflows.cdc import DeadLetter, OrderChange, RawChange, Tombstone, parse_change

OUTCOMES = (OrderChange, DeadLetter, Tombstone)
FIELDS = (
    "id", "customer_id", "status", "total_amount", "currency", "version", "created_at",
    "updated_at",
)
TRICKY: list[object] = [
    "c", "u", "d", "r", "PAID", "PENDING", "USD", "12.50", "12.505", "-1.00", "1E+999999999",
    "NaN", "sNaN", "Infinity", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
    "2026-11-25T10:00:00Z", 0, -1, 2**63 - 1, -(2**63), 253402300800000000, True, None, [], {},
]


def _check(value: bytes) -> None:
    parsed = parse_change(RawChange("mysql-orders", 0, 0, None, value))
    if not isinstance(parsed, OUTCOMES):
        raise AssertionError(f"parse_change returned {parsed!r}")


def _value(provider: atheris.FuzzedDataProvider) -> object:
    kind = provider.ConsumeIntInRange(0, 4)
    if kind == 0:
        return provider.PickValueInList(TRICKY)
    if kind == 1:
        return provider.ConsumeInt(9)
    if kind == 2:
        return provider.ConsumeUnicodeNoSurrogates(24)
    if kind == 3:
        return provider.ConsumeRegularFloat()
    return _MISSING


_MISSING = object()


def _image(provider: atheris.FuzzedDataProvider) -> dict[str, object]:
    image = {
        "id": 1, "customer_id": 1, "status": "PAID", "total_amount": "1.00", "currency": "USD",
        "version": 1, "created_at": 0, "updated_at": 0,
    }
    for name in FIELDS:
        if provider.ConsumeBool():
            value = _value(provider)
            if value is _MISSING:
                del image[name]
            else:
                image[name] = value
    return image


def one_input(data: bytes) -> None:
    _check(data)
    provider = atheris.FuzzedDataProvider(data)
    envelope: dict[str, object] = {"op": "u", "source": {"ts_ms": 1}}
    if provider.ConsumeBool():
        envelope["op"] = _value(provider)
    envelope["before"] = _image(provider)
    envelope["after"] = _image(provider)
    if provider.ConsumeBool():
        envelope["source"] = {"ts_ms": _value(provider), "file": _value(provider)}
    envelope = {k: v for k, v in envelope.items() if v is not _MISSING}
    for image in ("before", "after"):
        value = envelope[image]
        if isinstance(value, dict):
            envelope[image] = {k: v for k, v in value.items() if v is not _MISSING}
    try:
        encoded = orjson.dumps(envelope)
    except (TypeError, orjson.JSONEncodeError):
        return  # an integer beyond 64 bits: JSON on the wire never carries one
    _check(encoded)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
