"""The base of the records the dataflow creates per change (:class:`Value`).

Pure: no bytewax, no confluent_kafka. Every change read becomes several small immutable
records (the raw record, its images, the change, the tracked change, the output record...).
As ``NamedTuple`` classes each cost ~300 ns to build and ~20 ns per field read: CPython 3.11
does not specialize a named field's descriptor, and a profile of the bench drain put ~13 % of
the dataflow's CPU in those reads. As ``msgspec.Struct`` classes (fields in slots, built in
C) they cost ~50 ns to build and ~6 ns per field read (docs/dataflow.md, Steps).

They are never snapshotted (window and per-order state keep their own types), so changing
them does not touch the recovery layout. ``gc=False``: they hold only values and other
records, never a reference back, so they cannot form a cycle and the cyclic collector need
not track them.
"""

from __future__ import annotations

import msgspec


class Value(msgspec.Struct, frozen=True, gc=False):
    """An immutable record with fields in slots; subclasses declare the fields and repeat
    ``frozen=True`` (msgspec inherits it, mypy's dataclass view of the class needs it)."""
