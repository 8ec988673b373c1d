"""The `orderstream` operator CLI: stack lifecycle, status, connector, loadgen, reconcile."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from orderstream.chaos import cli as chaos_cli
from orderstream.knobs import SettingsError
from orderstream.loadgen import cli as loadgen_cli
from orderstream.monitoring import alerts as alerts_cli
from orderstream.monitoring import receiver as receiver_cli
from orderstream.poll import WaitTimeout
from orderstream.reconcile import cli as reconcile_cli
from orderstream.settings import Settings
from orderstream.stack.components import Check, StackContext, StackError
from orderstream.stack.components.connector import (
    cdc_connector_spec,
    recover_history,
    register,
    resnapshot,
)
from orderstream.stack.components.kafka import KafkaCluster
from orderstream.stack.connect import ConnectError, ConnectorSpec
from orderstream.stack.health import check_all, print_report
from orderstream.stack.runtime import Stack
from orderstream.stack.supervisor import SupervisorUnavailable
from orderstream.subcommand import OneLineErrors

Handler = Callable[[argparse.Namespace], int]

#: Errors that are the operator's to fix: one line, no traceback.
OPERATOR_ERRORS = (SettingsError, StackError, ConnectError, SupervisorUnavailable, WaitTimeout)


def _stack_start(args: argparse.Namespace) -> int:
    Stack.from_env().start()
    return 0


def _stack_stop(args: argparse.Namespace) -> int:
    Stack.from_env().stop(purge=args.purge)
    return 0


def _stack_reset_dataflow(args: argparse.Namespace) -> int:
    Stack.from_env().reset_dataflow()
    return 0


def _stack_running(args: argparse.Namespace) -> int:
    return 0 if Stack.from_env().is_running() else 1


def _stack_info(args: argparse.Namespace) -> int:
    print(Stack.from_env().where_to_look())
    return 0


def _connector_register(args: argparse.Namespace) -> int:
    spec = ConnectorSpec.from_file(Path(args.file))
    ctx = StackContext.of(Settings.from_env())
    outcome = register(ctx, spec, timeout=args.timeout, connect_url=args.url)
    print(f"connector {spec.name}: {outcome}, RUNNING")
    return 0


def _topics_create(args: argparse.Namespace) -> int:
    """The Kafka component's own readiness wait and topic creation, on a running cluster."""
    kafka = KafkaCluster(StackContext.of(Settings.from_env()))
    kafka.wait_ready()
    kafka.after_start()
    print("orderstream: every topic of the contract exists")
    return 0


def _connector_resnapshot(args: argparse.Namespace) -> int:
    ctx = StackContext.of(Settings.from_env())
    spec = cdc_connector_spec(ctx.layout)
    resnapshot(ctx, spec, timeout=args.timeout)
    print(f"connector {spec.name}: snapshot taken again, RUNNING")
    return 0


def _connector_recover_history(args: argparse.Namespace) -> int:
    ctx = StackContext.of(Settings.from_env())
    spec = cdc_connector_spec(ctx.layout)
    recover_history(ctx, spec, timeout=args.timeout)
    print(f"connector {spec.name}: schema history rebuilt, RUNNING")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        checks = check_all(Settings.from_env())
    except OPERATOR_ERRORS as exc:
        if not args.json:
            raise
        # scripts parse stdout: a report that could not be made is still JSON, and unhealthy
        checks = [Check("status", False, f"status could not run: {exc}")]
    return print_report(checks, as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrors(prog="orderstream", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "status", help="check every component for real; non-zero when any is unhealthy"
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON, for scripts")
    p.set_defaults(func=_status)

    stack = sub.add_parser("stack", help="start or stop the native stack").add_subparsers(
        dest="stack_command", required=True
    )
    p = stack.add_parser(
        "start", help="install-free part of scripts/start.sh: start and wait healthy"
    )
    p.set_defaults(func=_stack_start)
    p = stack.add_parser("stop", help="stop every component, keeping data")
    p.add_argument("--purge", action="store_true", help="also delete data, logs and configs")
    p.set_defaults(func=_stack_stop)
    p = stack.add_parser(
        "reset-dataflow",
        help="delete the dataflow's recovery state and restart it from the topic's beginning",
    )
    p.set_defaults(func=_stack_reset_dataflow)
    p = stack.add_parser("running", help="exit 0 when the stack's supervisord runs, else 1")
    p.set_defaults(func=_stack_running)
    p = stack.add_parser("info", help="print where to look: addresses, topics, logs")
    p.set_defaults(func=_stack_info)

    conn = sub.add_parser("connector", help="manage Kafka Connect connectors").add_subparsers(
        dest="connector_command", required=True
    )
    p = conn.add_parser("register", help="create or update a connector from a {name, config} file")
    p.add_argument("file", help="Connect REST body, e.g. connectors/orders-cdc.json")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for RUNNING")
    p.add_argument(
        "--url", default=None, help="Connect worker REST URL (default: the first local worker)"
    )
    p.set_defaults(func=_connector_register)

    p = conn.add_parser(
        "resnapshot",
        help="the binlog position is gone: forget the CDC connector's offsets and snapshot again",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for RUNNING")
    p.set_defaults(func=_connector_resnapshot)
    p = conn.add_parser(
        "recover-history",
        help="the schema-history topic is gone: rebuild it (snapshot.mode=recovery once)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for RUNNING")
    p.set_defaults(func=_connector_recover_history)

    topics = sub.add_parser("topics", help="Kafka topics of the data contract").add_subparsers(
        dest="topics_command", required=True
    )
    p = topics.add_parser(
        "create", help="wait for the 3 brokers, then create the contract's missing topics"
    )
    p.set_defaults(func=_topics_create)

    loadgen_cli.add_parser(sub)
    reconcile_cli.add_parser(sub)
    alerts_cli.add_parser(sub)
    receiver_cli.add_parser(sub)
    chaos_cli.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except OPERATOR_ERRORS as exc:
        print(f"orderstream: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("orderstream: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
