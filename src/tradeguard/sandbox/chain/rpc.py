"""A JSON-RPC server over HTTP in front of an in-process EVM (eth-tester on py-evm).

```python
chain = LocalChain()                        # a fresh chain, auto-mining each transaction
server = RpcServer(chain, port=8545)
await server.start()                        # http://127.0.0.1:8545, the eth_* web3 needs
```

Calls are answered one at a time on the server's event loop, so the EVM is never entered twice.
`evm_mine` mines at most `MAX_MINE_BLOCKS` blocks (a stall for every other call); a batch is
refused whole past `MAX_BATCH` calls or past `MAX_MINE_BLOCKS` blocks mined by its `evm_mine`
calls together.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from typing import Any

from aiohttp import web

from tradeguard.sandbox.conn_guard import ConnLimits, GuardedRunner
from tradeguard.sandbox.loopback import SERVER_LOG

log = logging.getLogger(__name__)
# eth-tester answers these with Python values; JSON-RPC wants hex quantities and data.
_PARSE_ERROR = -32700
_INVALID_REQUEST = -32600
_INVALID_PARAMS = -32602
# blocks one evm_mine (or a batch's together) mines: about 10 s on an idle machine (a few
# times that under load), every other call waiting; 10,000 held the server for minutes
MAX_MINE_BLOCKS = 1_000
MAX_BATCH = 100
MAX_BODY_BYTES = 4 * 1024 * 1024  # a request's body; past it, 413 with a JSON-RPC error
_INTERNAL_ERROR = -32603
_SERVER_ERROR = -32000
# methods whose block (at this index) eth-tester refuses in hex: a node takes it so
_HEX_BLOCK_AT = {"eth_getStorageAt": 2, "eth_estimateGas": 1}
_MESSAGE_CHARS = 300
# what the EVM says when it refuses a well-formed transaction, as nodes answer with -32000
_STATE_REFUSALS = ("nonce", "balance", "gas", "fee")
_REVERTED = 3


class LocalChain:
    """One EVM and the web3 request function that speaks JSON-RPC shapes to it."""

    def __init__(self, legacy_receipts: bool = False) -> None:
        from tradeguard.model.recursion import kept_recursion_limit

        # py-evm and py_ecc raise the recursion limit to 100,000 as they load: with it a body of
        # thousands of '[' overflows the C stack in json.loads (SIGSEGV, not RecursionError).
        with kept_recursion_limit():
            from eth_tester import EthereumTester, PyEVMBackend
            from web3 import Web3
            from web3.providers.eth_tester import EthereumTesterProvider

        self.tester = EthereumTester(PyEVMBackend())
        self.provider = EthereumTesterProvider(self.tester)
        self.w3 = Web3(self.provider)
        self._request = self.provider.request_func(self.w3, self.w3.middleware_onion)
        # answer receipts without effectiveGasPrice, as nodes before London (EIP-1559) do
        self.legacy_receipts = legacy_receipts

    def set_automine(self, on: bool) -> None:
        """Mine each transaction at once (on) or keep them pending until `mine` (off)."""
        if on:
            self.tester.enable_auto_mine_transactions()
        else:
            self.tester.disable_auto_mine_transactions()

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    def call(self, method: str, params: list[Any]) -> dict[str, Any]:
        """Answer one JSON-RPC call: `{"result": …}` or `{"error": {"code", "message"}}`."""
        from eth_tester.exceptions import TransactionFailed

        if method == "evm_mine":
            blocks = _block_count(params)
            if blocks is None:
                return {"error": _err(_INVALID_PARAMS, _mine_refusal(params))}
            self.mine(blocks)
            return {"result": "0x0"}
        if method == "tg_setAutomine":
            self.set_automine(bool(params and params[0]))
            return {"result": True}
        if method == "tg_setLegacyReceipts":
            self.legacy_receipts = bool(params and params[0])
            return {"result": True}
        if method == "eth_getTransactionCount" and params[1:2] == ["pending"]:
            return self._pending_count(params[0])
        if method in _HEX_BLOCK_AT:  # eth-tester takes only an int or a tag there
            params = _block_as_int(params, _HEX_BLOCK_AT[method])
        if method == "eth_getLogs":
            head = self.tester.get_block_by_number("latest")["number"]
            refused = _log_range_refusal(params, head)
            if refused is not None:
                return {"error": refused}
        try:
            response = self._request(method, params)
        except TransactionFailed as exc:
            message = str(exc.args[0]) if exc.args else "execution reverted"
            return {"error": {"code": _REVERTED, "message": message, "data": _revert_data(message)}}
        except Exception as exc:
            return {"error": _refusal(method, exc)}
        if "error" in response:
            return {"error": dict(response["error"])}
        result = node_shape(method, to_json(response.get("result")))
        if self.legacy_receipts and method == "eth_getTransactionReceipt" and result:
            result.pop("effectiveGasPrice", None)
        return {"result": result}

    def _pending_count(self, owner: Any) -> dict[str, Any]:
        """The mined count plus the owner's transactions waiting for a block with the next
        nonces, as a node answers `pending` (eth-tester's own answer leaves the pool out)."""
        answer = self.call("eth_getTransactionCount", [owner, "latest"])
        if "error" in answer:
            return answer
        count, sender = int(answer["result"], 16), str(owner).lower()
        waiting = {
            int(tx["nonce"])
            for tx in self.tester._pending_transactions
            if str(tx.get("from", "")).lower() == sender
        }
        while count in waiting:
            count += 1
        return {"result": hex(count)}


def _block_as_int(params: list[Any], at: int) -> list[Any]:
    """`params` with a hex block number at index `at` as an int; any other shape unchanged."""
    value = params[at] if len(params) > at else None
    if not isinstance(value, str) or value[:2].lower() != "0x":
        return params
    try:
        number = int(value, 16)
    except ValueError:
        return params  # refused by the call, in its words
    return [*params[:at], number, *params[at + 1 :]]


def _log_range_refusal(params: list[Any], head: int) -> dict[str, Any] | None:
    """geth's refusal of an eth_getLogs range past `head` (as its execution-apis conformance
    tests pin), or None: a numeric `toBlock` beyond the head, or a `fromBlock` beyond where the
    range ends ("latest" when absent). Any other shape is left to the call's own checks."""
    where = params[0] if params and isinstance(params[0], dict) else None
    if where is None or "blockHash" in where:
        return None
    bounds: dict[str, int] = {}
    for key in ("fromBlock", "toBlock"):
        value = where.get(key, "latest")
        if value in ("latest", "safe", "finalized", "pending"):
            bounds[key] = head
        elif value == "earliest":
            bounds[key] = 0
        elif isinstance(value, str) and value[:2].lower() == "0x":
            with contextlib.suppress(ValueError):  # refused by the call, in its words
                bounds[key] = int(value, 16)
    if len(bounds) < 2:
        return None
    if bounds["fromBlock"] > bounds["toBlock"]:
        return _err(_INVALID_PARAMS, "invalid block range params")
    if bounds["toBlock"] > head:
        return _err(_INVALID_PARAMS, "block range extends beyond current head block")
    return None


def _refusal(method: str, exc: Exception) -> dict[str, Any]:
    """A JSON-RPC error object for an exception of the EVM or web3, in words, never its type."""
    from eth.exceptions import UnrecognizedTransactionType
    from eth_tester.exceptions import BlockNotFound
    from eth_tester.exceptions import ValidationError as TesterValidationError
    from eth_utils import ValidationError as UtilsValidationError
    from rlp.exceptions import DecodingError

    text = " ".join(str(exc).split())[:_MESSAGE_CHARS]
    if isinstance(exc, BlockNotFound):  # a block past the head: a node's words and code
        return _err(_SERVER_ERROR, "header not found")
    if isinstance(exc, TesterValidationError | UtilsValidationError):
        if any(word in text.lower() for word in _STATE_REFUSALS):
            return _err(_SERVER_ERROR, text)  # a well-formed call the chain's state refuses
        return _err(_INVALID_PARAMS, f"invalid params for {method}: {text}")
    if isinstance(exc, UnrecognizedTransactionType | DecodingError):
        return _err(_INVALID_PARAMS, f"invalid params for {method}: not a transaction it decodes")
    if isinstance(exc, IndexError | TypeError | AttributeError | ValueError | KeyError):
        return _err(_INVALID_PARAMS, f"invalid params for {method}: wrong count, type or shape")
    log.warning("chain rpc %s failed: %s", method, type(exc).__name__)
    return _err(_INTERNAL_ERROR, f"internal error answering {method}")


def _revert_data(message: str) -> str:
    """Encode a revert reason as Error(string) data, as real nodes return it."""
    from eth_abi import encode

    reason = message.removeprefix("execution reverted: ")
    return "0x08c379a0" + encode(["string"], [reason]).hex()


def to_json(value: Any) -> Any:
    """Turn eth-tester's Python values into JSON-RPC shapes (ints and bytes as hex)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return str(value)


def node_shape(method: str, result: Any) -> Any:
    """`result` in a node's keys: eth-tester answers a block's full transactions in snake_case
    (`block_number`, `data`, ...), a transaction's `y_parity` and a receipt's `state_root`,
    where every node says `blockNumber`, `input` and `yParity` (and has no root once a receipt
    has a status, since Byzantium)."""
    if not isinstance(result, dict):
        return result
    if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
        txs = result.get("transactions")
        if isinstance(txs, list):
            result["transactions"] = [_tx_shape(t) if isinstance(t, dict) else t for t in txs]
    elif method.startswith("eth_getTransactionBy"):
        result = _tx_shape(result)
    elif method == "eth_getTransactionReceipt" and "status" in result:
        result.pop("state_root", None)
    return result


def _tx_shape(tx: dict[str, Any]) -> dict[str, Any]:
    return {_camel(k): v for k, v in tx.items()}


def _camel(key: str) -> str:
    if key == "data":  # a transaction's calldata
        return "input"
    head, *rest = key.split("_")
    return head + "".join(word.capitalize() for word in rest)


class RpcServer:
    """Serve `chain` as JSON-RPC over HTTP on 127.0.0.1 (batch requests included)."""

    def __init__(self, chain: LocalChain, host: str = "127.0.0.1", port: int = 8545) -> None:
        self.chain = chain
        self.host = host
        self.port = port
        # how long a client may take to send a request, how many may be connected (conn_guard.py)
        self.limits = ConnLimits()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        # any path, as hosted providers take a key in it (https://host/v3/KEY); any method, to
        # answer one but POST in JSON-RPC's shape
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = GuardedRunner(app, self.limits, access_log=None, logger=SERVER_LOG)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        if request.method != "POST":  # a JSON-RPC error, with HTTP's 405 as nodes answer
            why = f"invalid request: JSON-RPC over HTTP takes POST, not {request.method}"
            return _reply(_invalid(None, why), status=405, headers={"Allow": "POST"})
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            # in JSON-RPC's shape, as nodes answer it, still with HTTP's 413
            why = f"invalid request: the request body is larger than {MAX_BODY_BYTES} bytes"
            return _reply(_invalid(None, why), status=413)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: thousands of nested arrays
            return _reply(
                {"jsonrpc": "2.0", "id": None, "error": _err(_PARSE_ERROR, "parse error")}
            )
        if isinstance(body, list):
            if not body:
                return _reply(_invalid(None, "invalid request: an empty batch"))
            too_much = _batch_error(body)
            if too_much is not None:
                return _reply(_invalid(None, f"invalid request: {too_much}"))
            return _reply([self._one(item) for item in body])
        return _reply(self._one(body))

    def _one(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            return _invalid(None, "invalid request: each request must be a JSON object")
        rid = item.get("id")
        if (
            isinstance(rid, bool)
            or not isinstance(rid, str | int | float | type(None))
            or (isinstance(rid, float) and not math.isfinite(rid))
        ):
            return _invalid(None, "invalid request: id must be a string, a number or null")
        if not isinstance(item.get("method"), str):
            return _invalid(rid, "invalid request: method must be a string")
        params = item.get("params") or []
        if not isinstance(params, list):
            return {
                "jsonrpc": "2.0", "id": rid,
                "error": _err(_INVALID_PARAMS, "invalid params: params must be a JSON array"),
            }  # fmt: skip
        answer = self.chain.call(item["method"], params)
        return {"jsonrpc": "2.0", "id": rid, **answer}


def _block_count(params: list[Any]) -> int | None:
    """evm_mine's block count (default 1), or None when it is not a hex count in range."""
    if not params:
        return 1
    raw = params[0]
    try:
        blocks = int(raw, 16) if isinstance(raw, str) else None
    except ValueError:
        return None
    # Each block is mined in Python: a huge count would hold the chain for hours.
    return blocks if blocks is not None and 1 <= blocks <= MAX_MINE_BLOCKS else None


def _mine_refusal(params: list[Any]) -> str:
    """Why evm_mine refused its block count: over the limit (named), or not a hex count."""
    limit = f"at most {MAX_MINE_BLOCKS} ({hex(MAX_MINE_BLOCKS)}) a call"
    raw = params[0] if params else None
    try:
        asked = int(raw, 16) if isinstance(raw, str) else None
    except ValueError:
        asked = None
    if asked is not None and asked > MAX_MINE_BLOCKS:
        count = f"{asked} blocks" if asked < 10**30 else "over 10**30 blocks"  # any length given
        return (
            f"evm_mine {str(raw)[:40]}{'...' if len(str(raw)) > 40 else ''}: {count}; {limit} "
            "(each block is mined while every other call waits): mine more in several calls"
        )
    return f"evm_mine takes one hex block count from 0x1, {limit}"


def _batch_error(batch: list[Any]) -> str | None:
    """Why `batch` is refused whole (too many calls, or too many blocks mined), or None."""
    if len(batch) > MAX_BATCH:
        return f"a batch of {len(batch)} calls; at most {MAX_BATCH}"
    mined = 0
    for item in batch:
        if isinstance(item, dict) and item.get("method") == "evm_mine":
            params = item.get("params") or []
            mined += (_block_count(params) or 0) if isinstance(params, list) else 0
    if mined > MAX_MINE_BLOCKS:
        return f"the batch mines {mined} blocks in all; at most {MAX_MINE_BLOCKS}"
    return None


def _invalid(rid: Any, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": _err(_INVALID_REQUEST, message)}


def _err(code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(payload), status=status, content_type="application/json", headers=headers
    )
