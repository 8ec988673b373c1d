"""dataflows.windows: watermark, closing, late corrections, retention."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta

from dataflows.routing import channel
from dataflows.windows import EventTimeWindows, Fold, WindowResult, WindowSpec

T0 = datetime(2026, 11, 25, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SUM: Fold[int, int] = Fold(lambda: 0, lambda total, value: total + value)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def windows(retention: timedelta = timedelta(hours=1)) -> EventTimeWindows[int, int]:
    spec = WindowSpec(MINUTE, allowed_lateness=timedelta(seconds=10), retention=retention)
    return EventTimeWindows(spec, SUM)


def result(start_s: int, total: int, revision: int) -> WindowResult[int]:
    return WindowResult(at(start_s), at(start_s) + MINUTE, total, revision)


def test_windows_align_to_utc_minutes() -> None:
    spec = windows().spec
    assert spec.start_of(at(59.999)) == T0
    assert spec.start_of(at(60)) == at(60)
    assert spec.start_of(
        datetime(2026, 11, 25, 0, 0, 0, tzinfo=UTC) - timedelta(microseconds=1)
    ) == at(-60)


def test_window_closes_when_the_watermark_passes_its_end() -> None:
    w = windows()
    assert w.on_event(at(5), 1, NOW).results == []
    assert w.on_event(at(30), 2, NOW).results == []
    assert w.watermark(NOW) == at(20)
    # 00:01:09 - 10 s lateness = 00:00:59: not yet
    assert w.on_event(at(69), 4, NOW).results == []
    outcome = w.on_event(at(70), 8, NOW)
    assert outcome.results == [result(0, 3, 1)]
    assert not outcome.late and not outcome.expired
    assert w.close_all() == [result(60, 12, 1)]


def test_out_of_order_within_lateness_is_not_late() -> None:
    w = windows()
    w.on_event(at(55), 1, NOW)
    outcome = w.on_event(at(50), 2, NOW)
    assert not outcome.late
    assert w.close_all() == [result(0, 3, 1)]


def test_late_change_re_emits_the_complete_window_with_the_next_revision() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW)
    assert w.on_event(at(75), 10, NOW).results == [result(0, 1, 1)]
    late = w.on_event(at(30), 100, NOW)
    assert late.late and not late.expired
    assert late.results == [result(0, 101, 2)]
    assert w.on_event(at(59), 1000, NOW).results == [result(0, 1101, 3)]
    assert w.close_all() == [result(60, 10, 1)]


def test_late_change_for_a_window_never_seen_opens_and_closes_it() -> None:
    w = windows()
    w.on_event(at(300), 1, NOW)
    outcome = w.on_event(at(100), 5, NOW)
    assert outcome.late and outcome.results == [result(60, 5, 1)]


def test_system_time_advances_the_watermark_of_a_quiet_key() -> None:
    w = windows()
    w.on_event(at(30), 1, NOW)
    # watermark 00:00:20 at NOW; the window ends at 00:01:00: 40 s of system time later
    assert w.next_wake() == NOW + timedelta(seconds=40)
    assert w.on_tick(NOW + timedelta(seconds=39)) == []
    assert w.on_tick(NOW + timedelta(seconds=40)) == [result(0, 1, 1)]
    assert w.watermark(NOW + timedelta(seconds=40)) == at(60)


def test_watermark_never_goes_back() -> None:
    w = windows()
    w.on_event(at(30), 1, NOW)
    w.on_event(at(35), 1, NOW + timedelta(seconds=100))
    assert w.watermark(NOW + timedelta(seconds=100)) == at(120)
    assert w.watermark(NOW) == at(120)  # a clock going backwards does not move it back


def test_closed_windows_expire_after_retention_and_later_changes_are_reported() -> None:
    w = windows(retention=timedelta(minutes=2))
    w.on_event(at(5), 1, NOW)
    w.on_event(at(70), 1, NOW)  # closes [0, 60)
    assert w.on_event(at(30), 1, NOW).results == [result(0, 2, 2)]
    # [0, 60) is dropped once the watermark reaches 00:03:00
    w.on_event(at(190), 1, NOW)
    assert at(0) not in w.state.closed
    outcome = w.on_event(at(30), 1, NOW)
    assert outcome.late and outcome.expired and outcome.results == []
    # a window never seen before the expiry horizon is treated as expired too
    assert w.on_event(at(-600), 1, NOW).expired


def test_next_wake_covers_expiry_of_kept_windows() -> None:
    w = windows(retention=timedelta(minutes=2))
    w.on_event(at(70), 1, NOW)
    w.on_tick(NOW + timedelta(seconds=60))  # watermark 00:02:00 closes [60, 120)
    assert w.state.open == {}
    # [60,120) expires when the watermark reaches 00:04:00: 180 s after NOW
    assert w.next_wake() == NOW + timedelta(seconds=180)
    w.on_tick(NOW + timedelta(seconds=180))
    assert w.state.closed == {} and w.next_wake() is None


def test_snapshot_is_independent_and_restores() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW)
    snap = w.snapshot()
    w.on_event(at(6), 1, NOW)
    restored = EventTimeWindows(w.spec, SUM, pickle.loads(pickle.dumps(snap)))
    assert restored.close_all() == [result(0, 1, 1)]
    assert w.close_all() == [result(0, 2, 1)]


def test_a_late_window_closed_after_newer_ones_expires_first() -> None:
    w = windows(retention=timedelta(minutes=10))
    w.on_event(at(600), 1, NOW)  # 00:10
    w.on_event(at(700), 1, NOW)  # watermark 00:11:30: the 00:10 window closes
    # a late change for 00:02, whose window never existed: opened and closed at once
    assert w.on_event(at(130), 5, NOW).results == [result(120, 5, 1)]
    assert w.state.first_closed() == at(120)
    # watermark 00:16:30: 00:02 + 1 min + 10 min retention has passed, 00:10's has not
    w.on_event(at(1000), 1, NOW)
    assert set(w.state.closed) == {at(600), at(660)}
    assert w.state.first_closed() == at(600)
    late = w.on_event(at(125), 1, NOW)
    assert late.expired and late.results == []


# --- watermark aligned across source partitions -------------------------------------------


def test_a_partition_drained_ahead_does_not_make_the_slower_ones_late() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW, partition=0)
    w.on_event(at(5), 1, NOW, partition=1)
    # Partition 0 races two minutes ahead (a backlog read by another worker)...
    assert w.on_event(at(130), 1, NOW, partition=0).results == []
    # ...partition 1's on-time events still fall in open windows, and nothing is late.
    outcome = w.on_event(at(50), 10, NOW, partition=1)
    assert (outcome.results, outcome.late) == ([], False)
    # Once partition 1 reaches 70 s (+10 s lateness), [0, 60) closes once, complete.
    assert w.on_event(at(71), 1, NOW, partition=1).results == [result(0, 12, 1)]


def test_one_partition_keeps_the_single_watermark_rule() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW)
    assert w.on_event(at(70), 1, NOW).results == [result(0, 1, 1)]
    assert w.on_event(at(30), 1, NOW).late


def test_a_partition_first_seen_behind_does_not_move_the_watermark_back() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW, partition=0)
    assert w.on_event(at(75), 1, NOW, partition=0).results == [result(0, 1, 1)]
    before = w.watermark(NOW)
    late = w.on_event(at(20), 5, NOW, partition=1)
    assert late.late and late.results == [result(0, 6, 2)]
    assert w.watermark(NOW) == before


def test_a_quiet_partition_is_advanced_by_system_time() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW, partition=0)
    w.on_event(at(300), 1, NOW, partition=1)
    assert w.watermark(NOW) == at(-5)
    # The windows close when partition 0's watermark, moving with system time, reaches 60 s.
    assert w.next_wake() == NOW + timedelta(seconds=65)
    assert w.on_tick(NOW + timedelta(seconds=65)) == [result(0, 1, 1)]


def test_a_snapshot_of_the_single_watermark_version_still_loads() -> None:
    w = windows()
    w.on_event(at(5), 1, NOW)
    w.on_event(at(70), 1, NOW)
    older = w.snapshot()
    older.watermark_base, older.base_set_at = older.floor, NOW
    older.partition_offsets, older.floor = None, None
    del older.__dict__["partition_offsets"], older.__dict__["floor"]  # as unpickled
    restored: EventTimeWindows[int, int] = EventTimeWindows(w.spec, SUM, older)
    assert restored.watermark(NOW) == at(60)
    assert restored.on_event(at(30), 1, NOW, partition=2).late
    assert restored.on_event(at(131), 1, NOW, partition=2).results == [result(60, 1, 1)]


# --- a partition that stops sending a key stops holding its watermark back ----------------

#: When the backlog is read: event times of the history lie far behind system time.
DRAIN = at(3600)
IDLE = timedelta(seconds=30)


def aligned_windows() -> EventTimeWindows[int, int]:
    spec = WindowSpec(
        MINUTE, allowed_lateness=timedelta(seconds=10), retention=timedelta(hours=1),
        partition_idle=IDLE,
    )
    return EventTimeWindows(spec, SUM)


def test_a_partition_whose_last_change_for_the_key_is_old_history_goes_idle() -> None:
    # The backlog drain reads a change an hour old from partition 1; after it, partition 1
    # sends this key nothing more (a rare key, e.g. PAID|REFUNDED), partition 0 goes on live.
    w = aligned_windows()
    w.on_event(at(5), 1, DRAIN, partition=1)
    w.on_event(DRAIN + timedelta(seconds=5), 10, DRAIN, partition=0)
    # The live window [1:00:00, 1:01:00) must close once partition 0's watermark passes its
    # end (70 s) and partition 1 has been idle for 30 s, not an hour later.
    assert w.next_wake() == DRAIN + IDLE
    # Partition 1 idle: the watermark is partition 0's, 1:00:25; the history window closes.
    assert w.on_tick(DRAIN + IDLE) == [result(0, 1, 1)]
    assert w.next_wake() == DRAIN + timedelta(seconds=65)
    live = at(3600)
    assert w.on_tick(DRAIN + timedelta(seconds=65)) == [
        WindowResult(live, live + MINUTE, 10, 1)
    ]


def test_an_idle_partition_is_excluded_only_while_it_sends_nothing() -> None:
    w = aligned_windows()
    w.on_event(at(5), 1, DRAIN, partition=1)
    w.on_event(DRAIN + timedelta(seconds=5), 10, DRAIN, partition=0)
    later = DRAIN + timedelta(seconds=40)
    # Partition 1 is idle at 40 s: the watermark is partition 0's, 1:00:35.
    assert w.watermark(later) == DRAIN + timedelta(seconds=35)
    # It sends again (still behind): it holds the watermark back again, which never goes back.
    w.on_event(at(100), 1, later, partition=1)
    assert w.watermark(later) == DRAIN + timedelta(seconds=35)
    assert w.watermark(later + timedelta(seconds=20)) == DRAIN + timedelta(seconds=35)


def test_after_a_restart_no_partition_is_idle_until_it_had_time_to_send_again() -> None:
    w = aligned_windows()
    w.on_event(at(5), 1, DRAIN, partition=0)
    w.on_event(at(65), 1, DRAIN, partition=1)
    down = DRAIN + timedelta(minutes=5)  # the dataflow was down five minutes
    restored: EventTimeWindows[int, int] = EventTimeWindows(w.spec, SUM, w.snapshot())
    restored.on_resume(down)
    # Both still count: the minimum (partition 0's, 5 - 10 s + 5 min), not partition 1's.
    assert restored.watermark(down) == at(295)
    assert restored.watermark(down + timedelta(seconds=29)) == at(324)
    # Without on_resume both would be idle and the highest, partition 1's, would count.
    assert EventTimeWindows(w.spec, SUM, w.snapshot()).watermark(down) == at(355)


def test_a_partition_busy_behind_another_still_holds_the_watermark_back() -> None:
    w = aligned_windows()
    for second in range(0, 100, 10):  # both keep sending during the drain, 1 s apart
        now = DRAIN + timedelta(seconds=second)
        w.on_event(at(5 * second), 1, now, partition=0)
        w.on_event(at(second), 1, now, partition=1)
    # Partition 1 (at 90 s event time) is not idle: the watermark is its, 90 - 10 s, not
    # partition 0's 440 s.
    assert w.watermark(DRAIN + timedelta(seconds=90)) == at(80)


def awaiting_windows(channels: list[int]) -> EventTimeWindows[int, int]:
    spec = WindowSpec(
        MINUTE, timedelta(seconds=10), timedelta(hours=1), partition_idle=timedelta(seconds=30)
    )
    w: EventTimeWindows[int, int] = EventTimeWindows(spec, SUM)
    w.await_channels(channels, NOW)
    return w


def test_a_new_key_waits_for_every_expected_channel_before_closing_a_window() -> None:
    """Process 1 starts late: its on-time changes must not find the windows closed."""
    fast, late_starter = channel(0, 0), channel(1, 1)
    w = awaiting_windows([fast, late_starter])
    assert w.on_event(at(5), 1, NOW, fast).results == []
    assert w.on_event(at(200), 1, NOW, fast).results == []  # would close [0, 60) alone
    assert w.next_wake() == NOW + timedelta(seconds=30)  # when the late starter counts as idle
    outcome = w.on_event(at(6), 2, NOW + timedelta(seconds=3), late_starter)
    assert not outcome.late
    assert w.on_tick(NOW + timedelta(seconds=3)) == []  # its watermark is at 00:00:06 - 10 s
    closing = w.on_event(at(100), 4, NOW + timedelta(seconds=4), late_starter)
    assert closing.results == [result(0, 3, 1)]  # both channels past 00:01:10


def test_a_channel_that_never_sends_stops_holding_the_key_after_the_idle_time() -> None:
    w = awaiting_windows([channel(0, 0), channel(1, 1)])
    w.on_event(at(5), 1, NOW, channel(0, 0))
    w.on_event(at(200), 1, NOW, channel(0, 0))
    assert w.on_tick(NOW + timedelta(seconds=29)) == []
    assert w.next_wake() == NOW + timedelta(seconds=30)  # not now: no busy wake-ups
    restored = EventTimeWindows(w.spec, SUM, pickle.loads(pickle.dumps(w.snapshot())))
    assert restored.on_tick(NOW + timedelta(seconds=30)) == [result(0, 1, 1)]
    w.await_channels([channel(0, 0)], NOW + timedelta(seconds=31))  # known: not awaited again
    assert w.on_tick(NOW + timedelta(seconds=31)) == [result(0, 1, 1)]
