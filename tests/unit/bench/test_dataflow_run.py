"""bench.dataflow_run: the command of a one-process run and of a Bytewax cluster; ports;
the bench's offline digest ignores processed_at only."""

from __future__ import annotations

import socket

import orjson

from bench.dataflow_run import dataflow_command, free_ports
from bench.offline import digest
from dataflows.records import OutRecord


def test_one_process_runs_without_cluster_arguments() -> None:
    command = dataflow_command(2)
    assert command[-3:] == ["dataflows.orders", "-w", "2"]
    assert "-i" not in command and "-a" not in command


def test_each_cluster_process_gets_its_id_and_every_address() -> None:
    addresses = ["127.0.0.1:5001", "127.0.0.1:5002"]
    command = dataflow_command(1, 1, addresses)
    assert command[command.index("-i") + 1] == "1"
    assert command[command.index("-a") + 1] == "127.0.0.1:5001;127.0.0.1:5002"


def test_free_ports_are_consecutive_and_bindable() -> None:
    base = free_ports(2)
    for port in (base, base + 1):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def _record(key: str, **value: object) -> OutRecord:
    return OutRecord(key, orjson.dumps(value))


def test_digest_ignores_processed_at_and_order_but_not_values() -> None:
    a = {"processed": [_record("1", v=1, processed_at="x"), _record("2", v=2)]}
    b = {"processed": [_record("2", v=2), _record("1", v=1, processed_at="y")]}
    c = {"processed": [_record("2", v=2), _record("1", v=3, processed_at="y")]}
    assert digest(a) == digest(b)
    assert digest(a) != digest(c)
