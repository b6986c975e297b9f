"""The ledger audit's halt names a `tradeguard transfer` command for each asset it finds off: an
outcome contract on a prediction market (Kalshi `TICKER:YES`, Polymarket `slug:NO`), a token as
the venue spells it (wstETH); the command named must be one the command line takes, with the
asset as the ledger spells it (the balance read is matched to it exactly)."""

from __future__ import annotations

import re
import shlex
from decimal import Decimal

import pytest

from tradeguard.cli.main import build_parser
from tradeguard.execution.ledger_audit import audit_ledger
from tradeguard.model.balance import Balance

D = Decimal


@pytest.mark.parametrize("asset", ["KXFED-25DEC-T4.25:YES", "fed-above-4:NO", "wstETH", "BTC"])
def test_the_transfer_a_halt_names_is_a_command_that_parses(asset: str) -> None:
    audit = audit_ledger(
        {"pm": {asset: D(10)}}, [], [], [Balance("pm", asset, D(4))], [], rounded={"pm"}
    )
    named = re.findall(r"`tradeguard (transfer [^`]*)`", audit.reason())
    assert len(named) == 1, audit.reason()
    args = build_parser("transfer").parse_args(shlex.split(named[0]))
    assert (args.venue, args.asset, args.amount) == ("pm", asset, D(-6))


@pytest.mark.parametrize("text", ["fed above:YES", "x:MAYBE", ":YES", "a" * 130 + ":NO"])
def test_an_asset_that_is_no_coin_or_contract_is_refused_naming_it(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["transfer", "--venue", "pm", "--asset", text, "--amount", "1", "--reason", "x"]
    with pytest.raises(SystemExit) as exit_info:
        build_parser("transfer").parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--asset" in err and repr(text)[:40] in err, err


def test_a_coin_typed_in_lower_case_is_the_upper_case_coin() -> None:
    argv = ["transfer", "--venue", "b", "--asset", "btc", "--amount", "1", "--reason", "x"]
    assert build_parser("transfer").parse_args(argv).asset == "BTC"
