"""Malformed requests to the sandbox venues (Binance, Kalshi, Polymarket) get each venue's JSON
error answer, never a 500; a bad fault setting is refused and changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sys
import time
import urllib.parse

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from py_clob_client_v2.clob_types import OrderArgsV2
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

from pm_support import TICKER, kalshi_ws_headers, seeded_kalshi
from test_polymarket_sandbox import YES_TOKEN, _post_raw, started
from tradeguard.model.errors import ConfigError
from tradeguard.sandbox.chain.rpc import LocalChain, RpcServer
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.kalshi.server import PREFIX, KalshiExchange
from tradeguard.sandbox.polymarket.server import PolymarketExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, seeded_exchange
from tradeguard.venues.kalshi.signing import sign as kalshi_sign

BAD_INTS = ["nan", "1e400", "abc", "0x10", "1.5", "", "9" * 40]


def _signed(params: dict[str, str]) -> str:
    query = urllib.parse.urlencode({**params, "timestamp": str(int(time.time() * 1000))})
    sig = hmac.new(ALICE_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={sig}"


@pytest.fixture
async def sandbox():
    ex = seeded_exchange()
    await ex.start()
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": ALICE_KEY}) as http:
        yield ex.base_url, http
    await ex.stop()


HISTORY_PARAMS = [
    *(("/api/v3/allOrders", n) for n in ("limit", "orderId", "startTime", "endTime")),
    *(("/api/v3/myTrades", n) for n in ("limit", "orderId", "startTime", "endTime", "fromId")),
]


@pytest.mark.parametrize(("path", "name"), HISTORY_PARAMS)
async def test_a_malformed_integer_in_a_history_query_is_binance_1100(sandbox, path, name):
    base, http = sandbox
    for value in BAD_INTS:
        query = _signed({"symbol": "BTCUSDT", name: value})
        async with http.get(f"{base}{path}?{query}") as resp:
            body = await resp.json()
        if value == "":
            assert resp.status == 200, body  # an empty parameter counts as absent
            continue
        assert resp.status == 400, (value, body)
        assert body["code"] == -1100 and name in body["msg"]


@pytest.mark.parametrize("signature", ["é", "ＡＢ", "%C3%A9" * 10, "%FF"])
@pytest.mark.parametrize("where", ["query", "body"])
async def test_a_non_ascii_signature_is_binance_1022_not_a_500(sandbox, signature, where):
    # hmac.compare_digest refuses non-ASCII text: the sandbox answered 500 with a traceback
    base, http = sandbox
    query = urllib.parse.urlencode({"timestamp": str(int(time.time() * 1000))})
    raw = f"{query}&signature={urllib.parse.quote(signature, safe='%')}"
    if where == "query":
        request = http.get(f"{base}/api/v3/account?{raw}")
    else:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        request = http.post(f"{base}/api/v3/order", data=raw, headers=headers)
    async with request as resp:
        body = await resp.json()
    assert resp.status == 400, body
    assert body == {"code": -1022, "msg": "Signature for this request is not valid."}


async def test_a_zero_history_limit_is_refused_and_a_large_one_is_capped(sandbox):
    base, http = sandbox
    async with http.get(
        f"{base}/api/v3/allOrders?{_signed({'symbol': 'BTCUSDT', 'limit': '0'})}"
    ) as r:
        assert r.status == 400 and (await r.json())["code"] == -1100
    query = _signed({"symbol": "BTCUSDT", "limit": "5000"})
    async with http.get(f"{base}/api/v3/allOrders?{query}") as r:
        assert r.status == 200 and await r.json() == []


@pytest.mark.parametrize("value", BAD_INTS[:-2])
async def test_a_malformed_depth_limit_is_binance_1100_not_a_500(sandbox, value):
    base, http = sandbox
    async with http.get(f"{base}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": value}) as r:
        body = await r.json()
    assert r.status == 400 and body["code"] == -1100, body


@pytest.mark.parametrize("path", ["/admin/faults", "/admin/replay", "/admin/book", "/admin/clock"])
@pytest.mark.parametrize("body", [b"[]", b"null", b'"x"', b"3"])
async def test_an_admin_body_that_is_not_an_object_is_a_400(sandbox, path, body):
    base, http = sandbox
    headers = {"Content-Type": "application/json"}
    async with http.post(f"{base}{path}", data=body, headers=headers) as r:
        answer = await r.json()
    assert r.status == 400 and "send a JSON object" in answer["error"]


@pytest.mark.parametrize(
    "changes",
    [{"latency_ms": "nan"}, {"latency_ms": 5.5}, {"http_5xx_rate": float("nan")},
     {"duplicate_ws_messages": "yes"}, {"latency_ms_by_endpoint": {"/api/v3/order": "x"}},
     {"latency_ms": 10**400}, {"http_5xx_rate": 10**400},
     {"latency_ms_by_endpoint": {"/api/v3/order": 10**400}}],
)  # fmt: skip
def test_a_fault_of_the_wrong_type_is_refused_and_leaves_the_faults_as_they_were(changes):
    faults = Faults()
    faults.update({"latency_ms": 10})
    with pytest.raises(ConfigError, match=f"sandbox.faults.{next(iter(changes))}"):
        faults.update(changes)
    assert faults.to_dict() == {**Faults().to_dict(), "latency_ms": 10}


def test_a_seed_of_any_size_is_taken():
    """`tradeguard sandbox --seed 99...9` (400 digits) raised OverflowError checking it."""
    faults = Faults()
    faults.update({"seed": 10**400})
    assert faults.seed == 10**400


@pytest.fixture
async def kalshi():
    ex = KalshiExchange("127.0.0.1", 0)
    key_id, pem = seeded_kalshi(ex)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    await ex.start()
    async with aiohttp.ClientSession() as http:

        async def post(path: str, data: str) -> tuple[int, dict]:
            ts = str(int(time.time() * 1000))
            headers = {
                "KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
                "KALSHI-ACCESS-SIGNATURE": kalshi_sign(key, ts, "POST", PREFIX + path),
                "Content-Type": "application/json",
            }  # fmt: skip
            async with http.post(ex.rest_url + path, data=data, headers=headers) as r:
                return r.status, await r.json()

        yield ex, post
    await ex.stop()


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [("count", "NaN", "invalid_parameters"), ("count", 10**30, "invalid_parameters"),
     ("count", "Infinity", "invalid_parameters"), ("yes_price_dollars", "nan", "invalid_price"),
     ("yes_price_dollars", "sNaN", "invalid_price")],
)  # fmt: skip
async def test_a_kalshi_order_with_a_non_finite_or_huge_number_is_a_400(kalshi, field, value, code):
    _, post = kalshi
    order = {"ticker": TICKER, "side": "yes", "action": "buy", "count": 1,
             "yes_price_dollars": "0.46", field: value}  # fmt: skip
    status, body = await post("/portfolio/orders", json.dumps(order))
    assert status == 400 and body["error"]["code"] == code


@pytest.mark.parametrize("data", ["[]", "null", "{", '"x"'])
async def test_a_kalshi_body_that_is_not_a_json_object_is_a_400(kalshi, data):
    ex, post = kalshi
    status, body = await post("/portfolio/orders", data)
    assert status == 400 and body["error"]["code"] == "invalid_parameters"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{ex.base_url}/admin/faults", data=data) as r:
            assert r.status == 400
        async with http.post(f"{ex.base_url}/admin/faults", json={"latency_ms": "nan"}) as r:
            assert r.status == 400 and "latency_ms" in (await r.json())["error"]["message"]


@pytest.mark.parametrize(
    ("where", "value"),
    [("order", "x"), ("order", None), ("maker", 5), ("signature", "0x00"), ("salt", [])],
)
async def test_a_malformed_polymarket_order_is_a_400_not_a_500(where, value):
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)
        signed = await asyncio.to_thread(
            client.create_order, OrderArgsV2(token_id=YES_TOKEN, price=0.40, size=10, side="BUY")
        )
        payload = order_to_json_v2(signed, client.creds.api_key, "GTC")
        if where == "order":
            payload["order"] = value
        else:
            payload["order"][where] = value
        status, body = await asyncio.to_thread(_post_raw, client, payload)
    assert status == 400 and "error" in body


@pytest.mark.parametrize(
    "call",
    [
        {"method": "evm_mine", "params": ["0xffffffffff"]},
        {"method": "evm_mine", "params": ["zz"]},
        {"method": "evm_mine", "params": [5]},
        {"method": "eth_blockNumber", "params": 5},
        {"method": "eth_blockNumber", "params": {"a": 1}},
    ],
    ids=["mine-huge", "mine-not-hex", "mine-int", "params-int", "params-object"],
)
async def test_a_malformed_chain_rpc_call_is_a_json_rpc_error_not_a_500(call):
    server = RpcServer(LocalChain(), port=0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            body = {"jsonrpc": "2.0", "id": 7, **call}
            async with http.post(server.url, json=body) as r:
                answer = await r.json()
            assert r.status == 200 and answer["id"] == 7 and answer["error"]["code"] == -32602
            async with http.post(server.url, json={"jsonrpc": "2.0", "id": 8,
                                                   "method": "eth_blockNumber"}) as r:  # fmt: skip
                assert (await r.json())["result"] == "0x0"  # nothing was mined
    finally:
        await server.stop()


@pytest.mark.parametrize("path", ["/ws-api/v3", "/stream", "/ws"])
async def test_a_malformed_websocket_message_is_answered_and_the_socket_stays_open(sandbox, path):
    base, http = sandbox
    bad = ["[]", "null", "5", '{"id": 1, "method": "SUBSCRIBE", "params": 5}',
           '{"id": 2, "method": "userDataStream.unsubscribe", "params": {"subscriptionId": "x"}}',
           '{"id": 3, "method": "ping", "params": [1]}']  # fmt: skip
    async with http.ws_connect(base.replace("http", "ws") + path) as ws:
        for text in bad:
            await ws.send_str(text)
            answer = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
            assert "error" in answer, (text, answer)
        await ws.send_str('{"id": 9, "method": "LIST_SUBSCRIPTIONS"}')  # still served
        assert json.loads((await asyncio.wait_for(ws.receive(), 5)).data)["id"] == 9


@pytest.mark.parametrize("key", ["POST /api/v3/order", "api/v3/order", ""])
def test_a_latency_key_that_is_no_path_is_refused_instead_of_matching_nothing(key):
    # A key that is not a request path never matched: the latency asked for silently did not
    # happen and the rehearsal ran without the fault.
    faults = Faults()
    with pytest.raises(ConfigError, match=r"latency_ms_by_endpoint.*a request path") as err:
        faults.update({"latency_ms_by_endpoint": {key: 1500}})
    assert repr(key) in str(err.value)
    assert faults.latency_for("/api/v3/order") == 0


async def test_a_non_ascii_polymarket_signature_or_secret_is_refused_not_a_500():
    async with PolymarketExchange() as ex:
        _, _, client = await started(ex)
        body = json.dumps({"x": 1})
        headers = client._l2_headers("POST", "/order", body={"x": 1}, serialized_body=body)
        headers = {**headers, "POLY_SIGNATURE": "é", "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{ex.url}/order", data=body.encode(), headers=headers) as resp,
        ):
            assert resp.status == 401, await resp.text()
            assert (await resp.json())["error"] == "Unauthorized/Invalid signature"
        creds = client.creds
        for secret in ("é", "\\ud800"):  # the second a lone surrogate once json reads it
            auth = {"apiKey": creds.api_key, "secret": "SECRET", "passphrase": creds.api_passphrase}
            frame = json.dumps({"auth": auth, "type": "user"}).replace("SECRET", secret)
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ex.url.replace("http", "ws") + "/ws/user") as ws,
            ):
                await ws.send_str(frame)
                answer = await ws.receive_json(timeout=5)
            assert answer == {"error": "Unauthorized/Invalid api key"}


DEEP = "[" * 5_000  # past the interpreter's default recursion limit inside json.loads


@pytest.fixture
def default_recursion_limit():
    """The limit a sandbox process runs with (this test process imports the CLOB client, whose
    Ethereum libraries raise it to 100,000)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1_000)
    yield
    sys.setrecursionlimit(limit)


