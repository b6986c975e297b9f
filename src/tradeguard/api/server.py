"""Serve a node's API with uvicorn inside the event loop that runs the node."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from fastapi import FastAPI

from tradeguard.api.app import create_app
from tradeguard.api.wire import GuardedHttp, WireLimits, protocol_for, stream_protocol_for
from tradeguard.apiconfig import checked_tls_files
from tradeguard.model.errors import TradeguardError

if TYPE_CHECKING:
    import socket

    from tradeguard.node import TradingNode

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, guarded: type[GuardedHttp]) -> None:
        super().__init__(config)
        self._guarded = guarded

    # The host process owns Ctrl-C (it must stop trading cleanly), so uvicorn takes no signals.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # The listener takes plain TCP; each connection begins its TLS handshake once it is
        # counted, within the read timeout (api/wire.py).
        context, self.config.ssl = self.config.ssl, None
        self._guarded.tls = context
        try:
            await super().startup(sockets)
        finally:
            self.config.ssl = context


def is_loopback(host: str) -> bool:
    """Tell whether `host` only accepts connections from this machine."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int, tls: bool) -> str | None:
    """Return the loud warning for a non-loopback bind without TLS, or None."""
    if is_loopback(host) or tls:
        return None
    return (
        f"WARNING: the tradeguard API listens on {host}:{port} WITHOUT TLS. API tokens and TOTP "
        "codes cross the network in clear text and anyone who can reach this port can try them. "
        "Bind 127.0.0.1 (api.host) and use an SSH tunnel or a TLS reverse proxy, or set "
        "api.tls_certfile and api.tls_keyfile."
    )


async def _serve(server: _Server) -> None:
    try:
        await server.serve()
    except SystemExit:
        # uvicorn exits the process when it cannot bind; here that must be an ordinary error.
        raise TradeguardError("uvicorn stopped during start-up (see the log above)") from None


class ApiServer:
    """Run the API of `node` on `host:port` in the current event loop (port 0 picks one)."""

    def __init__(
        self,
        node: TradingNode,
        host: str | None = None,
        port: int | None = None,
        app: FastAPI | None = None,
    ) -> None:
        cfg = node.config.api
        self.node = node
        self.host = host if host is not None else cfg.host
        self.port = port if port is not None else cfg.port
        self.app = app or create_app(node)
        self.tls = bool(cfg.tls_certfile and cfg.tls_keyfile)
        # Relative to the config file's folder, checked before binding.
        self._tls_files = checked_tls_files(node.config) or (None, None)
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Return the base URL the server answers on."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; return once the socket accepts connections."""
        if not self.host.strip():  # the bind would take it for every interface, unasked
            raise TradeguardError(
                f"the API could not start on {self.host!r}: an empty host; set api.host (or "
                "--host) to an address such as 127.0.0.1 (0.0.0.0 for every interface)"
            )
        try:  # what the bind does first; a label over 63 characters fails it
            self.host.encode("idna")
        except UnicodeError as bad:
            raise TradeguardError(
                f"the API could not start on {self.host[:80]!r}: not a host name or address "
                f"({bad}); set api.host (or --host) to an address such as 127.0.0.1"
            ) from None
        warning = exposure_warning(self.host, self.port, self.tls)
        if warning is not None:
            log.warning(warning)
            print(warning, file=sys.stderr, flush=True)
        cfg = self.node.config.api
        limits = WireLimits.of(cfg)
        guarded = protocol_for(limits)
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            # X-Forwarded-For is read by the API itself, only from api.trusted_proxies.
            proxy_headers=False,
            # connection count, request read time and head size capped (api/wire.py)
            http=guarded,
            ws_max_size=cfg.max_body_bytes,
            lifespan="on",
            ws=stream_protocol_for(limits),  # websockets-sansio, a stalled peer cut off
            ssl_certfile=self._tls_files[0],
            ssl_keyfile=self._tls_files[1],
            timeout_graceful_shutdown=3,
        )
        server = self._server = _Server(config, guarded)
        self._task = asyncio.create_task(_serve(server), name="api-server")
        while not server.started:
            if self._task.done():
                exc = self._task.exception()
                self._server = self._task = None  # said here; stop() has nothing to raise again
                raise TradeguardError(
                    f"the API could not start on {self.host}:{self.port}: {exc or 'it exited'}; "
                    "pick another port (api.port) or stop what uses it"
                )
            await asyncio.sleep(0.01)
        for srv in server.servers:
            for sock in srv.sockets:
                self.port = int(sock.getsockname()[1])
                break
        # every command that starts a server prints its address itself: at INFO it showed twice
        log.debug("API and dashboard on %s", self.url)

    async def stop(self) -> None:
        """Stop serving and wait for open connections to close."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._server = self._task = None
