"""An unwind hop the venue never answered (its send, queries and cancel all timing out) may
still trade: it is never taken as unfilled. The cycle is held on what the hop was given, the
way back stops there, and the record and its critical `arb.held` name the unresolved order, as
for a forward leg left so."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_triangular_exec_support import CYCLE, Stack, small_universe
from test_triangular_exec_unresolved import held_events, stall
from test_triangular_exec_unwind import CYCLE_4, NO_DIRECT, fail_leg_3
from test_triangular_held_resolved import answer_again, go_silent, resolved_events, rows
from tradeguard.execution.gateway import RECORD_STATE_KEY
from tradeguard.model import Order, Side
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.triangular.executor import ArbExecution
from tradeguard.strategies.triangular.held_legs import HeldLegs

SIZE = Decimal(1000)


async def test_an_unanswered_unwind_hop_is_held_naming_its_order(tmp_path: Path) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT),
              exec_config={"leg_timeout_s": 0.05})  # fmt: skip
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)
    sent = stall(s, "A0023/FDUSD")  # the way back's first hop

    rec = await s.executor.execute(opp, SIZE)

    assert len(sent) == 1 and [u.symbol for u in rec.unwinds] == ["A0023/FDUSD"]
    assert rec.outcome == "held", rec.reason
    stranded = rec.legs[1].received
    assert rec.held == {"A0023": stranded}
    assert "unresolved" in rec.held_why["A0023"], rec.held_why
    assert sent[0].client_order_id in rec.reason and "unresolved" in rec.reason, rec.reason
    assert held_events(s) == ["critical"]
    [event] = [e for e in s.events if e.kind == "arb.held"]
    assert sent[0].client_order_id in event.data["message"], event.data["message"]
    (row,) = load_arb_executions(s.storage, strategy_id=s.config.strategy_id)
    assert row["outcome"] == "held"


async def test_an_unanswered_unwind_hop_that_filled_unseen_is_booked_back_into_the_record(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, universe=small_universe(delist=NO_DIRECT),
              exec_config={"leg_timeout_s": 0.05})  # fmt: skip
    opp = s.opportunity(CYCLE_4)
    fail_leg_3(s)
    go_silent(s, "A0023/FDUSD", executes=True)  # the hop sells, its answer is lost
    rec = await s.executor.execute(opp, SIZE)
    assert rec.outcome == "held" and "A0023" in rec.held, rec.reason
    await answer_again(s)  # the venue tells the hop sold the A0023
    (row,) = rows(s)
    assert "A0023" not in (row["legs"].get("held") or {}), row["legs"]
    assert [e.data["record_id"] for e in resolved_events(s)] == [row["id"]]
    hop = row["legs"]["unwinds"][0]
    assert hop["status"] == "filled" and Decimal(hop["received"]) > 0, hop
    # the way back stopped at that hop: the FDUSD it bought stays held, at the A0023's cost
    assert row["outcome"] == "held" and row["legs"]["held"] == {"FDUSD": hop["received"]}
    assert row["legs"]["held_on"] == {"FDUSD": "A0023/FDUSD"}
    assert Decimal(row["legs"]["returned"]) == rec.returned
    assert row["actual_profit"] == rec.actual_profit  # neither won nor lost by the sale
    cid = hop["client_order_id"]
    sid = s.config.strategy_id
    assert s.risk.settlements_seen[sid] == [f"{sid}:held:{row['id']}:{cid}"]  # told once
    assert s.executor.held_legs.pending == {}
    assert s.executor.held_legs.resolve(cid, s.orders.orders[cid]) is None  # told again: no-op
    assert len(resolved_events(s)) == 1 and rows(s) == [row]


async def test_an_unanswered_unwind_hop_back_to_the_start_asset_ends_as_if_answered(
    tmp_path: Path,
) -> None:
    answered = Stack(tmp_path / "answered", exec_config={"leg_timeout_s": 0.05})
    fail_leg_3(answered)
    ref = await answered.executor.execute(answered.opportunity(CYCLE_4), SIZE)
    assert ref.outcome == "unwound" and [u.symbol for u in ref.unwinds] == ["A0023/USDT"]

    s = Stack(tmp_path / "silent", exec_config={"leg_timeout_s": 0.05})
    fail_leg_3(s)
    go_silent(s, "A0023/USDT", executes=True)  # the direct way back sells, its answer is lost
    rec = await s.executor.execute(s.opportunity(CYCLE_4), SIZE)
    assert rec.outcome == "held" and [u.symbol for u in rec.unwinds] == ["A0023/USDT"]
    assert rec.returned == 0 and rec.actual_profit == 0, rec.reason  # held at cost
    await answer_again(s)

    (row,) = rows(s)
    hop = row["legs"]["unwinds"][0]
    assert hop["status"] == "filled" and Decimal(hop["received"]) == ref.unwinds[0].received
    assert row["outcome"] == "unwound" and row["legs"]["held"] == {}, row["legs"]
    # the record reads as it would have, had the venue answered the hop at once
    assert Decimal(row["legs"]["returned"]) == ref.returned
    assert row["actual_profit"] == ref.actual_profit and row["fees"] == ref.fees
    assert Decimal(row["legs"]["unwind_loss"]) == ref.unwind_loss
    (event,) = resolved_events(s)
    assert event.data["outcome_before"] == "held" and event.data["outcome"] == "unwound"
    sid = s.config.strategy_id
    assert s.risk.settlements_seen[sid] == [f"{sid}:held:{row['id']}:{hop['client_order_id']}"]


async def test_an_unwind_hop_awaited_is_kept_in_the_record_state_for_the_next_start(
    tmp_path: Path,
) -> None:
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    fail_leg_3(s)
    go_silent(s, "A0023/USDT", executes=True)
    rec = await s.executor.execute(s.opportunity(CYCLE_4), SIZE)
    assert rec.outcome == "held", rec.reason
    s.executor.held_legs.stop()  # as a stop does: the hop stays awaited in the record state
    state = s.storage.kv_get(RECORD_STATE_KEY.format(s.config.strategy_id))
    [(cid, info)] = state["pending"].items()
    assert cid == rec.unwinds[0].client_order_id and info["kind"] == "unwind", info
    later = HeldLegs(s.executor.gateway)  # the next start's
    later.load(state)
    s.executor.held_legs = later
    s.venue.fetch_order, s.venue.cancel = s.speak  # type: ignore[attr-defined, method-assign]
    s.clock.advance_to(s.clock.now_ms() + 60_000)
    await s.orders.retry_unknown()
    later.start()
    for task in list(later._tasks.values()):
        await task
    (row,) = rows(s)
    assert row["outcome"] == "unwound" and row["legs"]["held"] == {}, row["legs"]
    assert s.storage.kv_get(RECORD_STATE_KEY.format(s.config.strategy_id))["pending"] == {}
    assert len(resolved_events(s)) == 1


async def two_hops_held(tmp_path: Path) -> tuple[Stack, ArbExecution]:
    """Leg 2 fills in part (ETH stranded), leg 3 is not sent (A0009 stranded): each asset's way
    back starts with a sell the venue executes and never answers (ETH/USDT, A0009/ETH)."""
    s = Stack(tmp_path, exec_config={"leg_timeout_s": 0.05})
    opp = s.opportunity()
    bids, asks = s.universe.book(CYCLE[1])
    s.feed(CYCLE[1], bids, [[asks[0][0], 100.0]])
    bids, asks = s.universe.book(CYCLE[2])
    s.feed(CYCLE[2], [[p * 0.97, q] for p, q in bids], asks)
    submit = s.venue.submit
    go_silent(s, CYCLE[0], executes=True)
    speak = s.speak  # type: ignore[attr-defined]
    go_silent(s, CYCLE[1], executes=True)
    s.speak, lost = speak, s.venue.submit  # type: ignore[attr-defined]

    async def sells_lost(order: Order):  # type: ignore[no-untyped-def]
        return await (lost if order.side is Side.SELL else submit)(order)  # the legs buy

    s.venue.submit = sells_lost  # type: ignore[method-assign]
    rec = await s.executor.execute(opp, SIZE)
    assert rec.outcome == "held", rec.reason
    assert len(s.executor.held_legs.pending) == 2, rec.reason
    return s, rec


async def test_two_unwind_hops_awaited_on_one_record_tell_risk_of_the_cycle_once(
    tmp_path: Path,
) -> None:
    # Both hops end later; the cycle is one trade to the risk engine, its streak counts it once.
    s, _ = await two_hops_held(tmp_path)

    await answer_again(s)

    (row,) = rows(s)
    assert len(resolved_events(s)) == 2 and s.executor.held_legs.pending == {}
    sid = s.config.strategy_id
    assert len(s.risk.settlements_seen[sid]) == 1, s.risk.settlements_seen
    assert s.risk.consecutive_losses == (1 if row["actual_profit"] < 0 else 0)


async def test_two_unwind_hops_ending_either_side_of_a_restart_book_the_same_record(
    tmp_path: Path,
) -> None:
    at_once, _ = await two_hops_held(tmp_path / "at_once")
    await answer_again(at_once)
    (ref,) = rows(at_once)
    # the ETH/USDT hop brought USDT back, the A0009/ETH one bought ETH: held at cost
    assert [u["status"] for u in ref["legs"]["unwinds"]] == ["filled", "filled"], ref["legs"]
    assert ref["outcome"] == "held" and list(ref["legs"]["held"]) == ["ETH"], ref["legs"]
    assert Decimal(ref["legs"]["returned"]) > 0 and Decimal(ref["legs"]["unwind_loss"]) > 0

    s, rec = await two_hops_held(tmp_path / "restart")
    s.executor.held_legs.stop()  # the hops end while no watch runs
    s.venue.fetch_order, s.venue.cancel = s.speak  # type: ignore[attr-defined, method-assign]
    s.clock.advance_to(s.clock.now_ms() + 60_000)
    await s.orders.retry_unknown()
    first, second = (u.client_order_id for u in reversed(rec.unwinds) if u.client_order_id)
    assert s.executor.held_legs.resolve(first, s.orders.orders[first]) is not None
    later = HeldLegs(s.executor.gateway)  # the next start's, from the committed record state
    later.load(s.storage.kv_get(RECORD_STATE_KEY.format(s.config.strategy_id)))
    assert list(later.pending) == [second]
    assert later.resolve(second, s.orders.orders[second]) is not None

    (row,) = rows(s)
    for key in ("outcome", "actual_profit", "fees"):
        assert row[key] == ref[key], (key, row[key], ref[key])
    for key in ("held", "dust", "returned", "spent", "unwind_loss"):
        assert row["legs"][key] == ref["legs"][key], (key, row["legs"], ref["legs"])
    sid = s.config.strategy_id
    assert s.risk.settlements_seen[sid] == [f"{sid}:held:{row['id']}:{second}"]
