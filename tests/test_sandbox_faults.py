"""Fault injection and rate limits, observed through the real ccxt client and plain HTTP."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest

from test_ccxt_support import RIG_TIMEOUT_MS, held_answer_timeout
from tradeguard.cli.sandbox import add_sandbox_parser, build_config
from tradeguard.model.errors import ConfigError
from tradeguard.sandbox.client import make_ccxt_client
from tradeguard.sandbox.config import SandboxConfig
from tradeguard.sandbox.faults import Faults
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, ALICE_SECRET, eventually, seeded_exchange


@pytest.fixture
async def ex() -> AsyncIterator[SandboxExchange]:
    async with seeded_exchange(SandboxConfig(weight_limit_per_minute=100)) as sandbox:
        yield sandbox


@pytest.fixture
async def client(ex: SandboxExchange) -> AsyncIterator[Any]:
    c = make_ccxt_client(
        ex, ALICE_KEY, ALICE_SECRET, enable_rate_limit=False, timeout_ms=RIG_TIMEOUT_MS
    )
    await c.load_markets()
    yield c
    await c.close()


async def test_dropped_response_still_executes_the_order(ex: SandboxExchange, client: Any) -> None:
    ex.faults.update({"drop_response_after_execute": 1})
    with pytest.raises(ccxt.NetworkError):
        await client.create_order(
            "BTC/USDT", "limit", "buy", 0.01, 45000, {"clientOrderId": "lost-ack-1"}
        )
    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "lost-ack-1"})
    assert found["status"] == "open"
    assert found["amount"] == 0.01


async def test_http_5xx_is_exchange_not_available(ex: SandboxExchange, client: Any) -> None:
    ex.faults.update({"http_5xx_rate": 1.0})
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.fetch_balance()
    ex.faults.update({"http_5xx_rate": 0.0})
    assert (await client.fetch_balance())["BTC"]["total"] == 1.0


async def test_burst_429_answers_with_retry_after_then_recovers(
    ex: SandboxExchange, client: Any
) -> None:
    ex.faults.update({"burst_429": 2})
    with pytest.raises(ccxt.DDoSProtection):
        await client.fetch_time()
    async with aiohttp.ClientSession() as http:
        resp = await http.get(f"{ex.rest_url}/time")
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "1"
        assert (await resp.json())["code"] == -1003
    assert await client.fetch_time() > 0


async def test_weight_limit_gives_429_then_418_for_repeat_offenders(ex: SandboxExchange) -> None:
    statuses: list[int] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(9):  # exchangeInfo weighs 20; the limit is 100 per minute
            resp = await http.get(f"{ex.rest_url}/exchangeInfo")
            statuses.append(resp.status)
            if resp.status == 200:
                used = int(resp.headers["X-MBX-USED-WEIGHT-1M"])
            else:
                assert int(resp.headers["Retry-After"]) >= 1
    assert statuses[:5] == [200] * 5 and used == 100
    assert statuses[5] == 429
    assert 418 in statuses[6:]


async def test_rate_limited_ccxt_call_raises_ddos_protection(
    ex: SandboxExchange, client: Any
) -> None:
    with pytest.raises(ccxt.DDoSProtection):
        for _ in range(10):
            await client.fetch_order_book("BTC/USDT", 1000)  # weight 50


async def test_latency_beyond_client_timeout_is_request_timeout(
    ex: SandboxExchange, client: Any
) -> None:
    ex.faults.update({"latency_ms_by_endpoint": {"/api/v3/account": 3000}})
    with pytest.raises(ccxt.RequestTimeout), held_answer_timeout(client, 2000):
        await client.fetch_balance()
    assert await client.fetch_time() > 0  # other endpoints are not delayed


async def test_partial_fills_fault_slices_a_crossing_order_on_the_user_stream(
    ex: SandboxExchange, client: Any
) -> None:
    ex.faults.update({"partial_fills": 3})
    updates: list[Any] = []

    async def collect() -> None:
        while True:
            updates.extend(dict(o) for o in await client.watch_orders("BTC/USDT"))

    task = asyncio.get_running_loop().create_task(collect())
    try:
        await eventually(lambda: "user:acct-1" in ex.ws_subscriptions())
        placed = await client.create_order("BTC/USDT", "market", "buy", 0.9)
        assert placed["filled"] == 0.3 and placed["status"] == "open"
        await eventually(lambda: any(u["status"] == "closed" for u in updates))
    finally:
        task.cancel()
    fills = sorted({u["filled"] for u in updates})
    assert fills[-3:] == [0.3, 0.6, 0.9]


async def test_admin_endpoint_sets_and_resets_faults(ex: SandboxExchange) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{ex.base_url}/admin/faults", json={"burst_429": 3, "seed": 7})
        assert (await resp.json())["burst_429"] == 3
        assert ex.faults.burst_429 == 3
        bad = await http.post(f"{ex.base_url}/admin/faults", json={"http_5xx_rate": 2})
        assert bad.status == 400 and "http_5xx_rate" in (await bad.json())["error"]
        await http.post(f"{ex.base_url}/admin/faults/reset")
        assert ex.faults.burst_429 == 0
        moved = await http.post(
            f"{ex.base_url}/admin/book",
            json={"symbol": "BTCUSDT", "bids": [["49000", "1"]], "asks": [["49500", "1"]]},
        )
        assert moved.status == 200
        traded = await http.post(
            f"{ex.base_url}/admin/trade",
            json={"symbol": "BTCUSDT", "side": "SELL", "price": "49000", "qty": "0.5"},
        )
        assert (await traded.json())["trades"] == 1
        dropped = await http.post(f"{ex.base_url}/admin/ws/disconnect")
        assert (await dropped.json())["disconnected"] == 0
    assert ex.engine.best("BTCUSDT")[0] == (49000, 0.5)


def test_faults_refuse_out_of_range_and_unknown_keys() -> None:
    faults = Faults()
    with pytest.raises(ConfigError, match="latency_ms"):
        faults.update({"latency_ms": -1})
    with pytest.raises(ConfigError, match="unknown key"):
        faults.update({"explode": True})
    assert faults.latency_ms == 0


def test_seeded_5xx_draws_repeat_for_the_same_seed() -> None:
    a = Faults(seed=42, http_5xx_rate=0.5)
    b = Faults(seed=42, http_5xx_rate=0.5)
    assert [a.take_5xx() for _ in range(20)] == [b.take_5xx() for _ in range(20)]


def test_config_refuses_non_loopback_host() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        SandboxConfig(host="0.0.0.0")


def test_config_file_and_cli_flags_build_markets_accounts_and_faults(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.json"
    path.write_text(
        json.dumps(
            {
                "sandbox": {
                    "weight_limit_per_minute": 1200,
                    "faults": {"latency_ms": 50},
                    "markets": [
                        {
                            "symbol": "ETHUSDT",
                            "base": "ETH",
                            "quote": "USDT",
                            "tick": "0.01",
                            "step": "0.001",
                            "bids": [["2999", "1"]],
                            "asks": [["3001", "1"]],
                        }
                    ],
                    "accounts": [{"api_key": "k", "secret": "s", "balances": {"USDT": "5"}}],
                }
            }
        )
    )
    parser = argparse.ArgumentParser()
    add_sandbox_parser(parser.add_subparsers())
    args = parser.parse_args(
        ["sandbox", "--port", "0", "--config", str(path), "--faults", '{"burst_429": 2}']
    )
    config = build_config(args)
    assert (config.weight_limit_per_minute, config.faults.latency_ms) == (1200, 50)
    assert config.faults.burst_429 == 2
    ex = SandboxExchange(config)
    assert ex.engine.best("ETHUSDT")[1] == (3001, 1)
    assert ex.balances("k")["USDT"] == (5, 0)


def test_generated_universe_lists_markets_with_house_books() -> None:
    ex = SandboxExchange(SandboxConfig(universe_markets=60, seed=3))
    assert len(ex.engine.markets) == 60
    bid, ask = ex.engine.best(next(iter(ex.engine.markets)))
    assert bid is not None and ask is not None and bid[0] < ask[0]


def test_seed_from_candles_quotes_around_the_last_close() -> None:
    from tradeguard.sandbox.seed import seed_from_candles

    data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    path = data / "candles" / "BTC-PERP_1m_20211231-20220201.csv"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    ex = SandboxExchange(SandboxConfig())
    close = seed_from_candles(ex, path, "BTCUSDT", "BTC", "USDT")
    bid, ask = ex.engine.best("BTCUSDT")
    assert bid is not None and ask is not None
    assert bid[0] < close < ask[0]


async def test_a_client_gone_before_its_body_was_read_leaves_no_traceback(
    ex: SandboxExchange, caplog: pytest.LogCaptureFixture
) -> None:
    # A node killed while its order request waited (latency fault) left aiohttp's "Error
    # handling request" traceback of a ConnectionResetError on the sandbox's terminal.
    ex.faults.update({"latency_ms_by_endpoint": {"/api/v3/order": 200}})
    host, port = ex.base_url.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /api/v3/order HTTP/1.1\r\nHost: x\r\nX-MBX-APIKEY: " + ALICE_KEY.encode()
        + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n"
        b"symbol=BTCUSDT&side=BUY"
    )  # fmt: skip
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.5)  # the latency passes; the handler reads the body that never came
    async with aiohttp.ClientSession() as http, http.get(f"{ex.rest_url}/ping") as resp:
        assert resp.status == 200
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []


def test_latency_after_settings_name_a_bad_value_and_reset_to_off() -> None:
    from tradeguard.model.errors import ConfigError
    from tradeguard.sandbox.faults import Faults

    faults = Faults()
    with pytest.raises(ConfigError, match=r"latency_after_ms=70000 is out of range; allowed"):
        faults.update({"latency_after_ms": 70_000})
    with pytest.raises(ConfigError, match=r"latency_after_ms_by_endpoint\['api/v3/order'\]"):
        faults.update({"latency_after_ms_by_endpoint": {"api/v3/order": 100}})
    faults.update({"latency_after_ms_by_endpoint": {"/api/v3/order": 250}})
    assert (faults.latency_after_for("/api/v3/order"), faults.latency_after_for("/x")) == (250, 0)
    assert faults.latency_for("/api/v3/order") == 0  # the old fault is untouched
    faults.reset()
    assert faults.latency_after_for("/api/v3/order") == 0