async def _answers(url: str, frames: list[str], headers: dict[str, str] | None = None) -> list:
    """Send each frame on its own socket; return the first answer to each (text or close)."""
    out = []
    async with aiohttp.ClientSession() as http:
        for frame in frames:
            async with http.ws_connect(url, headers=headers or {}) as ws:
                await ws.send_str(frame)
                msg = await ws.receive(timeout=5)
                out.append(msg.data if msg.type is aiohttp.WSMsgType.TEXT else msg.type.name)
    return out


@pytest.mark.usefixtures("default_recursion_limit")
async def test_deeply_nested_json_on_a_sandbox_socket_is_answered_like_bad_json(caplog):
    # RecursionError escaped the handlers: a traceback in the log and the socket dropped
    async with seeded_exchange() as ex:
        base = ex.base_url.replace("http", "ws")
        for path in ("/ws-api/v3", "/ws", "/stream"):
            bad, deep = await _answers(base + path, ["not json", DEEP])
            assert deep == bad == '{"error": {"code": 3, "msg": "Invalid JSON"}, "id": null}'
    async with PolymarketExchange() as ex:
        for path in ("/ws/market", "/ws/user"):
            bad, deep = await _answers(ex.url.replace("http", "ws") + path, ["not json", DEEP])
            assert deep == bad and "error" in json.loads(deep)
    async with KalshiExchange() as ex:
        key_id, pem = seeded_kalshi(ex)
        headers = kalshi_ws_headers(key_id, pem)
        bad, deep = await _answers(ex.ws_url, ["not json", DEEP], headers)
        assert deep == bad == '{"type": "error", "msg": {"code": 1, "msg": "bad json"}}'
    assert not [r for r in caplog.records if r.exc_info]


