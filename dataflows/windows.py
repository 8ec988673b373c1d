"""Tumbling event-time windows for one key, closed by a watermark, corrected when late.

Pure: no bytewax, no confluent_kafka. The dataflow keeps one :class:`EventTimeWindows` per
aggregate key (a currency, or a ``from|to`` pair); inside it, state is per window, so the
logical state key is ``window|currency`` / ``window|from|to``.

- **Watermark**: per source partition the key's inputs came from, the highest event time seen
  from it minus the allowed lateness, advanced further by the system time elapsed since that
  event arrived (so windows still close when a partition goes quiet; Bytewax's ``EventClock``
  rule); the key's watermark is the minimum over those partitions, so a partition drained
  faster than another (a backlog read by several workers) does not turn the slower one's
  on-time events into late corrections. A partition that has sent the key nothing for
  ``partition_idle`` of system time no longer holds it back (it is left out of the minimum
  until it sends again; when all are idle, the highest counts): otherwise a partition whose
  last change for a rare key was old history read in a backlog would keep the key's windows
  open for as long as that history is old. It never moves backwards. A "partition" here is
  an input channel that delivers in event-time order: the dataflow passes a source partition
  as forwarded by one process (``dataflows.routing.channel``), since changes of one partition
  tracked by different processes reach the key out of order. When the dataflow knows its
  channels up front, a key also waits for those it has not heard from yet
  (:meth:`EventTimeWindows.await_channels`), up to ``partition_idle``.
- **Close**: a window whose end is at or before the watermark is emitted with revision 1.
- **Late**: a change whose window has ended by the watermark when it arrives. If the window
  was already emitted, the change is added to the kept totals and the window is emitted
  again, complete, with ``revision + 1``. If the window never existed, it is opened and
  closed at once (revision 1).
- **Retention**: a closed window's totals are kept until the watermark passes its end plus the
  retention; a later change for it cannot be applied and is reported as ``expired`` (the
  dataflow dead-letters it) rather than overwriting the true totals with a partial record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, NamedTuple, TypeVar

from dataflows.utc import EPOCH

V = TypeVar("V")
A = TypeVar("A")

_NO_TIME = timedelta(0)


@dataclass(frozen=True)
class WindowSpec:
    length: timedelta
    allowed_lateness: timedelta
    retention: timedelta
    align_to: datetime = EPOCH  # windows start at align_to + k * length (UTC minutes for 60 s)
    #: System time after which a partition that sent the key nothing stops holding its
    #: watermark back; None: never.
    partition_idle: timedelta | None = None

    def start_of(self, event_time: datetime) -> datetime:
        return self.align_to + ((event_time - self.align_to) // self.length) * self.length


@dataclass(frozen=True)
class Fold(Generic[V, A]):
    """How values accumulate in a window: ``agg(initialize(), v)`` and so on."""

    initialize: Callable[[], A]
    agg: Callable[[A, V], A]


class WindowResult(NamedTuple, Generic[A]):
    window_start: datetime
    window_end: datetime
    totals: A  # the window's complete totals, never a delta
    revision: int  # 1 when first emitted, +1 for each late correction


class EventOutcome(NamedTuple, Generic[A]):
    results: list[WindowResult[A]]
    late: bool  # the watermark had passed the event's window end when it arrived
    expired: bool  # late and its window's state was already dropped: not applied


@dataclass(frozen=True)
class ClosedWindow(Generic[A]):
    totals: A
    revision: int


@dataclass
class WindowsState(Generic[A]):
    """Everything to snapshot; accumulators are immutable, so copies may share them."""

    # Snapshots of earlier versions kept one watermark for all partitions in these two
    # fields; on the next event it becomes ``floor`` and they are cleared.
    watermark_base: datetime | None = None
    base_set_at: datetime | None = None
    open: dict[datetime, A] = field(default_factory=dict)
    closed: dict[datetime, ClosedWindow[A]] = field(default_factory=dict)
    expired_through: datetime | None = None  # windows starting at or before were dropped
    latest_now: datetime | None = None  # system time never goes back for the watermark
    # The start of the oldest kept closed window (None: none kept, or not yet computed, as in
    # snapshots of earlier versions): per-event work then looks at open windows only.
    oldest_closed: datetime | None = None
    #: Per source partition: its highest event time seen minus the lateness, minus the system
    #: time then. System time only moves on, so the partition's watermark is ``now + offset``.
    #: None rather than an empty dict so that snapshots of earlier versions load.
    partition_offsets: dict[int, timedelta] | None = None
    #: The watermark last acted on; the minimum over partitions may dip below it when a
    #: partition is first seen, the watermark does not.
    floor: datetime | None = None
    #: Per source partition: the system time its last event for the key arrived (None in
    #: snapshots of earlier versions: filled in on the next event).
    partition_seen: dict[int, datetime] | None = None
    #: Input channels expected (:meth:`EventTimeWindows.await_channels`) that the key has not
    #: heard from yet, with the system time it began to wait for each (None: none, as in
    #: snapshots of earlier versions).
    channels_awaited: dict[int, datetime] | None = None

    def copy(self) -> WindowsState[A]:
        return WindowsState(
            self.watermark_base,
            self.base_set_at,
            dict(self.open),
            dict(self.closed),
            self.expired_through,
            self.latest_now,
            self.oldest_closed,
            None if self.partition_offsets is None else dict(self.partition_offsets),
            self.floor,
            None if self.partition_seen is None else dict(self.partition_seen),
            None if self.channels_awaited is None else dict(self.channels_awaited),
        )

    def first_closed(self) -> datetime | None:
        if self.oldest_closed is None and self.closed:
            self.oldest_closed = min(self.closed)
        return self.oldest_closed


class EventTimeWindows(Generic[V, A]):
    def __init__(
        self, spec: WindowSpec, fold: Fold[V, A], state: WindowsState[A] | None = None
    ) -> None:
        self.spec = spec
        self.fold = fold
        self.state: WindowsState[A] = state if state is not None else WindowsState()
        #: The system time of the last :meth:`_close_due` when nothing that moves the
        #: watermark or makes a window due has changed since: closing again would do nothing.
        self._settled_at: datetime | None = None
        #: ``(start, end)`` of the window of the last event: consecutive events mostly
        #: fall into the same window, and comparing is cheaper than ``start_of``.
        self._last_window: tuple[datetime, datetime] = (EPOCH, EPOCH)

    def watermark(self, now: datetime) -> datetime | None:
        state = self.state
        if state.latest_now is not None and state.latest_now > now:
            now = state.latest_now
        if state.watermark_base is not None and state.base_set_at is not None:  # older snapshot
            return state.watermark_base + max(now - state.base_set_at, _NO_TIME)
        floor = state.floor
        if not state.partition_offsets or self._awaits_channels(now):
            return floor
        lowest = now + self._lowest_offset(now)
        return lowest if floor is None or lowest > floor else floor

    def await_channels(self, channels: Iterable[int], now: datetime) -> None:
        """Expect inputs from ``channels`` (all the dataflow reads): until the key has heard
        from each, or ``partition_idle`` has passed, its watermark waits. A key learns of a
        channel from its first input, and a channel that starts late (a partition fetched
        after the others, a process started after the other) would otherwise find windows
        closed by the rest."""
        known = self.state.partition_offsets or {}
        awaited = self.state.channels_awaited
        for channel in channels:
            if channel not in known and (awaited is None or channel not in awaited):
                if awaited is None:
                    awaited = self.state.channels_awaited = {}
                awaited[channel] = now
                self._settled_at = None

    def _awaits_channels(self, now: datetime) -> bool:
        """Whether an expected channel the key has not heard from may still send to it."""
        awaited, idle = self.state.channels_awaited, self.spec.partition_idle
        if not awaited:
            return False
        return idle is None or any(since + idle > now for since in awaited.values())

    def _lowest_offset(self, now: datetime) -> timedelta:
        """The minimum offset over the partitions not idle at ``now`` (all idle: the highest)."""
        state = self.state
        offsets = state.partition_offsets
        assert offsets
        idle, seen = self.spec.partition_idle, state.partition_seen
        if idle is None or seen is None or len(offsets) == 1:
            return min(offsets.values())
        cutoff = now - idle
        if min(seen.values()) > cutoff:  # the usual case: every partition sent recently
            return min(offsets.values())
        active = [offset for p, offset in offsets.items() if seen[p] > cutoff]
        return min(active) if active else max(offsets.values())

    def on_event(
        self,
        event_time: datetime,
        value: V,
        now: datetime,
        partition: int = 0,
        *,
        settle: bool = True,
    ) -> EventOutcome[A]:
        """``partition``: the input channel the event came by (a source partition, or a
        source partition through one process: ``dataflows.routing.channel``).

        ``settle=False`` leaves the windows that this event made due open until the next
        event or :meth:`on_tick` (each event closes what is due before it is classified, so
        the outputs are the same); a caller applying a group of events settles once after the
        last one."""
        now = self._observe(now)
        results = [] if self._settled_at == now else self._close_due(now)
        watermark = self.state.floor  # what _close_due computed
        self._adopt_older_snapshot(watermark)
        start, end = self._last_window
        if not start <= event_time < end:
            start = self.spec.start_of(event_time)
            end = start + self.spec.length
            self._last_window = (start, end)
        late = watermark is not None and end <= watermark
        expired = False

        closed = self.state.closed.get(start)
        if closed is not None:
            revised = ClosedWindow(self.fold.agg(closed.totals, value), closed.revision + 1)
            self.state.closed[start] = revised
            results.append(self._result(start, revised))
        elif late and self._expired(start):
            expired = True
        else:
            current = self.state.open.get(start)
            totals = self.fold.initialize() if current is None else current
            self.state.open[start] = self.fold.agg(totals, value)
            if late:  # a window that was never emitted: due at once
                self._settled_at = None

        self._advance(partition, event_time - self.spec.allowed_lateness, now)
        if settle:
            results.extend(self._close_due(now))
        return EventOutcome(results, late, expired)

    def _advance(self, partition: int, candidate: datetime, now: datetime) -> None:
        offsets = self.state.partition_offsets
        if offsets is None:
            offsets = self.state.partition_offsets = {}
        awaited = self.state.channels_awaited
        if awaited and awaited.pop(partition, None) is not None:
            self._settled_at = None
        seen = self.state.partition_seen
        if seen is None:  # snapshot of an earlier version: its partitions count as seen now
            seen = self.state.partition_seen = dict.fromkeys(offsets, now)
        if seen.get(partition) != now:
            seen[partition] = now
            self._settled_at = None
        offset = candidate - now
        current = offsets.get(partition)
        if current is None or offset > current:
            offsets[partition] = offset
            self._settled_at = None

    def _adopt_older_snapshot(self, watermark: datetime | None) -> None:
        state = self.state
        if state.watermark_base is not None:
            state.floor = watermark
            state.watermark_base = state.base_set_at = None

    def on_resume(self, now: datetime) -> None:
        """Restored from a snapshot: every partition counts as seen now, so the time the
        dataflow was down does not make them all idle (the highest would then jump ahead of
        the ones the replay has not reached yet)."""
        for times in (self.state.partition_seen, self.state.channels_awaited):
            if times:
                for key in times:
                    times[key] = max(times[key], now)
        self._settled_at = None

    def on_tick(self, now: datetime) -> list[WindowResult[A]]:
        return self._close_due(self._observe(now))

    def close_all(self) -> list[WindowResult[A]]:
        """Emit every open window (end of input); kept windows stay correctable."""
        return self._close(sorted(self.state.open))

    def next_wake(self) -> datetime | None:
        """System time at which the watermark reaches the next window end or expiry."""
        state = self.state
        since: datetime | None
        idle_at: list[datetime] = []
        if state.watermark_base is not None and state.base_set_at is not None:  # older snapshot
            lowest = state.watermark_base - state.base_set_at
            since = state.base_set_at
        else:
            since = state.latest_now
            if not state.partition_offsets or since is None:
                return None
            if self._awaits_channels(since):  # held until an awaited channel goes idle
                return self._awaited_idle_at(since)
            lowest = self._lowest_offset(since)
            idle_at = self._idle_transitions(since)
        targets = [start + self.spec.length for start in state.open]
        oldest_closed = state.first_closed()
        if oldest_closed is not None:
            targets.append(oldest_closed + self.spec.length + self.spec.retention)
        if not targets:
            return None
        # The minimum over partitions reaches the target when the last of them does, unless
        # a partition going idle first changes which partitions count.
        return max(min([min(targets) - lowest, *idle_at]), since)

    def _awaited_idle_at(self, now: datetime) -> datetime | None:
        """When the first awaited channel still holding the watermark at ``now`` goes idle."""
        awaited, idle = self.state.channels_awaited, self.spec.partition_idle
        if not awaited or idle is None:
            return None
        return min(since + idle for since in awaited.values() if since + idle > now)

    def _idle_transitions(self, now: datetime) -> list[datetime]:
        """When each partition still counted at ``now`` goes idle (if that can matter)."""
        idle, seen = self.spec.partition_idle, self.state.partition_seen
        if idle is None or seen is None or len(seen) < 2:
            return []
        return [at + idle for at in seen.values() if at + idle > now]

    def snapshot(self) -> WindowsState[A]:
        return self.state.copy()

    def _observe(self, now: datetime) -> datetime:
        latest = self.state.latest_now
        if latest is None or now > latest:
            self.state.latest_now = now
            return now
        return latest

    def _expired(self, start: datetime) -> bool:
        through = self.state.expired_through
        return through is not None and start <= through

    def _close_due(self, now: datetime) -> list[WindowResult[A]]:
        watermark = self.watermark(now)
        self._settled_at = now
        if watermark is None:
            return []
        self.state.floor = watermark
        length = self.spec.length
        due = [start for start in self.state.open if start + length <= watermark]
        results = self._close(sorted(due)) if due else []
        self._expire(watermark - length - self.spec.retention)
        return results

    def _expire(self, horizon: datetime) -> None:
        """Drop kept windows starting at or before ``horizon``; scans only when one is due."""
        state = self.state
        oldest = state.first_closed()
        if oldest is None or oldest > horizon:
            return
        for start in [s for s in state.closed if s <= horizon]:
            del state.closed[start]
            if state.expired_through is None or start > state.expired_through:
                state.expired_through = start
        state.oldest_closed = min(state.closed) if state.closed else None

    def _close(self, starts: list[datetime]) -> list[WindowResult[A]]:
        results = []
        for start in starts:
            closed = ClosedWindow(self.state.open.pop(start), 1)
            self.state.closed[start] = closed
            oldest = self.state.first_closed()
            if oldest is None or start < oldest:
                self.state.oldest_closed = start
            results.append(self._result(start, closed))
        return results

    def _result(self, start: datetime, closed: ClosedWindow[A]) -> WindowResult[A]:
        return WindowResult(start, start + self.spec.length, closed.totals, closed.revision)
