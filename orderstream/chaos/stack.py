"""Whole-stack and database faults: MariaDB restart, ALTER TABLE under load, a purge."""

from __future__ import annotations

import time
import uuid

from orderstream.chaos.harness import Chaos
from orderstream.chaos.registry import Fault, scenario
from orderstream.stack.components.mariadb import MariaDB


@scenario("mariadb-restart", "MariaDB stopped and started under load")
def mariadb_restart(chaos: Chaos) -> Fault:
    program = MariaDB.name
    started = time.monotonic()
    chaos.stop(program)
    chaos.start(program)
    return Fault(time.monotonic() - started)


@scenario("alter-table", "ALTER TABLE orders ADD COLUMN under load (dropped 30s later)")
def alter_table(chaos: Chaos) -> Fault:
    column = f"chaos_{uuid.uuid4().hex[:8]}"
    chaos.admin_sql(f"ALTER TABLE orders ADD COLUMN {column} VARCHAR(32) NULL")
    chaos.hold(30)
    chaos.admin_sql(f"ALTER TABLE orders DROP COLUMN {column}")
    return Fault(0, f"column {column} added, then dropped")


@scenario(
    "stack-purge",
    "scripts/stop.sh --purge then start, then load",
    fast=True,
    under_load=False,
)
def stack_purge(chaos: Chaos) -> Fault:
    stack = chaos.stack()
    started = time.monotonic()
    stack.stop(purge=True)
    stack.start()
    down = time.monotonic() - started
    with chaos.load():
        chaos.hold(40)
    return Fault(down, "recovery state purged with Kafka's data")
