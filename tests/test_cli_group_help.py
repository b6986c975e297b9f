"""Every command group's own `--help` (not only its leaf commands') says what it is for and
shows an example: `tradeguard pm map --help` printed a bare usage and the sub-command list."""

from __future__ import annotations

import argparse
import re

from tradeguard.cli import build_parser


def _groups(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sp in action.choices.items():
                if any(isinstance(a, argparse._SubParsersAction) for a in sp._actions):
                    found.append(((*path, name), sp))
                found += _groups(sp, (*path, name))
    return found


def test_every_command_group_has_an_example():
    groups = _groups(build_parser())
    assert ("pm", "map") in [path for path, _ in groups]
    missing = [
        " ".join(path)
        for path, parser in groups
        if not re.search(
            r"examples?:\s+tradeguard", (parser.epilog or "") + (parser.description or "")
        )
    ]
    assert missing == []
