"""`orderstream alert-receiver`: the webhook receiver Alertmanager notifies.

It records every alert of every notification as one JSON line (receiver, status, labels,
annotations, startsAt/endsAt, received_at in UTC) in ``ORDERSTREAM_ALERT_LOG`` (default
``<runtime>/alerts/notifications.jsonl``), so a person can see what fired and when, and a test
can assert on it. ``GET /healthz`` answers ``ok``. A body that is not an Alertmanager webhook
payload is refused with 400 and recorded nowhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from orderstream.monitoring.settings import MonitoringSettings
from orderstream.subcommand import Subcommand

MAX_BODY_BYTES = 4 * 1024 * 1024


class PayloadError(ValueError):
    """The body is not an Alertmanager webhook payload."""


def notification_lines(payload: Any, received_at: datetime) -> list[dict[str, Any]]:
    """One record per alert of an Alertmanager webhook payload (version 4)."""
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    alerts = payload.get("alerts")
    receiver = payload.get("receiver")
    if not isinstance(alerts, list) or not isinstance(receiver, str):
        raise PayloadError("the body has no 'receiver' string and 'alerts' list")
    lines = []
    for alert in alerts:
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            raise PayloadError("an alert has no 'labels' object")
        lines.append(
            {
                "received_at": received_at.isoformat(),
                "receiver": receiver,
                "status": alert.get("status", payload.get("status")),
                "alertname": alert["labels"].get("alertname"),
                "labels": alert["labels"],
                "annotations": alert.get("annotations", {}),
                "startsAt": alert.get("startsAt"),
                "endsAt": alert.get("endsAt"),
                "fingerprint": alert.get("fingerprint"),
            }
        )
    return lines


class NotificationLog:
    """Appends records to a JSON-lines file, one writer at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(text)
            f.flush()


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a notification log (none when it does not exist yet)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                record: dict[str, Any] = json.loads(line)
                yield record


def make_handler(log: NotificationLog) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "orderstream-alert-receiver"

        def do_GET(self) -> None:
            if self.path.rstrip("/") in {"/healthz", ""}:
                self._reply(HTTPStatus.OK, "ok\n")
            else:
                self._reply(HTTPStatus.NOT_FOUND, "POST Alertmanager webhooks to /alerts/<name>\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY_BYTES:
                self._reply(HTTPStatus.BAD_REQUEST, "a JSON body of at most 4 MiB is required\n")
                return
            body = self.rfile.read(length)
            try:
                records = notification_lines(json.loads(body), datetime.now(UTC))
            except (ValueError, UnicodeDecodeError) as exc:
                self.log_message("refused a notification: %s", exc)
                self._reply(HTTPStatus.BAD_REQUEST, f"not an Alertmanager webhook: {exc}\n")
                return
            log.append(records)
            self._reply(HTTPStatus.OK, f"recorded {len(records)} alerts\n")

        def _reply(self, status: HTTPStatus, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"alert-receiver: {format % args}\n")

    return Handler


def make_server(host: str, port: int, log_path: Path) -> ThreadingHTTPServer:
    """Bind the receiver (port 0 picks a free one); ``serve_forever`` runs it."""
    return ThreadingHTTPServer((host, port), make_handler(NotificationLog(log_path)))


def _run(args: argparse.Namespace) -> int:
    ms = MonitoringSettings.from_env()
    host = args.host or ms.host
    port = ms.alert_receiver_port if args.port is None else args.port
    log_path = Path(args.log) if args.log else ms.alert_log
    try:
        server = make_server(host, port, log_path)
    except OSError as exc:
        print(
            f"orderstream: error: alert-receiver cannot listen on {host}:{port}: {exc}",
            file=sys.stderr,
        )
        return 1
    print(f"alert-receiver: listening on http://{host}:{port}, recording to {log_path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default: ORDERSTREAM_HOST)")
    parser.add_argument(
        "--port", type=int, help="port to bind (default: ORDERSTREAM_ALERT_RECEIVER_PORT, 9095)"
    )
    parser.add_argument(
        "--log", help="JSON-lines file to append to (default: ORDERSTREAM_ALERT_LOG)"
    )
    parser.set_defaults(func=_run)


SUBCOMMAND = Subcommand(
    name="alert-receiver",
    help="receive Alertmanager webhooks and record each alert as a JSON line",
    description=__doc__ or "",
    epilog="The native stack supervises it; Alertmanager posts to /alerts/<receiver>.",
    configure=_configure,
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    return SUBCOMMAND.add_to(subparsers)


if __name__ == "__main__":
    sys.exit(SUBCOMMAND.run_alone())
