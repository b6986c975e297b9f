"""What README.md and docs/*.md show stays true: every TOML block loads with the real config
loader, and every `tradeguard` command line names real commands and real flags.

A TOML block that is not a whole config says so in an HTML comment on the line before it:

- `<!-- docs-check: merge into examples/X.toml -->`: a fragment; its top-level keys replace
  the example's (tables merged key by key, arrays of tables replaced) and the result is loaded;
- `<!-- docs-check: sweep grid for examples/X.toml -->`: a `--grid` file, read by the sweep's
  grid loader and every combination applied to that config, each then loaded.

Any other block is loaded as it stands (the loader fills in the default paper setup when it has
neither venues nor strategies).
"""

from __future__ import annotations

import argparse
import copy
import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tradeguard.backtest.grid import apply_values, load_grid
from tradeguard.backtest.sweep import check_combo
from tradeguard.cli.main import COMMANDS, build_parser
from tradeguard.config import Config, load_config
from tradeguard.model.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"<!--\s*docs-check:\s*(.*?)\s*-->\s*\n\s*\Z")
FLAG = re.compile(r"^--[a-z][a-z0-9-]*")
SHELL_STOP = {"|", "||", "&&", ";", "<", ">", ">>", "&", "2>&1"}
_PARSER = build_parser()


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    text: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def _blocks(paths: list[Path] = DOCS) -> list[Block]:
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            before = MARKER.search(text[: m.start()])
            found.append(
                Block(
                    doc=str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name,
                    line=text.count("\n", 0, m.start()) + 1,
                    lang=m.group(1),
                    text=m.group(2),
                    marker=before.group(1) if before else None,
                )
            )
    return found


def _merge(base: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _validate(data: dict[str, Any]) -> Config:
    """Validate a config dict as the loader does after reading its file."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from None


def load_toml_block(block: Block, tmp: Path) -> list[Config]:
    """Load a doc's TOML block the way its marker says; raise what the loader raises."""
    if block.marker is None:
        path = tmp / "snippet.toml"
        path.write_text(block.text, encoding="utf-8")
        return [load_config(path, environ={})]
    merge = re.fullmatch(r"merge into (\S+\.toml)", block.marker)
    grid = re.fullmatch(r"sweep grid for (\S+\.toml)", block.marker)
    if merge:
        base = tomllib.loads((ROOT / merge.group(1)).read_text(encoding="utf-8"))
        return [_validate(_merge(base, tomllib.loads(block.text)))]
    if grid:
        # What `tradeguard sweep` does: every combination applied to the loaded config, then
        # validated and its strategies built (`check_combo`).
        path = tmp / "grid.toml"
        path.write_text(block.text, encoding="utf-8")
        config = load_config(ROOT / grid.group(1), environ={})
        base = config.model_dump(mode="json")
        combos = load_grid(path).combos()
        for combo in combos:
            check_combo(base, str(config.source_dir), combo)
        return [_validate(apply_values(copy.deepcopy(base), c.values)) for c in combos]
    raise AssertionError(f"{block.where}: unknown docs-check marker {block.marker!r}")


TOML_BLOCKS = [b for b in _blocks() if b.lang == "toml"]


def test_the_docs_have_toml_blocks_to_check():
    assert len(TOML_BLOCKS) >= 10


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=[b.where for b in TOML_BLOCKS])
def test_toml_block_loads_with_the_config_loader(block: Block, tmp_path: Path):
    configs = load_toml_block(block, tmp_path)
    assert configs and all(isinstance(c, Config) for c in configs)


# --- commands -------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return set(parser._option_string_actions)


def resolve(parser: argparse.ArgumentParser, words: list[str]) -> tuple[str, list[str]]:
    """Walk `words` (what follows `tradeguard`) down the sub-commands; return the command path
    and one problem per unknown command, sub-command or flag."""
    path, problems = ["tradeguard"], []
    i = 0
    while i < len(words) and (subs := _subparsers(parser)):
        word = words[i]
        if word.startswith("-") or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break  # a flag, or a placeholder such as COMMAND or NAME: nothing more to walk
        if word not in subs:
            problems.append(f"`{' '.join(path)} {word}`: no such command (has {sorted(subs)})")
            return " ".join(path), problems
        parser, path, i = subs[word], [*path, word], i + 1
    options = _options(parser)
    for word in words[i:]:
        flag = FLAG.match(word.lstrip("[("))
        if flag and flag.group(0) not in options:
            problems.append(f"`{' '.join(path)}`: no option {flag.group(0)}")
    return " ".join(path), problems


