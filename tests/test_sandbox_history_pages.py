"""History reads on the sandbox page as Binance's do: without `fromId`/`orderId`/`startTime`
the most recent rows come back (oldest first), with one of them the rows from that point on."""

from __future__ import annotations

from typing import Any

S = "BTC/USDT"


async def _buys(client: Any, n: int) -> list[str]:
    return [(await client.create_order(S, "market", "buy", 0.001))["id"] for _ in range(n)]


async def test_my_trades_without_a_start_are_the_most_recent_ones(client: Any) -> None:
    await _buys(client, 6)
    every = await client.fetch_my_trades(S)
    assert len(every) == 6
    ids = [t["id"] for t in every]
    latest = await client.fetch_my_trades(S, None, 2)
    assert [t["id"] for t in latest] == ids[-2:]


async def test_my_trades_from_a_start_or_an_id_page_forward(client: Any) -> None:
    await _buys(client, 6)
    every = await client.fetch_my_trades(S)
    ids = [t["id"] for t in every]
    start = every[1]["timestamp"]
    since = await client.fetch_my_trades(S, start, 2)
    assert [t["id"] for t in since] == [t["id"] for t in every if t["timestamp"] >= start][:2]
    from_id = await client.fetch_my_trades(S, None, 3, {"fromId": ids[2]})
    assert [t["id"] for t in from_id] == ids[2:5]
    from_zero = await client.fetch_my_trades(S, None, 2, {"fromId": "0"})
    assert [t["id"] for t in from_zero] == ids[:2]


async def test_all_orders_without_a_start_are_the_most_recent_ones(client: Any) -> None:
    placed = await _buys(client, 5)
    latest = await client.fetch_orders(S, None, 2)
    assert [o["id"] for o in latest] == placed[-2:]
    from_id = await client.fetch_orders(S, None, 2, {"orderId": placed[1]})
    assert [o["id"] for o in from_id] == placed[1:3]
