"""Encrypted credential vault: one JSON file, AES-256-GCM entries under a scrypt-derived key.

```python
vault = Vault(Path("tradeguard-vault.json"))
vault.create("a long master passphrase")          # or vault.unlock(...) when it exists
vault.add("binance-main", "binance", {"api_key": "...", "secret": "..."})
creds = vault.get("binance-main")
creds.field("secret")                              # the only way to read a secret value
```
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import getpass
import hashlib
import hmac
import json
import logging
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tradeguard.secrets.atomic import write_atomic
from tradeguard.secrets.credentials import Credentials, mask_id
from tradeguard.secrets.entry_rules import VaultError as VaultError
from tradeguard.secrets.entry_rules import VaultInputError, validate_entry
from tradeguard.secrets.redact import register_secret

log = logging.getLogger(__name__)

FORMAT = "tradeguard-vault"
FORMAT_VERSION = 1
PASSPHRASE_ENV = "TG_MASTER_PASSPHRASE"
VAULT_PATH_ENV = "TG_VAULT_PATH"
DEFAULT_VAULT_FILE = "tradeguard-vault.json"
MIN_PASSPHRASE_LEN = 12
_CHECK_LABEL = b"tradeguard-vault key check v1"
_AAD_LABEL = b"tradeguard-vault entry v1\x00"


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """Cost parameters of scrypt; stored in the vault so they can be raised later."""

    n: int = 2**17  # OWASP's scrypt floor: N=2^17, r=8, p=1 (128 MiB per derivation)
    r: int = 8
    p: int = 1

    def validate(self) -> None:
        """Raise VaultError unless the parameters are within safe and affordable bounds."""
        if self.n < 2**14 or self.n > 2**22 or self.n & (self.n - 1):
            raise VaultError(
                f"scrypt n={self.n} is out of range: it must be a power of two from 2**14 "
                "to 2**22 (raise it with `tradeguard keys rotate-master --scrypt-n`)"
            )
        if not 1 <= self.r <= 32:
            raise VaultError(f"scrypt r={self.r} is out of range 1..32")
        if not 1 <= self.p <= 16:
            raise VaultError(f"scrypt p={self.p} is out of range 1..16")

    def spec(self) -> dict[str, Any]:
        """Return the parameters as stored in the vault file."""
        return {"name": "scrypt", "n": self.n, "r": self.r, "p": self.p, "dklen": 64}

    def weaker_than(self, other: ScryptParams) -> bool:
        """Tell whether these parameters cost less than `other` in any dimension."""
        return self.n < other.n or self.r < other.r or self.p < other.p

    def derive(self, passphrase: str, salt: bytes) -> tuple[bytes, bytes]:
        """Derive (encryption key, key-check key), 32 bytes each."""
        self.validate()
        # cryptography's scrypt sizes its own memory limit; hashlib's maxmem stops at 2 GiB,
        # below what n=2**21 and up need at r=8.
        kdf = Scrypt(salt=salt, length=64, n=self.n, r=self.r, p=self.p)
        try:
            material = kdf.derive(passphrase.encode("utf-8"))
        except MemoryError:
            raise VaultError(
                f"scrypt n={self.n} r={self.r} needs {128 * self.n * self.r // 2**20} MiB of "
                "memory, more than this machine gives; choose a smaller --scrypt-n"
            ) from None
        return material[:32], material[32:]


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What `list` shows of an entry: names, times and a masked api key; never a secret."""

    name: str
    venue: str
    created_at: datetime
    rotated_at: datetime
    api_key_masked: str
    field_names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "name": self.name,
            "venue": self.venue,
            "created_at": self.created_at.isoformat(),
            "rotated_at": self.rotated_at.isoformat(),
            "api_key_masked": self.api_key_masked,
            "fields": list(self.field_names),
        }