@pytest.mark.usefixtures("default_recursion_limit")
async def test_deeply_nested_json_in_a_sandbox_request_is_a_400_not_a_500(caplog):
    deep_query = "[" * 2_000  # fits in a request line once quoted
    async with aiohttp.ClientSession() as http:
        async with seeded_exchange() as ex:
            for path in ("/admin/faults", "/admin/accounts"):
                async with http.post(ex.base_url + path, data=DEEP) as r:
                    assert (r.status, await r.json()) == (
                        400,
                        {"error": "the body is not valid JSON (nested too deeply)"},
                    ), path
            url = f"{ex.base_url}/api/v3/exchangeInfo?symbols={deep_query}"
            async with http.get(url) as r:
                assert r.status == 400
                assert await r.json() == {
                    "code": -1100,
                    "msg": "Illegal characters found in parameter 'symbols'.",
                }
        async with KalshiExchange() as ex:
            key_id, pem = seeded_kalshi(ex)
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            ts = str(int(time.time() * 1000))
            signature = kalshi_sign(key, ts, "POST", PREFIX + "/portfolio/orders")
            headers = {
                "KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": ts,
                "KALSHI-ACCESS-SIGNATURE": signature,
                "Content-Type": "application/json",
            }  # fmt: skip
            admin = ex.rest_url.split("/trade-api")[0] + "/admin/faults"
            for url, hdrs in ((ex.rest_url + "/portfolio/orders", headers), (admin, {})):
                async with http.post(url, data=DEEP, headers=hdrs) as r:
                    assert r.status == 400, url
                    assert (await r.json())["error"]["message"] == "the body is not valid JSON"
        async with PolymarketExchange() as ex:
            for path in ("/admin/faults", "/admin/resolve"):
                async with http.post(ex.url + path, data=DEEP) as r:
                    assert (r.status, await r.json()) == (
                        400,
                        {"error": "the body is not valid JSON (nested too deeply)"},
                    ), path
        server = RpcServer(LocalChain(), port=0)
        await server.start()
        try:
            async with http.post(server.url, data=DEEP) as r:
                assert (await r.json())["error"]["message"] == "parse error"
        finally:
            await server.stop()
    assert not [r for r in caplog.records if r.exc_info]


