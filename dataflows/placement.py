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
is ``<partition>/<bucket>`` plus, when needed, a suffix chosen so that the key hashes to that
same worker (:func:`key_on_worker`). Placement only decides where work happens, never what
it computes: a key is the same whatever worker reads the partition, so the outputs do not
depend on it (``tests/dataflow/test_placement.py`` checks the hash against Bytewax itself).
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
    def workers(self) -> int:
        return self.processes * self.workers_per_process

    @property
    def assigns_partitions(self) -> bool:
        """Whether each process reads only its own share of the input partitions. With
        several workers in a process, Bytewax decides which of them reads a partition, so
        partitions are not assigned (per-order state then crosses between workers)."""
        return self.processes > 1 and self.workers_per_process == 1

    def reads(self, partition: int) -> bool:
        """Whether this process lists ``partition`` as one it can read."""
        return not self.assigns_partitions or partition % self.processes == self.process_id

    def bucket_key(self, partition: int, bucket: int) -> str:
        """The state key of an order bucket's changes from ``partition``. One worker: the
        bucket alone (the layout of one-process recovery snapshots)."""
        if self.workers == 1:
            return str(bucket)
        return key_on_worker(f"{partition}/{bucket}", partition % self.workers, self.workers)


def worker_of(key: str, workers: int) -> int:
    """The worker Bytewax routes ``key`` to among ``workers``."""
    digest = siphash13(key.encode() + _TERMINATOR, key=_ZERO_KEY).digest()
    return int.from_bytes(digest, "little") % workers


@functools.lru_cache(maxsize=65536)
def key_on_worker(base: str, worker: int, workers: int) -> str:
    """``base``, or ``base~<n>`` with the smallest ``n`` that Bytewax routes to ``worker``
    (about ``workers`` tries; cached, as a partition's buckets recur batch after batch)."""
    if worker_of(base, workers) == worker:
        return base
    salt = 1
    while worker_of(f"{base}~{salt}", workers) != worker:
        salt += 1
    return f"{base}~{salt}"
