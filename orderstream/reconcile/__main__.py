"""``python -m orderstream.reconcile ...``: the reconcile subcommand without the main CLI."""

from __future__ import annotations

import argparse
import sys

from orderstream.reconcile.cli import DESCRIPTION, EPILOG, PROG, configure


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure(parser)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(run())