ADMIN_BAD = [
    # (path, body, what the answer must say); each used to be a raw "KeyError: 'api_key'" or
    # "InvalidOperation: [<class 'decimal.InvalidOperation'>]", or was taken as given
    ("/admin/accounts", {}, "api_key=None: expected a string"),
    ("/admin/accounts", {"api_key": 5, "secret": "s"}, "api_key=5: expected a string"),
    ("/admin/accounts", {"api_key": "k", "secret": None}, "secret=None: expected a string"),
    ("/admin/accounts", {"api_key": "k\x1b[2J", "secret": "s"}, "holds control characters"),
    ("/admin/accounts", {"api_key": "k", "secret": "s", "balances": {"USDT": "-5"}},
     "balances.USDT='-5': expected a finite number >= 0"),
    ("/admin/accounts", {"api_key": "k", "secret": "s", "balances": {"BTC": "NaN"}},
     "balances.BTC='NaN': expected a finite number >= 0"),
    ("/admin/accounts", {"api_key": "k", "secret": "s", "can_withdraw": "false"},
     "can_withdraw must be true or false"),
    ("/admin/book", {}, "symbol=None: expected a string"),
    ("/admin/book", {"symbol": "BTCUSDT", "bids": [["-1", "1"]]},
     "bids[0] price='-1': expected a finite number > 0"),
    ("/admin/book", {"symbol": "BTCUSDT", "asks": [["NaN", "1"]]},
     "asks[0] price='NaN': expected a finite number > 0"),
    ("/admin/book", {"symbol": "BTCUSDT", "bids": [["1"]]},
     "bids[0]=['1']: expected a [price, qty] pair"),
    ("/admin/trade", {"symbol": "BTCUSDT", "side": "buy", "price": "x", "qty": "1"},
     "price='x': expected a finite number > 0"),
    ("/admin/clock", {}, "offset_ms=None: expected a whole number of milliseconds"),
    ("/admin/clock", {"offset_ms": 1e300}, "offset_ms=1e+300: expected a whole number"),
    ("/admin/clock", {"offset_ms": 10**26}, "(ten years)"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "says"), ADMIN_BAD)
