"""Whether a long client session drains the sandbox's books, and what the house refill costs.

Over a generated universe of 150 markets (as `tradeguard sandbox --arb-drift` lists), a client
sells ETH into ETHUSDT's best bid and buys it back from the best ask, one market order of the
best level's size per round; one round stands for one second, and the refill runs every
`--refill-every` rounds (as `house_refill_ms` would). Prints JSON with:

- `rounds_without_bids` / `rounds_without_asks`: rounds that found that side of ETHUSDT empty,
  with the refill off and on;
- `refill_once_us`: one `HouseRefill.refill_once` pass over the 150 markets when none is short
  and when every one is, wall and CPU time (p50).

Run: `.venv/bin/python benchmarks/sandbox_refill.py [--rounds 2400] [--refill-every 1]`.
"""

from __future__ import annotations

import argparse
import json
import time
from decimal import Decimal

from tradeguard.sandbox import SandboxConfig, SandboxExchange
from tradeguard.sandbox.matching import BUY, HOUSE_ACCOUNT, MARKET, SELL


def _universe() -> tuple[SandboxExchange, str]:
    ex = SandboxExchange(SandboxConfig(universe_markets=150, seed=7))
    account = ex.add_account("bot", "s", {"USDT": Decimal(10**9), "ETH": Decimal(10**6)})
    return ex, account


def _session(rounds: int, refill_every: int, refill: bool) -> dict[str, int]:
    ex, account = _universe()
    empty = {BUY: 0, SELL: 0}
    for i in range(rounds):
        for side in (SELL, BUY):
            bid, ask = ex.engine.best("ETHUSDT")
            level = bid if side == SELL else ask
            if level is None:
                empty[side] += 1
                continue
            ex.engine.place(account, "ETHUSDT", side, MARKET, ex.now_ms(), qty=level[1] * 2)
        if refill and (i + 1) % refill_every == 0:
            ex.refill.refill_once()
    return {"rounds_without_bids": empty[SELL], "rounds_without_asks": empty[BUY]}


def _refill_cost(repeat: int) -> dict[str, dict[str, float]]:
    ex, _ = _universe()
    out: dict[str, dict[str, float]] = {}
    for name, drain in (("none_short", False), ("all_short", True)):
        wall, cpu = [], []
        for _ in range(repeat):
            if drain:  # every house quote gone, as if clients had taken them all
                for o in ex.engine.open_orders(HOUSE_ACCOUNT):
                    ex.engine.cancel(HOUSE_ACCOUNT, o.symbol, ex.now_ms(), order_id=o.order_id)
            w0, c0 = time.perf_counter(), time.process_time()
            ex.refill.refill_once()
            wall.append((time.perf_counter() - w0) * 1e6)
            cpu.append((time.process_time() - c0) * 1e6)
        out[name] = {
            "wall_p50": round(sorted(wall)[len(wall) // 2], 1),
            "cpu_p50": round(sorted(cpu)[len(cpu) // 2], 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2400)
    parser.add_argument("--refill-every", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    result = {
        "rounds": args.rounds,
        "refill_off": _session(args.rounds, args.refill_every, False),
        "refill_on": _session(args.rounds, args.refill_every, True),
        "refill_once_us": _refill_cost(args.repeat),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
