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


def test_bot_add_update_changes_only_the_options_given(tmp_path, capsys):
    # `bot add alpha --update --cooldown-s 120` was refused for want of the three limits, and
    # an update naming them put the venue back to paper and cleared the symbols.
    db = ["--db", f"sqlite:///{tmp_path / 'tg.db'}"]
    (tmp_path / "c.toml").write_text(
        f'[node]\ndatabase_url = "sqlite:///{tmp_path / "tg.db"}"\n'
        '[[venues]]\nname = "paper"\nkind = "paper"\n[[venues]]\nname = "other"\nkind = "paper"\n'
    )
    cfg = ["--config", str(tmp_path / "c.toml")]
    assert main(["bot", "add", "alpha", "--max-order-usd", "50", "--max-position-usd", "100",
                 "--daily-loss-usd", "20", "--symbols", "BTC/USDT", "--venue", "other",
                 *cfg]) == 0  # fmt: skip
    assert main(["bot", "add", "alpha", "--update", "--cooldown-s", "120", *cfg]) == 0
    assert main(["bot", "add", "alpha", "--update", "--max-order-usd", "40", *cfg]) == 0
    capsys.readouterr()
    assert main(["bot", "list", "--json", *db]) == 0
    [bot] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (bot["venue"], bot["symbols"], bot["cooldown_s"]) == ("other", ["BTC/USDT"], 120)
    assert (bot["max_order_usd"], bot["max_position_usd"], bot["daily_loss_usd"]) == (
        "40",
        "100",
        "20",
    )
    # a new bot still needs its three limits, named in one line
    assert main(["bot", "add", "beta", "--max-order-usd", "50", *cfg]) == 2
    err = capsys.readouterr().err
    assert "bot 'beta' is new: --max-position-usd, --daily-loss-usd required" in err, err


def test_a_new_bot_trades_on_the_config_s_only_venue_without_naming_it(tmp_path, capsys):
    # docs/bots.md adds a bot without --venue beside examples/bots_sandbox.toml, whose one venue
    # is `binance`: the add was refused for the venue `paper` nobody had named.
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "bots_sandbox.toml"
    cfg = tmp_path / "bots.toml"
    cfg.write_text(example.read_text().replace("sqlite:///bots.db", f"sqlite:///{tmp_path}/b.db"))
    argv = ["bot", "add", "beta", "--max-order-usd", "50", "--max-position-usd", "100",
            "--daily-loss-usd", "20", "--config", str(cfg), "--json"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["venue"] == "binance"
    code = main([*argv[:2], "gamma", *argv[3:-1], "--venue", "kraken"])
    err = capsys.readouterr().err
    assert code == 2 and "--venue 'kraken' is not a venue of the config" in err, err
