"""`--db` given a path, an empty string or a URL of no supported backend is refused in one
line naming the option (the password of a URL masked), exit 2, on every command that takes it.

It was a pydantic traceback (`ValidationError ... For further information visit
https://errors.pydantic.dev/...`) on status, orders, run, serve, doctor and a dozen more, and
`serve --db ''` silently served the config's own database.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from tradeguard.cli.main import build_parser, main


def _commands_with_db() -> Iterator[tuple[list[str], argparse.ArgumentParser]]:
    def walk(parser: argparse.ArgumentParser, path: list[str]):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if any("--db" in a.option_strings for a in parser._actions):
            yield path, parser
        for action in subs:
            for name, sub in action.choices.items():
                yield from walk(sub, [*path, name])

    yield from walk(build_parser(), [])


def _required(parser: argparse.ArgumentParser) -> list[str]:
    """Plausible values for what the command requires besides --db."""
    argv: list[str] = []
    for action in parser._actions:
        value = str(next(iter(action.choices))) if action.choices else "x1"
        if "--amount" in action.option_strings:  # a number (transfer)
            value = "1"
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            argv.append(value)
        elif action.required:
            argv += [action.option_strings[0], value]
        elif "--yes" in action.option_strings:  # past the confirmation, to the database
            argv.append("--yes")
    return argv


COMMANDS = [
    [*path, *_required(parser)]
    for path, parser in _commands_with_db()
    if path[0] not in ("backup", "restore")  # --db there names the database to copy
    and "--config" not in _required(parser)  # arb run, pm arb run: their config comes first
]


def test_the_walk_reaches_the_commands() -> None:
    assert len(COMMANDS) >= 12 and ["status"] in COMMANDS and ["serve"] in COMMANDS
    assert ["resume", "--reason", "x1", "--yes"] in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("db", "said"),
    [
        ("/", "--db '/': database backend (no scheme) is not supported; use sqlite:///"),
        ("", "--db '': empty; give a database URL such as sqlite:///"),
        ("mysql://root:hunter2@db/x", "--db 'mysql://root:***@db/x': database backend"),
    ],
    ids=["folder", "empty", "other-backend"],
)
def test_a_bad_db_is_refused_in_one_line(path, db, said, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = main([*path, "--db", db])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"tradeguard: {said}"), err
    assert len(err.strip().splitlines()) == 1 and "hunter2" not in err, err


@pytest.mark.parametrize("scheme", ["SQLITE", "Sqlite"])
def test_a_scheme_in_capitals_opens_the_same_database(scheme, capsys, tmp_path) -> None:
    """A URL's scheme is case-insensitive: the check took `SQLITE:///...` and the engine then
    failed on it ("Can't load plugin: sqlalchemy.dialects:SQLITE", exit 1)."""
    from tradeguard.config import NodeConfig
    from tradeguard.storage.db import Database

    path = tmp_path / "tg.db"
    Database(f"sqlite:///{path}").migrate()
    assert main(["status", "--db", f"{scheme}:///{path}"]) == 0, capsys.readouterr().err
    assert "plugin" not in capsys.readouterr().err
    node = NodeConfig(database_url=f"{scheme}:///{path}")
    assert node.database_url == f"sqlite:///{path}"
    assert NodeConfig(database_url="POSTGRES://u:p@h/d").database_url == "postgres://u:p@h/d"
