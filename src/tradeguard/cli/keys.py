"""`tradeguard keys add | list | remove | rotate-master`: manage the credential vault."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tradeguard.secrets.credentials import CredentialError
from tradeguard.secrets.entry_rules import (
    VaultInputError,
    validate_entry,
    validate_entry_name,
    validate_field_names,
)
from tradeguard.secrets.redact import redact, register_secret
from tradeguard.secrets.vault import (
    DEFAULT_VAULT_FILE,
    PASSPHRASE_ENV,
    VAULT_PATH_ENV,
    PromptEnded,
    ScryptParams,
    Vault,
    VaultError,
    default_vault_path,
    read_passphrase,
    terminal_prompt,
)

KEYS_HELP = f"""\
Secret values never come from the command line by default, where shell history and the
process list would keep them. They are typed at hidden prompts, or piped on stdin.

examples:
  tradeguard keys add binance-main --venue binance      # prompts for api_key and secret
  tradeguard keys add okx-main --venue okx --field api_key --field secret --field passphrase
  printf '{{"api_key": "...", "secret": "..."}}' | tradeguard keys add b2 --venue binance --stdin
  tradeguard keys list [--json]
  tradeguard keys remove binance-main
  tradeguard keys rotate-master [--scrypt-n 131072]

The master passphrase comes from {PASSPHRASE_ENV} or a prompt (the new one for rotate-master
from TG_NEW_MASTER_PASSPHRASE or a prompt). The vault file is --vault PATH, else
{VAULT_PATH_ENV}, else ./{DEFAULT_VAULT_FILE}.
"""

NEW_PASSPHRASE_ENV = "TG_NEW_MASTER_PASSPHRASE"
DEFAULT_FIELDS = ("api_key", "secret")

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass
class KeysIO:
    """Where the keys commands read and write; None means the process's own (env, tty, stdio)."""

    env: Mapping[str, str] | None = None
    prompt: Callable[[str], str] | None = None
    stdin: TextIO | None = None
    stdout: TextIO | None = None
    stderr: TextIO | None = None

    def resolved(self) -> _IO:
        """Return the streams to use now, filling gaps from the running process."""
        return _IO(
            env=os.environ if self.env is None else self.env,
            prompt=self.prompt or terminal_prompt,
            stdin=self.stdin or sys.stdin,
            stdout=self.stdout or sys.stdout,
            stderr=self.stderr or sys.stderr,
        )


@dataclass
class _IO:
    env: Mapping[str, str]
    prompt: Callable[[str], str]
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO

    def out(self, text: str) -> None:
        self.stdout.write(redact(text) + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(redact(text) + "\n")


def add_keys_parser(
    subparsers: argparse._SubParsersAction[Any], io: KeysIO | None = None
) -> argparse.ArgumentParser:
    """Register `keys` and its subcommands; each sets `func(args) -> exit code`."""
    keys_io = io or KeysIO()
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--vault",
        type=Path,
        default=None,
        help=f"vault file (default: ${VAULT_PATH_ENV}, else ./{DEFAULT_VAULT_FILE})",
    )
    keys = subparsers.add_parser(
        "keys",
        help="manage encrypted exchange credentials",
        description="Manage the encrypted credential vault.",
        epilog=KEYS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.set_defaults(func=lambda args: _usage(keys, keys_io))
    actions = keys.add_subparsers(dest="keys_command", metavar="{add,list,remove,rotate-master}")
    _add_add_parser(actions, common, keys_io)
    _add_other_parsers(actions, common, keys_io)
    return keys


def _add_add_parser(actions: Any, common: argparse.ArgumentParser, keys_io: KeysIO) -> None:
    add = actions.add_parser(
        "add",
        parents=[common],
        help="encrypt and store credentials (values are prompted or read from stdin)",
        epilog="example: tradeguard keys add binance-main --venue binance",
    )
    add.add_argument("name", help="entry name, e.g. binance-main")
    add.add_argument("--venue", required=True, help="venue id, e.g. binance")
    add.add_argument(
        "--field",
        action="append",
        default=[],
        metavar="NAME",
        help="field to prompt for (repeatable; default: api_key and secret). "
        "NAME=VALUE is refused unless --allow-argv-secrets",
    )
    add.add_argument(
        "--stdin",
        action="store_true",
        help="read fields from stdin: a JSON object, or NAME=VALUE lines",
    )
    add.add_argument(
        "--allow-argv-secrets",
        action="store_true",
        help="accept --field NAME=VALUE (unsafe: shell history and process lists keep argv)",
    )
    add.add_argument("--overwrite", action="store_true", help="replace an existing entry")
    add.set_defaults(func=lambda args: _run(_cmd_add, args, keys_io))


def _add_other_parsers(actions: Any, common: argparse.ArgumentParser, keys_io: KeysIO) -> None:

    lst = actions.add_parser(
        "list",
        parents=[common],
        help="show entries with masked ids",
        epilog="example: tradeguard keys list --json",
    )
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=lambda args: _run(_cmd_list, args, keys_io))

    rm = actions.add_parser(
        "remove",
        parents=[common],
        help="delete an entry",
        epilog="example: tradeguard keys remove binance-main",
    )
    rm.add_argument("name", help="entry name, as `keys list` shows it")
    rm.set_defaults(func=lambda args: _run(_cmd_remove, args, keys_io))

    rot = actions.add_parser(
        "rotate-master",
        parents=[common],
        help="re-encrypt every entry under a new master passphrase",
        epilog="example: tradeguard keys rotate-master --scrypt-n 262144",
    )
    rot.add_argument(
        "--scrypt-n",
        type=int,
        default=None,
        metavar="N",
        help="new scrypt cost: a power of two from 16384 (2^14) to 4194304 (2^22); default the "
        "vault's own, at least 131072 (2^17). Memory is 1 KiB x N: 2^20 takes 1 GiB",
    )
    rot.set_defaults(func=lambda args: _run(_cmd_rotate, args, keys_io))


