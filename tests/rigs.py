"""What tests stand up around the code: a server answering every path, a child node killed by
its own SIGKILL at a planned moment."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

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