def default_vault_path(env: Mapping[str, str] | None = None) -> Path:
    """Return TG_VAULT_PATH when set (a leading `~` the home folder: a service's environment
    file is read by no shell), else ./tradeguard-vault.json."""
    source = os.environ if env is None else env
    named = source.get(VAULT_PATH_ENV) or DEFAULT_VAULT_FILE
    expanded = os.path.expanduser(named)
    if expanded.startswith("~"):  # `~user/...` of no such user: not a folder named so here
        user = named.split("/", 1)[0]
        raise VaultError(f"{VAULT_PATH_ENV}={named}: {user}: no such user's home folder")
    return Path(expanded)


def check_passphrase(passphrase: str, label: str = "master passphrase") -> None:
    """Raise VaultInputError (exit 2) when the passphrase is shorter than MIN_PASSPHRASE_LEN.

    `label` names it in the message (`backup passphrase (TG_BACKUP_PASSPHRASE)`)."""
    if len(passphrase) < MIN_PASSPHRASE_LEN:
        raise VaultInputError(
            f"{label} is {len(passphrase)} characters long; it must be at least "
            f"{MIN_PASSPHRASE_LEN} (choose a longer one, e.g. several random words)"
        )


class PromptEnded(EOFError):
    """The user ended a prompt's input at the terminal (Ctrl-D): there is a terminal."""


