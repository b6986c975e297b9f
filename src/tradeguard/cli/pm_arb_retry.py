"""`tradeguard pm arb retry`: ask the running node to offer its held lone legs for sale again.

```
TG_API_TOKEN=... tradeguard pm arb retry --max-loss 2      # prompts for the TOTP code
tradeguard pm arb retry --url http://127.0.0.1:8000 --totp 123456 --strategy pmarb --json
```

The node's API (`tradeguard serve`) does the work (`POST /api/v1/pm/arb/held/retry`): one IOC per
held leg within the loss cap, through the risk engine and the journal. The URL comes from
`--url`, else TG_API_URL, else the config's `api.host`/`api.port` (`--config`), else
http://127.0.0.1:8000; the token (trader or admin, with a TOTP second factor) from TG_API_TOKEN,
else typed at the prompt (never the command line, which every user of the machine may read).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from tradeguard.model.errors import ConfigError, TradeguardError

ROUTE = "/api/v1/pm/arb/held/retry"
DEFAULT_URL = "http://127.0.0.1:8000"
MAX_ANSWER_BYTES = 1 << 20  # the node's answer lists the held legs: far below this
ANSWER_DEADLINE_S = 180.0  # the whole answer; httpx's 120 s bounds each read, not the answer
MAX_LOSS_USD = Decimal("1e12")  # api.schemas.MAX_AMOUNT: the most a money field of the API takes
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # never written to the terminal


def add_pm_arb_retry_parser(arb_sub: Any) -> None:
    """Register `pm arb retry` under `pm arb`."""
    retry = arb_sub.add_parser(
        "retry",
        help="ask the running node (its API) to offer the legs held alone for sale again",
        epilog=(
            "example: tradeguard pm arb retry --max-loss 2 (the API token from TG_API_TOKEN, "
            "else asked for; the TOTP code asked for)"
        ),
    )
    retry.add_argument("--url", help=f"the node's API (default TG_API_URL, else {DEFAULT_URL})")
    retry.add_argument("--config", help="TOML config whose api.host/api.port give the URL")
    # refused: a command line is visible to every user of the machine (ps, /proc)
    retry.add_argument("--token", help=argparse.SUPPRESS)
    retry.add_argument("--totp", help="the current TOTP code (default: prompted on the terminal)")
    retry.add_argument("--strategy", help="one cross_venue strategy id (default: all of them)")
    retry.add_argument(
        "--max-loss", help="most each held leg's sale may lose, USD (default: exec's cap)"
    )
    retry.add_argument("--json", action="store_true", help="print the node's answer as JSON")
    retry.set_defaults(func=cmd_pm_arb_retry)


def api_url(args: argparse.Namespace) -> str:
    """The node's API URL: --url, TG_API_URL, the config's api section, or the default."""
    url = args.url or os.environ.get("TG_API_URL")
    if not url and args.config:
        from tradeguard.cli.liveness import config_api_url
        from tradeguard.config import load_config

        url = config_api_url(load_config(args.config).api)  # as `tradeguard status` asks
    url = (url or DEFAULT_URL).rstrip("/")
    source = "--url" if args.url else "TG_API_URL" if os.environ.get("TG_API_URL") else "url"
    try:
        parts = urlsplit(url)
        userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        parts, userinfo = None, False
    if userinfo:  # httpx would send them as Basic auth in place of the token
        raise ConfigError(
            f"{source} carries a user name or password (user:password@host), which would be "
            "sent in place of the token: give the node's address alone and the token in "
            "TG_API_TOKEN"
        )
    if parts is None or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{source} {_shown(url)!r} is not an http:// or https:// URL")
    return url


def _trust(args: argparse.Namespace) -> Any:
    """What the TLS certificate is checked against: the usual authorities, and the node's own
    certificate (`api.tls_certfile`, often self-signed) when `--config` names it."""
    import ssl

    context = ssl.create_default_context()
    if args.config:
        from tradeguard.config import load_config

        certfile = load_config(args.config).api.tls_certfile
        if certfile:
            try:
                context.load_verify_locations(cafile=certfile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"api.tls_certfile {certfile!r} cannot be read as a PEM certificate: {exc}"
                ) from None
    return context


def _shown(text: str) -> str:
    """`text` without control characters (escape sequences a server or a value may carry)."""
    return _CONTROL.sub("?", text)


def _header_value(value: str, name: str) -> str:
    """`value` if it can be sent as a header (printable ASCII), else a usage error naming it."""
    if not value.isascii() or not value.isprintable():
        raise ConfigError(
            f"{name} holds characters no API token or TOTP code has (only printable ASCII "
            "is sent): check what was pasted"
        )
    return value


def _body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.strategy:
        body["strategy_id"] = args.strategy
    if args.max_loss is not None:
        try:
            cap = Decimal(args.max_loss)
        except InvalidOperation:
            cap = Decimal("NaN")
        if not cap.is_finite() or not 0 < cap <= MAX_LOSS_USD:  # the node's own bounds
            raise ConfigError(
                f"--max-loss {args.max_loss!r} is not an amount of USD above 0 and at most "
                f"{MAX_LOSS_USD:f}"
            )
        body["max_unwind_loss_usd"] = args.max_loss
    return body


def _token() -> str:
    token = os.environ.get("TG_API_TOKEN") or ""
    if not token and sys.stdin.isatty():
        try:
            token = getpass.getpass("API token: ").strip()
        except EOFError:
            token = ""
    if not token:
        raise ConfigError(
            "no API token: set TG_API_TOKEN (or type it at the prompt) to a trader token with a "
            "TOTP second factor (`tradeguard token create --role trader`, then `token totp-setup`)"
        )
    return _header_value(token, "TG_API_TOKEN")


def _totp(args: argparse.Namespace) -> str:
    if args.totp:
        return _header_value(str(args.totp).strip(), "--totp")
    if not sys.stdin.isatty():
        raise ConfigError("no TOTP code: give --totp CODE (no terminal to prompt on)")
    try:
        typed = getpass.getpass("TOTP code: ").strip()
    except EOFError:
        raise ConfigError("no TOTP code typed (end of input at the prompt)") from None
    return _header_value(typed, "the TOTP code typed")


def cmd_pm_arb_retry(args: argparse.Namespace) -> int:
    """Send the retry to the node's API and print what each held leg's sale did."""
    if args.token is not None:
        raise ConfigError(
            "--token is refused: a command line is visible to every user of the machine (ps); "
            "set TG_API_TOKEN or type the token at the prompt"
        )
    url = api_url(args)
    token = _token()
    body = _body(args)
    answer = _post(url, token, _totp(args), body, _trust(args))
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    retried = answer.get("retried") or []
    if not retried:
        print("no leg is held alone: nothing was offered")
    for r in retried:
        held = ", ".join(f"{q} {s}" for s, q in (r.get("held") or {}).items()) or "nothing"
        why = f" ({r['reason']})" if r.get("reason") else ""
        line = f"{r.get('strategy_id')} record {r.get('retry_of')}: {r.get('outcome')}, "
        print(_shown(f"{line}still held {held}{why}"))
    return 0


def _post(url: str, token: str, totp: str, body: dict[str, Any], trust: Any) -> dict[str, Any]:
    """The node's answer, given up on ANSWER_DEADLINE_S after the request whatever it is
    waiting for: httpx bounds each read, and headers dripping in never reach the body's check.
    The request runs on a daemon thread, left behind (the command then ends) when it is late."""
    import threading
    import time

    from tradeguard.ctrl_c_reach import start_thread

    deadline = time.monotonic() + ANSWER_DEADLINE_S
    out: list[dict[str, Any]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            out.append(_post_now(url, token, totp, body, trust, deadline))
        except BaseException as exc:  # handed to the waiting thread, raised there
            failed.append(exc)

    worker = start_thread(threading.Thread(target=run, name="pm-arb-retry", daemon=True))
    worker.join(ANSWER_DEADLINE_S + 1.0)  # past the deadline, the body's own check has run
    if failed:
        raise failed[0]
    if not out:
        raise TradeguardError(_late(url))
    return out[0]


def _late(url: str) -> str:
    return (
        f"{url} did not send its whole answer within {ANSWER_DEADLINE_S:g} s: "
        "no tradeguard node answers that slowly (check --url)"
    )


def _post_now(
    url: str, token: str, totp: str, body: dict[str, Any], trust: Any, deadline: float
) -> dict[str, Any]:
    import ssl

    import httpx

    headers = {"Authorization": f"Bearer {token}", "X-TOTP": totp}
    timeout = httpx.Timeout(120.0, connect=10.0)
    try:
        with (
            httpx.Client(timeout=timeout, trust_env=False, verify=trust) as c,
            c.stream("POST", f"{url}{ROUTE}", json=body, headers=headers) as resp,
        ):
            raw = _read_capped(url, resp, deadline)
    except httpx.ConnectError as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise TradeguardError(
                f"{url} answers but its TLS certificate is not trusted "
                f"({getattr(cause, 'verify_message', None) or type(cause).__name__}): give "
                "--config naming the node's config (api.tls_certfile)"
            ) from None
        raise TradeguardError(
            f"no node answers at {url} (connection refused): is `tradeguard serve` running "
            "there? (--url, TG_API_URL or the config's api.port)"
        ) from None
    except httpx.HTTPError as exc:
        raise TradeguardError(f"the node at {url} did not answer: {type(exc).__name__}") from None
    if resp.status_code == 200:
        return _answer(url, raw)
    raise TradeguardError(_refusal(url, resp.status_code, _shown(_detail(raw))))


def _read_capped(url: str, resp: Any, deadline: float) -> bytes:
    """The answer's body, refused past MAX_ANSWER_BYTES (no node answers that much) or once
    ANSWER_DEADLINE_S have passed since the request (time.monotonic() past `deadline`): a
    server dripping a byte now and then never trips the per-read timeout."""
    import time

    chunks, size = [], 0
    for chunk in resp.iter_bytes():
        if time.monotonic() > deadline:
            raise TradeguardError(_late(url))
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise TradeguardError(
                f"{url} answered more than {MAX_ANSWER_BYTES} bytes: no tradeguard node answers "
                "that much (check --url)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _answer(url: str, raw: bytes) -> dict[str, Any]:
    """The node's answer: a JSON object whose `retried` is a list of objects."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    retried = doc.get("retried", []) if isinstance(doc, dict) else None
    if not isinstance(retried, list) or not all(isinstance(r, dict) for r in retried):
        raise TradeguardError(
            f"{url} answered 200 with no retry's answer (not a JSON object listing what was "
            f"retried): is it a tradeguard node? (check --url)"
        )
    assert isinstance(doc, dict)
    return doc


def _detail(raw: bytes) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "replace").strip()
        return text.splitlines()[0][:200] if text else ""
    if isinstance(doc, dict):
        return str(doc.get("detail") or doc.get("error") or doc)[:300]
    return str(doc)[:300]


def _refusal(url: str, status: int, detail: str) -> str:
    if status == 401 and "totp" in detail.lower():
        return f"the node at {url} refused the TOTP code: {detail}"
    if status == 401:
        return f"the node at {url} refused the token (wrong or revoked; TG_API_TOKEN): {detail}"
    if status == 404 and not detail:
        return f"{url} answers but is no tradeguard node with {ROUTE} (check --url)"
    return f"the node at {url} refused the retry ({status}): {detail}"
