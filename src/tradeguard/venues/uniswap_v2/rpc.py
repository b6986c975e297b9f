"""The chain as the venue sees it: reads, fee data, broadcast, receipts and revert reasons."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tradeguard.venues.uniswap_v2 import abi

_ERROR_SELECTOR = bytes.fromhex("08c379a0")
UINT112_MAX = 2**112 - 1  # the largest reserve a pair can hold
# keccak("Sync(uint112,uint112)"): a pair's reserves after every swap, mint and burn
SYNC_TOPIC = "0x1c411e9a96e071241c2f21f7726b17ae89e3cab4c78be50e062b03a9fffbbad1"
# selectors of the pair's getReserves(), price0CumulativeLast() and price1CumulativeLast()
_GET_RESERVES, _PRICE0_CUMULATIVE, _PRICE1_CUMULATIVE = "0x0902f1ac", "0x5909c0d5", "0x5a3d5493"
_BALANCE_OF = "0x70a08231"  # balanceOf(address)
_TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


class NoState(Exception):
    """The RPC answered an error for a read at a past block (a node keeping no state of it);
    the node's words are told with any URL cut to its host and any credential masked."""

    def __init__(self, message: str) -> None:
        from tradeguard.secrets.redact import redact

        super().__init__(redact(scrub_urls(message)))


class RateLimited(NoState):
    """The RPC answered a rate-limit error (too many requests): worth asking again soon."""


# JSON-RPC error codes providers answer when a client asks too often (HTTP's 429, EIP-1474's
# "limit exceeded", QuickNode's), and the words such an answer carries
_RATE_LIMIT_CODES = frozenset({429, -32005, -32007, -32090})
_RATE_LIMIT_WORDS = re.compile(
    r"(?i)rate.?limit|too many requests|request limit|limit exceeded|request count exceeded"
)


def _rate_limited(answer: Any) -> bool:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        return False
    return error.get("code") in _RATE_LIMIT_CODES or bool(
        _RATE_LIMIT_WORDS.search(str(error.get("message", "")))
    )


@dataclass(frozen=True, slots=True)
class TxLookup:
    """What the chain knows of a hash: mined (with receipt), pending, or unknown."""

    state: str  # mined | confirming (fewer blocks on it than required) | pending | unknown
    receipt: Any = None


class RpcFailure(Exception):
    """The node answered with an error; `reverted` when execution reverted (with `reason`)."""

    def __init__(self, message: str, reverted: bool = False, reason: str = "") -> None:
        super().__init__(scrub_urls(message))  # the node's words: no URL's user info or path
        self.reverted = reverted
        self.reason = reason


def decode_revert(data: Any) -> str:
    """Return the Error(string) reason in revert data, or '' when there is none."""
    from eth_abi import decode

    raw = bytes.fromhex(data[2:]) if isinstance(data, str) and data.startswith("0x") else data
    if not isinstance(raw, bytes | bytearray) or raw[:4] != _ERROR_SELECTOR:
        return ""
    try:
        return str(decode(["string"], bytes(raw[4:]))[0])
    except Exception:
        return ""


def revert_reason(exc: BaseException) -> str:
    """Return the revert reason web3 put in a ContractLogicError (or its message)."""
    reason = decode_revert(getattr(exc, "data", None))
    if reason:
        return reason
    text = str(getattr(exc, "message", None) or exc)
    return text.removeprefix("execution reverted: ").strip("'\" ")


# Any URL's path, query and user info: RPC providers put their API keys there.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:[^/\s'\"@]*@)?([^/\s'\"?#]+)[^\s'\"]*")
# web3's loggers that name the endpoint (a request at DEBUG, every disconnect at INFO)
_WEB3_LOGGERS = (
    "web3.providers.AsyncHTTPProvider",
    "web3._utils.http_session_manager.HTTPSessionManager",
)


# Endpoints given to a provider: hidden even where no "scheme://" marks them as a URL (aiohttp
# names a URL it cannot use verbatim, e.g. "127.0.0.1:8545/v3/KEY").
_ENDPOINTS: set[str] = set()


