"""Every way into the order path seals its intent before the checks, not only a strategy's
emit(): an execution gateway (an arbitrage strategy's legs), and the node's own submit (the
orders API, a bot). What the risk engine checked is what is journaled and sent."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from test_api_support import replayed_node
from tradeguard.model import OrderIntent, Side
from tradeguard.model.sealed import sealed_intent


class _Growing(OrderIntent):
    """An intent whose amount a property answers: small until the risk check has seen it."""

    __slots__ = ()
    checked = False

    @property  # type: ignore[override]
    def amount(self) -> D:
        return D("0.5") if type(self).checked else D("0.001")


def _checked(node: Any) -> list[tuple[D, dict[str, Any]]]:
    """Wrap the node's risk check: record the amount and the signal each check saw."""
    seen: list[tuple[D, dict[str, Any]]] = []
    check = node.orders.risk.check

    def recording(intent: OrderIntent, *args: Any) -> Any:
        seen.append((intent.amount, {**intent.signal, "meta": dict(intent.signal["meta"])}))
        try:
            return check(intent, *args)
        finally:
            _Growing.checked = True

    node.orders.risk.check = recording
    return seen


@pytest.mark.parametrize("path", ["gateway", "node"])
async def test_an_intents_signal_cannot_be_changed_after_its_risk_check(
    tmp_path: Path, data_dir: Path, path: str
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)
    try:
        seen = _checked(node)
        signal = {"arb": "leg", "meta": {"n": 1}}
        intent = OrderIntent("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"), signal=signal)
        if path == "gateway":
            out = await node._ctx.execution_gateway("mine", "paper").submit(intent)
        else:
            out = await node.submit(intent)
        assert out.order is not None, out
        signal["meta"]["n"] = 2  # the caller's own dict stays its own
        with pytest.raises(TypeError, match="signal cannot be changed"):
            intent.signal["meta"]["n"] = 3  # before: the order in memory said n = 3
        with pytest.raises(TypeError, match="signal cannot be changed"):
            intent.signal["source"] = "api:admin(1)"
        assert seen == [(D("0.001"), {"arb": "leg", "meta": {"n": 1}})]
        order = node.orders.orders[out.order.client_order_id]
        assert order.signal == {"arb": "leg", "meta": {"n": 1}}
        assert [o.signal for o in node.storage.load_orders()] == [order.signal]
    finally:
        await node.stop()
        node.close()


@pytest.mark.parametrize("path", ["gateway", "node"])
async def test_an_intent_is_read_once_for_its_checks_and_its_order(
    tmp_path: Path, data_dir: Path, path: str
) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)
    try:
        seen = _checked(node)
        _Growing.checked = False
        intent = _Growing("mine", "paper", "BTC/USDT", Side.BUY, D("1"), signal={"meta": {}})
        if path == "gateway":
            out = await node._ctx.execution_gateway("mine", "paper").submit(intent)
        else:
            out = await node.submit(intent)
        assert out.order is not None, out
        # before: checked at 0.001, sent at 0.5 (500 times the amount the risk engine saw)
        assert [amount for amount, _ in seen] == [D("0.001")]
        assert out.order.amount == D("0.001")
    finally:
        await node.stop()
        node.close()


def test_only_an_order_intent_enters_the_order_path() -> None:
    with pytest.raises(TypeError, match="takes an OrderIntent, got dict"):
        sealed_intent({"amount": "1"})  # type: ignore[arg-type]