def _shell_commands(block: Block) -> list[list[str]]:
    """Each `tradeguard` invocation of a shell block: the words after the program name."""
    text = re.sub(r"\\\n\s*", " ", block.text)
    found = []
    for line in text.splitlines():
        if "tradeguard" not in line:
            continue  # another program's line (curl, python3 -c, a comment)
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise AssertionError(f"{block.where}: cannot split {line!r}: {exc}") from None
        at_command = True  # a word where the shell looks for a program (not an argument)
        for i, word in enumerate(words):
            is_program = at_command and (word == "tradeguard" or word.endswith("/tradeguard"))
            at_command = word in SHELL_STOP or (at_command and re.match(r"^\w+=", word) is not None)
            if is_program:
                rest = []
                for w in words[i + 1 :]:
                    if w in SHELL_STOP:
                        break
                    rest.append(w)
                found.append(rest)
    return found


INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def _prose(text: str) -> str:
    return FENCE.sub("", text)


def inline_commands(text: str) -> list[list[str]]:
    """`tradeguard …` spans of prose, and spans starting with a command that has sub-commands
    (`bot enable`, `pm map check`), as words after the program name."""
    commands = _subparsers(_PARSER)
    with_subs = {name for name in COMMANDS if _subparsers(commands[name])}
    found = []
    for span in INLINE.findall(_prose(text)):
        words = span.replace("…", " ").split()
        if len(words) >= 2 and words[0] == "tradeguard":
            found.append(words[1:])
        elif len(words) >= 2 and words[0] in with_subs and re.fullmatch(r"[a-z-]+", words[1]):
            found.append(words)
    return found


SHELL_BLOCKS = [b for b in _blocks() if b.lang in ("bash", "sh", "shell")]


@pytest.mark.parametrize("block", SHELL_BLOCKS, ids=[b.where for b in SHELL_BLOCKS])
def test_shell_block_commands_parse(block: Block):
    """A shell block is meant to be run as written: the whole command line must parse."""
    for words in _shell_commands(block):
        _, problems = resolve(_PARSER, words)
        assert not problems, f"{block.where}: {problems}"
        try:
            build_parser().parse_args(words)
        except SystemExit as exc:
            raise AssertionError(
                f"{block.where}: `tradeguard {shlex.join(words)}` does not parse (exit {exc.code})"
            ) from None


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_inline_commands_and_flags_exist(doc: Path):
    problems = []
    for words in inline_commands(doc.read_text(encoding="utf-8")):
        problems += resolve(_PARSER, words)[1]
    assert not problems, f"{doc.relative_to(ROOT)}: " + "; ".join(problems)


# Flags of other programs that the docs name in passing (benchmark scripts).
NOT_TRADEGUARD_FLAGS = {("README.md", "--paper"), ("live_data.md", "--profile")}


def _command_parsers(words: list[str]) -> argparse.ArgumentParser:
    parser = _PARSER
    for word in words:
        subs = _subparsers(parser)
        if word not in subs:
            break
        parser = subs[word]
    return parser


