"""argparse's own errors (unknown option, missing value, unknown command) are one line."""

from __future__ import annotations

import pytest

from orderstream.cli import main
from orderstream.reconcile.cli import SUBCOMMAND as RECONCILE


@pytest.mark.parametrize(
    "argv, named",
    [
        (["loadgen", "--bogus"], "--bogus"),
        (["loadgen", "--rate"], "--rate"),
        (["nope"], "'nope'"),
        (["stack", "stop", "--purgee"], "--purgee"),
        (["reconcile", "--wait"], "--wait"),
    ],
)
def test_usage_errors_are_one_line_naming_the_argument(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert named in err and "error:" in err


def test_a_subcommand_run_alone_has_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        RECONCILE.run_alone(["--bogus"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--bogus" in err and err.startswith("orderstream reconcile:")
