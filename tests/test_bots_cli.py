"""`tradeguard bot …`: add (disabled by default), enable, list, and a token bound to the bot."""

from __future__ import annotations

import json

from tradeguard.api.auth import TokenStore
from tradeguard.cli.main import main
from tradeguard.storage.db import Database


def test_bot_add_is_disabled_until_enabled_and_its_token_is_bound(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    assert main(["bot", "add", "alpha", "--max-order-usd", "50", "--max-position-usd", "100",
                 "--daily-loss-usd", "20", "--symbols", "BTC/USDT", *db]) == 0  # fmt: skip
    assert main(["bot", "list", "--json", *db]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    [bot] = json.loads(out)
    assert (bot["bot_id"], bot["enabled"], bot["symbols"]) == ("alpha", False, ["BTC/USDT"])
    assert main(["bot", "enable", "alpha", *db]) == 0
    assert main(["bot", "token", "alpha", "--json", *db]) == 0
    token = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["token"]
    info = TokenStore(Database(f"sqlite:///{tmp_path / 'tg.db'}")).verify(token)
    assert info is not None and info.bot == "alpha"


def test_bot_add_refuses_a_bad_limit_in_one_line(tmp_path, capsys):
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    code = main(["bot", "add", "alpha", "--max-order-usd", "-5", "--max-position-usd", "100",
                 "--daily-loss-usd", "20", *db])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "max_order_usd=-5 must be > 0" in err and "Traceback" not in err
