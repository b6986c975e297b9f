"""One reading of a prediction venue's HTTP answer (Kalshi, Polymarket, their public data).

```python
resp = await http.get(url)
data = answer_json("pm", "load_instruments", resp)   # the JSON body, or a VenueError
```

Every error is one line naming the venue, the operation, the route and the status:
`pm: load_instruments failed: GET /markets answered HTTP 429 (rate limited; retry after 1 s)`.
A 429 (its `Retry-After` kept on the error as `retry_after_s`), a 5xx, no answer at all (a
timeout, a refused connection) and a body that is not JSON are ambiguous: the request may have
done its work, so an order stays in flight until a query settles it. Another 4xx is definitive.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from typing import Any

import httpx

from tradeguard.model.errors import AmbiguousVenueError, DefinitiveVenueError, VenueError
from tradeguard.model.text import one_line
from tradeguard.secrets.redact import redact
from tradeguard.venues.outcome_quotes import network_failure


def route_of(resp: httpx.Response) -> str:
    """`METHOD /path` of the request `resp` answers (no query: it may carry ids)."""
    return f"{resp.request.method} {resp.request.url.path}"


def retry_after_s(resp: httpx.Response) -> float | None:
    """The answer's `Retry-After` in seconds (a number or an HTTP date), None if absent or bad."""
    return parse_retry_after(resp.headers.get("Retry-After", ""))


def parse_retry_after(raw: str) -> float | None:
    """A `Retry-After` header's seconds (a number, at most an hour, or an HTTP date), None if
    absent or bad."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:  # NaN or infinity from a hostile or broken server is no answer
        return min(max(seconds, 0.0), 3600.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def error_detail(resp: httpx.Response) -> tuple[str, str]:
    """(code, message) of an error answer: Kalshi's `{"error": {"code", "message"}}`,
    Polymarket's `{"error": "..."}`, else the body's first characters."""
    try:
        body = resp.json()
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        return "", one_line(resp.text)
    err = body.get("error", body.get("message", body)) if isinstance(body, dict) else body
    if isinstance(err, dict):
        return str(err.get("code", "")), one_line(str(err.get("message", err)))
    return "", one_line(str(err))


def status_error(
    venue: str,
    op: str,
    route: str,
    status: int,
    message: str,
    code: str = "",
    retry_after: float | None = None,
    ambiguous: bool = False,
) -> VenueError:
    """The error for an HTTP error answer (`ambiguous`: a 4xx the venue knows may hide a done
    request, such as Kalshi's reused client order id)."""
    head = f"{op} failed: {route} answered HTTP {status}"
    tail = f" [{code}]" if code else ""
    if status == 429:
        wait = "" if retry_after is None else f"; retry after {retry_after:g} s"
        err: VenueError = AmbiguousVenueError(
            venue, redact(f"{head} (rate limited{wait}): {message}{tail}"), "RATE_LIMITED"
        )
    elif status >= 500 or ambiguous:
        err = AmbiguousVenueError(venue, redact(f"{head}: {message}{tail}"), code or "HTTP")
    else:
        err = DefinitiveVenueError(venue, redact(f"{head}: {message}{tail}"), code or "REJECTED")
    err.retry_after_s = retry_after  # type: ignore[attr-defined]
    err.http_status = status  # type: ignore[attr-defined]
    return err


def answer_json(venue: str, op: str, resp: httpx.Response) -> Any:
    """The JSON body of a success answer; otherwise the error for it (see the module)."""
    route, status = route_of(resp), resp.status_code
    if status >= 400:
        code, message = error_detail(resp)
        raise status_error(venue, op, route, status, message, code, retry_after_s(resp))
    try:
        return resp.json()
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise not_json(venue, op, route, status, resp.text) from None


def not_json(venue: str, op: str, route: str, status: int, text: str) -> AmbiguousVenueError:
    """The error for a success answer whose body is not JSON (a proxy's page, a cut body)."""
    return AmbiguousVenueError(
        venue,
        redact(
            f"{op} failed: {route} answered HTTP {status} with a body that is not JSON: "
            f"{one_line(text)!r}"
        ),
        "BAD_BODY",
    )


def no_answer(venue: str, op: str, exc: BaseException, url: str) -> AmbiguousVenueError:
    """The error for a request that got no answer (timeout, refused, reset)."""
    return AmbiguousVenueError(venue, network_failure(op, exc, url), "NETWORK")


def not_object(
    venue: str, op: str, route: str, body: Any, why: str = "a body that is not a JSON object"
) -> AmbiguousVenueError:
    """The error for a success answer that is JSON but not the object the call expects (a
    proxy's `[]`, `null`, bare string or `{}`): whether the request did its work is unknown."""
    return AmbiguousVenueError(
        venue,
        redact(f"{op} failed: {route} answered with {why}: {one_line(json.dumps(body))!r}"),
        "BAD_BODY",
    )
