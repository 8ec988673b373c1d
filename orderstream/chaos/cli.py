"""``orderstream chaos SCENARIO...`` / ``--list`` / ``--fast`` / ``--all``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from orderstream.chaos import harness
from orderstream.chaos.registry import all_scenarios
from orderstream.settings import Settings

DESCRIPTION = """\
Run fault scenarios against the live stack: each runs the load generator, injects one fault,
heals it, waits until `orderstream status` is healthy, runs `reconcile` and prints one line:
what was done, the load, how long the fault lasted, how long recovery took, whether the money
still matches and how many records were dead-lettered. Exit 0 only if every scenario passed.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "chaos",
        help="inject faults into the live stack and check that it recovers and reconciles",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--list", action="store_true", help="list the scenarios and exit")
    which.add_argument("--fast", action="store_true", help="the fast subset (scripts/test.sh)")
    which.add_argument("--all", action="store_true", help="every scenario (test.sh --chaos)")
    p.add_argument("--rate", type=float, default=50.0, help="load: order changes/s (50)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    scenarios = all_scenarios()
    if args.list:
        for s in scenarios.values():
            print(f"{s.name:<22} {'fast ' if s.fast else '     '} {s.fault}")
        return 0
    if args.all:
        names = list(scenarios)
    elif args.fast:
        names = [s.name for s in scenarios.values() if s.fast]
    else:
        names = args.scenarios
    unknown = [n for n in names if n not in scenarios]
    if unknown or not names:
        known = ", ".join(scenarios)
        what = f"unknown scenario(s): {', '.join(unknown)}" if unknown else "no scenario given"
        print(f"orderstream chaos: error: {what} (known: {known})", file=sys.stderr)
        return 2
    if args.rate <= 0:
        print(f"orderstream chaos: error: --rate must be > 0, got {args.rate:g}", file=sys.stderr)
        return 2
    chaos = harness.Chaos(Settings.from_env(), args.rate)
    began = time.monotonic()
    results = []
    for name in names:
        result = harness.run(scenarios[name], chaos)
        print(result.line(), flush=True)
        results.append(result)
    passed = sum(r.passed for r in results)
    minutes = (time.monotonic() - began) / 60
    print(f"{passed}/{len(results)} scenarios passed in {minutes:.1f} min", flush=True)
    # the closing line test runners print, so a CI log reads the same for the fault suite
    print(f"chaos: {passed} passed, {len(results) - passed} failed", flush=True)
    return 0 if passed == len(results) else 1
