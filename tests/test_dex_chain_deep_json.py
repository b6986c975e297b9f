"""The local chain process answers a request body of JSON nested thousands deep with its
parse error and keeps serving: the EVM libraries it loads raise the interpreter's recursion
limit to 100,000, with which `json.loads` overflows the C stack and the process dies by
SIGSEGV instead of raising RecursionError."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import eventually


def _post(url: str, body: bytes) -> dict:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_the_chain_process_survives_a_deeply_nested_request(tmp_path: Path) -> None:
    out = tmp_path / "chain.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeguard.cli", "chain", "--port", "0",
         "--deployment-file", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        eventually(lambda: out.is_file() and out.stat().st_size > 0, timeout_s=120)
        url = json.loads(out.read_text())["rpc_url"]
        try:
            answer = _post(url, b"[" * 100_000)
        except OSError as exc:  # the connection died with the process
            raise AssertionError(f"no answer ({exc}); chain exit code {proc.poll()}") from None
        assert answer["error"]["message"] == "parse error"
        ping = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        assert "result" in _post(url, json.dumps(ping).encode())
        assert proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