def bare_flag_problems(doc: str, text: str) -> list[str]:
    """A span that starts with a flag (`--from`, `--keys-file PATH`) names an option of a
    command the same doc shows; say which flags belong to none of them."""
    shown = [*inline_commands(text)]
    shown += [
        w
        for b in FENCE.finditer(text)
        for w in _shell_commands(Block(doc, 0, "", b.group(2), None))
    ]
    options: set[str] = set()
    for words in shown:
        parser = _command_parsers(words)
        options |= _options(parser)
        for sub in _subparsers(parser).values():  # `keys` shown: its sub-commands' flags too
            options |= _options(sub)
    problems = []
    for span in INLINE.findall(_prose(text)):
        for word in span.split():
            flag = FLAG.match(word.lstrip("[("))
            if not flag or (doc, flag.group(0)) in NOT_TRADEGUARD_FLAGS:
                continue
            if flag.group(0) not in options and span.split()[0].startswith("-"):
                problems.append(f"{doc}: `{span}`: no command this doc shows has {flag.group(0)}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_flags_named_alone_belong_to_a_command_of_the_doc(doc: Path):
    problems = bare_flag_problems(doc.name, doc.read_text(encoding="utf-8"))
    assert not problems, "; ".join(problems)


def _command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[str]:
    subs = _subparsers(parser)
    if not subs:
        return [" ".join(path)]
    return [p for name, sp in subs.items() for p in _command_paths(sp, (*path, name))]


def test_every_command_of_the_parser_is_documented_somewhere():
    """The other direction: each top-level command appears as `tradeguard NAME` in the docs, and
    each sub-command (`token totp-setup`, `keys remove`) by its words."""
    text = "\n".join(d.read_text(encoding="utf-8") for d in DOCS)
    missing = [n for n in COMMANDS if not re.search(rf"tradeguard {n}\b", text)]
    missing += [
        p
        for p in _command_paths(_PARSER)
        if " " in p and not re.search(rf"\b{re.escape(p)}\b", text)
    ]
    assert not missing, f"commands no doc shows: {missing}"


# --- the checks themselves fail on what they must catch ---------------------------------------


def test_a_flag_or_command_that_does_not_exist_is_caught():
    assert resolve(_PARSER, ["orders", "--limit", "5"])[1] == []
    assert resolve(_PARSER, ["orders", "--limitt", "5"])[1] == [
        "`tradeguard orders`: no option --limitt"
    ]
    assert "no such command" in resolve(_PARSER, ["bot", "enabel", "alpha"])[1][0]
    assert "no such command" in resolve(_PARSER, ["halt"])[1][0]
    assert resolve(_PARSER, ["kill", "[--flatten]"])[1] == []
    assert resolve(_PARSER, ["kill", "[--flaten]"])[1] == ["`tradeguard kill`: no option --flaten"]
    assert resolve(_PARSER, ["COMMAND", "--help"])[1] == []
    prose = "Run `tradeguard pm arb run --dry-run` or `bot enabel alpha`."
    problems = [p for w in inline_commands(prose) for p in resolve(_PARSER, w)[1]]
    assert len(problems) == 2, problems


def test_a_shell_block_is_split_into_its_tradeguard_commands():
    block = Block(
        "x.md",
        1,
        "bash",
        "TG_X='a b' .venv/bin/tradeguard backup --config c.toml \\\n    --out b.tgb  # note\n"
        "python3 -c 'print(1)' | .venv/bin/tradeguard keys add k --venue v --stdin < f.json\n"
        # a path ending in /tradeguard as an argument is no program (the quick start compiles it)
        "python -m compileall -q src/tradeguard && .venv/bin/tradeguard run --until-end\n",
        None,
    )
    assert _shell_commands(block) == [
        ["backup", "--config", "c.toml", "--out", "b.tgb"],
        ["keys", "add", "k", "--venue", "v", "--stdin"],
        ["run", "--until-end"],
    ]


def test_a_bad_toml_block_or_marker_fails(tmp_path: Path):
    bad = Block("x.md", 1, "toml", "[risk]\nmax_drawdown_pct = 150\n", None)
    with pytest.raises(ConfigError, match="max_drawdown_pct"):
        load_toml_block(bad, tmp_path)
    fragment = '[[strategies]]\nid = "s"\nkind = "ma_crossover"\nvenue = "nowhere"\n'
    with pytest.raises(ConfigError, match="nowhere"):
        load_toml_block(
            Block("x.md", 1, "toml", fragment, "merge into examples/paper.toml"), tmp_path
        )
    with pytest.raises(AssertionError, match="unknown docs-check marker"):
        load_toml_block(Block("x.md", 1, "toml", "", "partial"), tmp_path)
    text = "x\n<!-- docs-check: merge into examples/paper.toml -->\n```toml\n[node]\n```\n"
    path = tmp_path / "doc.md"
    path.write_text(text)
    assert [b.marker for b in _blocks([path])] == ["merge into examples/paper.toml"]
