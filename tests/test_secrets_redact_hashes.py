"""A transaction or block hash stays readable in logs; a wallet key never does, in any form."""

from __future__ import annotations

import io
import json
import logging
import secrets
import uuid
from urllib.parse import quote, quote_plus

import pytest

from tradeguard.secrets import Credentials, install_redaction, redact

TX = "0x" + "5e" * 16 + "a1" * 16  # a swap's transaction hash, as the RPC answers it


@pytest.fixture(autouse=True)
def _installed() -> None:
    install_redaction()


def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"tg-test.hashes.{uuid.uuid4().hex[:6]}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, stream


@pytest.mark.parametrize(
    "line",
    [
        "dex: tx {h} booked on its logs alone",
        "swap sent, tx_hash={h}",
        "record {{'tx_hash': '{h}', 'status': 'mined'}}",
        '{{"transactionHash": "{h}", "logIndex": "0x0"}}',
        "transaction {h} reverted",
        "receipt of {h} not booked: no Swap log",
        "blockHash: {h}",
        "txid {h}",
        "hashes ['{h}'",
    ],
)
def test_tx_and_block_hashes_are_shown_in_log_lines(line: str) -> None:
    logger, stream = capture()
    logger.warning(line.format(h=TX))
    assert TX in stream.getvalue()
    assert "***" not in stream.getvalue()


@pytest.mark.parametrize(
    "line",
    [
        "wallet key {h} loaded",
        "{h}",
        "private_key_hash={h}",
        "signing with {h} now",
        # a key's word before the hash's: before, shown whole (the hash's word right before)
        "signing key for tx {h}",
        "private key, tx: {h}",
        "seed for txid {h}",
    ],
)
def test_an_unregistered_bare_hex_outside_a_hash_context_stays_masked(line: str) -> None:
    assert redact(line.format(h=TX)) == line.format(h="***")
    assert redact(line.format(h="0X" + TX[2:])) == line.format(h="***")  # before: 0X*** shown


def test_a_vault_wallet_key_never_reaches_a_log_line_in_any_form() -> None:
    digits = secrets.token_hex(32)
    Credentials("dex-wallet", "uniswap_v2", {"private_key": "0x" + digits})  # as the vault does
    forms = [
        "0x" + digits, digits, digits.upper(), "0x" + digits.upper(), "0X" + digits,
    ]  # fmt: skip
    logger, stream = capture()
    for form in forms:
        # in the contexts a hash is shown in, too: the key is masked by its value first
        for line in ("tx {k}", "tx_hash={k}", '{{"transactionHash": "{k}"}}', "key {k}", "{k}"):
            logger.info(line.format(k=form))
        logger.info("url %s form %s", quote(form, safe=""), quote_plus(form))
        logger.info("json %s", json.dumps({"hash": form}))
    text = stream.getvalue().lower()
    assert digits not in text
    assert text.count("***") == len(forms) * 8