async def test_a_bad_admin_field_is_a_400_naming_it_and_changes_nothing(sandbox, path, body, says):
    base, http = sandbox
    async with http.post(f"{base}{path}", json=body) as r:
        answer = await r.json()
    assert r.status == 400 and says in answer["error"], answer
    assert "Error:" not in answer["error"]
    async with http.get(f"{base}/api/v3/time") as r:  # the clock was left alone
        assert abs((await r.json())["serverTime"] - time.time() * 1000) < 60_000
    async with http.get(f"{base}/api/v3/depth", params={"symbol": "BTCUSDT"}) as r:
        book = await r.json()
    assert book["bids"] and book["asks"]  # the house book was left alone


async def test_an_admin_body_that_is_not_json_is_named_as_such(sandbox):
    base, http = sandbox
    async with http.post(f"{base}/admin/accounts", data=b"{api_key: k}") as r:
        answer = await r.json()
    assert r.status == 400 and answer["error"].startswith("the body is not valid JSON: ")


def test_a_sandbox_config_account_with_a_negative_balance_is_refused():
    from tradeguard.sandbox.config import SandboxConfig
    from tradeguard.sandbox.server import SandboxExchange

    row = {"api_key": "k", "secret": "s", "balances": {"USDT": "-100"}}
    with pytest.raises(ConfigError, match=r"sandbox accounts: balances.USDT='-100'"):
        SandboxExchange(SandboxConfig(accounts=[row]))


BIG = "x" * (1024**2 + 1)  # over every sandbox's body limit (1 MiB)


async def test_a_body_over_the_size_limit_is_each_venues_json_error():
    """aiohttp refused a body over its limit in plain text (413) on every sandbox: the admin
    endpoints, Kalshi's and Polymarket's too. Each answers its own JSON error shape now."""
    async with aiohttp.ClientSession() as http:
        async with seeded_exchange() as ex, http.post(ex.base_url + "/admin/faults", data=BIG) as r:
            body = await r.json()
            assert r.status == 413 and "1048576 bytes" in body["error"], body
        async with KalshiExchange() as ex:
            admin = ex.rest_url.split("/trade-api")[0] + "/admin/faults"
            for url in (ex.rest_url + "/portfolio/orders", admin):
                async with http.post(url, data=BIG) as r:
                    body = await r.json()
                    assert r.status == 413, (url, body)
                    assert body["error"]["code"] == "request_too_large", body
                    assert "1048576 bytes" in body["error"]["message"], body
        async with PolymarketExchange() as ex:
            for path in ("/order", "/admin/faults"):
                async with http.post(ex.url + path, data=BIG) as r:
                    body = await r.json()
                    assert r.status == 413 and "1048576 bytes" in body["error"], (path, body)


async def test_the_request_log_changes_no_answer_to_a_body_over_the_limit(tmp_path):
    """A call whose handler reads no body (a public one) was answered as it is without the
    request log; with it, the log's read of a body over the limit raised aiohttp's plain-text
    413, and the call went unlogged."""
    log = tmp_path / "requests.jsonl"
    answers = []
    async with aiohttp.ClientSession() as http:
        for cfg in (SandboxConfig(), SandboxConfig(request_log_path=log)):
            async with seeded_exchange(cfg) as ex, http.get(ex.base_url + "/api/v3/time",
                                                            data=BIG) as r:  # fmt: skip
                answers.append((r.status, r.content_type, sorted(await r.json())))
    assert answers[0] == answers[1] == (200, "application/json", ["serverTime"]), answers
    [row] = [json.loads(line) for line in log.read_text().splitlines()]
    assert (row["path"], row["status"], row["params"]) == ("/api/v3/time", 200, {}), row
