"""The RPC's HTTP answers that are no JSON-RPC result: a rate limit (429) and other refusals.

```python
body = await post_rpc(provider, "eth_call", request_data)   # the 2xx body, after any 429s
```

A 429 is asked again after the `Retry-After` it carries (seconds or an HTTP date; without one,
0.25 s, 0.5 s, 1 s, ...), `RATE_LIMIT_TRIES` requests in all and at most `RATE_LIMIT_WAIT_S`
seconds of waiting; then, or at once when the wait asked for is longer than what is left,
`RpcRateLimited` says so in one line. Any other 4xx or 5xx raises `RpcHttpError` naming the
status and the node's own words (the JSON-RPC error of its body, as nodes answer an over-size
request with 413). Both are `RpcUnreachable`: before a swap is journaled the order is refused,
after it the order stays in flight until a lookup answers (the journal's same signed bytes,
broadcast again, can never swap twice).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tradeguard.venues.http_answer import parse_retry_after
from tradeguard.venues.uniswap_v2.rpc import RpcUnreachable, scrub_urls

RATE_LIMIT_TRIES = 5  # requests in all, the first one counted
RATE_LIMIT_WAIT_S = 10.0  # the most waited in all between them
_BACKOFF_S = 0.25  # the first wait when the 429 names none; doubled each time


class RpcHttpError(RpcUnreachable):
    """The RPC answered an HTTP error status instead of a JSON-RPC answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class RpcRateLimited(RpcHttpError):
    """The RPC kept answering 429 (too many requests) past the retries' bounds."""


def _node_words(body: bytes) -> str:
    """The JSON-RPC error message of an error body, else its first characters, in one line."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        answer = None
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        text = f"{error['message']} (JSON-RPC code {code})"
    else:
        text = body[:200].decode("utf-8", "replace")
    return scrub_urls(" ".join(text.split())[:300]) or "no body"


async def post_rpc(provider: Any, method: str, data: bytes) -> bytes:
    """POST `data` to `provider`'s endpoint and return the body of its 2xx answer; a 429 is
    asked again within the bounds above. Its host alone is named (`provider` is web3's)."""
    waited, host = 0.0, scrub_urls(str(provider.endpoint_uri))
    for attempt in range(1, RATE_LIMIT_TRIES + 1):
        # web3's session raises for any error status: here its answer is read instead
        manager = provider._request_session_manager
        response = await manager.async_get_response_from_post_request(
            provider.endpoint_uri,
            data=data,
            raise_for_status=False,
            **provider.get_request_kwargs(),
        )
        body = await response.read()
        if response.status < 400:
            return bytes(body)
        if response.status != 429:
            raise RpcHttpError(
                f"RPC {method} refused: {host} answered HTTP {response.status}: "
                f"{_node_words(body)}",
                response.status,
            )
        asked = parse_retry_after(response.headers.get("Retry-After", ""))
        wait = asked if asked is not None else _BACKOFF_S * 2 ** (attempt - 1)
        if attempt == RATE_LIMIT_TRIES or waited + wait > RATE_LIMIT_WAIT_S:
            said = f", Retry-After {asked:g} s" if asked is not None else ""
            raise RpcRateLimited(
                f"RPC {method} not answered: {host} answered HTTP 429 (too many requests"
                f"{said}) to {attempt} requests over {waited:g} s; at most "
                f"{RATE_LIMIT_TRIES} requests and {RATE_LIMIT_WAIT_S:g} s of waiting",
                429,
            )
        await asyncio.sleep(wait)
        waited += wait
    raise AssertionError("unreachable")  # pragma: no cover
