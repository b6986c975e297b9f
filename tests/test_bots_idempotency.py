"""An execute sent again (a retry after a timeout, a node restart, two racing) trades once: the
idempotency key (the client's, or one derived from the signal for a bot without confirmation
ids) is claimed in the database before anything is sent, and a replay gets the first answer."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from bots_support import SYMBOL, add_bot, mid, quote, rig
from test_api_support import PASSPHRASE, client, replayed_node
from tradeguard.api.app import create_app
from tradeguard.api.auth import Role, TokenStore
from tradeguard.api.bot_desk import BotDesk
from tradeguard.bots.idempotency import PREFIX, store_key
from tradeguard.node import build_node
from tradeguard.storage.bot_rows import BotRows
from tradeguard.storage.repository import Storage

CRASH_CHILD = Path(__file__).with_name("bots_claim_crash_child.py")
SIGNAL = {"bot_id": "gamma", "symbol": SYMBOL, "side": "buy", "score": "0.75",
          "signal": {"source": "scanner", "seen": "2026-12-06T15:00:00Z"}}  # fmt: skip


async def _execute(r, **changes):
    body = {**SIGNAL, **changes}
    return await r.http.post("/api/v1/trades/execute", json=body, headers=r.trader)


def _entries(node, bot="gamma"):
    return [o for o in node.orders.orders.values() if o.strategy_id == bot]


async def test_a_retried_signal_without_confirmation_trades_once_across_a_restart(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    # no confirmation ids, and adding allowed: nothing but the key tells a retry from a new entry
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False)
    await quote(r.node, mid(r.node))
    try:
        first = await _execute(r)
        assert first.status_code == 201, first.text
        again = await _execute(r, side="BUY")  # the same signal, spelled as some clients do
        assert again.status_code == 201, again.text
        out = again.json()
        assert out["replayed"] is True and first.json()["replayed"] is False
        assert out["trade_id"] == first.json()["trade_id"]
        assert out["client_order_id"] == first.json()["client_order_id"]
        assert len(_entries(r.node)) == 1
        # another signal (another score) is another trade
        other = await _execute(r, score="0.8")
        assert other.status_code == 201 and other.json()["replayed"] is False, other.text
        assert len(_entries(r.node)) == 2
    finally:
        await r.http.aclose()
        config = r.node.config
        r.node.close()
    node = build_node(config)  # a new process on the same database
    await node.start()
    app = create_app(node, tokens=TokenStore(node.db, node.storage), passphrase=PASSPHRASE)
    http = client(app)
    try:
        again = await http.post("/api/v1/trades/execute", json=SIGNAL, headers=r.trader)
        assert again.status_code == 201, again.text
        assert again.json()["replayed"] is True
        assert again.json()["trade_id"] == first.json()["trade_id"]
        assert len([o for o in node.storage.load_orders() if o.strategy_id == "gamma"]) == 2
    finally:
        await http.aclose()
        node.close()


async def test_a_client_key_answers_with_the_first_trade_and_names_one_trade(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False)
    await quote(r.node, mid(r.node))
    try:
        first = await _execute(r, idempotency_key="sig-42")
        assert first.status_code == 201, first.text
        # the client's key decides, whatever else the retry carries
        again = await _execute(r, idempotency_key="sig-42", score="0.9")
        assert again.json()["replayed"] is True, again.text
        assert again.json()["trade_id"] == first.json()["trade_id"]
        assert again.json()["idempotency_key"] == "sig-42"
        wrong = await _execute(r, idempotency_key="sig-42", side="sell")
        assert wrong.status_code == 422, wrong.text
        assert "a key names one trade" in wrong.json()["detail"], wrong.text
        assert len(_entries(r.node)) == 1
        # the standard header is the same key
        header = await r.http.post("/api/v1/trades/execute", json=SIGNAL,
                                   headers={**r.trader, "Idempotency-Key": "sig-42"})  # fmt: skip
        assert header.json()["replayed"] is True, header.text
        assert header.json()["trade_id"] == first.json()["trade_id"]
        both = await r.http.post("/api/v1/trades/execute", json={**SIGNAL, "idempotency_key": "x"},
                                 headers={**r.trader, "Idempotency-Key": "sig-42"})  # fmt: skip
        assert both.status_code == 422 and "differ: send one" in both.text, both.text
        two = [("Authorization", r.trader["Authorization"]), ("Idempotency-Key", "sig-42"),
               ("Idempotency-Key", "sig-43")]  # fmt: skip
        twice = await r.http.post("/api/v1/trades/execute", json=SIGNAL, headers=two)
        assert twice.status_code == 422 and "given twice" in twice.text, twice.text
        assert len(_entries(r.node)) == 1
        bad = await _execute(r, idempotency_key="has space")
        assert bad.status_code == 422, bad.text
        assert "1 to 128 printable ASCII characters, no spaces" in bad.json()["error"], bad.text
    finally:
        await r.http.aclose()
        r.node.close()


async def test_two_executes_racing_with_one_key_send_one_order(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False)
    await quote(r.node, mid(r.node))
    try:
        answers = await asyncio.gather(*(_execute(r, idempotency_key="k1") for _ in range(4)))
        codes = sorted(a.status_code for a in answers)
        assert len(_entries(r.node)) == 1, [a.text for a in answers]
        assert codes.count(201) >= 1 and set(codes) <= {201, 409}, [a.text for a in answers]
        ids = {a.json()["trade_id"] for a in answers if a.status_code == 201}
        assert len(ids) == 1
        busy = [a.json()["detail"] for a in answers if a.status_code == 409]
        assert all("still being sent" in d for d in busy), busy
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_denied_signal_may_be_sent_again(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", enabled=False, require_confirmation=False)
    await quote(r.node, mid(r.node))
    try:
        first = await _execute(r)
        assert first.status_code == 200 and first.json()["code"] == "BOT_DISABLED", first.text
        enabled = await r.http.post("/api/v1/bots/gamma/enable", headers=r.trader)
        assert enabled.status_code == 200
        again = await _execute(r)
        assert again.status_code == 201 and again.json()["replayed"] is False, again.text
        assert len(_entries(r.node)) == 1
    finally:
        await r.http.aclose()
        r.node.close()


async def test_refused_signals_do_not_push_a_bots_cooldown_on(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False,
            cooldown_s=90)  # fmt: skip
    await quote(r.node, mid(r.node))
    try:
        first = await _execute(r, idempotency_key="a")
        assert first.status_code == 201, first.text
        await quote(r.node, mid(r.node))  # 60 s later: 30 s of cooldown left
        early = (await _execute(r, idempotency_key="b")).json()
        assert early["code"] == "BOT_COOLDOWN", early
        await quote(r.node, mid(r.node))  # 120 s after the trade: the cooldown is over
        later = await _execute(r, idempotency_key="c")
        assert later.status_code == 201, later.text  # the refusal at 60 s started none
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_key_whose_trade_a_stopped_node_never_sent_trades_on_retry(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False)
    await quote(r.node, mid(r.node))
    try:
        # what a node killed between claiming the key and journaling the order leaves: the key
        # claimed, the trade stored `sending` with no order (the next start settles it)
        rows = BotRows(r.node.db)
        now = r.node.clock.now_ms()
        rows.claim_key(store_key("gamma", "k9"), PREFIX, "bt_lost", now, now + 60_000)
        rows.save_trade("bt_lost", "gamma", SYMBOL, "sending", "tg-never-journaled",
                        {"side": "buy", "venue": "paper"}, now)  # fmt: skip
        BotDesk(r.node)._settle_sending()  # as the desk of the restarted node does
        assert rows.trade("bt_lost")["status"] == "not_sent"
        again = await _execute(r, idempotency_key="k9")
        assert again.status_code == 201 and again.json()["replayed"] is False, again.text
        assert len(_entries(r.node)) == 1
    finally:
        await r.http.aclose()
        r.node.close()


async def test_two_signals_racing_for_one_position_open_one(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False)  # one position per symbol
    await quote(r.node, mid(r.node))
    try:
        answers = await asyncio.gather(*(_execute(r, score=s) for s in ("0.7", "0.8", "0.9")))
        outs = [a.json() for a in answers]
        assert sorted(o["status"] for o in outs) == ["denied", "denied", "submitted"], outs
        assert {o["code"] for o in outs if o["status"] == "denied"} == {"BOT_ONE_POSITION"}
        assert len(_entries(r.node)) == 1
    finally:
        await r.http.aclose()
        r.node.close()


async def test_the_same_close_for_the_next_position_closes_it(tmp_path, data_dir):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False)
    await quote(r.node, mid(r.node))
    close = {"side": "sell", "reduce_only": True, "score": None}
    try:
        for score in ("0.7", "0.8"):  # two round trips, their closes the very same request
            entry = await _execute(r, score=score)
            assert entry.status_code == 201, entry.text
            await quote(r.node, mid(r.node))
            out = await _execute(r, **close)
            assert out.status_code == 201 and out.json()["replayed"] is False, out.text
            await quote(r.node, mid(r.node))
            held = [p for p in r.node.portfolio.open_positions() if p.strategy_id == "gamma"]
            assert held == [], (score, held)
            for _ in range(6):  # past the risk engine's cooldown after a trade
                await quote(r.node, mid(r.node))
        again = (await _execute(r, **close)).json()  # a close with nothing held: refused
        assert again["code"] == "BOT_NOT_REDUCING", again
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_key_claimed_by_a_node_killed_before_storing_its_trade_trades_on_retry(
    tmp_path, data_dir
):
    # SIGKILLed after claiming the key, before storing the trade (the wait for quotes, or a
    # close's cancel of venue exits, lies between): nothing was sent
    child = subprocess.run([sys.executable, str(CRASH_CHILD), str(tmp_path), str(data_dir)],
                           cwd=Path(__file__).parent, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    node = await replayed_node(tmp_path, data_dir)  # the restarted node on the same database
    assert Storage(node.db).kv_get(store_key("gamma", "k7")) is not None  # the claim outlived it
    assert BotRows(node.db).trades("gamma") == []
    await quote(node, mid(node))
    app = create_app(node, tokens=TokenStore(node.db, node.storage), passphrase=PASSPHRASE)
    _, token = TokenStore(node.db, node.storage).create("after-crash", Role.TRADER)
    http = client(app)
    try:
        again = await http.post("/api/v1/trades/execute", json={**SIGNAL, "idempotency_key": "k7"},
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert again.status_code == 201, again.text  # not a 409 for 24 hours
        assert again.json()["replayed"] is False
        assert len([o for o in node.storage.load_orders() if o.strategy_id == "gamma"]) == 1
    finally:
        await http.aclose()
        node.close()


async def test_the_same_close_without_reduce_only_for_the_next_position_closes_it(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False)
    await quote(r.node, mid(r.node))
    close = {"side": "sell", "score": None}  # a sell while long closes the position
    try:
        for score in ("0.7", "0.8"):  # two round trips, their closes the very same request
            entry = await _execute(r, score=score)
            assert entry.status_code == 201 and entry.json()["replayed"] is False, entry.text
            await quote(r.node, mid(r.node))
            out = await _execute(r, **close)
            assert out.status_code == 201 and out.json()["replayed"] is False, (score, out.text)
            assert out.json()["reducing"] is True, out.text
            again = await _execute(r, **close)  # a retry of that close: its first answer
            assert again.json()["replayed"] is True, again.text
            assert again.json()["trade_id"] == out.json()["trade_id"]
            await quote(r.node, mid(r.node))
            held = [p for p in r.node.portfolio.open_positions() if p.strategy_id == "gamma"]
            assert held == [], (score, held)
            for _ in range(6):  # past the risk engine's cooldown after a trade
                await quote(r.node, mid(r.node))
        assert len(_entries(r.node)) == 4
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_key_whose_execute_waits_before_storing_its_trade_is_not_taken_again(
    tmp_path, data_dir
):
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False)
    await quote(r.node, mid(r.node))
    held_up = asyncio.Event()
    real = r.node.ensure_market_data

    async def waiting_for_quotes(venue, symbol):  # as a live node subscribing a symbol does
        await held_up.wait()
        await real(venue, symbol)

    r.node.ensure_market_data = waiting_for_quotes
    try:
        first = asyncio.create_task(_execute(r, idempotency_key="k5"))
        for _ in range(500):  # until the first holds the key (no trade stored yet)
            if Storage(r.node.db).kv_get(store_key("gamma", "k5")) is not None:
                break
            await asyncio.sleep(0.01)
        second = await _execute(r, idempotency_key="k5")
        assert second.status_code == 409 and "still being sent" in second.text, second.text
        held_up.set()
        done = await first
        assert done.status_code == 201 and done.json()["replayed"] is False, done.text
        assert len(_entries(r.node)) == 1
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_key_whose_request_was_cancelled_mid_send_is_settled_not_busy(tmp_path, data_dir):
    # the client disconnects while the venue call is in flight: the request task is cancelled
    # with the trade stored `sending`; the key must not answer 409 until the next restart
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False)
    await quote(r.node, mid(r.node))
    venue = r.node.venues["paper"]
    real, reached = venue.submit, asyncio.Event()

    async def hanging(order):  # a venue that does not answer
        reached.set()
        await asyncio.Event().wait()

    venue.submit = hanging
    try:
        first = asyncio.create_task(_execute(r, idempotency_key="k6"))
        await asyncio.wait_for(reached.wait(), 10)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        venue.submit = real
        (trade,) = BotRows(r.node.db).trades("gamma")
        assert trade["status"] != "sending", trade
        again = await _execute(r, idempotency_key="k6")
        assert again.status_code in (200, 201), again.text
        assert again.json()["trade_id"] == trade["trade_id"] and again.json()["replayed"]
    finally:
        await r.http.aclose()
        r.node.close()


async def test_a_key_is_the_bots_whichever_token_sends_it(tmp_path, data_dir):
    # A retry after a token rotation is the same trade: keys are per bot, not per token, or
    # the first trade would be doubled by its retry under the new token. Another bot's same
    # key is that bot's own trade.
    r = await rig(tmp_path, data_dir)
    add_bot(r.node, "gamma", require_confirmation=False, one_position_per_symbol=False)
    add_bot(r.node, "delta", require_confirmation=False, one_position_per_symbol=False)
    await quote(r.node, mid(r.node))
    store = TokenStore(r.node.db, r.node.storage)

    async def send(token: str, bot: str = "gamma"):
        body = {**SIGNAL, "bot_id": bot, "idempotency_key": "rotated-1"}
        headers = {"Authorization": f"Bearer {token}"}
        return await r.http.post("/api/v1/trades/execute", json=body, headers=headers)

    try:
        _, old = store.create("gamma-old", Role.TRADER, bot="gamma")
        first = await send(old)
        assert first.status_code == 201 and first.json()["replayed"] is False, first.text
        store.revoke("gamma-old")
        _, new = store.create("gamma-new", Role.TRADER, bot="gamma")
        again = await send(new)
        assert again.status_code == 201 and again.json()["replayed"] is True, again.text
        assert again.json()["trade_id"] == first.json()["trade_id"]
        trader = await send(r.trader["Authorization"].removeprefix("Bearer "))
        assert trader.json()["trade_id"] == first.json()["trade_id"], trader.text
        assert len(_entries(r.node)) == 1
        _, other = store.create("delta-bot", Role.TRADER, bot="delta")
        own = await send(other, bot="delta")
        assert own.status_code == 201 and own.json()["replayed"] is False, own.text
        assert own.json()["trade_id"] != first.json()["trade_id"]
        assert len(_entries(r.node, "delta")) == 1 and len(_entries(r.node)) == 1
    finally:
        await r.http.aclose()
        r.node.close()
