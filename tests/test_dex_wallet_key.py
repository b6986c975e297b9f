"""A vault entry whose private_key is no wallet key (too short, not hex, zero, past the curve's
order) is refused when the venue is built, in every mode, in one line that shows no part of
it; before, paper and sandbox took it and the start ended in web3's error at connect
("must be exactly 32 bytes long, instead of 32 bytes")."""

from __future__ import annotations

import pytest

from tradeguard.model.errors import ConfigError
from tradeguard.secrets.credentials import Credentials
from tradeguard.venues.uniswap_v2.build import build_uniswap_venue
from tradeguard.venues.uniswap_v2.config import DexVenueConfig
from tradeguard.venues.uniswap_v2.txstore import MemoryTxStore


class _Venue:
    name = "dex"
    symbols = ("WETH/USD",)
    dex = DexVenueConfig(
        router="0x" + "11" * 20,
        factory="0x" + "22" * 20,
        tokens={"WETH": "0x" + "33" * 20, "USD": "0x" + "44" * 20},
    )


@pytest.mark.parametrize(
    "key",
    ["0x1234", "zz" * 32, "0x" + "00" * 32, "0x" + "ff" * 32, "0x" + "a1" * 33],
)
@pytest.mark.parametrize("live", [False, True])
def test_a_private_key_that_is_no_wallet_key_is_refused_when_built(key: str, live: bool) -> None:
    creds = Credentials("dex-demo", "uniswap_v2", {"private_key": key})
    with pytest.raises(ConfigError, match="not a valid wallet key") as exc:
        build_uniswap_venue(_Venue(), MemoryTxStore(), credentials=creds, live=live)
    assert key.removeprefix("0x")[:8] not in str(exc.value)


def test_a_good_key_builds_the_venue_in_every_mode() -> None:
    creds = Credentials("dex-demo", "uniswap_v2", {"private_key": "0x" + "5a" * 32})
    venue = build_uniswap_venue(_Venue(), MemoryTxStore(), credentials=creds, live=False)
    assert venue.name == "dex" and "5a5a" not in repr(venue)
