"""A request no route answers: why, for each sandbox to say in its venue's error shape.

aiohttp's own answer is plain text ("404: Not Found"), which no venue sends: a client reads it
as an outage (ccxt: ExchangeNotAvailable, retried) rather than as the error it is.
"""

from __future__ import annotations

from aiohttp import web

_PATH_CHARS = 200  # of the path named in the answer: it is the client's, of any length


def unmatched(request: web.Request) -> tuple[int, str] | None:
    """(404, why) for a path no route serves, (405, why) for a method its route does not take;
    None when a route answers the request."""
    exc = request.match_info.http_exception
    if exc is None:
        return None
    path = request.path
    if len(path) > _PATH_CHARS:
        path = path[:_PATH_CHARS] + "..."
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return 405, f"{request.method} is not allowed on {path}; it takes {allowed}"
    return 404, f"no endpoint {request.method} {path}"


def allowing(request: web.Request, resp: web.Response) -> web.Response:
    """`resp` with HTTP's Allow header when `request` used a method its route does not take:
    a 405 names the methods the route takes (aiohttp's own answer did)."""
    exc = request.match_info.http_exception
    if isinstance(exc, web.HTTPMethodNotAllowed):
        resp.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
    return resp
