"""Always-on redaction of secrets in log records and any other text leaving the process.

```python
from tradeguard.secrets.redact import install_redaction, redact, register_secret

install_redaction()                      # once, at start-up
register_secret("my-api-secret-value")   # the vault does this for every value it decrypts
redact("secret=my-api-secret-value")     # -> "secret=***"
```
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values would blank out ordinary words and numbers all over the logs.
MIN_SECRET_LEN = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_forms: tuple[str, ...] | None = None

_SECRET_KEY_NAMES = (
    r"[a-z_]*(?:api_?key|api_?secret|secret_?key|secret|pass_?phrase|password|passwd"
    r"|private_?key|access_?token|refresh_?token|bearer_?token)"
)
_AUTH_HEADERS = (
    r"x-mbx-apikey|x-bapi-api-key|x-bapi-sign|ok-access-key|ok-access-sign|ok-access-passphrase"
    r"|cb-access-key|cb-access-sign|cb-access-passphrase|kc-api-key|kc-api-sign|kc-api-passphrase"
    r"|api-key|api-sign|x-api-key|kalshi-access-key|kalshi-access-signature"
)
_HEX_KEY = re.compile(r"(?:0[xX])?[0-9a-fA-F]{64}")
_KEY_TRIGGERS = ("key", "secret", "pass", "token")
# (regex, replacement, lower-case words one of which must occur for the regex to be tried).
# Compiled the first time a text holds one of their words (`_pattern`): most processes never
# redact a credential, and compiling all eight took ~5 % of a backtest's start-up.
_PATTERNS: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    # PEM private keys (RSA keys of event-contract venues, wallet keys exported as PEM).
    (
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
        re.DOTALL,
        MASK,
        ("private key-----",),
    ),
    # Authorization: Bearer/Basic/Token <credential>, as a header line or in a dict repr.
    (
        r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)\s+)[^\s'\",}]+",
        0,
        r"\1" + MASK,
        ("authorization",),
    ),
    (r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*", 0, r"\1" + MASK, ("bearer",)),
    # Exchange authentication headers (Binance X-MBX-APIKEY and its cousins).
    (
        rf"(?i)\b((?:{_AUTH_HEADERS})['\"]?\s*[:=]\s*['\"]?)[^\s'\",}}&]+",
        0,
        r"\1" + MASK,
        ("apikey", "api-key", "-sign", "-access-", "-passphrase"),
    ),
    # Request signatures in query strings and bodies.
    (r"(?i)\b(signature=)[^&\s'\",]+", 0, r"\1" + MASK, ("signature=",)),
    # JSON or Python-repr values: "apiKey": "...", 'secret': '...'.
    (
        rf"(?i)(['\"]?\b{_SECRET_KEY_NAMES}\b['\"]?\s*:\s*)(['\"])((?:\\.|(?!\2).)*)\2",
        0,
        r"\1\2" + MASK + r"\2",
        _KEY_TRIGGERS,
    ),
    # Query-string or key=value forms: apiKey=..., secret=....
    (rf"(?i)\b({_SECRET_KEY_NAMES})=([^&\s'\",;)]+)", 0, r"\1=" + MASK, _KEY_TRIGGERS),
    # Bare 32-byte hex values (EVM private keys), with or without 0x: masked unless a tx or
    # block hash's word stands right before (`_hex_or_mask`).
    (r"(?<![0-9A-Za-z])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z])", 0, "", ()),
)
_BARE_HEX = len(_PATTERNS) - 1
# The words that tell a 32-byte hex is a transaction or block hash (public on chain), when
# nothing but separators stands between them and it: `tx 0x…`, `tx_hash='0x…'`,
# `"transactionHash": "0x…"`, `receipt of 0x…`. A key's word there (`key 0x…`) keeps the mask,
# and a key the vault or config holds is masked by its value before this pattern runs.
_HASH_CONTEXT = re.compile(
    r"(?i)(?:\b(?:tx|txid|txn|txs)|hash|hashes|transaction|transactions|receipt(?:\s+of)?)"
    r"(?:_?[a-z]*hash(?:es)?|_?id)?['\"]?\s*[:=]?\s*[\[(]?['\"]?$"
)
# ...unless a key's word stands anywhere in that stretch too, in the hash's name
# (`private_key_hash=`) or before it (`signing key for tx 0x…`): then it stays masked.
_KEY_CONTEXT = re.compile(r"(?i)key|secret|private|seed|mnemonic|pass")
_HASH_CONTEXT_CHARS = 40


def _variants(value: str) -> set[str]:
    """Return the forms a secret takes in URLs, JSON and plain text."""
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), json.dumps(value)[1:-1]}
    if _HEX_KEY.fullmatch(value):  # a wallet key: with or without 0x, in either case
        digits = value[2:] if value[:2] in ("0x", "0X") else value
        for d in (digits.lower(), digits.upper()):
            forms |= {d, "0x" + d}
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def register_secret(value: str) -> bool:
    """Register a secret so every redaction replaces it; return False when it is too short."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
        return False
    global _secret_forms
    with _lock:
        if value not in _secrets:
            _secrets.add(value)
            _secret_forms = None
    return True