def terminal_prompt(text: str) -> str:
    """Ask on the controlling terminal without echo; EOFError when there is none, PromptEnded
    when the user ends the input (Ctrl-D).

    `getpass` alone falls back to reading standard input, which may be a file meant for
    something else (`keys add --stdin < keys.json`): its lines would be taken as the answer."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        raise EOFError("no terminal") from None
    try:
        return getpass.getpass(text)
    except EOFError:
        _end_line(fd)
        raise PromptEnded("input ended (Ctrl-D)") from None
    except KeyboardInterrupt:
        _end_line(fd)  # what is said next starts a line of its own, not the prompt's
        raise
    except UnicodeDecodeError:
        _end_line(fd)
        what = text.strip().rstrip(":")
        raise VaultError(
            f"the {what} typed is not UTF-8 text (a terminal set to another encoding, or a "
            "backspace over an accented letter); type it again"
        ) from None
    finally:
        os.close(fd)


def _end_line(tty_fd: int) -> None:
    # getpass ends the prompt's line only when an answer was read
    with contextlib.suppress(OSError):
        os.write(tty_fd, b"\n")


def read_passphrase(
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] = terminal_prompt,
    *,
    env_var: str = PASSPHRASE_ENV,
    label: str = "master passphrase",
    confirm: bool = False,
) -> str:
    """Return the passphrase from `env_var`, else ask `prompt` (twice when `confirm`)."""
    source = os.environ if env is None else env
    value = source.get(env_var)
    if value:
        check_passphrase(value, f"{label} ({env_var})")
        return value
    try:
        value = prompt(f"{label}: ")
        check_passphrase(value, label)  # before asking again for one that cannot do
        again = prompt(f"repeat {label}: ") if confirm else value
    except PromptEnded:
        raise VaultError(f"no {label}: the input ended at the prompt (Ctrl-D)") from None
    except EOFError:
        raise VaultError(
            f"no {label}: set {env_var} or run the command in a terminal to be prompted"
        ) from None
    if again != value:
        raise VaultError(f"the two {label} entries differ; nothing was changed, try again")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _aad(name: str, venue: str) -> bytes:
    # Binding name and venue stops a ciphertext being moved to another entry unnoticed.
    return _AAD_LABEL + json.dumps([name, venue]).encode("utf-8")


def _check_value(check_key: bytes, salt: bytes) -> bytes:
    return hmac.new(check_key, _CHECK_LABEL + salt, hashlib.sha256).digest()


def _timestamp(entry: Mapping[str, Any], key: str, name: str) -> datetime:
    value = entry.get(key)
    try:
        return datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise VaultError(
            f"entry {name!r}: {key} = {value!r} is not an ISO 8601 time (e.g. "
            "2026-01-31T12:00:00+00:00); the vault file is corrupted, restore it from a backup"
        ) from None


class Vault:
    """A passphrase-protected file of named credentials; unlock it before reading or writing."""

    def __init__(self, path: Path, *, kdf: ScryptParams | None = None) -> None:
        self.path = Path(path)
        self._new_kdf = kdf or ScryptParams()
        self._key: bytes | None = None
        self._doc: dict[str, Any] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """Return True when the vault file exists."""
        return self.path.exists()

    @property
    def unlocked(self) -> bool:
        """Return True when the key is held in memory."""
        return self._key is not None

    def create(self, passphrase: str) -> None:
        """Create an empty vault file under `passphrase` and leave it unlocked."""
        check_passphrase(passphrase)
        self._not_a_folder()
        if self.exists:
            raise VaultError(
                f"vault {self.path} already exists; unlock it, or remove the file to start over"
            )
        register_secret(passphrase)
        kdf = self._new_kdf
        salt = os.urandom(16)
        key, check_key = kdf.derive(passphrase, salt)
        now = _now().isoformat()
        self._doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kdf": kdf.spec(),
            "salt": _b64(salt),
            "key_check": _b64(_check_value(check_key, salt)),
            "created_at": now,
            "master_rotated_at": now,
            "entries": {},
        }
        self._key = key
        self._write()

    def unlock(self, passphrase: str) -> None:
        """Load the vault file and derive its key; a wrong passphrase raises VaultError."""
        check_passphrase(passphrase)
        register_secret(passphrase)
        doc = self._read()
        kdf = self._kdf_of(doc)
        salt = _unb64(doc["salt"])
        key, check_key = kdf.derive(passphrase, salt)
        expected = _unb64(doc["key_check"])
        if not hmac.compare_digest(_check_value(check_key, salt), expected):
            raise VaultError(f"wrong master passphrase for vault {self.path}")
        self._doc = doc
        self._key = key
        if kdf.weaker_than(self._new_kdf):
            self._upgrade_kdf(passphrase, kdf)

    def _upgrade_kdf(self, passphrase: str, old: ScryptParams) -> None:
        """Re-key the vault under the current default cost; the passphrase stays the same."""
        doc = self._require()
        try:
            plain = {name: self._open(name, entry) for name, entry in doc["entries"].items()}
        except VaultError as exc:
            log.warning("vault %s keeps scrypt n=%d: %s", self.path, old.n, exc)
            return
        params = ScryptParams(
            n=max(old.n, self._new_kdf.n), r=max(old.r, self._new_kdf.r),
            p=max(old.p, self._new_kdf.p),
        )  # fmt: skip
        salt = os.urandom(16)
        key, check_key = params.derive(passphrase, salt)
        old_key, old_doc = self._key, doc
        self._key = key
        self._doc = {
            **doc, "kdf": params.spec(), "salt": _b64(salt),
            "key_check": _b64(_check_value(check_key, salt)),
            "entries": {
                name: {**entry, **self._seal(name, entry["venue"], plain[name])}
                for name, entry in doc["entries"].items()
            },
        }  # fmt: skip
        try:
            self._write()
        except BaseException:
            self._key, self._doc = old_key, old_doc
            raise
        log.info(
            "vault %s: key derivation raised from scrypt n=%d to n=%d", self.path, old.n, params.n
        )

    def lock(self) -> None:
        """Forget the key and the loaded entries."""
        self._key = None
        self._doc = None

    @property
    def kdf(self) -> ScryptParams:
        """Return the scrypt parameters the vault file records."""
        return self._kdf_of(self._require())

    # -- entries ---------------------------------------------------------------------------

    def add(
        self, name: str, venue: str, fields: Mapping[str, str], overwrite: bool = False
    ) -> EntryInfo:
        """Encrypt `fields` as entry `name` and save; replacing one needs `overwrite=True`."""
        doc = self._require()
        fields = dict(fields)
        validate_entry(name, venue, fields)
        for value in fields.values():
            register_secret(value)
        entries: dict[str, Any] = doc["entries"]
        now = _now().isoformat()
        previous = entries.get(name)
        if previous is not None and not overwrite:
            raise VaultError(
                f"entry {name!r} already exists in vault {self.path} with other values; replace "
                f"it with `tradeguard keys add {name} --venue {venue} --overwrite`, or remove it "
                f"first (`tradeguard keys remove {name}`)"
            )
        entry = {
            "venue": venue,
            "created_at": previous["created_at"] if previous else now,
            "rotated_at": now,
        }
        entry.update(self._seal(name, venue, fields))
        entries[name] = entry
        self._write()
        return self._info(name, entry, fields)

    def get(self, name: str) -> Credentials:
        """Decrypt entry `name`; its values are registered for redaction."""
        entry = self._entry(name)
        fields = self._open(name, entry)
        return Credentials(name, entry["venue"], fields)

    def list(self) -> list[EntryInfo]:
        """Return every entry, sorted by name, with the api key masked and no secret field."""
        doc = self._require()
        return [
            self._info(name, entry, self._open(name, entry))
            for name, entry in sorted(doc["entries"].items())
        ]

    def names(self) -> builtins.list[str]:
        """Return the entry names, sorted."""
        return sorted(self._require()["entries"])

    def stored_names(self) -> builtins.list[str]:
        """Return the entry names from the file, sorted, without unlocking (names are plain)."""
        return sorted(self._read()["entries"])

    def remove(self, name: str) -> None:
        """Delete entry `name` and save."""
        self._entry(name)
        del self._require()["entries"][name]
        self._write()

    def rotate_master(self, old: str, new: str, kdf: ScryptParams | None = None) -> None:
        """Re-encrypt every entry under `new` with a fresh salt (and `kdf`), in one atomic write."""
        check_passphrase(new)
        if old == new:
            raise VaultError("the new master passphrase equals the old one; choose a different one")
        self.unlock(old)
        doc = self._require()
        register_secret(new)
        # Decrypt everything first: a single bad entry aborts before anything is written.
        plain = {name: self._open(name, entry) for name, entry in doc["entries"].items()}
        params = kdf or self._kdf_of(doc)
        salt = os.urandom(16)
        key, check_key = params.derive(new, salt)
        new_doc = dict(doc)
        new_doc["kdf"] = params.spec()
        new_doc["salt"] = _b64(salt)
        new_doc["key_check"] = _b64(_check_value(check_key, salt))
        new_doc["master_rotated_at"] = _now().isoformat()
        old_key = self._key
        self._key = key
        try:
            new_doc["entries"] = {
                name: {**entry, **self._seal(name, entry["venue"], plain[name])}
                for name, entry in doc["entries"].items()
            }
            self._doc = new_doc
            self._write()
        except BaseException:
            # The file still holds the old state; keep memory in step with it.
            self._key, self._doc = old_key, doc
            raise

    # -- internals -------------------------------------------------------------------------

    def _require(self) -> dict[str, Any]:
        if self._doc is None or self._key is None:
            raise VaultError(
                f"vault {self.path} is locked; unlock it with the master passphrase first"
            )
        return self._doc

    def _entry(self, name: str) -> dict[str, Any]:
        entries: dict[str, Any] = self._require()["entries"]
        if name not in entries:
            known = ", ".join(sorted(entries)) or "none"
            raise VaultError(
                f"no entry {name!r} in vault {self.path} (entries: {known}); "
                f"add it with `tradeguard keys add {name} --venue VENUE`"
            )
        entry: dict[str, Any] = entries[name]
        return entry

    def _seal(self, name: str, venue: str, fields: Mapping[str, str]) -> dict[str, str]:
        assert self._key is not None
        nonce = os.urandom(12)
        plaintext = json.dumps(dict(fields), sort_keys=True).encode("utf-8")
        ciphertext = AESGCM(self._key).encrypt(nonce, plaintext, _aad(name, venue))
        return {"nonce": _b64(nonce), "ciphertext": _b64(ciphertext)}

    def _check_entry(self, name: str, entry: Any) -> None:
        """Refuse an entry whose shape no vault writes, naming the field (values not shown
        beyond their type's kind: they are ciphertext)."""
        restore = "restore the file from a backup or remove the entry and add it again"
        if not isinstance(entry, dict):
            raise VaultError(
                f"entry {name!r} of vault {self.path} is not an object "
                f"({type(entry).__name__}); {restore}"
            )
        for field in ("venue", "nonce", "ciphertext"):
            value = entry.get(field)
            if not isinstance(value, str):
                shown = repr(value) if value is None or isinstance(value, int | list) else "?"
                raise VaultError(
                    f"entry {name!r} of vault {self.path}: {field} = {shown[:20]} is not "
                    f"text; {restore}"
                )

    def _open(self, name: str, entry: Mapping[str, Any]) -> dict[str, str]:
        assert self._key is not None
        self._check_entry(name, entry)
        try:
            nonce = _unb64(entry["nonce"])
            ciphertext = _unb64(entry["ciphertext"])
            plaintext = AESGCM(self._key).decrypt(nonce, ciphertext, _aad(name, entry["venue"]))
            fields = json.loads(plaintext)
        except (InvalidTag, KeyError, ValueError, TypeError):
            raise VaultError(
                f"entry {name!r} of vault {self.path} failed authentication: it was altered, "
                "corrupted or moved from another entry; restore the file from a backup or "
                "remove the entry and add the credentials again"
            ) from None
        if not isinstance(fields, dict):
            raise VaultError(f"entry {name!r} of vault {self.path} is malformed")
        for value in fields.values():
            register_secret(value)
        return {str(k): str(v) for k, v in fields.items()}

    @staticmethod
    def _info(name: str, entry: Mapping[str, Any], fields: Mapping[str, str]) -> EntryInfo:
        api_key = fields.get("api_key")
        return EntryInfo(
            name=name,
            venue=entry["venue"],
            created_at=_timestamp(entry, "created_at", name),
            rotated_at=_timestamp(entry, "rotated_at", name),
            api_key_masked=mask_id(api_key) if api_key else "-",
            field_names=tuple(sorted(fields)),
        )

    def _kdf_of(self, doc: Mapping[str, Any]) -> ScryptParams:
        spec = doc.get("kdf")
        if not isinstance(spec, dict):
            raise VaultError(
                f"vault {self.path}: kdf = {spec!r} is not an object like "
                '{"name": "scrypt", "n": 131072, "r": 8, "p": 1}; restore the file from a backup'
            )
        if spec.get("name") != "scrypt":
            raise VaultError(
                f"vault {self.path} uses KDF {spec.get('name')!r}; this version reads 'scrypt' only"
            )
        values = {}
        for field in ("n", "r", "p"):
            value = spec.get(field)
            if type(value) is not int:
                raise VaultError(
                    f"vault {self.path}: kdf.{field} = {value!r} is not a whole number; the file "
                    "is corrupted, restore it from a backup"
                )
            values[field] = value
        params = ScryptParams(**values)
        params.validate()
        return params

    def _not_a_folder(self) -> None:
        # A folder "exists" and has a mode: it was read as a vault, its mode reproached.
        if self.path.is_dir():
            raise VaultInputError(
                f"vault {self.path} is a folder; point TG_VAULT_PATH / --vault at the vault "
                f"file (e.g. {self.path / DEFAULT_VAULT_FILE})"
            )

    def _read(self) -> dict[str, Any]:
        self._not_a_folder()
        if not self.exists:
            raise VaultError(
                f"no vault at {self.path}; create one with `tradeguard keys add NAME --venue V` "
                "or point TG_VAULT_PATH / --vault at the right file"
            )
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "vault %s has mode %o, readable by others; run `chmod 600 %s`",
                self.path,
                mode,
                self.path,
            )
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT:
                raise ValueError("not a vault file")
            _unb64(doc["salt"])
            _unb64(doc["key_check"])
            if not isinstance(doc["entries"], dict):
                raise ValueError("entries is not an object")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise VaultError(
                f"vault {self.path} is corrupted or not a tradeguard vault ({str(exc)[:80]}); "
                "restore it from a backup"
            ) from None
        if doc.get("version") != FORMAT_VERSION:
            raise VaultError(
                f"vault {self.path} has format version {doc.get('version')!r}; "
                f"this version reads {FORMAT_VERSION}"
            )
        result: dict[str, Any] = doc
        return result

    def _write(self) -> None:
        """Write the document atomically: 0600 temp file, fsync, rename, fsync the folder."""
        doc = self._require()
        data = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        write_atomic(self.path, data)
