"""Strategies of one's own: by file path, module path or entry point, from the config alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import run_cli
from node_support import write_paper_toml, write_slice
from tradeguard.strategies.base import Strategy, create
from tradeguard.strategies.loader import StrategyLoadError, load_strategy_class
from tradeguard.strategies.template import class_name, write_template

PLAIN_CLASS = """
class NotAStrategy:
    pass
"""


def test_template_is_a_strategy_that_loads_from_its_file(tmp_path: Path) -> None:
    path = write_template("my breakout", tmp_path / "strategies")
    assert path.name == "my_breakout.py"
    cls = load_strategy_class(f"{path}:MyBreakout")
    assert issubclass(cls, Strategy)
    strat = cls("s1", "paper", "BTC/USDT", {"lookback": 5})
    assert strat.lookback == 5
    assert strat.state() == {"closes": [], "entry": None}


def test_template_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    write_template("alpha", tmp_path)
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_template("alpha", tmp_path)
    with pytest.raises(ValueError, match="letters, digits"):
        class_name("---")


def test_relative_file_is_found_beside_the_config_before_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_template("beside", tmp_path / "cfg" / "strategies")
    monkeypatch.chdir(tmp_path)
    strat = create(
        "strategies/beside.py:Beside", "s", "paper", "BTC/USDT", {}, base_dir=tmp_path / "cfg"
    )
    assert type(strat).__name__ == "Beside"


def test_module_path_kind_imports_from_sys_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write_template("momo", pkg)
    monkeypatch.syspath_prepend(str(tmp_path))
    strat = create("mypkg.momo:Momo", "s", "paper", "BTC/USDT", {"lookback": 3})
    assert strat.lookback == 3  # type: ignore[attr-defined]


def test_entry_point_kind_loads_an_installed_strategy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_template("installed_one", tmp_path)
    dist = tmp_path / "installed_one-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: installed-one\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[tradeguard.strategies]\nbreakout_pro = installed_one:InstalledOne\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_strategy_class("breakout_pro").__name__ == "InstalledOne"


def test_missing_file_names_every_place_it_looked(tmp_path: Path) -> None:
    with pytest.raises(StrategyLoadError) as err:
        load_strategy_class("strategies/nope.py:Nope", base_dir=tmp_path / "conf")
    text = str(err.value)
    assert str(tmp_path / "conf" / "strategies" / "nope.py") in text
    assert str(Path.cwd() / "strategies" / "nope.py") in text


def test_a_class_that_is_not_a_strategy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.py"
    path.write_text(PLAIN_CLASS)
    with pytest.raises(StrategyLoadError, match="not a subclass of"):
        load_strategy_class(f"{path}:NotAStrategy")
    with pytest.raises(StrategyLoadError, match="no attribute 'Missing'"):
        load_strategy_class(f"{path}:Missing")


def test_unknown_module_and_unknown_kind_say_where_they_looked() -> None:
    with pytest.raises(StrategyLoadError, match=r"module 'no_such_pkg_xyz\.mod' not found"):
        load_strategy_class("no_such_pkg_xyz.mod:Cls")
    with pytest.raises(ValueError, match="built-in kinds") as err:
        create("no_such_kind", "s", "paper", "BTC/USDT", {})
    assert "tradeguard.strategies" in str(err.value)


def test_a_user_strategy_file_outside_the_package_trades_in_tradeguard_run(
    tmp_path: Path, data_dir: Path, capsys, monkeypatch
) -> None:
    work = tmp_path / "project"
    write_template("my_breakout", work / "strategies")
    data = write_slice(data_dir, tmp_path / "btc.csv", 4000)
    mine = """
[[strategies]]
id = "mine"
kind = "strategies/my_breakout.py:MyBreakout"
venue = "paper"
symbol = "BTC/USDT"
params = { lookback = 30, order_usd = "90", stop_loss_pct = "0.5", take_profit_pct = "0.5" }
"""
    cfg = write_paper_toml(tmp_path, data, strategies=mine, folder=work)
    # Run from another folder: the strategy file is found beside the config.
    monkeypatch.chdir(tmp_path)
    run = run_cli(capsys, "run", "--until-end", "--config", str(cfg))
    assert run.returncode == 0, run.stderr[-2000:]
    out = run_cli(capsys, "orders", "--json", "--limit", "500", "--config", str(cfg))
    assert out.returncode == 0, out.stderr[-2000:]
    orders = json.loads(out.stdout)
    rows = orders["orders"] if isinstance(orders, dict) else orders
    mine = [o for o in rows if o["strategy_id"] == "mine"]
    assert len(mine) >= 4
    reasons = {o["signal"]["reason"] for o in mine if o.get("signal")}
    assert "breakout" in reasons
    assert reasons & {"stop_loss", "take_profit"}


def test_strategy_new_writes_a_template_that_config_check_accepts(
    tmp_path: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    new = run_cli(capsys, "strategy", "new", "dip_buyer")
    assert new.returncode == 0, new.stderr
    assert "strategies/dip_buyer.py:DipBuyer" in new.stdout
    again = run_cli(capsys, "strategy", "new", "dip_buyer")
    assert again.returncode != 0 and "--overwrite" in again.stderr
    assert "Traceback" not in again.stderr
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    dip = """
[[strategies]]
id = "dip"
kind = "strategies/dip_buyer.py:DipBuyer"
venue = "paper"
symbol = "BTC/USDT"
"""
    cfg = write_paper_toml(tmp_path, data, strategies=dip)
    check = run_cli(capsys, "config", "check", str(cfg))
    assert check.returncode == 0, check.stdout + check.stderr
    cfg.write_text(cfg.read_text().replace("DipBuyer", "NoSuchClass"))
    bad = run_cli(capsys, "config", "check", str(cfg))
    assert bad.returncode != 0 and "no attribute 'NoSuchClass'" in bad.stdout + bad.stderr
