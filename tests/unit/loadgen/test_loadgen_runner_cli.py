"""Open-loop pacing with a fake clock and writer, argument parsing, and the output lines."""

from __future__ import annotations

import argparse
import io
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from orderstream.loadgen import cli
from orderstream.loadgen.planner import PlanConfig, PlannedChange, plan
from orderstream.loadgen.progress import Progress, progress_line, summary_line
from orderstream.loadgen.runner import RunStats, run_schedule


class FakeTime:
    """A clock that only moves when someone sleeps or writes."""

    def __init__(self, write_cost: float = 0.0) -> None:
        self.now = 0.0
        self.write_cost = write_cost

    def clock(self) -> float:
        return self.now


class FakeStop(threading.Event):
    def __init__(self, time: FakeTime) -> None:
        super().__init__()
        self.time = time

    def wait(self, timeout: float | None = None) -> bool:
        self.time.now += timeout or 0.0
        return self.is_set()


class FakeWriter:
    def __init__(
        self, time: FakeTime, stop_after: int | None = None, stop: threading.Event | None = None
    ) -> None:
        self.time = time
        self.batches: list[tuple[float, list[PlannedChange]]] = []
        self.stop_after = stop_after
        self.stop = stop

    def write(self, batch: Sequence[PlannedChange]) -> None:
        self.batches.append((self.time.now, list(batch)))
        self.time.now += self.time.write_cost
        if self.stop_after is not None and len(self.batches) >= self.stop_after and self.stop:
            self.stop.set()


def run(
    config: PlanConfig, time: FakeTime, writer: FakeWriter, stop: FakeStop, **kw: object
) -> RunStats:
    return run_schedule(
        plan(config), writer, target_rate=config.rate, duration=config.duration, stop=stop,
        clock=time.clock, **kw,  # type: ignore[arg-type]
    )


def test_low_rate_writes_each_change_on_time_one_per_transaction() -> None:
    time = FakeTime()
    stop = FakeStop(time)
    writer = FakeWriter(time)
    stats = run(PlanConfig(rate=10, duration=5, seed=1), time, writer, stop)
    assert stats.written == 50 and stats.batches == 50
    for written_at, batch in writer.batches:
        assert len(batch) == 1 and batch[0].at <= written_at < batch[0].at + 0.001
    assert stats.elapsed == pytest.approx(5.0) and stats.achieved_rate == pytest.approx(10.0)
    assert stats.unwritten_due == 0 and not stats.stopped


def test_slow_database_means_bigger_batches_not_a_lower_rate() -> None:
    time = FakeTime(write_cost=0.05)  # 20 transactions/s at most
    stop = FakeStop(time)
    writer = FakeWriter(time)
    stats = run(PlanConfig(rate=1000, duration=5, seed=1), time, writer, stop, max_batch=500)
    assert stats.written == 5000
    assert max(len(b) for _, b in writer.batches) > 40
    assert stats.batches < 150
    assert stats.achieved_rate == pytest.approx(1000, rel=0.02)


def test_hopelessly_slow_database_stops_at_duration_plus_grace() -> None:
    time = FakeTime(write_cost=0.5)
    stop = FakeStop(time)
    writer = FakeWriter(time)
    stats = run(PlanConfig(rate=1000, duration=2, seed=1), time, writer, stop, max_batch=10)
    assert stats.elapsed <= 2 + 1 + 0.5 + 1e-9
    assert stats.written == 10 * len(writer.batches) < 2000
    assert stats.written + stats.unwritten_due == 2000


def test_stop_event_ends_the_run_after_the_transaction_in_flight() -> None:
    time = FakeTime(write_cost=0.001)
    stop = FakeStop(time)
    writer = FakeWriter(time, stop_after=3, stop=stop)
    stats = run(PlanConfig(rate=10, duration=None, seed=1), time, writer, stop)
    assert stats.stopped and stats.written == 3 and len(writer.batches) == 3


def namespace(**kw: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    args = parser.parse_args([])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_parse_options_defaults() -> None:
    opts = cli.parse_options(namespace(seed="5"), default_rate=2.0)
    assert opts.rate == 2.0 and opts.duration is None and opts.seed == 5
    assert opts.currencies == ("KRW", "USD", "EUR") and opts.illegal_rate == 0.0


@pytest.mark.parametrize(("text", "seconds"), [("90", 90.0), ("90s", 90.0), ("2m", 120.0),
                                               ("1.5h", 5400.0), ("0.5", 0.5)])
def test_duration_units(text: str, seconds: float) -> None:
    assert cli.parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("kw", "names"),
    [
        ({"rate": "-5"}, "--rate"),
        ({"rate": "0"}, "--rate"),
        ({"rate": "fast"}, "--rate"),
        ({"rate": "nan"}, "--rate"),
        ({"duration": "-1"}, "--duration"),
        ({"duration": "10x"}, "--duration"),
        ({"currencies": "USD,XYZ"}, "XYZ"),
        ({"currencies": ","}, "--currencies"),
        ({"illegal_rate": "1.5"}, "--illegal-rate"),
        ({"illegal_rate": "-0.1"}, "--illegal-rate"),
        ({"customers": "0"}, "--customers"),
        ({"seed": "abc"}, "--seed"),
        ({"first_id": "0"}, "--first-id"),
        ({"max_batch": "0"}, "--max-batch"),
    ],
)
def test_bad_arguments_are_named(kw: dict[str, str], names: str) -> None:
    with pytest.raises(cli.UsageError, match=names):
        cli.parse_options(namespace(**kw), default_rate=2.0)


def test_bad_argument_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(namespace(rate="-1")) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--rate" in err and "Traceback" not in err


def test_add_parser_registers_loadgen() -> None:
    parser = argparse.ArgumentParser(prog="orderstream")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["loadgen", "--rate", "5", "--duration", "1"])
    assert args.func is cli.main and args.rate == "5"
    sub: Any = parser._subparsers._group_actions[0]  # type: ignore[union-attr]
    assert "ORDER CHANGES per second" in sub.choices["loadgen"].format_help()


def test_progress_and_summary_lines() -> None:
    stats = RunStats(target_rate=100, written=1000, orders=250, elapsed=10.0, batches=900)
    assert "100.0/s (target 100/s)" in progress_line(stats)
    line = summary_line(stats, seed=7, id_ranges=[(10, 259)])
    assert "wrote 1000 order changes (250 new orders" in line
    assert "100.0 changes/s" in line and "seed 7" in line and "10..259" in line


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_refreshes_one_line_on_a_terminal() -> None:
    out = FakeTty()
    progress = Progress(out)
    progress.update(RunStats(target_rate=5, written=1, elapsed=1.0))
    progress.update(RunStats(target_rate=5, written=2, elapsed=2.0))
    progress.message("database connection lost; retry 1 in 0.2s")
    progress.finish()
    text = out.getvalue()
    assert text.count("\r\x1b[2K") == 2 and "loadgen: database connection lost" in text
    assert text.endswith("\n")


def test_progress_is_quiet_when_not_a_terminal() -> None:
    out = io.StringIO()
    progress = Progress(out, log_interval=3600)
    progress.update(RunStats(target_rate=5, written=1, elapsed=1.0))
    progress.finish()
    assert out.getvalue() == ""