def scrub_urls(text: str) -> str:
    """`text` with every URL cut to its scheme and host (`https://host/…`), and every endpoint
    given to a provider replaced by that or by "(RPC URL not shown)"."""
    from tradeguard.venues.uniswap_v2.config import shown_url

    for endpoint in sorted(_ENDPOINTS, key=len, reverse=True):
        if endpoint in text:
            shown = shown_url(endpoint)
            text = text.replace(endpoint, shown if "://" in shown else "(RPC URL not shown)")
    return _URL.sub(lambda m: f"{m.group(1)}{m.group(2).rsplit('@', 1)[-1]}/…", text)


class RpcUnreachable(ConnectionError):
    """The RPC endpoint did not answer; the message names its host only."""


class _ScrubUrls(logging.Filter):
    """Rewrite a record of web3's so that no RPC URL's path or query reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        record.msg, record.args = scrub_urls(text), None
        return True


def _scrub_web3_logs() -> None:
    for name in _WEB3_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ScrubUrls) for f in logger.filters):
            logger.addFilter(_ScrubUrls())


def _provider(rpc_url: str, timeout_s: float) -> Any:
    """An HTTP provider whose errors and name carry the endpoint's host only."""
    from web3 import AsyncHTTPProvider

    class _Provider(AsyncHTTPProvider):
        def __str__(self) -> str:
            return scrub_urls(f"RPC connection {self.endpoint_uri}")

        async def make_request(self, method: Any, params: Any) -> Any:
            try:
                return await super().make_request(method, params)
            except Exception as exc:
                raise self._unreachable(method, exc) from None

        async def _make_request(self, method: Any, request_data: bytes) -> bytes:
            """web3's request, its HTTP answer read by `post_rpc` (a 429 asked again after its
            Retry-After, another error status in the node's words); no answer at all is asked
            again as web3 does, for the reads it allows."""
            from web3.providers.rpc.utils import check_if_retry_on_failure

            from tradeguard.venues.uniswap_v2.rpc_http import post_rpc

            config = self.exception_retry_configuration
            tries = 1
            if config is not None and check_if_retry_on_failure(method, config.method_allowlist):
                tries = config.retries
            for i in range(tries):
                try:
                    return await post_rpc(self, str(method), request_data)
                except tuple(config.errors if config is not None else ()):
                    if i == tries - 1:
                        raise
                    await asyncio.sleep(config.backoff_factor * 2**i if config else 0)
            raise AssertionError("unreachable")  # pragma: no cover

        async def make_batch_request(self, batch_requests: Any) -> Any:
            from web3._utils.batching import sort_batch_response_by_response_ids

            from tradeguard.venues.uniswap_v2.rpc_http import post_rpc

            try:
                data = self.encode_batch_rpc_request(batch_requests)
                answer = self.decode_rpc_response(await post_rpc(self, "batch", data))
            except Exception as exc:
                raise self._unreachable("batch", exc) from None
            if not isinstance(answer, list):  # one error object for the whole batch
                return answer
            return sort_batch_response_by_response_ids(answer)

        def _unreachable(self, method: Any, exc: Exception) -> Exception:
            """What a failed request raises: the endpoint cut to its host, whatever the error."""
            if isinstance(exc, RpcUnreachable):  # in words already, naming the host only
                return exc
            if isinstance(exc, OSError | TimeoutError | ValueError) or (
                str(self.endpoint_uri) in str(exc) or "://" in str(exc)
            ):
                text = scrub_urls(f"{type(exc).__name__}: {exc}")
                return RpcUnreachable(f"RPC {method} failed: {text}")
            return exc

    _scrub_web3_logs()
    if rpc_url:
        _ENDPOINTS.add(rpc_url)
    return _Provider(rpc_url, request_kwargs={"timeout": timeout_s})


