"""`tradeguard chain` deploys the contracts, writes the deployment file and answers JSON-RPC."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import eventually


def test_chain_command_serves_json_rpc_and_writes_a_private_deployment_file(
    tmp_path: Path,
) -> None:
    out = tmp_path / "chain.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tradeguard.cli",
            "chain",
            "--port",
            "0",
            "--deployment-file",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: out.is_file() and out.stat().st_size > 0, timeout_s=120)
        d = json.loads(out.read_text())
        assert os.stat(out).st_mode & 0o777 == 0o600
        assert d["rpc_url"].startswith("http://127.0.0.1:")
        assert set(d["pairs"]) == {"WETH/USD", "TKA/USD"}
        body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []})
        req = urllib.request.Request(
            d["rpc_url"], body.encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert answer == {"jsonrpc": "2.0", "id": 7, "result": hex(d["chain_id"])}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_chain_on_a_busy_port_is_a_failure_outside_the_input(tmp_path: Path, capsys) -> None:
    # It exited 2, the code of a usage error, where the sandbox on a busy port exits 1.
    import socket

    from tradeguard.cli import main

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        argv = ["chain", "--port", str(port), "--deployment-file", str(tmp_path / "c.json")]
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"chain cannot listen on 127.0.0.1:{port}: " in err and "already in use" in err
    assert "pick another --port" in err and "Traceback" not in err
    assert not (tmp_path / "c.json").exists()


def _rpc(url: str, method: str, *params: object) -> dict:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_chain_with_legacy_receipts_answers_receipts_as_a_node_before_london(
    tmp_path: Path,
) -> None:
    """`--legacy-receipts` rehearses a node whose receipts carry no `effectiveGasPrice`."""
    out = tmp_path / "chain.json"
    argv = ["chain", "--port", "0", "--deployment-file", str(out), "--legacy-receipts"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeguard.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(
            lambda: proc.poll() is not None or (out.is_file() and out.stat().st_size > 0),
            timeout_s=120,
        )
        assert proc.poll() is None, proc.communicate()
        url = json.loads(out.read_text())["rpc_url"]
        block = _rpc(url, "eth_getBlockByNumber", "latest", False)["result"]
        receipt = _rpc(url, "eth_getTransactionReceipt", block["transactions"][0])["result"]
        assert receipt["status"] == "0x1" and "gasUsed" in receipt
        assert "effectiveGasPrice" not in receipt
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "receipts answered without effectiveGasPrice (--legacy-receipts)" in out, out
