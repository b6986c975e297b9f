"""`tradeguard pm arb retry` against a running node's API: the held leg is offered again after
the TOTP code is typed at the prompt (a pseudo-terminal); a node not running, a wrong token and
a wrong code each end in one clear line."""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from pty_support import run_in_pty
from test_api_support import build_app
from test_pm_arb_held_shrink import rig  # noqa: F401  (the fixture)
from test_pm_arb_interrupted import _start
from test_pm_arb_node import arb_config
from test_pm_arb_retry_cli_hostile import _cli  # in this process, with exactly env
from tradeguard.api.server import ApiServer
from tradeguard.sandbox.pm_scenario import ArbScenario, ArbScenarioConfig
from tradeguard.sandbox.pm_serve import paired_markets
from tradeguard.storage.arb_repository import load_arb_executions
from tradeguard.strategies.cross_venue.held_retry import held_legs

ROOT = Path(__file__).resolve().parents[1]
RETRY = [sys.executable, "-m", "tradeguard.cli", "pm", "arb", "retry"]


async def test_pm_arb_retry_offers_the_held_leg_and_says_why_it_cannot(
    tmp_path,
    rig,  # noqa: F811
    closed_port,
):
    kalshi, pm, _ = rig
    cfg = arb_config(tmp_path, kalshi, pm, {"max_unwind_loss_usd": "0.01"},
                     {"max_position_usd": "200"})  # fmt: skip
    node, _events = await _start(cfg)
    for venue in node.venues.values():
        venue.quote_poll_s = 0.05  # type: ignore[attr-defined]
    scenario = ArbScenario(pm.book, paired_markets("polymarket", pm)[:1],
                           ArbScenarioConfig(size=Decimal(2000), fail_second=True))  # fmt: skip
    run = asyncio.create_task(node.run_live(duration_s=600))
    server = None
    try:
        scenario.appear(scenario.markets[0])
        strat = node.strategies[0]
        for _ in range(2400):
            if strat.attempts:
                break
            await asyncio.sleep(0.05)
        assert [a.outcome for a in strat.attempts] == ["held"], strat.attempts
        app, tokens = build_app(node)
        server = ApiServer(node, "127.0.0.1", 0, app=app)
        await server.start()
        env = {**os.environ, "TG_API_URL": server.url, "TG_API_TOKEN": tokens.trader}
        env.pop("TG_MASTER_PASSPHRASE", None)  # the CLI needs none

        down = {**env, "TG_API_URL": f"http://127.0.0.1:{closed_port}"}
        code, out = await asyncio.to_thread(_cli, ["--totp", "123456"], down)
        assert code == 1 and out.count("\n") == 1, out
        assert out.startswith("tradeguard: no node answers at http://127.0.0.1:"), out

        code, out = await asyncio.to_thread(
            _cli, ["--totp", "123456"], {**env, "TG_API_TOKEN": "tg_wrong"}
        )
        assert code == 1 and out.count("\n") == 1, out
        assert "refused the token" in out and "Traceback" not in out, out

        code, out = await asyncio.to_thread(_cli, ["--totp", "000000"], env)
        assert code == 1 and out.count("\n") == 1, out
        assert "refused the TOTP code: the TOTP code is wrong or expired" in out, out

        code, out = await asyncio.to_thread(_cli, [], env)  # no terminal to prompt on
        assert code == 2 and "give --totp CODE" in out, out

        code, out = await asyncio.to_thread(_cli, ["--max-loss", "lots", "--totp", "1"], env)
        assert code == 2 and "--max-loss 'lots' is not an amount of USD above 0" in out, out

        assert len(held_legs(load_arb_executions(node.storage))) == 1  # nothing sent yet
        code, screen = await asyncio.to_thread(
            run_in_pty, [*RETRY, "--max-loss", "500"], cwd=ROOT, env=env,
            answer=("TOTP code:", tokens.trader_totp.now() + "\n"),
        )  # fmt: skip
        assert code == 0, screen
        assert "pmarb record 1: unwound, still held nothing" in screen, screen
        assert held_legs(load_arb_executions(node.storage)) == []
        assert strat.book.open == []
        assert node.portfolio.book("kalshi").total("KXFED-26DEC-T4.00:NO") == 0
        print(f"\n{screen.strip()}")
    finally:
        if server is not None:
            await server.stop()
        node.request_stop()
        await run
        await node.stop()
        node.close()


@pytest.mark.parametrize("cap", ["0", "1e999", "2000000000000"])
def test_a_max_loss_the_node_refuses_is_refused_before_the_node_is_asked(
    cap, tmp_path, closed_port
) -> None:
    """The node takes a cap above 0 and at most 1e12 USD; the command took 0 and anything
    above, asked for the TOTP code and only then heard the node refuse it."""
    env = {**os.environ, "TG_API_URL": f"http://127.0.0.1:{closed_port}",
           "TG_API_TOKEN": "tg_any"}  # fmt: skip
    code, screen = run_in_pty([*RETRY, "--max-loss", cap, "--totp", "1"], cwd=tmp_path, env=env)
    assert code == 2, screen
    assert f"--max-loss {cap!r} is not an amount of USD above 0 and at most 1000000000000" in (
        screen
    ), screen
    assert "no node answers" not in screen and "Traceback" not in screen, screen
