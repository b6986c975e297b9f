"""Amounts leave the process as plain decimal text (0.00000005, 1000), never 5E-8 or 1E+3.

Over every GET route of the API and the CLI's --json views and fills export, against a paper
node whose balances, order prices and fills hold such values.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cli_support import run_cli
from node_support import paper_config, write_slice
from test_api_support import PERMISSIVE, bearer, build_app, client, next_candle
from tradeguard.config import Config
from tradeguard.node import TradingNode, build_node

# What str(Decimal) writes for very small or normalized figures: 5E-8, 1.0E+3, 4.65E+4.
EXPONENT = re.compile(r"^-?\d(\.\d+)?E[+-]\d+$")
BALANCES = {"USDT": "10000", "ETH": "1E+3", "SOL": "5E-8", "BTC": "0.0000000"}


def _exponents(value: Any, where: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [x for k, v in value.items() for x in _exponents(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [x for i, v in enumerate(value) for x in _exponents(v, f"{where}[{i}]")]
    return [(where, value)] if isinstance(value, str) and EXPONENT.match(value) else []


async def _node(tmp_path: Path, data_dir: Path) -> TradingNode:
    data = write_slice(data_dir, tmp_path / "btc.csv", 200)
    url = f"sqlite:///{tmp_path / 'tg.db'}"
    doc = paper_config(url, data, strategies=False, risk=PERMISSIVE, tmp=tmp_path).model_dump(
        mode="json"
    )
    doc["venues"][0]["balances"] = BALANCES
    doc["venues"][0]["instruments"][0].update(amount_step="1E-8", min_amount="1E-8")
    node = build_node(Config.model_validate(doc))
    await node.start()
    await node.run()
    return node


async def test_api_routes_and_cli_json_write_amounts_as_plain_decimals(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    node = await _node(tmp_path, data_dir)
    app, tokens = build_app(node)
    limit = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "amount": "3.1E-4"}
    async with client(app) as http:
        placed = await http.post(
            "/api/v1/orders",
            json={**limit, "type": "limit", "price": "4.65E+4"},
            headers=bearer(tokens.trader),
        )
        assert placed.status_code == 201, placed.text
        market = await http.post("/api/v1/orders", json=limit, headers=bearer(tokens.trader))
        assert market.status_code == 201, market.text
        next_candle(node)  # the market order fills
        spec = (await http.get("/openapi.json")).json()
        paths = [p for p, ops in spec["paths"].items() if "get" in ops and "{" not in p]
        cid = placed.json()["client_order_id"]
        paths.append(f"/api/v1/orders/{cid}")
        bodies: dict[str, Any] = {}
        for path in paths:
            r = await http.get(path, headers=bearer(tokens.admin))
            if r.headers.get("content-type", "").startswith("application/json"):
                bodies[path] = r.json()
    assert len(bodies) >= 20, sorted(bodies)
    found = [x for path, body in bodies.items() for x in _exponents(body, path)]
    assert found == [], found
    balances = {b["asset"]: b["total"] for b in bodies["/api/v1/balances"]["items"]}
    assert balances["ETH"] == "1000" and balances["SOL"] == "0.00000005"
    assert bodies[f"/api/v1/orders/{cid}"]["price"] == "46500"
    assert bodies[f"/api/v1/orders/{cid}"]["amount"] == "0.00031"
    assert node.storage.load_fills(), "the market order filled"
    node.close()

    db = f"sqlite:///{tmp_path / 'tg.db'}"
    outputs = {}
    for view in ("status", "orders", "positions", "balances"):
        outputs[view] = json.loads(_cli(capsys, view, "--db", db, "--json"))
        found = _exponents(outputs[view], view)
        assert found == [], found
    cli_balances = {b["asset"]: b["total"] for b in outputs["balances"]}
    assert cli_balances["ETH"] == "1000" and cli_balances["SOL"] == "0.00000005"
    assert any(o["price"] == "46500" for o in outputs["orders"])
    rows = list(csv.DictReader(io.StringIO(_cli(capsys, "fills", "--db", db))))
    assert rows and not [v for row in rows for v in row.values() if EXPONENT.match(v or "")]
    # Exact: the plain text is the same number.
    assert Decimal(cli_balances["SOL"]) == Decimal("5E-8")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    done = run_cli(capsys, *argv)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_plain_is_the_f_format_of_any_finite_decimal_and_str_of_the_rest() -> None:
    import random
    from decimal import localcontext

    from tradeguard.model.money import plain

    rng = random.Random(7)
    values = [Decimal(x) for x in ("0", "-0.00", "1E+3", "0E-7", "1E-7", "5E+0", "NaN", "sNaN",
                                   "-Infinity", "123.4500", "0.000001", "0.0000001")]  # fmt: skip
    for _ in range(3000):
        digits = rng.randint(-(10 ** rng.randint(0, 25)), 10 ** rng.randint(0, 25))
        values.append(Decimal(digits).scaleb(rng.randint(-30, 12)))
    for capitals in (1, 0):
        with localcontext() as ctx:
            ctx.capitals = capitals
            for v in values:
                assert plain(v) == (f"{v:f}" if v.is_finite() else str(v)), v
