"""A DEX venue connected again in the same process (a node started again after a stop or a
failed start-up, as the API may): before, its second connect built the signer from the key the
first had already handed over and wiped, and failed ("The private key must be exactly 32 bytes
long"). Now it keeps the signer it made, and trades as before."""

from __future__ import annotations

from dex_support import connected_venue, running_chain


async def test_a_dex_venue_closed_connects_again_with_its_wallet() -> None:
    for chain in running_chain():
        venue = await connected_venue(chain.deployment)
        address = venue.address
        await venue.close()  # as a stop, or a failed start-up, closes it
        try:
            await venue.connect()  # before: ValueError on the wiped key
            assert venue.address == address
            assert {b.asset for b in await venue.fetch_balances()} >= {"WETH", "USD"}
        finally:
            await venue.close()
