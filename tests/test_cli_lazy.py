"""`tradeguard <command>` loads only that command's module: the backtest path never imports the
sandbox servers, the API, the exchange client, Alembic, pandas (nor pyarrow's pandas glue), the
vault's cryptography, SQLAlchemy's PostgreSQL dialect or (a config without `[[bots]]`) the bots'
modules; of third-party packages its process loads only SQLAlchemy, pydantic and numpy (with what
they load themselves)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tradeguard.cli import common
from tradeguard.cli.main import (
    COMMANDS,
    EXIT_CONFIG,
    EXIT_ERROR,
    SUMMARIES,
    build_parser,
    main,
    summary_parser,
)


def _choices(parser) -> set[str]:
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return set(sub.choices)


def test_the_command_table_names_every_command_and_its_module():
    assert _choices(build_parser()) == set(COMMANDS)
    for command in COMMANDS:
        assert command in _choices(build_parser(command))


def test_the_summary_parser_says_what_the_full_parser_says():
    # `tradeguard --help` and the top-level usage errors come from the summary parser: its
    # lines are the command modules' own, in their order.
    assert list(SUMMARIES) == list(COMMANDS)
    full, summary = build_parser(), summary_parser()
    assert summary.format_help() == full.format_help()
    assert summary.format_usage() == full.format_usage()


@pytest.mark.parametrize(
    "argv", [[], ["--help"], ["-h", "run"], ["nope"], ["-x"], ["--foo", "run"], ["--foo", "config"]]
)
def test_the_top_level_answers_as_the_full_parser(argv, capsys):
    with pytest.raises(SystemExit) as full_exit:
        build_parser().parse_args(argv)
    full = capsys.readouterr()
    with pytest.raises(SystemExit) as main_exit:
        main(argv)
    got = capsys.readouterr()
    assert (main_exit.value.code, got.out, got.err) == (full_exit.value.code, full.out, full.err)


def test_the_top_level_help_loads_no_command_module():
    code = (
        "import json, runpy, sys\n"
        "sys.argv = ['tradeguard', '--help']\n"
        "try:\n"
        "    runpy.run_module('tradeguard.cli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0]\n"
        "    in ('tradeguard', 'numpy', 'pydantic', 'sqlalchemy', 'aiohttp', 'logging'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "run a parameter grid as independent backtests" in done.stdout  # the help printed
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == ["tradeguard", "tradeguard.cli", "tradeguard.cli.main"]


def test_exit_codes_are_the_shared_ones():
    assert (EXIT_ERROR, EXIT_CONFIG) == (common.EXIT_ERROR, common.EXIT_CONFIG)


HEAVY = [
    "aiohttp",
    "alembic",
    "ccxt",
    "fastapi",
    "httpx",
    "cryptography",
    "pandas",
    "tradeguard.sandbox",
    "tradeguard.api",
    "pyarrow.compute",
    "pyarrow.feather",  # Feather V2 files are read as Arrow IPC
    "pyarrow.pandas_compat",  # which pyarrow.feather imports
    "rich.console",  # with --json: nothing printed through rich
    "rich.progress",  # no progress bar
    "rich.table",  # and no table
    "sqlalchemy.dialects.postgresql",  # a SQLite database never needs it
    "tradeguard.node.kill_follow",  # a kill that flattens
    "tradeguard.portfolio.arb_summary",  # multi-leg strategies' cycles
    "tradeguard.bots",  # signal bots, their gate and exits: a config without [[bots]] has none
    "tradeguard.node.bot_trades",  # a bot trade's record: a backtest's fresh database has none
    "tradeguard.marketdata.loaders",  # every file kind's reader: a backtest reads candles only
    "tradeguard.marketdata.book_files",  # order book events
    "tradeguard.marketdata.tick_files",  # trades and quotes
    "tradeguard.risk.report",  # the risk state as the API shows it
    "tradeguard.strategies.faults",  # what went wrong in a strategy, when something did
]


# The console script (cli/__main__.py -> run(), which reads the data files in a second process
# first) and main() called from other code (which reads them itself) take different paths.
_ENTRIES = {
    "console script": "runpy.run_module('tradeguard.cli', run_name='__main__')\n",
    "main()": "from tradeguard.cli.main import main\nmain(sys.argv[1:])\n",
}


# Every third-party package the command's process loads in a whole run (function-level imports
# included): SQLAlchemy for the journal, pydantic for the config, numpy for the frames, and
# what those load themselves. The console script reads the data files in a second process, so
# pyarrow stays out of the command's; main() called from other code reads them itself.
THIRD_PARTY = {
    "sqlalchemy", "greenlet", "pydantic", "pydantic_core", "annotated_types",
    "typing_extensions", "typing_inspection", "numpy", "cython_runtime",
}  # fmt: skip
_OWN_THIRD_PARTY = {"console script": THIRD_PARTY, "main()": THIRD_PARTY | {"pyarrow"}}
_THIRD_PARTY_LOADED = (
    "sorted({m.split('.')[0] for m in sys.modules if not m.startswith(('_', 'tradeguard'))}"
    " - set(sys.stdlib_module_names))"
)


@pytest.mark.parametrize("entry", sorted(_ENTRIES))
def test_the_backtest_command_imports_nothing_it_does_not_use(tmp_path, data_dir, entry):
    code = (
        "import atexit, json, runpy, sys\n"
        "sys.argv = ['tradeguard', *sys.argv[1:]]\n"
        f"atexit.register(lambda: print(json.dumps([[m for m in {HEAVY!r} if m in sys.modules], "
        f"{_THIRD_PARTY_LOADED}]), file=sys.stderr))\n" + _ENTRIES[entry]
    )
    argv = ["backtest", "--config", str(_small_config(tmp_path)), "--out", str(tmp_path / "run")]
    window = ["--from", "2018-01-12", "--to", "2018-01-13", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, *window], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trades"] >= 0  # the run really happened
    heavy, third_party = json.loads(done.stderr.strip().splitlines()[-1])
    assert heavy == []
    assert set(third_party) - _OWN_THIRD_PARTY[entry] == set()
    assert {"sqlalchemy", "pydantic", "numpy"} <= set(third_party)  # the check sees packages


def _small_config(tmp_path):
    from backtest_support import write_config

    return write_config(tmp_path, pairs=("ETH",))


def test_the_console_entry_exits_with_the_commands_code():
    done = subprocess.run(
        [sys.executable, "-m", "tradeguard.cli", "backtest"], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == EXIT_CONFIG
    assert "--config FILE is required" in done.stderr


def test_loading_the_command_line_spares_the_cyclic_collector():
    # Modules load objects that live for good: the collector runs rarely while the package and
    # a command's module load, and its thresholds are the process's own again afterwards.
    code = (
        "import gc, json\n"
        "gc.set_threshold(700, 10, 10)\n"
        "before = gc.get_stats()[0]['collections']\n"
        "from tradeguard.cli.main import build_parser, main\n"
        "try:\n"
        "    main(['backtest', 'compare', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps([gc.get_stats()[0]['collections'] - before, gc.get_threshold()]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    collections, thresholds = json.loads(done.stdout.strip().splitlines()[-1])
    assert thresholds == [700, 10, 10]
    assert collections <= 5  # some thirty at the default threshold


def test_the_console_backtest_never_scans_what_its_quiet_collector_let_grow(tmp_path, data_dir):
    # The command loads its modules and runs with the collector quiet (a young generation of up
    # to 200,000 objects); lowering the threshold again must not start a young collection over
    # all of them (tens of thousands of objects that live as long as the process) once the
    # command's module has loaded, nor after the run. Each collection's young count is recorded
    # as it starts: the usual one starts at ~700 (the package's own import, before the command
    # is known, ends with one over its few thousand objects).
    code = (
        "import atexit, gc, json, runpy, sys\n"
        "sys.argv = ['tradeguard', *sys.argv[1:]]\n"
        "young = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and young.append("
        "(gc.get_count()[0], 'tradeguard.cli.backtest' in sys.modules)))\n"
        "atexit.register(lambda: print(json.dumps(young), file=sys.stderr))\n"
        "runpy.run_module('tradeguard.cli', run_name='__main__')\n"
    )
    argv = ["backtest", "--config", str(_small_config(tmp_path)), "--out", str(tmp_path / "run")]
    window = ["--from", "2018-01-12", "--to", "2018-01-13", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv, *window], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["trades"] >= 0  # the run really happened
    young = json.loads(done.stderr.strip().splitlines()[-1])
    swept = [count for count, loaded in young if loaded and count > 1_000]
    assert swept == [], young


def test_config_check_judges_ccxt_exchanges_without_importing_ccxt(tmp_path):
    """`config check` names an unknown ccxt exchange from ccxt's list of exchange ids, read
    without importing ccxt (which loads every exchange's class, seconds on a busy machine)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f"""
mode = "live"
[node]
database_url = "sqlite:///{tmp_path / "tg.db"}"
[[venues]]
name = "good"
kind = "ccxt"
exchange = "binance"
[[venues]]
name = "bad"
kind = "ccxt"
exchange = "binanse"
"""
    )
    code = (
        "import atexit, json, runpy, sys\n"
        "sys.argv = ['tradeguard', 'config', 'check', sys.argv[1]]\n"
        "atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in ('ccxt', 'aiohttp', 'alembic'))), file=sys.stderr))\n"
        "runpy.run_module('tradeguard.cli', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(cfg)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "venues[bad]: exchange = 'binanse' is not a ccxt exchange" in done.stderr
    assert "venues[good]" not in done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
