"""`tradeguard run --until-end` with examples/token_unlock.toml trades around the unlocks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cli_support import run_cli

ROOT = Path(__file__).resolve().parents[1]
H = 3_600_000
ETH_UNLOCK = 1515931200000  # 2018-01-14T12:00:00Z, an EXAMPLE event of the sample calendar
XLM_UNLOCK = 1516809600000  # 2018-01-24T16:00:00Z


def test_paper_replay_exits_before_and_reenters_after_the_example_unlocks(
    tmp_path, data_dir, capsys, monkeypatch
):
    (tmp_path / "examples").mkdir()
    for name in ("token_unlock.toml", "unlock_calendar.csv"):
        shutil.copy(ROOT / "examples" / name, tmp_path / "examples" / name)
    monkeypatch.setenv("TG_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)  # the example's database is relative: token_unlock.db here
    run = run_cli(capsys, "run", "--until-end", "--config", "examples/token_unlock.toml")
    assert run.returncode == 0, run.stderr
    assert "23,000" in run.stdout  # four BTC-quoted 5-minute files
    assert (tmp_path / "token_unlock.db").exists()
    out = run_cli(capsys, "orders", "--db", "sqlite:///token_unlock.db", "--json", "--limit", "500")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    orders = doc["items"] if isinstance(doc, dict) else doc
    assert all(o["status"] == "filled" for o in orders)
    by = {(o["symbol"], o["side"], o["signal"]["reason"], o["created_ts"]) for o in orders}
    # lead_h = lag_h = 24: out a day before each unlock, back in a day after it
    assert ("ETH/BTC", "sell", "unlock_ahead", ETH_UNLOCK - 24 * H) in by
    assert ("ETH/BTC", "buy", "unlock_passed", ETH_UNLOCK + 24 * H) in by
    assert ("XLM/BTC", "sell", "unlock_ahead", XLM_UNLOCK - 24 * H) in by
    assert ("XLM/BTC", "buy", "unlock_passed", XLM_UNLOCK + 24 * H) in by
    # no position is held inside a window: no buy between an exit and its re-entry
    for sym, unlock in (("ETH/BTC", ETH_UNLOCK), ("XLM/BTC", XLM_UNLOCK)):
        inside = [o for o in orders if o["symbol"] == sym
                  and unlock - 24 * H < o["created_ts"] < unlock + 24 * H]  # fmt: skip
        assert inside == []
    # the 1 % TRX event is below min_supply_pct and TRX is not traded
    assert not any(o["symbol"] == "TRX/BTC" for o in orders)
    reasons = {o["signal"]["reason"] for o in orders}
    assert "stop_loss" in reasons and "outside_unlock_window" in reasons


def test_the_examples_carry_every_limit_of_the_users_plan():
    from decimal import Decimal

    from tradeguard.config import load_config
    from tradeguard.strategies.base import create

    plan = {  # max 20 % per trade, min $50, 5 positions, 20 % stablecoins, daily -5 %,
        "max_order_notional_pct": Decimal(20),  # 3 losses, drawdown -10 %, min balance $100
        "min_order_notional_usd": Decimal(50),
        "max_open_positions": 5,
        "stable_reserve_pct": Decimal(20),
        "daily_loss_limit_pct": Decimal(5),
        "max_consecutive_losses": 3,
        "max_drawdown_pct": Decimal(10),
        "min_account_balance_usd": Decimal(100),
    }
    for name in ("token_unlock.toml", "token_unlock_sandbox.toml"):
        risk = load_config(ROOT / "examples" / name, environ={}).risk
        assert {k: getattr(risk, k) for k in plan} == plan, name
    # and the strategy's own defaults: 20 % a trade, $50 minimum, SL 2 %, TP 5 %, trailing at +3 %
    strat = create("token_unlock", "u", "paper", "ETH/BTC",
                   {"calendar": str(ROOT / "examples" / "unlock_calendar.csv")})  # fmt: skip
    assert (strat.position_pct, strat.min_order_usd) == (Decimal(20), Decimal(50))
    r = strat.rules
    assert (r.stop_loss_pct, r.take_profit_pct, r.trailing_activation_pct) == (2, 5, 3)
