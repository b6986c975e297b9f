"""Where sweep jobs run: Ray (local by default, or an existing cluster) or a process pool.

Ray is the optional `sweep` extra. Without it, `make_pool` falls back to a local process pool
and says so (`pool.engine == "processes"`, `pool.note`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

RAY_OBJECT_STORE_BYTES = 100 * 1024 * 1024
MAX_WORKERS = 256


@contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) off while worker processes start. A terminal sends it to the whole
    foreground process group, and a worker still in its interpreter's start printed "Fatal
    Python error: init_import_site ... KeyboardInterrupt". A process started meanwhile keeps
    SIGINT blocked across fork and exec, so workers never take it (the parent stops them); one
    typed meanwhile reaches this process as the block ends. Main thread only (else no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class ProcessPool:
    """A local pool of worker processes (spawned, so each starts clean); they ignore Ctrl-C
    (`ctrl_c_held`): the sweep answers it and stops them."""

    engine = "processes"

    def __init__(self, workers: int, note: str = "") -> None:
        self.workers = workers
        self.note = note
        with ctrl_c_held():
            self._pool = cf.ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn")
            )

    def map_unordered(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[Any]:
        with ctrl_c_held():  # the workers start as the jobs are submitted
            futures = [self._pool.submit(fn, job) for job in jobs]
        for fut in cf.as_completed(futures):
            yield fut.result()

    def close(self, interrupted: bool = False) -> None:
        """Wait for the workers to end; `interrupted` (Ctrl-C): end them now, what they were
        running left unstored (the next run of the sweep runs it again)."""
        if interrupted:
            for proc in list(getattr(self._pool, "_processes", None) or {}):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc, signal.SIGTERM)
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayPool:
    """Jobs as Ray tasks: a local Ray with `workers` CPUs, or the cluster at `address`."""

    engine = "ray"

    def __init__(self, workers: int, address: str | None = None) -> None:
        if not address:
            # A local Ray replaces 127.0.0.1 with the machine's network address (for other
            # machines to join) unless it is told it forms no cluster; Ray reads this at import.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            _private_ray_token()
        import ray

        self._ray = ray
        self.workers = workers
        self.note = f"Ray cluster at {address}" if address else f"local Ray, {workers} CPUs"
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            try:
                ray.init(address=address, **kwargs)
            except (ValueError, ConnectionError) as exc:
                from tradeguard.model.errors import ConfigError

                raise ConfigError(
                    f"--ray-address {address!r}: {exc}; give the head node as HOST:PORT"
                ) from None
        else:
            with ctrl_c_held():  # its processes start now: Ctrl-C reaches this one only
                ray.init(
                    num_cpus=workers, object_store_memory=RAY_OBJECT_STORE_BYTES,
                    _node_ip_address="127.0.0.1", **kwargs,
                )  # fmt: skip

    def map_unordered(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[Any]:
        ray = self._ray
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayTaskError as exc:
                from tradeguard.model.errors import ConfigError, TradeguardError

                cause = getattr(exc, "cause", exc)
                if isinstance(cause, ConfigError):  # the input's fault, named by the worker
                    raise ConfigError(str(cause)) from None
                lines = str(cause).strip().splitlines()
                first = lines[0] if lines else str(exc)
                raise TradeguardError(f"a sweep combination failed: {first}") from None
            yield result

    def close(self, interrupted: bool = False) -> None:
        self._ray.shutdown()  # stops the local Ray's processes, running tasks or not


def _private_ray_token() -> None:
    """Give a local Ray an access token of its own, passed to its processes in the environment.
    Left to itself, Ray writes one to ~/.ray/auth_token on first use: two Rays starting at once
    (two sweeps, two test workers) could each write a different token there, and one cluster's
    processes read the other's. A token the user set (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH) or
    RAY_AUTH_MODE chosen is left as it is."""
    if any(
        name in os.environ for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_MODE")
    ):
        return
    import secrets

    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def ray_available() -> bool:
    """Tell whether Ray is installed."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


@contextmanager
def make_pool(workers: int, address: str | None = None, use_ray: bool = True) -> Iterator[Any]:
    """Yield a Ray pool when Ray is installed (and wanted), else a process pool."""
    if not 1 <= workers <= MAX_WORKERS:
        from tradeguard.model.errors import ConfigError

        raise ConfigError(f"--workers {workers}: must be between 1 and {MAX_WORKERS}")
    pool: RayPool | ProcessPool
    if use_ray and ray_available():
        pool = RayPool(workers, address)
    else:
        if address:
            from tradeguard.model.errors import ConfigError

            raise ConfigError(
                f"--ray-address {address}: Ray is not installed (pip install 'tradeguard[sweep]')"
            )
        why = "Ray not installed" if use_ray else "Ray not asked for"
        pool = ProcessPool(workers, f"local process pool, {workers} workers ({why})")
    interrupted = False
    try:
        yield pool
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        pool.close(interrupted)
