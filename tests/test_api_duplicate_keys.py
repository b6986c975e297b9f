"""A JSON body naming a key twice is refused on every route that reads one, not only on the
bot, safety and control routes: `{"side": "sell", "side": "buy"}` is a sell to a reader of the
first copy and a buy to Python's parser, which keeps the last."""

from __future__ import annotations

import pytest

from test_api_support import bearer, build_app, client, replayed_node

BUY = '"venue": "paper", "symbol": "BTC/USDT", "amount": "0.001"'
BODIES = [
    ("/api/v1/orders", "{" + BUY + ', "side": "sell", "side": "buy"}', "side"),
    ("/api/v1/risk/validate", "{" + BUY + ', "side": "sell", "side": "buy"}', "side"),
    ("/api/v1/strategies/ma/pause", '{"reason": "a", "reason": "b"}', "reason"),
    ("/api/v1/strategies/ma/resume", '{"reason": "a", "reason": "b"}', "reason"),
    (
        "/api/v1/pm/arb/held/retry",
        '{"max_unwind_loss_usd": "0", "max_unwind_loss_usd": "1000"}',
        "max_unwind_loss_usd",
    ),
]


@pytest.mark.parametrize(("route", "raw", "key"), BODIES, ids=[b[0] for b in BODIES])
async def test_a_key_named_twice_is_refused_on_every_route(tmp_path, data_dir, route, raw, key):
    node = await replayed_node(tmp_path, data_dir)
    app, tokens = build_app(node)
    try:
        hdr = {**bearer(tokens.trader), "Content-Type": "application/json"}
        async with client(app) as http:
            r = await http.post(route, content=raw, headers=hdr)
        assert r.status_code == 422, r.text
        assert f'key "{key}" given twice' in r.json()["error"], r.text
        assert node.storage.load_orders() == []
    finally:
        node.close()


def test_a_long_integer_s_digits_are_counted_without_its_sign() -> None:
    """Python reads 4,300 digits whatever the sign: `-` and 4,300 nines was refused as a
    number "of 4301 digits (at most 4300)", a figure the sender never wrote."""
    import json

    from tradeguard.api.strict_json import MAX_INT_DIGITS, _parse

    nines = "9" * MAX_INT_DIGITS
    assert _parse(f'{{"a": -{nines}}}'.encode())["a"] == -int(nines)
    with pytest.raises(json.JSONDecodeError, match=r'key "a" holds a number of 4301 digits'):
        _parse(f'{{"a": [-9{nines}]}}'.encode())
