"""SIGTERM stops a flow run by bytewax.run promptly, the way SIGINT does."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def test_sigterm_stops_bytewax_run_like_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bytewax.run", "tests.unit.dataflows.sigterm_flow:flow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "running"
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=15)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # killed by the default action, the return code would be -SIGTERM and nothing printed
    assert proc.returncode == 1, output[-2000:]
    assert "KeyboardInterrupt: stopped by SIGTERM" in output
    assert elapsed < 5
