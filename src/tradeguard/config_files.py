"""What the config's paths must name: the node's database and its kill file are files, never
a folder nor memory, since the node keeps its journal in the one and renames the other."""

from __future__ import annotations

from pathlib import Path

from tradeguard.model.fields import home_path


def sqlite_file(rest: str) -> None:
    """Refuse an SQLite URL (`rest`: what follows `sqlite://`) that names no file: a node's
    journal in memory is gone at its exit (nothing to resume, recover or inspect), and a
    folder cannot be opened."""
    path, _, query = rest.removeprefix("/").partition("?")
    if path in ("", ":memory:") or path.startswith("file::memory:") or "mode=memory" in query:
        raise ValueError(
            "an in-memory database: the journal would be lost when the node stops; "
            "give a file, e.g. sqlite:///tradeguard.db"
        )
    if "uri=true" in query:
        return  # a URI names its file and how to open it
    try:
        folder = path.endswith("/") or Path(path).expanduser().is_dir()
    except RuntimeError:  # `~user/...` of no user: the engine's expanduser failed alike
        user = path.split("/", 1)[0]
        raise ValueError(
            f"{user}: no such user's home folder; e.g. sqlite:///~/tradeguard.db"
        ) from None
    if folder:
        raise ValueError("names a folder; give a database file, e.g. sqlite:///tradeguard.db")


def kill_file(value: str) -> str:
    """Return `node.kill_sentinel` when it names a file. The node renames the kill file the
    moment it sees it: a folder there (an empty value is the working folder) was moved away
    by the first poll. A leading `~` is the home folder."""
    value = home_path(value)
    if not value.strip() or not value.isprintable() or value.endswith(("/", "\\")):
        raise ValueError("expected the path of a file, e.g. tradeguard.kill")
    if Path(value).name in ("", ".", "..") or Path(value).is_dir():
        raise ValueError("names a folder; expected the path of a file, e.g. tradeguard.kill")
    return value
