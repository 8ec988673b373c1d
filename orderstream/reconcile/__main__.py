"""``python -m orderstream.reconcile ...``: the reconcile subcommand without the main CLI."""

from __future__ import annotations

import sys

from orderstream.reconcile.cli import SUBCOMMAND

if __name__ == "__main__":
    sys.exit(SUBCOMMAND.run_alone())
