"""``python -m orderstream.loadgen ...``: the loadgen subcommand without the main CLI."""

from __future__ import annotations

import sys

from orderstream.loadgen.cli import SUBCOMMAND

if __name__ == "__main__":
    sys.exit(SUBCOMMAND.run_alone())
