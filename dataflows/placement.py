"""Where per-order state lives in a run of several Bytewax workers: on the worker that reads
its input partition, so that changes do not cross between processes to be deduplicated.

Pure: no bytewax, no confluent_kafka. Bytewax 0.21 sends a keyed item to worker
``hash(key) % workers``, where ``hash`` is Rust's default hasher (SipHash-1-3 with zero keys)
over the key's UTF-8 bytes and a ``0xFF`` terminator (Bytewax's ``stateful_batch`` and
``PartitionOp``). Keys spread that way put a partition's orders on every worker, and every
change keyed to another process is pickled and sent there (~10 µs per change;
docs/dataflow.md, Scaling).

Orders never change partition (the CDC topic is keyed by order id), so per-order state can be
kept per partition: with one worker per process, process ``p`` reads the input partitions
``i`` with ``i % processes == p`` (:meth:`Placement.reads`), and an order bucket's state key
is ``<partition>/<bucket>~<n>``, with the smallest ``n`` for which the key's hash is
congruent to the partition modulo :data:`PLACED_MODULUS` (:func:`bucket_key`). Such a key
lands on worker ``partition % workers`` for every worker count that divides the modulus
(1, 2, 3, 4, 6, 8, 12, 24), so keys do not depend on the worker count: a recovery directory
resumes with any number of processes. With another count the keys still work, they only
cross between workers. Placement only decides where work happens, never what it computes
(``tests/dataflow/test_placement.py`` checks the hash against Bytewax itself).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from siphash24 import siphash13

_ZERO_KEY = bytes(16)
_TERMINATOR = b"\xff"  # Rust's Hash for str writes the bytes, then 0xFF


@dataclass(frozen=True)
class Placement:
    """The run's workers: ``processes`` times ``workers_per_process`` (``bytewax.run``'s ``-a``
    and ``-w``), and this process's index."""

    processes: int = 1
    workers_per_process: int = 1
    process_id: int = 0

    @property
    def assigns_partitions(self) -> bool:
        """Whether each process reads only its own share of the input partitions. With
        several workers in a process, Bytewax decides which of them reads a partition, so
        partitions are not assigned (per-order state then crosses between workers)."""
        return self.processes > 1 and self.workers_per_process == 1

    def reads(self, partition: int) -> bool:
        """Whether this process lists ``partition`` as one it can read."""
        return not self.assigns_partitions or partition % self.processes == self.process_id


#: A run of one process of one worker.
ONE_WORKER = Placement()

#: Keys are placed for every worker count that divides it; finding a key takes about this
#: many hashes (~20 µs), once per partition and bucket.
PLACED_MODULUS = 24


def worker_of(key: str, workers: int) -> int:
    """The worker Bytewax routes ``key`` to among ``workers``."""
    return _hash(key) % workers


def _hash(key: str) -> int:
    digest = siphash13(key.encode() + _TERMINATOR, key=_ZERO_KEY).digest()
    return int.from_bytes(digest, "little")


@functools.lru_cache(maxsize=65536)
def bucket_key(partition: int, bucket: int) -> str:
    """The state key of an order bucket's changes from ``partition``: on worker
    ``partition % workers`` whenever ``workers`` divides :data:`PLACED_MODULUS` (cached, as a
    partition's buckets recur batch after batch)."""
    residue = partition % PLACED_MODULUS
    salt = 0
    while _hash(key := f"{partition}/{bucket}~{salt}") % PLACED_MODULUS != residue:
        salt += 1
    return key
