"""`mode = "live"` on a uniswap_v2 venue against `tradeguard chain` (the real Uniswap V2
contracts over JSON-RPC on 127.0.0.1), its chain id declared: the banner, the RPC key kept out
of every output, a chain id mismatch refused, and SIGKILL at each step of a swap."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conftest import eventually
from dex_live_support import PATH_KEY, QUERY_KEY, live_config_text, live_dex_setup, run_exit
from dex_node_support import DexSetup, cli, running_chain_process
from tradeguard.venues.uniswap_v2 import crashpoints


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from running_chain_process(tmp_path_factory.mktemp("chain"))


@pytest.fixture
def dex(tmp_path: Path, deployment: dict[str, Any]) -> Iterator[DexSetup]:
    setup = live_dex_setup(tmp_path, deployment)
    try:
        yield setup
    finally:
        setup.stop_nodes()


def _ready(dex: DexSetup) -> None:
    eventually(lambda: dex.request("POST", "/api/v1/risk/validate", {
        "venue": "dex", "symbol": "WETH/USD", "side": "sell", "amount": "0.1"})["approved"],
        timeout_s=30, interval_s=0.2)  # fmt: skip


def _swap_fills(dex: DexSetup, cid: str) -> list[dict[str, Any]]:
    fills = dex.get("/api/v1/fills")["items"]
    return [f for f in fills if f["client_order_id"] == cid and Decimal(f["amount"])]


def test_a_live_node_names_chain_wallet_router_and_caps_and_never_the_rpc_key(
    dex: DexSetup,
) -> None:
    d = dex.deployment
    dex.start_node({"TG_NODE__LOG_LEVEL": "DEBUG"})
    _ready(dex)
    weth = dex.token_balance("WETH")
    sent = dex.order("sell", "0.1")
    assert sent["status"] == "submitted", sent
    cid = sent["client_order_id"]
    eventually(lambda: dex.get(f"/api/v1/orders/{cid}")["status"] == "filled", timeout_s=30)
    assert weth - dex.token_balance("WETH") == 10**17
    capped = dex.order("buy", "6")  # 12,000 USD over max_tx_value = 10000
    assert (capped["status"], capped["code"]) == ("denied", "TX_VALUE_CAP"), capped
    paths = ["/api/v1/orders", "/api/v1/fills", "/api/v1/balances", "/api/v1/events",
             "/api/v1/state", "/api/v1/mode", "/api/v1/health"]  # fmt: skip
    answers = [json.dumps(dex.get(p)) for p in paths]
    views = (["status"], ["status", "--json"], ["orders", "--json"], ["balances", "--json"])
    shown = [cli(*a, "--config", str(dex.config), env=dex.env) for a in views]
    dex.stop_nodes()  # web3 names its endpoint on disconnect: that line is in the log too

    log = dex.node_log()
    host = d["rpc_url"]  # http://127.0.0.1:PORT, what the banner may show
    for line in (
        "LIVE TRADING: REAL MONEY",
        f"chain id:        {d['chain_id']} via {host}",
        f"router:          {d['router']}",
        "max_tx_value 10000 per swap",
        "max_fee_per_gas 100 gwei",
        f"wallet address:  {d['wallet_address']}",
    ):
        assert line in log, line  # fmt: skip
    assert str(d["wallet_private_key"])[2:] not in log
    for blob in [log, *answers, *shown, dex.db_path.read_bytes().decode("latin-1")]:
        assert PATH_KEY not in blob and QUERY_KEY not in blob


def test_a_chain_id_other_than_the_declared_one_refuses_to_start(dex: DexSetup) -> None:
    real = int(dex.deployment["chain_id"])
    dex.config.write_text(live_config_text(dex.root, dex.deployment, chain_id=1))
    _refused(dex, f"venues.dex.chain_id=1 but the RPC at {dex.deployment['rpc_url']} answers "
             f"eth_chainId={real}; refusing to start")  # fmt: skip


def test_token_decimals_other_than_the_contracts_refuse_to_start(dex: DexSetup) -> None:
    text = live_config_text(dex.root, dex.deployment) + "token_decimals = { USD = 6 }\n"
    dex.config.write_text(text)
    usd = dex.deployment["tokens"]["USD"]
    _refused(dex, f"token USD at {usd} has 18 decimals on chain but venues.dex.token_decimals "
             "gives 6; set token_decimals.USD = 18")  # fmt: skip


def test_an_rpc_that_does_not_answer_refuses_to_start_in_one_line(
    dex: DexSetup, closed_port: int
) -> None:
    dex.config.write_text(
        live_config_text(dex.root, dex.deployment, rpc=f"http://127.0.0.1:{closed_port}")
    )
    done = run_exit(dex.config, dex.env)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("tradeguard: ")]
    assert len(lines) == 1 and "dex: RPC eth_chainId failed" in lines[0], done.stderr
    assert f"127.0.0.1:{closed_port}" in lines[0] and "is the chain's node running" in lines[0]
    assert "Traceback" not in done.stderr and PATH_KEY not in done.stdout + done.stderr


def _refused(dex: DexSetup, message: str) -> None:
    done = run_exit(dex.config, dex.env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"venue dex: {message}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and PATH_KEY not in done.stdout + done.stderr


STEPS = [crashpoints.BEFORE_BROADCAST, crashpoints.AFTER_BROADCAST, crashpoints.AFTER_RECEIPT]


@pytest.mark.parametrize("step", STEPS)
def test_a_live_node_killed_mid_swap_books_that_swap_once_after_restart(
    dex: DexSetup, step: str
) -> None:
    marker = dex.root / "paused.txt"
    node = dex.start_node({step: str(marker)})
    _ready(dex)
    weth = dex.token_balance("WETH")
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(_try_order(dex)), daemon=True)
    thread.start()
    eventually(lambda: marker.is_file() and marker.read_text().startswith("0x"), timeout_s=60)
    tx_hash = marker.read_text()
    node.send_signal(signal.SIGKILL)
    node.wait(timeout=30)
    thread.join(timeout=30)
    assert len(answers) == 1 and isinstance(answers[0], OSError)  # no answer: the node died
    on_chain = weth - dex.token_balance("WETH")
    assert on_chain == (0 if step == crashpoints.BEFORE_BROADCAST else 10**17)

    dex.start_node()  # start-up reconciliation finds the journaled transaction by its hash
    (order,) = [o for o in dex.get("/api/v1/orders")["items"] if o["symbol"] == "WETH/USD"]
    cid = order["client_order_id"]
    eventually(lambda: dex.get(f"/api/v1/orders/{cid}")["status"] == "filled", timeout_s=30)
    assert [f["trade_id"] for f in _swap_fills(dex, cid)] == [tx_hash]  # booked once
    assert weth - dex.token_balance("WETH") == 10**17  # one swap on chain for the order
    # the ledger equals the chain: no difference halted the node at its start-up audit
    assert dex.get("/api/v1/state")["trading_state"] == "ACTIVE"
    _ready(dex)
    assert [f["trade_id"] for f in _swap_fills(dex, cid)] == [tx_hash]


def _try_order(dex: DexSetup) -> Any:
    try:
        return dex.order("sell", "0.1")
    except OSError as exc:  # the node died with the request open
        return exc


def test_a_token_address_holding_no_contract_refuses_to_start_naming_the_token(
    dex: DexSetup,
) -> None:
    """A token's address copied from another chain holds no contract here: refused with the
    token, its address and the field, not web3's 'is contract deployed correctly'."""
    nothing = "0x" + "5" * 40
    text = live_config_text(dex.root, dex.deployment).replace(
        f'TKA = "{dex.deployment["tokens"]["TKA"]}"', f'TKA = "{nothing}"'
    )
    dex.config.write_text(text)
    _refused(dex, f"token TKA at {nothing} answers no decimals(): no ERC-20 contract there; "
             "check venues.dex.tokens.TKA and chain_id")  # fmt: skip
