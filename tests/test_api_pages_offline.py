"""Every HTML page the API serves works with no network beyond the node's own origin.

FastAPI's /docs and /redoc pages load their scripts, styles, fonts and icon from
cdn.jsdelivr.net, fonts.googleapis.com and fastapi.tiangolo.com: opening one sent the browser to
those hosts (telling them where the node runs), and the API's own CSP (`script-src 'self'`)
refused every such script, so the page was blank even with the network. Each page served is
walked from the app's routes; every `src` and `href` in it must stay on the node's origin.
"""

from __future__ import annotations

import re

from starlette.routing import Route

from test_api_route_walk_auth import walk
from test_api_support import build_app, client, replayed_node

_URL_ATTR = re.compile(rb"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_CSS_URL = re.compile(rb"""url\(\s*["']?([^"')]+)""", re.IGNORECASE)


def _off_origin(page: bytes) -> list[str]:
    """The URLs of `page` that name another host (absolute or protocol-relative)."""
    urls = _URL_ATTR.findall(page) + _CSS_URL.findall(page)
    return sorted(
        {
            u.decode("latin-1")
            for u in urls
            if re.match(rb"(?i)([a-z][a-z0-9+.-]*:)?//", u)
            and not re.match(rb"(?i)(https?:)?//(127\.0\.0\.1|localhost|\[::1\])(?=[:/]|$)", u)
        }
    )


async def test_every_html_page_served_loads_from_its_own_origin_only(tmp_path, data_dir) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=30)
    app, _ = build_app(node)
    paths = [
        p
        for p, r in walk(app.routes)
        if isinstance(r, Route) and "GET" in (r.methods or ()) and "{" not in p
    ]
    pages = {}
    async with client(app) as http:
        for path in paths:
            r = await http.get(path)  # no token: the public pages are the ones that answer
            if r.status_code == 200 and r.headers["content-type"].startswith("text/html"):
                pages[path] = _off_origin(r.content)
        static = (await http.get("/static/style.css")).content
    node.close()
    assert "/" in pages, sorted(pages)  # the dashboard is among the pages walked
    assert {p: urls for p, urls in pages.items() if urls} == {}
    assert _off_origin(static) == []