async def test_an_oco_checks_and_sends_each_leg_as_read_once() -> None:
    from types import SimpleNamespace

    from tradeguard.execution.oco import submit_oco
    from tradeguard.model.enums import OrderType

    seen: list[tuple[D, dict[str, Any]]] = []
    sent: list[Any] = []

    def check(intent: OrderIntent, *args: Any) -> Any:
        seen.append((intent.amount, intent.signal))
        _Growing.checked = True  # each leg's property answers more once a check has run
        return SimpleNamespace(approved=True, reason="", code="", price_bound=None)

    async def send(orders: Any, *args: Any) -> tuple[str, str]:
        sent.extend(orders)
        return "sent", "sent"

    ids = iter(range(10))
    om = SimpleNamespace(
        venues={"paper": SimpleNamespace(native_oco=True, submit_oco=None)},
        clock=SimpleNamespace(now_ms=lambda: 1), deny_if_blocked=lambda *a: None,
        risk=SimpleNamespace(check=check), market=None, send=send,
        ids=SimpleNamespace(next=lambda: f"c{next(ids)}"), journal_submitted=lambda *a: None,
    )  # fmt: skip
    _Growing.checked = False
    signal = {"meta": {"n": 1}}
    legs = [
        _Growing(
            "mine",
            "paper",
            "BTC/USDT",
            Side.SELL,
            D(1),
            kind,
            D(9),
            signal=signal,
            trigger_price=D(8) if kind is OrderType.STOP_LOSS else None,
        )
        for kind in (OrderType.LIMIT, OrderType.STOP_LOSS)
    ]
    assert await submit_oco(om, *legs) == ("sent", "sent")  # type: ignore[arg-type]
    # unsealed, each leg was checked at 0.001 and sent at 0.5
    assert [amount for amount, _ in seen] == [D("0.001")] * 2
    assert [order.amount for order in sent] == [D("0.001")] * 2
    with pytest.raises(TypeError, match="signal cannot be changed"):
        seen[0][1]["meta"]["n"] = 2


class _Shifting(OrderIntent):
    """An intent whose signal a property answers: plain at its first read, then claiming the
    orders API as its source (a key the gateway refuses a strategy)."""

    __slots__ = ()
    reads = 0

    @property  # type: ignore[override]
    def signal(self) -> dict[str, Any]:
        type(self).reads += 1
        return {"arb": "leg"} if type(self).reads == 1 else {"source": "api:admin(1)"}


async def test_a_gateway_checks_the_signal_it_sends(tmp_path: Path, data_dir: Path) -> None:
    node = await replayed_node(tmp_path, data_dir, rows=60)
    try:
        _Shifting.reads = 0
        intent = _Shifting("mine", "paper", "BTC/USDT", Side.BUY, D("0.001"))
        out = await node._ctx.execution_gateway("mine", "paper").submit(intent)
        # unsealed at the gateway: its reserved-key check read the first answer, the order
        # manager the second, and the order was journaled as the orders API's
        assert out.order is not None, out
        assert [o.signal for o in node.storage.load_orders()] == [{"arb": "leg"}]
    finally:
        await node.stop()
        node.close()


def test_a_sealed_signal_holds_no_mutable_set_and_a_seal_is_checked_not_trusted() -> None:
    """A set in a signal was deep-copied but left a set, changeable through the intent after
    its checks; a `SentSignal` made by hand around a plain dict was taken as sealed whole."""
    from tradeguard.model.sealed import SentSignal

    given = {"tags": {"a", "b"}, "meta": {"n": 1, "seen": {1, 2}}, "legs": [{"x": 1}]}
    intent = sealed_intent(OrderIntent("s", "paper", "BTC/USDT", Side.BUY, D(1), signal=given))
    assert intent.signal == given  # equal to what was given: journaled and shown the same
    assert type(intent.signal["tags"]) is frozenset
    assert type(intent.signal["meta"]["seen"]) is frozenset
    with pytest.raises(AttributeError):
        intent.signal["tags"].add("c")  # type: ignore[attr-defined]
    given["tags"].add("c")
    assert intent.signal["tags"] == {"a", "b"}

    inner = {"n": 1}
    forged = SentSignal({"meta": inner, "tags": {"a"}, "legs": [[1]]})  # sealed in name only
    intent = sealed_intent(OrderIntent("s", "paper", "BTC/USDT", Side.BUY, D(1), signal=forged))
    inner["n"] = 2
    assert intent.signal["meta"] == {"n": 1}
    for key, change in [
        ("meta", lambda v: v.update(n=3)),
        ("tags", lambda v: v.add("b")),
        ("legs", lambda v: v[0].append(2)),
    ]:
        with pytest.raises((TypeError, AttributeError)):
            change(intent.signal[key])
    assert intent.signal == {"meta": {"n": 1}, "tags": {"a"}, "legs": [[1]]}
