"""Market map: only reviewed, unexpired pairs with one void rule are traded; checks name gaps."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tradeguard.cli.pm_arb import check_pair
from tradeguard.model.errors import ConfigError
from tradeguard.model.instrument import is_symbol
from tradeguard.model.outcome import Outcome, outcome_instrument
from tradeguard.strategies.cross_venue.market_map import load_market_map, parse_market_map

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pm_map.toml"
NOW = 1_780_000_000_000  # 2026-05-28


def test_example_map_trades_only_reviewed_pairs() -> None:
    book = load_market_map(EXAMPLE)
    assert sorted(book.pairs) == ["btc-dec-above-100k", "fed-dec-above-4", "nyc-rain-monday"]
    tradeable = [p.id for p in book.tradeable(NOW)]
    assert "nyc-rain-monday" not in tradeable
    assert "not reviewed" in book.pairs["nyc-rain-monday"].refusal(NOW)
    # BTC resolves 2 h apart on the two venues: beyond the 1 h tolerance.
    assert "differ by 7140 s" in book.pairs["btc-dec-above-100k"].refusal(NOW)
    assert tradeable == ["fed-dec-above-4"]


def test_the_documented_walk_through_pair_does_not_expire_with_the_calendar() -> None:
    # docs/pm_arbitrage.md runs `pm map check` and `pm arb run` on this map by the node's own
    # clock: the pair it trades must stay tradeable long after the dates it once carried
    # (resolution 2026-12-16, review 2027-01-05), which refused it past them
    import datetime as dt

    book = load_market_map(EXAMPLE)
    for year in (2027, 2031, 2099):
        at = int(dt.datetime(year, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
        assert [p.id for p in book.tradeable(at)] == ["fed-dec-above-4"], year
        # and the two refused say why as the documented walk-through does, on any date
        assert "not reviewed" in book.pairs["nyc-rain-monday"].refusal(at), year
        assert "differ by 7140 s" in book.pairs["btc-dec-above-100k"].refusal(at), year


def test_expired_review_and_different_void_rules_are_refused() -> None:
    book = load_market_map(EXAMPLE)
    fed = book.pairs["fed-dec-above-4"]
    assert "expired at 2100-01-05" in fed.refusal(fed.review_expires_at_ms)
    doc = {"pairs": [_entry(void_k="refund")]}
    assert "void rules differ" in parse_market_map(doc).pairs["p"].refusal(NOW)


def test_bad_entries_name_the_pair_the_key_and_the_value() -> None:
    with pytest.raises(ConfigError, match=r"pairs\[0\] \(p\)\.orientation = 'upside'"):
        parse_market_map({"pairs": [_entry(orientation="upside")]})
    with pytest.raises(ConfigError, match=r"maps 'K' again"):
        second = _entry()
        second["id"] = "q"
        second["polymarket"]["market"] = "other"
        parse_market_map({"pairs": [_entry(), second]})


def test_check_pair_reports_missing_markets_and_wrong_tokens() -> None:
    pair = load_market_map(EXAMPLE).pairs["fed-dec-above-4"]
    pm = _listed("pm", "fed-above-4pct-dec", "PUSD")
    k = _listed("k", "KXFED-26DEC-T4.00", "USD")
    ok = check_pair(pair, pm, k, lambda s: pair.polymarket.yes_token if ":YES" in s
                    else pair.polymarket.no_token, NOW)  # fmt: skip
    assert ok.ok, ok.problems
    bad = check_pair(pair, pm, {}, lambda s: "999", NOW)
    assert not bad.ok
    assert any("kalshi: KXFED-26DEC-T4.00:YES/USD is not listed" in p for p in bad.problems)
    assert any("yes_token 339134" in p and "venue's 999" in p for p in bad.problems)


def _listed(venue: str, market: str, quote: str) -> dict:
    out = {}
    for o in Outcome:
        inst = outcome_instrument(venue, market, o, quote, Decimal("0.01"), Decimal(1),
                                  Decimal(1), Decimal("0.07"))  # fmt: skip
        out[inst.symbol] = inst
    return out


def _entry(orientation: str = "same", void_k: str = "50-50") -> dict:
    import datetime as dt

    day = dt.date(2026, 12, 1)
    side = {"resolution_source": "src", "resolves_at": day, "void_rule": "50-50"}
    return {
        "id": "p", "orientation": orientation, "reviewed_by": "ana",
        "reviewed_at": dt.date(2026, 1, 1), "review_expires_at": dt.date(2027, 1, 1),
        "polymarket": {**side, "market": "m", "yes_token": "1", "no_token": "2"},
        "kalshi": {**side, "ticker": "K", "void_rule": void_k},
    }  # fmt: skip


def test_a_long_polymarket_slug_is_taken_everywhere_its_symbols_go() -> None:
    # a slug over 91 characters made MARKET:YES/PUSD longer than the 100 characters a symbol
    # could have: the map took it, then the command line, API and config refused its symbols
    from tradeguard.api.schemas import IntentRequest
    from tradeguard.config import VenueConfig

    slug = ("will-the-federal-reserve-cut-rates-by-fifty-basis-points-at-its-meeting-" * 3)[:150]
    entry = _entry()
    entry["polymarket"]["market"] = slug
    pair = parse_market_map({"pairs": [entry]}).pairs["p"]
    assert pair.polymarket.market == slug
    for outcome in ("YES", "NO"):
        symbol = f"{slug}:{outcome}/PUSD"
        assert is_symbol(symbol), len(symbol)
        order = {"venue": "polymarket", "symbol": symbol, "side": "sell", "amount": "5"}
        assert IntentRequest.model_validate(order).symbol == symbol
        venue = {"name": "polymarket", "kind": "polymarket", "symbols": [symbol]}
        assert VenueConfig.model_validate(venue).symbols == [symbol]


@pytest.mark.parametrize(
    ("market", "message"),
    [
        ("m" * 186, r"pairs\[0\] \(p\)\.polymarket\.market = 'm{40}'\.\.\. \(186 characters\): "
         r"at most 185 characters"),
        ("fed rate/cut", r"pairs\[0\] \(p\)\.polymarket\.market = 'fed rate/cut': letters"),
        ("fed\x1b[2J", r"polymarket\.market = 'fed\\x1b\[2J': letters, digits"),
    ],
)  # fmt: skip
def test_a_slug_no_symbol_can_carry_is_refused_by_name_when_the_map_loads(market, message):
    entry = _entry()
    entry["polymarket"]["market"] = market
    with pytest.raises(ConfigError, match=message):
        parse_market_map({"pairs": [entry]})
    entry = _entry()
    entry["kalshi"]["ticker"] = market
    with pytest.raises(
        ConfigError, match=message.replace("polymarket\\.market", "kalshi\\.ticker")
    ):
        parse_market_map({"pairs": [entry]})


def test_a_pair_whose_resolution_time_has_passed_is_refused_naming_the_time() -> None:
    # money entered after the resolution time is locked into a market that should be settled
    import datetime as dt

    fed = load_market_map(EXAMPLE).pairs["fed-dec-above-4"]
    resolves = fed.polymarket.resolves_at_ms  # 2099-12-16T19:00:00Z on both venues
    assert fed.refusal(resolves - 1) == ""
    why = fed.refusal(resolves)
    assert why.startswith("pair fed-dec-above-4: ") and "2099-12-16T19:00:00Z" in why, why
    assert "resolution time" in why and "passed" in why, why
    assert [p.id for p in load_market_map(EXAMPLE).tradeable(resolves)] == []
    ancient = _entry()
    for side in ("polymarket", "kalshi"):
        ancient[side]["resolves_at"] = dt.date(1, 1, 1)
    pair = parse_market_map({"pairs": [ancient]}).pairs["p"]
    assert "0001-01-01T00:00:00Z" in pair.refusal(NOW), pair.refusal(NOW)


def test_map_check_refuses_a_pair_past_its_resolution_time() -> None:
    pair = load_market_map(EXAMPLE).pairs["fed-dec-above-4"]
    pm = _listed("pm", "fed-above-4pct-dec", "PUSD")
    k = _listed("k", "KXFED-26DEC-T4.00", "USD")
    tokens = {"YES": pair.polymarket.yes_token, "NO": pair.polymarket.no_token}
    late = check_pair(pair, pm, k, lambda s: tokens[s.split(":")[1].split("/")[0]],
                      pair.kalshi.resolves_at_ms + 1)  # fmt: skip
    assert not late.ok
    assert any("2099-12-16T19:00:00Z" in p and "passed" in p for p in late.problems)


def test_map_check_at_a_time_that_is_not_one_is_a_usage_error(capsys) -> None:
    from tradeguard.cli.main import main

    with pytest.raises(SystemExit) as exit_info:
        main(["pm", "map", "check", str(EXAMPLE), "--config", "x.toml", "--at", "soon"])
    assert exit_info.value.code == 2
    assert "'soon' is not an ISO date or date-time" in capsys.readouterr().err
