"""A refused request never echoes a credential, nor a name that is not a plain one.

An unknown query parameter was named back in the 422, whatever its name (64 characters of
it): a token pasted as a name (`?tg_...`), escape sequences and NUL bytes came back as sent.
A plain name (letters, digits, '_', '-', '.', at most 32 characters, not long and random)
is still named; any other is refused without being shown. A name that asks for a credential
(`?api_key=...`, `?token=...`) is told where a credential goes, its value never shown; an
unknown body field named like one is named without its value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_api_support import bearer, build_app, client, started_node

ROUTE = "/api/v1/positions"
HIDDEN = [
    "sk_live_abcdefghijklmnopqrstuvwxyz0123456789",  # a venue's secret key, pasted as a name
    "%1b%5b2Jevil",  # an escape sequence clearing a terminal that prints the answer
    "a%00b",
    "x" * 200,
    "AKIA4EXAMPLE7Q2KD9ZT",  # 20 random-looking characters
    "caf%C3%A9",
]


@pytest.fixture
async def node(tmp_path: Path, data_dir: Path):
    async with started_node(tmp_path, data_dir, rows=30) as node:
        yield node


@pytest.mark.parametrize("name", HIDDEN)
async def test_an_unknown_name_that_is_not_plain_is_refused_unshown(node, name) -> None:
    from urllib.parse import unquote

    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(f"{ROUTE}?{name}=1", headers=bearer(tokens.viewer))
    assert r.status_code == 422, r.text
    line = r.json()["error"]
    assert unquote(name)[:10] not in r.text and "\\u001b" not in r.text and "\\u0000" not in r.text
    assert "query.(name not shown): unknown query parameter" in line, line
    assert "limit, offset, status, strategy_id" in line, line


async def test_a_token_given_as_a_parameter_name_is_never_echoed(node) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(f"{ROUTE}?{tokens.admin}", headers=bearer(tokens.viewer))
    assert r.status_code == 422
    assert tokens.admin not in r.text and tokens.admin[3:20] not in r.text, r.text


@pytest.mark.parametrize("name", ["api_key", "token", "X-Api-Secret", "access_token"])
async def test_a_credential_in_the_url_is_pointed_to_the_header_its_value_unshown(
    node, name
) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(f"{ROUTE}?{name}=hunter2-value-9", headers=bearer(tokens.viewer))
    assert r.status_code == 422
    assert "hunter2" not in r.text
    line = r.json()["error"]
    assert f"query.{name}: unknown query parameter" in line, line
    assert "a credential is never read from the URL" in line and "Authorization" in line


async def test_a_plain_unknown_name_is_still_named(node) -> None:
    app, tokens = build_app(node)
    async with client(app) as http:
        r = await http.get(f"{ROUTE}?utm_source-2=x", headers=bearer(tokens.viewer))
    assert r.status_code == 422
    assert "query.utm_source-2: unknown query parameter; this route takes:" in r.json()["error"]


async def test_an_unknown_body_field_named_like_a_credential_is_named_without_its_value(
    node,
) -> None:
    app, tokens = build_app(node)
    order = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "type": "market"}
    body = {**order, "amount": "1", "apiSecret": "hunter2-value-9", "ghp_Zx81kQ0pLm27Vb4nR9tY": 1}
    async with client(app) as http:
        r = await http.post(
            "/api/v1/orders", json=body, headers=bearer(tokens.trader, tokens.trader_totp)
        )
    assert r.status_code == 422
    assert "hunter2" not in r.text and "ghp_Zx81" not in r.text, r.text
    fields = {e["field"]: e["value"] for e in r.json()["errors"]}
    assert fields == {"apiSecret": None, "(name not shown)": None}, fields
