"""The supervisord client tells "not running" from a bug, whatever the socket does."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderstream.stack.supervisor import Supervisor, SupervisorUnavailable


@pytest.fixture
def hanging_up_socket(tmp_path: Path) -> Iterator[Path]:
    """A unix socket whose server accepts and closes at once, as supervisord shutting down."""
    path = tmp_path / "supervisor.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()
    server.close()


def test_a_connection_closed_by_a_stopping_supervisord_means_not_running(
    hanging_up_socket: Path,
) -> None:
    supervisor = Supervisor(hanging_up_socket)
    assert not supervisor.is_running()
    assert not supervisor.is_running()  # a fresh connection, not the broken one
    with pytest.raises(SupervisorUnavailable, match="does not answer"):
        supervisor.programs()


def test_no_socket_means_not_running(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "none.sock")
    assert not supervisor.is_running()
    with pytest.raises(SupervisorUnavailable, match="no socket"):
        supervisor.programs()
