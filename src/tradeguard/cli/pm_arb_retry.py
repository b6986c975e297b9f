"""`tradeguard pm arb retry`: ask the running node to offer its held lone legs for sale again.

```
TG_API_TOKEN=... tradeguard pm arb retry --max-loss 2      # prompts for the TOTP code
tradeguard pm arb retry --url http://127.0.0.1:8000 --totp 123456 --strategy pmarb --json
```

The node's API (`tradeguard serve`) does the work (`POST /api/v1/pm/arb/held/retry`): one IOC per
held leg within the loss cap, through the risk engine and the journal. The URL comes from
`--url`, else TG_API_URL, else the config's `api.host`/`api.port` (`--config`), else
http://127.0.0.1:8000; the token (trader or admin, with a TOTP second factor) from TG_API_TOKEN
(or `--token`, which other users of the machine may see in the process list).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from tradeguard.model.errors import ConfigError, TradeguardError

ROUTE = "/api/v1/pm/arb/held/retry"
DEFAULT_URL = "http://127.0.0.1:8000"


def add_pm_arb_retry_parser(arb_sub: Any) -> None:
    """Register `pm arb retry` under `pm arb`."""
    retry = arb_sub.add_parser(
        "retry",
        help="ask the running node (its API) to offer the legs held alone for sale again",
        epilog="example: TG_API_TOKEN=... tradeguard pm arb retry --max-loss 2",
    )
    retry.add_argument("--url", help=f"the node's API (default TG_API_URL, else {DEFAULT_URL})")
    retry.add_argument("--config", help="TOML config whose api.host/api.port give the URL")
    retry.add_argument("--token", help="API token (default TG_API_TOKEN; prefer the variable)")
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
        from tradeguard.config import load_config

        api = load_config(args.config).api
        host = f"[{api.host}]" if ":" in api.host else api.host
        url = f"{'https' if api.tls_certfile else 'http'}://{host}:{api.port}"
    url = (url or DEFAULT_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url {url!r} is not an http:// or https:// URL")
    return url


def _body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.strategy:
        body["strategy_id"] = args.strategy
    if args.max_loss is not None:
        try:
            cap = Decimal(args.max_loss)
        except InvalidOperation:
            cap = Decimal("NaN")
        if not cap.is_finite() or cap < 0:
            raise ConfigError(f"--max-loss {args.max_loss!r} is not an amount of USD >= 0")
        body["max_unwind_loss_usd"] = args.max_loss
    return body


def _totp(args: argparse.Namespace) -> str:
    if args.totp:
        return str(args.totp).strip()
    if not sys.stdin.isatty():
        raise ConfigError("no TOTP code: give --totp CODE (no terminal to prompt on)")
    return getpass.getpass("TOTP code: ").strip()


def cmd_pm_arb_retry(args: argparse.Namespace) -> int:
    """Send the retry to the node's API and print what each held leg's sale did."""
    url = api_url(args)
    token = args.token or os.environ.get("TG_API_TOKEN")
    if not token:
        raise ConfigError(
            "no API token: set TG_API_TOKEN (or --token) to a trader token with a TOTP second "
            "factor (`tradeguard token create --role trader`, then `token totp-setup`)"
        )
    body = _body(args)
    answer = _post(url, token, _totp(args), body)
    if args.json:
        print(json.dumps(answer, indent=2))
        return 0
    retried = answer.get("retried") or []
    if not retried:
        print("no leg is held alone: nothing was offered")
    for r in retried:
        held = ", ".join(f"{q} {s}" for s, q in (r.get("held") or {}).items()) or "nothing"
        print(f"{r.get('strategy_id')} record {r.get('retry_of')}: {r.get('outcome')}, "
              f"still held {held}" + (f" ({r['reason']})" if r.get("reason") else ""))  # fmt: skip
    return 0


def _post(url: str, token: str, totp: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}", "X-TOTP": totp}
    try:
        with httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0), trust_env=False) as c:
            resp = c.post(f"{url}{ROUTE}", json=body, headers=headers)
    except httpx.ConnectError:
        raise TradeguardError(
            f"no node answers at {url} (connection refused): is `tradeguard serve` running "
            "there? (--url, TG_API_URL or the config's api.port)"
        ) from None
    except httpx.HTTPError as exc:
        raise TradeguardError(f"the node at {url} did not answer: {type(exc).__name__}") from None
    if resp.status_code == 200:
        data: dict[str, Any] = resp.json()
        return data
    raise TradeguardError(_refusal(url, resp.status_code, _detail(resp)))


def _detail(resp: Any) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.text.strip().splitlines()[0][:200] if resp.text.strip() else ""
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
