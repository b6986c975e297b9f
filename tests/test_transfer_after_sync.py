"""A withdrawal the running node's balance check already booked as a decrease no one explained
(counted as a loss) is declared afterwards with `tradeguard transfer`: the loss limits stop
counting it, exactly once across restarts, and a second declaration is refused; the command
alerts through the configured channels. Real ccxt against the sandbox on 127.0.0.1, the CLI
in a child process, the alert to a webhook on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from cash_flow_support import _cli, booked, declared
from rigs import answering
from running_support import running
from test_cash_flow_counting import _quote
from test_spot_short_clear_sandbox import _start, _toml
from tradeguard.config import Config, load_config
from tradeguard.execution.reconcile import reconcile_all
from tradeguard.model.enums import TradingState
from tradeguard.node import TradingNode
from tradeguard.node.cash_flows import apply_cash_flows
from tradeguard.node.transfer_record import TransferRefused, record_transfer
from tradeguard.sandbox.server import SandboxExchange
from tradeguard.sandbox.testing import ALICE_KEY, seeded_exchange

D = Decimal


@asynccontextmanager
async def _webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    runner, url = await answering(hook)
    try:
        yield f"{url}/hook", received
    finally:
        await runner.cleanup()


async def _withdrawn_while_running(ex: SandboxExchange, cfg: Config) -> None:
    """The node opens its day at 150,000; 300 USDT leaves the venue and a reconciliation
    books it as a decrease no one explained, counted as a loss."""
    async with running(cfg) as node:
        await _quote(node, "BTC/USDT", 50_000)
        await booked(node, ex, -300)
        assert node.risk.day_start_equity == D(150_000)  # a decrease moves no baseline


@pytest.mark.usefixtures("vault_env")
async def test_a_withdrawal_booked_by_the_sync_is_declared_afterwards_once(
    tmp_path: Path,
) -> None:
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        await _withdrawn_while_running(ex, cfg)
        base = ["transfer", "--config", str(path), "--venue", "binance", "--asset", "USDT"]
        out = await declared(path, "-300")
        assert "withdrawal of -300 recorded" in out, out
        code, out, err = await _cli(*base, "--amount", "-300", "--reason", "again")
        assert code == 1, (out, err)
        assert "already declared" in err and "Traceback" not in err, err
        for _restart in range(2):  # moved once, whatever the number of starts
            async with running(cfg) as node:
                risk = node.risk
                await _quote(node, "BTC/USDT", 50_000)  # equity 149,700: no loss of 300
                assert (risk.day_start_equity, risk.peak_equity) == (D(149_700), D(149_700))
                assert risk.state is TradingState.ACTIVE, risk.state_reason
                assert node.ledger_report.ok, node.ledger_report.describe()


@pytest.mark.usefixtures("vault_env")
async def test_a_transfer_recorded_alerts_through_the_configured_channel(tmp_path: Path) -> None:
    async with seeded_exchange() as ex, _webhook() as (url, received):
        _, path = _toml(tmp_path, ex)
        with path.open("a", encoding="utf-8") as f:
            f.write(f'[alerts.webhook]\nurl = "{url}"\nformat = "generic"\n')
        assert await _start(load_config(str(path))) == ("ACTIVE", "", "")
        ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("USDT").free -= D(300)  # node down
        await declared(path, "-300")
        texts = [str(r.get("text", "")) for r in received]
        assert any("withdrawal of -300 USDT on binance" in t for t in texts), texts


@pytest.mark.usefixtures("vault_env")
async def test_a_hostile_venue_error_is_cut_in_the_transfer_refusal(tmp_path: Path) -> None:
    huge = "X" * 20_000  # one line of error text as long as the venue cares to send

    async with seeded_exchange() as ex, aiohttp.ClientSession() as http:
        target = ex.rest_url.removesuffix("/api/v3")

        async def handle(request: web.Request) -> web.Response:
            if request.path == "/api/v3/account":
                body = json.dumps({"code": -1000, "msg": huge})
                return web.Response(status=400, text=body, content_type="application/json")
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with http.request(request.method, target + request.path_qs,
                                    data=await request.read(), headers=headers) as r:  # fmt: skip
                data, status = await r.read(), r.status
            return web.Response(status=status, body=data, content_type="application/json")

        runner, url = await answering(handle)
        try:
            _, path = _toml(tmp_path, ex)
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(ex.rest_url, url + "/api/v3"))
            node = TradingNode(load_config(str(path)))
            try:
                with pytest.raises(TransferRefused) as refused:
                    await record_transfer(node, "binance", "USDT", D(-300), "to the bank", "ops")
            finally:
                node.close()
        finally:
            await runner.cleanup()
    why = str(refused.value)
    assert "could not read the venue's balances" in why, why[:500]
    assert huge[:200] not in why and len(why) < 600, why[:500]


def _price(ex: SandboxExchange, price: str) -> None:
    """BTC trades at `price` on the sandbox: its book and its last trade."""
    step = D(1)
    ex.set_book("BTCUSDT", bids=[(str(D(price) - step), "5")], asks=[(str(D(price) + step), "5")])
    ex.trade_through("BTCUSDT", "BUY", price, "0.001")


@pytest.mark.usefixtures("vault_env")
async def test_a_coin_withdrawal_declared_late_is_valued_at_the_price_it_left_at(
    tmp_path: Path,
) -> None:
    # 0.1 BTC leaves at 50,000 (5,000 of equity gone, booked as a loss); the node stops, BTC
    # trades at 55,000 when the withdrawal is declared and at 60,000 when the node starts and
    # counts it. The count values it at the marks the node starts with, restored from its last
    # run (50,000, the price it left at), not at the venue's price of the moment: 6,000 would
    # drop the day's opening equity 1,000 too far and show 1,000 of profit no trade made.
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)  # 100,000 USDT + 1 BTC: 150,000
            ex.engine.accounts[ex.account_id(ALICE_KEY)].bal("BTC").free -= D("0.1")
            await reconcile_all(node, "periodic")
            apply_cash_flows(node)
            await _quote(node, "BTC/USDT", 50_000)
            assert node.portfolio.equity() == D(145_000)
            assert node.risk.day_start_equity == D(150_000)  # counted as a loss so far
        _price(ex, "55000")  # BTC rose while the node was down
        base = ["transfer", "--config", str(path), "--venue", "binance", "--asset", "BTC"]
        code, out, err = await _cli(*base, "--amount", "-0.1", "--reason", "to cold storage")
        assert code == 0, (out, err)
        _price(ex, "60000")
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 60_000)  # 100,000 + 0.9 * 60,000
            assert node.portfolio.equity() == D(154_000)
            assert node.risk.day_start_equity == D(145_000)


@pytest.mark.usefixtures("vault_env")
async def test_a_withdrawal_within_the_balance_tolerance_is_declared_afterwards_too(
    tmp_path: Path,
) -> None:
    # 30 USDT of 100,000 is inside the 0.1 % tolerance: booked quietly (no cash flow, counted
    # as a loss like any decrease no one explained), and declarable like one beyond it.
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)
            await booked(node, ex, -30)
            assert node.risk.day_start_equity == D(150_000)
        out = await declared(path, "-30")
        assert "withdrawal of -30 recorded" in out, out
        async with running(cfg) as node:
            risk = node.risk
            await _quote(node, "BTC/USDT", 50_000)
            assert (risk.day_start_equity, risk.peak_equity) == (D(149_970), D(149_970))
            assert risk.state is TradingState.ACTIVE, risk.state_reason


@pytest.mark.usefixtures("vault_env")
async def test_a_deposit_within_the_balance_tolerance_is_declared_afterwards_too(
    tmp_path: Path,
) -> None:
    # 30 USDT of 100,000 paid in while the node ran is inside the 0.1 % tolerance: booked as no
    # cash flow, so it counts as a trading gain; declaring it was refused ("a difference of 0,
    # not --amount 30"), leaving that gain in the loss limits and the drawdown for good.
    async with seeded_exchange() as ex:
        cfg, path = _toml(tmp_path, ex)
        async with running(cfg) as node:
            await _quote(node, "BTC/USDT", 50_000)
            await booked(node, ex, 30)
            assert node.risk.day_start_equity == D(150_000)
        out = await declared(path, "30")
        assert "deposit of 30 recorded" in out, out
        async with running(cfg) as node:
            risk = node.risk
            await _quote(node, "BTC/USDT", 50_000)
            assert (risk.day_start_equity, risk.peak_equity) == (D(150_030), D(150_030))