class ChainClient:
    """Thin async wrapper over web3 for one RPC endpoint (named by its host only)."""

    def __init__(self, rpc_url: str, timeout_s: float = 10.0) -> None:
        from tradeguard.model.recursion import kept_recursion_limit

        with kept_recursion_limit():  # web3 loads py_ecc, which raises it
            from web3 import AsyncWeb3

            self.w3 = AsyncWeb3(_provider(rpc_url, timeout_s))

    async def close(self) -> None:
        await self.w3.provider.disconnect()

    def contract(self, address: str, kind: list[dict[str, Any]]) -> Any:
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=kind)

    async def chain_id(self) -> int:
        return int(await self.w3.eth.chain_id)

    async def reserves(self, pair: str) -> tuple[int, int, int]:
        r0, r1, _ts = await self.contract(pair, abi.PAIR).functions.getReserves().call()
        return int(r0), int(r1), int(await self.w3.eth.block_number)

    async def block_time(self, number: int) -> int:
        """Return the timestamp of block `number`."""
        return int((await self.w3.eth.get_block(number))["timestamp"])

    async def price_state(
        self, pair: str, base_first: bool, number: int | None = None
    ) -> tuple[int, int, int, int, int, int]:
        """Return the pair's price sum of quote per base (price0CumulativeLast when the base is
        token0), its reserves, their timestamp, the block's time and its number, all at one
        block: the latest, or block `number`."""
        from eth_abi import decode

        block = await self.w3.eth.get_block("latest" if number is None else number)
        at, ts = int(block["number"]), int(block["timestamp"])
        if not 0 <= ts < 2**64:
            raise ValueError(f"the RPC answered a latest block stamped {ts}, not a time")
        # one round trip for both reads, past web3's per-call chain id check (eth_call only)
        selector = _PRICE0_CUMULATIVE if base_first else _PRICE1_CUMULATIVE
        answers = await self.w3.provider.make_batch_request(
            [("eth_call", [{"to": pair, "data": s}, hex(at)]) for s in (_GET_RESERVES, selector)]
        )
        if not isinstance(answers, list) or len(answers) != 2:
            raise ValueError(f"the RPC answered {str(answers)[:120]} to getReserves")
        words = []
        for answer in answers:
            data = answer.get("result") if isinstance(answer, dict) else None
            if not isinstance(data, str) or not data.startswith("0x"):
                raise ValueError(f"the RPC answered {str(answer)[:120]} to a pair's eth_call")
            words.append(bytes.fromhex(data[2:]))
        r0, r1, ts_last = decode(["uint112", "uint112", "uint32"], words[0])
        (cumulative,) = decode(["uint256"], words[1])
        return int(cumulative), int(r0), int(r1), int(ts_last), ts, at

    async def block_number(self) -> int:
        return int(await self.w3.eth.block_number)

    async def sync_logs(
        self, pairs: list[str], first: int, last: int
    ) -> list[tuple[str, int, int, int]]:
        """Return (pair, reserve0, reserve1, block) of every `Sync` event in blocks first..last."""
        logs = await self.w3.eth.get_logs(
            {
                "address": [self.w3.to_checksum_address(p) for p in pairs],
                "fromBlock": first,
                "toBlock": last,
                "topics": [SYNC_TOPIC],
            }
        )
        out = []
        for log in logs:
            data = bytes(log["data"])
            r0, r1 = int.from_bytes(data[:32], "big"), int.from_bytes(data[32:64], "big")
            for field, value in (("reserve0", r0), ("reserve1", r1)):
                if value > UINT112_MAX:  # a pair keeps its reserves in uint112
                    raise ValueError(
                        f"the RPC answered a Sync {field} of {str(value)[:40]} for pair "
                        f"{log['address']}, above {UINT112_MAX} (uint112); the logs are refused"
                    )
            out.append((str(log["address"]), r0, r1, int(log["blockNumber"])))
        return out

    async def token_balance(self, token: str, owner: str, block: int | None = None) -> int:
        fn = self.contract(token, abi.ERC20).functions.balanceOf(owner)
        return await fn.call(block_identifier=block if block is not None else "latest")

    async def token_holding(self, token: str, owner: str, block: int) -> tuple[int, int]:
        """Return balanceOf(owner) and totalSupply() of `token`, both at `block`."""
        fns = self.contract(token, abi.ERC20).functions
        units = await fns.balanceOf(owner).call(block_identifier=block)
        return units, await fns.totalSupply().call(block_identifier=block)

    async def balances_at(self, tokens: list[str], owner: str, blocks: list[int]) -> list[int]:
        """Return balanceOf(owner) of each token at each block (block by block, tokens in
        order), read in one round trip: one batch of eth_calls. An error answered for any of
        them raises NoState (RateLimited when one is a rate limit); a result that is no uint256
        raises ValueError."""
        from eth_abi import decode

        data = _BALANCE_OF + owner.lower().removeprefix("0x").rjust(64, "0")
        calls = [("eth_call", [{"to": t, "data": data}, hex(b)]) for b in blocks for t in tokens]
        answers = await self.w3.provider.make_batch_request(calls)
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise ValueError(f"the RPC answered {str(answers)[:120]} to {len(calls)} balanceOf")
        errors = [a["error"] for a in answers if isinstance(a, dict) and "error" in a]
        if errors:
            said = f"the RPC answered the error {str(errors[0])[:160]} to a balanceOf"
            raise (RateLimited if any(map(_rate_limited, answers)) else NoState)(said)
        out = []
        for answer in answers:
            word = answer.get("result") if isinstance(answer, dict) else None
            if not isinstance(word, str) or not word.startswith("0x") or len(word) != 66:
                raise ValueError(f"the RPC answered {str(answer)[:120]} to a balanceOf")
            out.append(int(decode(["uint256"], bytes.fromhex(word[2:]))[0]))
        return out

    async def transfers_at(self, token: str, owner: str, block: int) -> list[tuple[str, int]]:
        """Return (transaction hash, units) of every Transfer log of `token` from or to `owner`
        in `block` (units sent negative, received positive), read in one round trip: one batch
        of two eth_getLogs. An answer that is not such logs raises ValueError."""
        word = "0x" + owner.lower().removeprefix("0x").rjust(64, "0")
        where = {"address": [token], "fromBlock": hex(block), "toBlock": hex(block)}
        calls = [
            ("eth_getLogs", [{**where, "topics": [_TRANSFER_TOPIC, word]}]),
            ("eth_getLogs", [{**where, "topics": [_TRANSFER_TOPIC, None, word]}]),
        ]
        answers = await self.w3.provider.make_batch_request(calls)
        if not isinstance(answers, list) or len(answers) != len(calls):
            raise ValueError(f"the RPC answered {str(answers)[:120]} to {len(calls)} eth_getLogs")
        out = []
        for slot, answer in ((1, answers[0]), (2, answers[1])):
            logs = answer.get("result") if isinstance(answer, dict) else None
            if not isinstance(logs, list):
                raise ValueError(f"the RPC answered {str(answer)[:120]} to an eth_getLogs")
            for log in logs:
                out.append(
                    (_transfer_hash(log, token, word, slot, block), _transfer_units(log, slot))
                )
        return out

    async def decimals(self, token: str) -> int:
        return int(await self.contract(token, abi.ERC20).functions.decimals().call())

    async def allowance(self, token: str, owner: str, spender: str) -> int:
        fn = self.contract(token, abi.ERC20).functions.allowance(owner, spender)
        return int(await fn.call())

    async def eth_balance(self, owner: str, block: int | None = None) -> int:
        at = block if block is not None else "latest"
        # as answered (web3 passes a float or a negative through): the venue checks it
        return await self.w3.eth.get_balance(owner, at)  # type: ignore[arg-type]

    async def base_fee(self) -> int:
        block = await self.w3.eth.get_block("latest")
        return int(block.get("baseFeePerGas") or 0)

    async def timestamp(self) -> int:
        return int((await self.w3.eth.get_block("latest"))["timestamp"])

    async def nonce(self, owner: str, pending: bool = True) -> int:
        tag = "pending" if pending else "latest"
        count = await self.w3.eth.get_transaction_count(owner, tag)  # type: ignore[arg-type]
        return int(count)

    async def tx_by_nonce(self, sender: str, nonce: int) -> dict[str, Any] | None:
        """The mined transaction of `sender` with `nonce`, or None when none is mined yet.
        Found by the sender's count at past blocks (back from the head, doubling the step,
        then halving the gap: about two reads per doubling of its age), then its block."""
        hi = await self.block_number()
        if await self._count_at(sender, hi) <= nonce:
            return None
        lo, step = -1, 1  # the count at `lo` is at most `nonce`, at `hi` past it
        while hi - step >= 0:
            if await self._count_at(sender, hi - step) <= nonce:
                lo = hi - step
                break
            hi, step = hi - step, 2 * step
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if await self._count_at(sender, mid) > nonce else (mid, hi)
        block = await self.w3.eth.get_block(hi, full_transactions=True)
        for tx in block.get("transactions") or []:
            if not isinstance(tx, Mapping):  # a hash, not the transaction asked for
                continue
            if str(tx.get("from", "")).lower() == sender.lower() and tx.get("nonce") == nonce:
                return dict(tx)
        return None

    async def _count_at(self, sender: str, block: int) -> int:
        return int(await self.w3.eth.get_transaction_count(sender, block))  # type: ignore[arg-type]

    async def estimate_gas(self, tx: dict[str, Any]) -> int:
        from web3.exceptions import ContractLogicError

        try:
            return int(await self.w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except ContractLogicError as exc:
            reason = revert_reason(exc)
            raise RpcFailure(f"execution reverted: {reason}", True, reason) from None

    async def send_raw(self, raw_tx: str) -> str:
        """Broadcast; an 'already known' answer counts as sent. Connection errors propagate."""
        from web3.exceptions import Web3RPCError

        try:
            sent = await self.w3.eth.send_raw_transaction(raw_tx)  # type: ignore[arg-type]
            return "0x" + bytes(sent).hex()
        except Web3RPCError as exc:
            text = str(exc)
            if "already known" in text.lower() or "already imported" in text.lower():
                return ""
            raise RpcFailure(text) from None

    async def lookup(self, tx_hash: str) -> TxLookup:
        """Tell whether `tx_hash` is mined, pending or unknown to the node."""
        from web3.exceptions import TransactionNotFound

        try:
            receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            receipt = None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # fields web3 can't read
            raise RpcFailure(f"a malformed receipt for {tx_hash}: {exc}") from None
        if receipt is not None and receipt.get("blockNumber") is not None:
            if receipt.get("effectiveGasPrice") is None:  # nodes before London leave it out
                receipt = await self._with_gas_price(tx_hash, receipt)
            return TxLookup("mined", receipt)
        return TxLookup("pending" if await self.known(tx_hash) else "unknown")

    async def known(self, tx_hash: str) -> bool:
        """Whether the node knows `tx_hash` at all (pending or in a block), asked by the
        transaction, not its receipt; an answer naming another transaction raises RpcFailure."""
        from web3.exceptions import TransactionNotFound

        try:
            tx = await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise RpcFailure(f"a malformed transaction for {tx_hash}: {exc}") from None
        raw = tx.get("hash")
        got = "0x" + bytes(raw).hex() if isinstance(raw, bytes | bytearray) else str(raw).lower()
        if got != tx_hash.lower():
            raise RpcFailure(f"asked for {tx_hash}, the RPC answered another transaction ({got})")
        return True

    async def _with_gas_price(self, tx_hash: str, receipt: Any) -> Any:
        """`receipt` with the transaction's gasPrice as its effectiveGasPrice (what a node
        before London charged), or unchanged when the transaction does not give one."""
        try:
            tx = await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise RpcFailure(f"a malformed transaction for {tx_hash}: {exc}") from None
        price = tx.get("gasPrice")
        if isinstance(price, bool) or not isinstance(price, int):
            return receipt
        return {**dict(receipt), "effectiveGasPrice": price}

    async def replay_reason(self, tx_hash: str, block: int) -> str:
        """Re-run a reverted transaction as a call at its block to read the reason."""
        from web3.exceptions import ContractLogicError

        tx = await self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
        try:
            await self.w3.eth.call(call, block - 1)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            return revert_reason(exc)
        return ""


def _transfer_hash(log: Any, token: str, word: str, slot: int, block: int) -> str:
    """The transaction hash of a Transfer log answered for `token`, `word` in topic `slot`,
    `block`; a log that is not one raises ValueError."""
    topics = [str(t).lower() for t in log.get("topics") or []] if isinstance(log, dict) else []
    fits = (
        len(topics) == 3
        and topics[0] == _TRANSFER_TOPIC
        and topics[slot] == word
        and str(log.get("address", "")).lower() == token.lower()
        and _quantity(log.get("blockNumber")) == block
    )
    tx_hash = str(log.get("transactionHash", "")).lower() if isinstance(log, dict) else ""
    if not fits or len(tx_hash) != 66:
        raise ValueError(f"the RPC answered {str(log)[:160]} as a Transfer log of block {block}")
    return tx_hash


def _transfer_units(log: dict[str, Any], slot: int) -> int:
    data = str(log.get("data", ""))
    if not data.startswith("0x") or len(data) != 66:
        raise ValueError(f"the RPC answered Transfer data {data[:80]}, not one uint256")
    return int(data, 16) * (-1 if slot == 1 else 1)


def _quantity(value: Any) -> int | None:
    try:
        return int(str(value), 16) if isinstance(value, str) else None
    except ValueError:
        return None
