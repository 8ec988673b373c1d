"""The shape shared by self-contained `orderstream` subcommands (loadgen, reconcile).

Each is registered on the main CLI and also runs alone as ``python -m orderstream.<name>``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn


class OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose errors are one line naming the argument (no usage block);
    exit status 2 as argparse's. Subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@dataclass(frozen=True)
class Subcommand:
    name: str
    help: str
    description: str
    epilog: str
    configure: Callable[[argparse.ArgumentParser], None]  # adds arguments and sets func

    @property
    def prog(self) -> str:
        return f"orderstream {self.name}"

    def add_to(self, subparsers: Any) -> argparse.ArgumentParser:
        """Register on the main CLI's ``add_subparsers()`` object."""
        parser: argparse.ArgumentParser = subparsers.add_parser(
            self.name,
            help=self.help,
            description=self.description,
            epilog=self.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.configure(parser)
        return parser

    def run_alone(self, argv: Sequence[str] | None = None) -> int:
        """Parse ``argv`` and run, as ``python -m orderstream.<name>`` does."""
        parser = OneLineErrors(
            prog=self.prog,
            description=self.description,
            epilog=self.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.configure(parser)
        args = parser.parse_args(argv)
        code: int = args.func(args)
        return code
