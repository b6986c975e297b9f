"""A bot's money limits are ASCII decimals on every surface: `bot add --max-order-usd ５０`
(full-width digits, which Decimal reads as 50) is refused naming the field and value, as the
API's schema (MONEY_PATTERN, [0-9] only) refuses it, instead of being stored as 50."""

from __future__ import annotations

import pytest

from cli_support import Done, run_cli
from tradeguard.bots.spec import BotError, BotSpec


def _run(capsys: pytest.CaptureFixture[str], db: str, *args: str) -> Done:
    return run_cli(capsys, "bot", "add", "alpha", "--db", db, *args)


def test_full_width_digits_in_a_money_option_are_refused_by_bot_add(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'tg.db'}"
    out = _run(capsys, db, "--max-order-usd", "５０", "--max-position-usd", "100",
               "--daily-loss-usd", "20")  # fmt: skip
    assert out.returncode != 0, out.stdout
    assert "max_order_usd" in out.stderr and "５０" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("text", ["５０", "٥٠", "5０", "0.５"])
def test_a_bot_spec_reads_only_ascii_decimals(text):
    doc = {"max_order_usd": text, "max_position_usd": "2000", "daily_loss_usd": "20"}
    with pytest.raises(BotError, match="max_order_usd"):
        BotSpec.parse("alpha", doc)


@pytest.mark.parametrize("text", ["５０", "-٥", "0.５"])
def test_transfer_amount_reads_only_ascii_decimals(text):
    # `tradeguard transfer --amount ５０` booked 50 into the ledger
    import argparse

    from tradeguard.cli.transfer import _amount_arg

    with pytest.raises(argparse.ArgumentTypeError, match="non-zero amount"):
        _amount_arg(text)


@pytest.mark.parametrize("text", ["1_0", "0.0_5", "1_000"])
def test_a_bot_spec_refuses_digits_grouped_with_underscores(text):
    # Decimal reads "1_0" as 10: a typo for 1.0 was a limit ten times as high
    doc = {"max_order_usd": text, "max_position_usd": "2000", "daily_loss_usd": "20"}
    with pytest.raises(BotError, match=r"max_order_usd.*'_'"):
        BotSpec.parse("alpha", doc)


@pytest.mark.parametrize("text", ["1_0", "-0_5"])
def test_transfer_amount_refuses_digits_grouped_with_underscores(text):
    import argparse

    from tradeguard.cli.transfer import _amount_arg

    with pytest.raises(argparse.ArgumentTypeError, match="non-zero amount"):
        _amount_arg(text)


@pytest.mark.parametrize("text", ["５０", "1_0"])
def test_a_sizing_rule_reads_only_plain_ascii_decimals(text):
    # the rule's USD bounds size every trade: "５０" and "1_0" were read as 50 and 10
    from tradeguard.bots.sizing import SizeRule, SizingError

    doc = {"kind": "linear", "min_score": "0.5", "max_score": "1", "min_usd": "5", "max_usd": text}
    with pytest.raises(SizingError, match="max_usd"):
        SizeRule.parse("sizing", doc)
