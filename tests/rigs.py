"""What tests stand up around the code: a server answering every path, raw and threaded HTTP
servers on loopback, a websocket handshake's answer, a child node killed by its own SIGKILL at
a planned moment, a `tradeguard sandbox` child process."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import aiohttp
from aiohttp import web

from tradeguard.model.enums import Side
from tradeguard.sandbox.loopback import serve

if TYPE_CHECKING:
    from tradeguard.config import Config


async def answering(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[web.AppRunner, str]:
    """Serve `handler` for every method and path on 127.0.0.1 (a free port); return the runner
    (clean it up) and the base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner, port = await serve(app, "127.0.0.1", 0)
    return runner, f"http://127.0.0.1:{port}"


async def handshake_status(http: aiohttp.ClientSession, url: str) -> int:
    """The status a websocket handshake to `url` is answered with: 101 when a socket opens
    (closed at once), else the refusal's."""
    try:
        extra = await http.ws_connect(url)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    await extra.close()
    return 101


@contextlib.contextmanager
def raw_http(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A raw loopback server handing each connection to `answer` (after reading the request);
    yield its base URL. On leaving, it waits (up to 40 s) for the answer under way."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(30)
                try:
                    conn.recv(65536)
                    answer(conn)
                except OSError:
                    pass

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=40)
        srv.close()


@contextlib.contextmanager
def threaded_http(
    handler: type[http.server.BaseHTTPRequestHandler],
    server_class: type[http.server.ThreadingHTTPServer] = http.server.ThreadingHTTPServer,
) -> Iterator[Any]:
    """A `server_class` on 127.0.0.1 (a free port) serving `handler` in a thread; yield it
    (`server_port` is its port) and shut it down on leaving."""
    server = server_class(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def calendar_shift(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    """Run `tradeguard calendar shift` on the example calendar against the sandbox at `url`,
    writing `tmp_path/x.csv`."""
    example = Path(__file__).resolve().parents[1] / "examples" / "unlock_calendar.csv"
    return subprocess.run(
        [sys.executable, "-m", "tradeguard.cli", "calendar", "shift", str(example),
         "--sandbox", url, "--out", str(tmp_path / "x.csv")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def die(what: dict[str, Any]) -> NoReturn:
    """In a crash child: print `what` as one JSON line, then SIGKILL this process."""
    print(json.dumps(what), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("SIGKILL did not stop the process")


def die_on_first_sell(venue: Any) -> None:
    """In a crash child: the first sell `venue` is asked to send (journaled by then) prints
    `{"journaled": its client order id}` and kills the process before its request leaves."""
    send = venue.submit

    async def die_on_sell(order: Any) -> Any:
        if order.side is Side.SELL:
            die({"journaled": order.client_order_id})
        return await send(order)

    venue.submit = die_on_sell


async def killed_child(
    child: Path, tmp: Path, cfg: Config, *args: str, timeout_s: float = 120.0
) -> list[dict[str, Any]]:
    """Run the crash child script `child` on `cfg` (written to tmp/config.json) with `args`
    and check that it died by its own SIGKILL; return the JSON objects it printed, one a line
    (its standard error is kept in tmp/child.err)."""
    cfg_file = tmp / "config.json"
    cfg_file.write_text(cfg.model_dump_json())
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(child), str(cfg_file), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    (tmp / "child.err").write_bytes(err)
    assert proc.returncode == -signal.SIGKILL, (out.decode()[-2000:], err.decode()[-6000:])
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[str]:
    """`tradeguard sandbox --port 0 ARGS` as a child process; yield its REST URL once it says
    it; stop it with a Ctrl-C (SIGINT) on leaving."""
    exe = Path(sys.executable).parent / "tradeguard"
    proc = subprocess.Popen(
        [str(exe), "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        rest_url = ""
        for line in proc.stdout:
            if line.startswith("sandbox REST"):
                rest_url = line.split()[-1]
                break
        assert rest_url.startswith("http://127.0.0.1:")
        yield rest_url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