def run_keys(argv: Sequence[str], io: KeysIO | None = None) -> int:
    """Parse `keys ...` arguments and run the command; return its exit code."""
    parser = argparse.ArgumentParser(prog="tradeguard")
    sub = parser.add_subparsers(dest="command")
    add_keys_parser(sub, io)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not hasattr(args, "func"):
        parser.print_usage((io or KeysIO()).resolved().stderr)
        return EXIT_USAGE
    code: int = args.func(args)
    return code


def _usage(parser: argparse.ArgumentParser, io: KeysIO) -> int:
    parser.print_help(io.resolved().stderr)
    return EXIT_USAGE


def _run(command: Callable[[argparse.Namespace, _IO], int], args: Any, io: KeysIO) -> int:
    streams = io.resolved()
    try:
        return command(args, streams)
    except VaultInputError as exc:  # a bad name, venue or value given: a usage error
        streams.err(f"error: {exc}")
        return EXIT_USAGE
    except (VaultError, CredentialError) as exc:
        streams.err(f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:  # Ctrl-C: 130, as every other command answers it
        streams.err("aborted: nothing was changed")
        return EXIT_INTERRUPTED
    except EOFError:
        streams.err("aborted: nothing was changed")
        return EXIT_ERROR


def _ask(io: _IO, text: str) -> str:
    try:
        return io.prompt(text).strip()
    except PromptEnded:
        raise VaultError(
            f"no {text.rstrip(': ')}: the input ended at the prompt (Ctrl-D)"
        ) from None
    except EOFError:
        raise VaultError(
            f"no terminal to ask for {text.rstrip(': ')}: pipe the fields as JSON with --stdin"
        ) from None


def _vault(args: argparse.Namespace, io: _IO) -> Vault:
    return Vault(args.vault or default_vault_path(io.env))


def _open(args: argparse.Namespace, io: _IO) -> Vault:
    vault = _vault(args, io)
    vault.unlock(read_passphrase(io.env, io.prompt))
    return vault


MAX_STDIN_CHARS = 1_000_000  # a few fields of at most 16,384 characters each fit many times


def _read_stdin(stream: TextIO) -> str:
    """The piped fields, read no further than MAX_STDIN_CHARS: `< /dev/zero` or a large file
    piped by mistake ran out of memory with a traceback."""
    text = stream.read(MAX_STDIN_CHARS + 1)
    if len(text) > MAX_STDIN_CHARS:
        raise VaultInputError(
            f"stdin holds over {MAX_STDIN_CHARS:,} characters, the most read; pipe the entry's "
            "fields as a JSON object or NAME=VALUE lines (was a file piped in by mistake?)"
        )
    return text


def _once(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object's fields, refusing one named twice (the value stored was the parser's pick)."""
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise VaultInputError(f"stdin gives field {key!r} twice; give each field once")
        out[key] = value
    return out


def _parse_stdin(text: str) -> dict[str, str]:
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text, object_pairs_hook=_once)
        except ValueError:
            # The decoder's message may quote the input; say only where it broke.
            raise VaultInputError(
                "stdin is not valid JSON; give an object of field: value"
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise VaultInputError("stdin JSON must be an object of field name to string value")
        return {str(k): v for k, v in data.items()}
    fields: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise VaultInputError(f"stdin line {number} has no '='; write NAME=VALUE per line")
        if key.strip() in fields:
            raise VaultInputError(
                f"stdin gives field {key.strip()!r} twice (again on line {number}); "
                "give each field once"
            )
        fields[key.strip()] = value.strip()
    return fields


def _cmd_add(args: argparse.Namespace, io: _IO) -> int:
    argv_values: dict[str, str] = {}
    names: list[str] = []
    for spec in args.field:
        key, sep, value = spec.partition("=")
        if sep:
            register_secret(value)
            argv_values[key] = value
        names.append(key)
    if argv_values and not args.allow_argv_secrets:
        io.err(
            f"error: --field {', '.join(sorted(argv_values))}=VALUE puts a secret on the command "
            "line, where shell history and the process list keep it; give --field NAME to be "
            "prompted, use --stdin, or pass --allow-argv-secrets to accept the risk"
        )
        return EXIT_USAGE
    # What was given is checked before a passphrase is asked for or a vault file is made.
    validate_entry_name(args.name, args.venue)
    if args.stdin:
        fields = _parse_stdin(_read_stdin(io.stdin))
        missing = [n for n in names if n not in fields and n not in argv_values]
        if missing:
            raise VaultInputError(f"stdin has no value for field(s) {', '.join(missing)}")
        fields.update(argv_values)
        validate_entry(args.name, args.venue, fields)
    else:  # the field names to prompt for and any value given on the command line
        validate_field_names(args.name, names)
        if argv_values:
            validate_entry(args.name, args.venue, argv_values)
    vault = _vault(args, io)
    if vault.exists:
        vault.unlock(read_passphrase(io.env, io.prompt))
    else:
        vault.create(read_passphrase(io.env, io.prompt, confirm=True))
        io.out(f"created vault {vault.path} (mode 0600)")
    if not args.stdin:
        fields = dict(argv_values)
        for key in names or list(DEFAULT_FIELDS):
            if key not in fields:
                fields[key] = _ask(io, f"{key} for {args.name}: ")
    if not args.overwrite and _holds(vault, args.name, args.venue, fields):
        io.out(f"{args.name} already holds these credentials (venue {args.venue}); nothing changed")
        return EXIT_OK
    info = vault.add(args.name, args.venue, fields, overwrite=args.overwrite)
    io.out(
        f"stored {info.name} (venue {info.venue}): api_key {info.api_key_masked}, "
        f"fields {', '.join(info.field_names)}"
    )
    return EXIT_OK


def _holds(vault: Vault, name: str, venue: str, fields: dict[str, str]) -> bool:
    """Tell whether entry `name` already stores exactly these values: adding again is a no-op."""
    if name not in vault.names():
        return False
    held = vault.get(name)
    return (
        held.venue == venue
        and set(held.field_names()) == set(fields)
        and all(held.field(k) == v for k, v in fields.items())
    )


def _cmd_list(args: argparse.Namespace, io: _IO) -> int:
    vault = _open(args, io)
    infos = vault.list()
    if args.json:
        io.out(json.dumps([i.to_dict() for i in infos], indent=2))
        return EXIT_OK
    if not infos:
        io.out(f"no entries in vault {vault.path}")
        return EXIT_OK
    rows = [("NAME", "VENUE", "API KEY", "FIELDS", "ROTATED")]
    rows += [
        (i.name, i.venue, i.api_key_masked, ",".join(i.field_names), i.rotated_at.isoformat())
        for i in infos
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for row in rows:
        io.out("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _cmd_remove(args: argparse.Namespace, io: _IO) -> int:
    vault = _open(args, io)
    vault.remove(args.name)
    io.out(f"removed {args.name} from vault {vault.path}")
    return EXIT_OK


def _cmd_rotate(args: argparse.Namespace, io: _IO) -> int:
    vault = _vault(args, io)
    old = read_passphrase(io.env, io.prompt, label="current master passphrase")
    new = read_passphrase(
        io.env, io.prompt, env_var=NEW_PASSPHRASE_ENV, label="new master passphrase", confirm=True
    )
    kdf = None
    if args.scrypt_n is not None:
        kdf = ScryptParams(n=args.scrypt_n)
        kdf.validate()
    vault.rotate_master(old, new, kdf)
    count = len(vault.names())
    io.out(
        f"re-encrypted {count} entr{'y' if count == 1 else 'ies'} of vault {vault.path} "
        f"under the new master passphrase (scrypt n={vault.kdf.n}); "
        f"update {PASSPHRASE_ENV} wherever it is set"
    )
    return EXIT_OK
