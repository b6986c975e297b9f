"""The one line a Ctrl-C ends a command with: what was stopped and what it leaves safe."""

from __future__ import annotations

from collections.abc import Sequence

_NODE = (
    "every order and fill committed so far is in the database (an order is journaled before "
    "it is sent); the next start reconciles it with the venues and resumes"
)
# by the command's words (the longest that starts the command line): a command not named here,
# or one that only reads or asks (`arb scan`, `pm markets`, `pm arb retry`, `backtest compare`),
# is told stopped, and nothing more
_LEFT: dict[tuple[str, ...], str] = {
    ("run",): _NODE,
    ("arb", "run"): _NODE,
    ("pm", "arb", "run"): _NODE,
    ("backtest",): "its run directory, if made, is marked INCOMPLETE (compare refuses it; run "
    "again with a new --out); nothing else was written",
    ("backtest", "compare"): "",
    ("sweep",): "each combination finished is stored under --out; the same command resumes "
    "from them",
    ("sandbox",): "the local venues are down; their books, orders and accounts lived in memory "
    "only and are gone",
}


def interrupted_line(argv: Sequence[str], where: str | None = None) -> str:
    """Return the line for a Ctrl-C that stopped the command `argv` names (`where`: the
    strategy callback it came in, if any)."""
    words: list[str] = []
    for word in argv[:3]:
        if not word[:1].isalpha():  # an option or a value: the command's words end there
            break
        words.append(word)
    command = " ".join(["tradeguard", *words])
    line = f"{command}: stopped by Ctrl-C{f' ({where})' if where else ''}"
    left = next((_LEFT[key] for n in (3, 2, 1) if (key := tuple(words[:n])) in _LEFT), "")
    return f"{line}; {left}" if left else line


def startup_stopped_line(argv: Sequence[str], ctrl_c: bool, failure: str) -> str:
    """Return the line for a stop (Ctrl-C: `ctrl_c`, or SIGTERM) asked for during a start-up
    that then failed with `failure`: start-up did not finish, nothing was traded."""
    words: list[str] = []
    for word in argv[:3]:
        if not word[:1].isalpha():
            break
        words.append(word)
    how = "Ctrl-C" if ctrl_c else "SIGTERM"
    return (
        f"{' '.join(['tradeguard', *words])}: stopped by {how} during start-up, which did not "
        f"finish ({failure}); nothing was traded, and the next start reconciles with the venues"
    )


def say_stopped(words: Sequence[str]) -> int:
    """Say the line of a Ctrl-C that stopped the run of the command `words` name, one that
    ends whole (its last checkpoint and summary) instead of raising; return 130."""
    import sys

    from tradeguard.cli.main import _ignore_more_ctrl_c, quiet_broken_pipe

    try:
        print(interrupted_line(words), file=sys.stderr)
    except BrokenPipeError:  # `2>&1 | tee`: the same Ctrl-C ended the reader
        quiet_broken_pipe()
    _ignore_more_ctrl_c()  # its line said: more presses to the process's end are ignored
    return 130
