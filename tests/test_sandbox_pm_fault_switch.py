"""The local prediction-market servers: a 429 carries Retry-After, and the fault switch itself is
never faulted (a 5xx rate of 1 on the Polymarket server answered /admin/faults with 503 too)."""

from __future__ import annotations

import httpx

from tradeguard.sandbox.pm_serve import kalshi_demo, kalshi_keys, polymarket_demo, polymarket_keys


async def test_faults_can_be_cleared_and_429s_say_when_to_come_back() -> None:
    kalshi, pm = kalshi_demo(kalshi_keys(None)), polymarket_demo(polymarket_keys(None))
    await kalshi.start()
    await pm.start()
    try:
        async with httpx.AsyncClient() as c:
            for base, listing in ((pm.url, f"{pm.url}/markets"),
                                  (kalshi.base_url, f"{kalshi.rest_url}/markets")):  # fmt: skip
                assert (
                    await c.post(f"{base}/admin/faults", json={"http_5xx_rate": 1.0})
                ).is_success
                assert (await c.get(listing)).status_code == 503
                cleared = await c.post(f"{base}/admin/faults", json={"http_5xx_rate": 0.0})
                assert cleared.is_success, cleared.text
                await c.post(f"{base}/admin/faults", json={"burst_429": 1})
                limited = await c.get(listing)
                assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
                assert (await c.get(listing)).status_code == 200
    finally:
        await pm.stop()
        await kalshi.stop()
