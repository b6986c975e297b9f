"""A TOTP code used once is refused after the API restarts: the step it was used at is stored
with the token's sealed secret, not only in the process that took it (a code seen by whoever
watched it typed was good again for up to a minute after every restart)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyotp

from test_api_support import FAST_KDF_N, PASSPHRASE
from tradeguard.api.auth import Role, TokenStore
from tradeguard.secrets.vault import ScryptParams
from tradeguard.storage import Database

# one API process: opens the database, checks the code, and ends (exit 0 taken, 3 refused)
_CHECK = """
import sys
from tradeguard.api.auth import AuthError, TokenStore
from tradeguard.storage import Database
db = Database(sys.argv[1])
try:
    TokenStore(db).verify_totp(sys.argv[2], sys.argv[3], sys.argv[4])
except AuthError as exc:
    print(exc)
    sys.exit(3)
print("taken")
"""


def _check(url: str, token_id: str, code: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", _CHECK, url, token_id, code, PASSPHRASE]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_a_totp_code_used_before_a_restart_is_refused_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    db = Database(url)
    db.migrate()
    store = TokenStore(db)
    info, _ = store.create("trader", Role.TRADER)
    totp = pyotp.parse_uri(store.setup_totp("trader", PASSPHRASE, ScryptParams(n=FAST_KDF_N)))
    code = totp.now()
    store.verify_totp(info.id, code, PASSPHRASE)  # taken in this process: no error
    db.engine.dispose()
    again = _check(url, info.id, code)  # a new process: the API started again
    assert again.returncode == 3, again.stdout + again.stderr
    assert "already used" in again.stdout


def test_a_new_totp_secret_takes_codes_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'api.db'}")
    db.migrate()
    store = TokenStore(db)
    info, _ = store.create("trader", Role.TRADER)
    kdf = ScryptParams(n=FAST_KDF_N)
    first = pyotp.parse_uri(store.setup_totp("trader", PASSPHRASE, kdf))
    store.verify_totp(info.id, first.now(), PASSPHRASE)
    second = pyotp.parse_uri(store.setup_totp("trader", PASSPHRASE, kdf))
    store.verify_totp(info.id, second.now(), PASSPHRASE)  # not refused as used
