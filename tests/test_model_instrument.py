"""Instrument rules: tick, step, minimums, with exchange-like codes."""

from decimal import Decimal as D

from tradeguard.model import ClientOrderIdFactory, Instrument, dec, quantize_down


def _inst() -> Instrument:
    return Instrument(
        "v",
        "BTC/USDT",
        "BTC",
        "USDT",
        price_tick=D("0.01"),
        amount_step=D("0.00001"),
        min_amount=D("0.0001"),
        min_notional=D("5"),
    )


def test_valid_order_passes():
    assert _inst().violation(D("0.001"), D("30000.01")) is None


def test_each_rule_has_its_code():
    i = _inst()
    assert i.violation(D("0.000015"), D("30000")).code == "LOT_SIZE"
    assert i.violation(D("0.00005"), D("30000")).code == "MIN_AMOUNT"
    assert i.violation(D("0.001"), D("30000.005")).code == "PRICE_FILTER"
    v = i.violation(D("0.0001"), D("30000"))
    assert v.code == "MIN_NOTIONAL" and "3.0000 USDT" in v.message and "5" in v.message
    assert i.violation(D("0"), None).code == "INVALID_AMOUNT"


def test_min_notional_boundary():
    i = _inst()
    assert i.violation(D("0.0002"), D("25000")) is None  # exactly 5
    assert i.violation(D("0.0002"), D("24999.99")).code == "MIN_NOTIONAL"


def test_rounding_helpers():
    assert quantize_down(D("0.123456789"), D("0.00001")) == D("0.12345")
    assert _inst().round_price(D("100.005")) == D("100.00")
    assert dec(0.1) == D("0.1")
    assert dec("1e-8") == D("1E-8")


def test_client_order_ids_are_unique_valid_and_short():
    a, b = ClientOrderIdFactory(), ClientOrderIdFactory()
    ids = {a.next() for _ in range(1000)} | {b.next() for _ in range(1000)}
    assert len(ids) == 2000
    assert all(ClientOrderIdFactory.is_valid(i) and len(i) <= 32 for i in ids)


def test_client_order_id_sequence_is_base36_past_every_digit_boundary():
    ids = ClientOrderIdFactory(session="s")
    seqs = [ids.next().rsplit("-", 1)[1] for _ in range(46_660)]
    assert seqs[:3] == ["1", "2", "3"]
    assert seqs[34:37] == ["z", "10", "11"]  # 35, 36, 37
    assert seqs[1294:1297] == ["zz", "100", "101"]  # 1295, 1296, 1297
    assert seqs[46_654:46_657] == ["zzz", "1000", "1001"]  # 46655, 46656, 46657
    assert [int(s, 36) for s in seqs] == list(range(1, 46_661))
