"""SIGTERM stops the dataflow as promptly as SIGINT does.

Bytewax stops on Ctrl-C because the KeyboardInterrupt that Python raises at its next signal
check ends the run (it resumes from its last recovery snapshot, so nothing is lost). A
container runtime or ``kill PID`` sends SIGTERM instead: the handler installed here turns it
into the same KeyboardInterrupt.
"""

from __future__ import annotations

import signal
from types import FrameType


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def stop_on_sigterm() -> None:
    """Install the handler; call it from the main thread (the flow factory runs there)."""
    signal.signal(signal.SIGTERM, _interrupt)