def registered_secrets() -> frozenset[str]:
    """Return every secret registered so far in this process."""
    with _lock:
        return frozenset(_secrets)


def _registry_forms() -> tuple[str, ...]:
    global _secret_forms
    with _lock:
        if _secret_forms is None:
            forms: set[str] = set()
            for value in _secrets:
                forms |= _variants(value)
            # Longest first so a secret that contains another is masked whole.
            _secret_forms = tuple(sorted(forms, key=len, reverse=True))
        return _secret_forms


def redact(text: str) -> str:
    """Return `text` with every registered secret and every known credential pattern masked."""
    if not text:
        return text
    # Substring tests run at C speed; a regex alternation of every secret would not.
    for form in _registry_forms():
        if form in text:
            text = text.replace(form, MASK)
    lowered = text.lower()
    for index, (_, _, replacement, triggers) in enumerate(_PATTERNS):
        if triggers and not any(t in lowered for t in triggers):
            continue
        text = _pattern(index).sub(_hex_or_mask if index == _BARE_HEX else replacement, text)
    return text


def _hex_or_mask(match: re.Match[str]) -> str:
    """Keep a 32-byte hex that its context names a tx or block hash; mask any other."""
    start = match.start()
    before = match.string[max(0, start - _HASH_CONTEXT_CHARS) : start]
    if _HASH_CONTEXT.search(before) and not _KEY_CONTEXT.search(before):
        return match.group(0)
    return MASK


_compiled: list[re.Pattern[str] | None] = [None] * len(_PATTERNS)


def _pattern(index: int) -> re.Pattern[str]:
    """The compiled regex of `_PATTERNS[index]` (compiled once, on first use)."""
    regex = _compiled[index]
    if regex is None:
        source, flags, _, _ = _PATTERNS[index]
        regex = _compiled[index] = re.compile(source, flags)
    return regex


_STANDARD_RECORD_KEYS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)
_exc_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Mask secrets in a record's message, arguments, traceback, stack and string extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string must not push the raw arguments past redaction.
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Format the traceback here, masked, and drop the live exception so no
            # formatter downstream renders the original text again.
            record.exc_text = redact(_exc_formatter.formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_RECORD_KEYS and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


_FILTER = RedactingFilter()
_original_add_handler: Any = None


def _attach(handler: logging.Handler) -> None:
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(_FILTER)


def install_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Attach the redacting filter to every handler that exists now or is added later."""
    global _original_add_handler
    with _lock:
        if _original_add_handler is None:
            _original_add_handler = logging.Logger.addHandler

            def add_handler(self: logging.Logger, hdlr: logging.Handler) -> None:
                _attach(hdlr)
                _original_add_handler(self, hdlr)

            logging.Logger.addHandler = add_handler  # type: ignore[method-assign]
    loggers: list[logging.Logger] = [logger or logging.getLogger()]
    loggers.append(logging.getLogger())
    loggers.extend(
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    )
    for lg in loggers:
        for handler in lg.handlers:
            _attach(handler)
    if logging.lastResort is not None:
        _attach(logging.lastResort)
    return _FILTER


def _blob_forms(value: str) -> dict[str, str]:
    forms = {
        "raw": value,
        "url-encoded": quote(value, safe=""),
        "form-encoded": quote_plus(value, safe=""),
        "json-escaped": json.dumps(value)[1:-1],
        "base64": base64.b64encode(value.encode()).decode(),
    }
    return {label: form for label, form in forms.items() if len(form) >= MIN_SECRET_LEN}


def _label(value: str) -> str:
    """Describe a secret without showing it: its length and two end characters at most."""
    if len(value) >= 12:
        return f"{value[:2]}…{value[-2:]} (len {len(value)})"
    return f"*** (len {len(value)})"


def find_secrets(blob: str | bytes, secrets: Iterable[str] | None = None) -> list[str]:
    """List, masked, each secret found in `blob` and the encoding it was found in."""
    candidates = registered_secrets() if secrets is None else frozenset(secrets)
    found: list[str] = []
    for value in sorted(candidates):
        if len(value) < MIN_SECRET_LEN:
            continue
        for label, form in _blob_forms(value).items():
            if isinstance(blob, bytes):
                hit = form.encode() in blob or form.encode("utf-16-le") in blob
            else:
                hit = form in blob
            if hit:
                found.append(f"{_label(value)} as {label}")
                break
    return found


def scan_paths(
    paths: Iterable[str | Path], secrets: Iterable[str] | None = None
) -> dict[Path, list[str]]:
    """Scan files, and directories recursively, for secrets; return only the files with findings."""
    candidates = registered_secrets() if secrets is None else frozenset(secrets)
    findings: dict[Path, list[str]] = {}
    for raw in paths:
        root = Path(raw)
        if not root.exists():
            # A leak test that silently scans nothing would pass for the wrong reason.
            raise FileNotFoundError(f"scan_paths: {root} does not exist; pass existing paths only")
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            hits = find_secrets(path.read_bytes(), candidates)
            if hits:
                findings[path] = hits
    return findings
