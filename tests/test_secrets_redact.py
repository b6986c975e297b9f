"""Always-on redaction: registered secrets and credential patterns never reach a log line."""

from __future__ import annotations

import io
import json
import logging
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from tradeguard.secrets import (
    RedactingFilter,
    find_secrets,
    install_redaction,
    redact,
    register_secret,
    scan_paths,
)


def fresh_secret() -> str:
    return f"s3cr3t/{uuid.uuid4().hex}+x"


def capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    """Return a logger with its own stream handler, added after redaction was installed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(f"tg-test.{name}.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream


@pytest.fixture(autouse=True)
def _installed() -> None:
    install_redaction()


def test_registered_secret_is_masked_in_message_and_args() -> None:
    secret = fresh_secret()
    register_secret(secret)
    logger, stream = capture("args")

    logger.info("direct %s", secret)
    logger.info(f"f-string {secret}")
    logger.info("dict %r", {"k": secret})
    logger.info("url-encoded %s", quote(secret, safe=""))

    text = stream.getvalue()
    assert find_secrets(text, [secret]) == []
    assert text.count("***") == 4


def test_registered_secret_is_masked_in_tracebacks() -> None:
    secret = fresh_secret()
    register_secret(secret)
    logger, stream = capture("traceback")

    try:
        raise RuntimeError(f"login failed for secret {secret}")
    except RuntimeError:
        logger.exception("venue call failed")

    text = stream.getvalue()
    assert "RuntimeError: login failed for secret ***" in text
    assert "Traceback" in text
    assert find_secrets(text, [secret]) == []


def test_handler_added_to_root_after_install_is_filtered() -> None:
    secret = fresh_secret()
    register_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        logging.getLogger("tg-test.child.propagating").warning("key %s", secret)
    finally:
        root.removeHandler(handler)

    assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    assert stream.getvalue() == "key ***\n"


def test_handler_existing_before_install_is_filtered() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger(f"tg-test.early.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    # Bypass addHandler, as code that pokes `handlers` directly would.
    logger.handlers.append(handler)
    secret = fresh_secret()
    register_secret(secret)

    install_redaction()
    logger.error("token %s", secret)

    assert stream.getvalue() == "token ***\n"


def test_install_is_idempotent() -> None:
    logger, _ = capture("idem")
    install_redaction()
    install_redaction(logger)

    (handler,) = logger.handlers
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1


def test_string_extras_are_masked() -> None:
    secret = fresh_secret()
    register_secret(secret)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s %(detail)s"))
    logger = logging.getLogger(f"tg-test.extra.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.addHandler(handler)

    logger.warning("response", extra={"detail": f"body={secret}"})

    assert stream.getvalue() == "response body=***\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=" + "a1" * 32,
            "GET /api/v3/order?symbol=BTCUSDT&timestamp=1&signature=***",
        ),
        ("X-MBX-APIKEY: vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy", "X-MBX-APIKEY: ***"),
        ("{'X-MBX-APIKEY': 'vmPUZE6mv9SD5VNHk4'}", "{'X-MBX-APIKEY': '***'}"),
        (
            '{"apiKey": "abc123def456", "symbol": "BTC/USDT"}',
            '{"apiKey": "***", "symbol": "BTC/USDT"}',
        ),
        ("{'secret': 'NhqPtmdSJYdKjVHjA7P'}", "{'secret': '***'}"),
        ('{"passphrase":"my pass phrase"}', '{"passphrase":"***"}'),
        ('{"private_key": "0xdeadbeef"}', '{"private_key": "***"}'),
        (
            "apiKey=abc123def456&secret=xyz789&recvWindow=5000",
            "apiKey=***&secret=***&recvWindow=5000",
        ),
        ("client_secret=abcdef123", "client_secret=***"),
        ("wallet key 0x" + "4c" * 32 + " loaded", "wallet key *** loaded"),
        ("key " + "F0" * 32, "key ***"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "Authorization: Bearer ***"),
        ("headers={'Authorization': 'Bearer tok_123'}", "headers={'Authorization': 'Bearer ***'}"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAA\n-----END RSA PRIVATE KEY----- ok",
            "*** ok",
        ),
    ],
)
def test_credential_patterns_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_ordinary_text_is_left_alone() -> None:
    text = (
        "order 7f3a filled 0.015 BTC @ 64,210.50 USDT; fee 0.1; "
        'intent {"symbol": "ETH/USDT", "side": "buy", "token": "UNI"} secret_count=3'
    )
    assert redact(text) == text


def test_short_values_are_not_registered() -> None:
    assert register_secret("abc") is False
    assert redact("abc def") == "abc def"


def test_pattern_masking_applies_through_the_filter() -> None:
    logger, stream = capture("patterns")

    logger.debug("request %s", "https://x/api?timestamp=1&signature=" + "be" * 32)

    assert stream.getvalue() == "DEBUG request https://x/api?timestamp=1&signature=***\n"


def test_find_secrets_reports_masked_hits_and_encodings() -> None:
    secret = "abcd/efgh+ijkl=mnop"

    raw_hits = find_secrets(f"x {secret} y", [secret])
    url_hits = find_secrets(f"q={quote(secret, safe='')}".encode(), [secret])
    json_hits = find_secrets(json.dumps({"v": 'a"' + secret}), ['a"' + secret])

    assert raw_hits == ["ab…op (len 19) as raw"]
    assert url_hits == ["ab…op (len 19) as url-encoded"]
    assert json_hits and "json-escaped" in json_hits[0]
    assert find_secrets(b"nothing here", [secret]) == []
    assert all(secret not in hit for hit in raw_hits + url_hits)


def test_scan_paths_walks_directories_and_names_leaking_files(tmp_path: Path) -> None:
    secret = fresh_secret()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "node.log").write_text("all clean\n")
    (tmp_path / "logs" / "api.log").write_text(f"oops {secret}\n")
    (tmp_path / "tg.db").write_bytes(b"\x00\x01" + secret.encode("utf-16-le"))

    findings = scan_paths([tmp_path], [secret])

    assert sorted(p.name for p in findings) == ["api.log", "tg.db"]


def test_scan_paths_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        scan_paths([tmp_path / "nope.log"], ["whatever-secret"])
