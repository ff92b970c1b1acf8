"""``--memory`` measurements, one per process (run by ``_child.py``):

- ``upload-traced`` / ``upload-rss``: peak memory growth while POSTing a prebuilt 100 MiB
  bytes body to an app that counts and drops it;
- ``download-traced`` / ``download-rss``: the same while reading a 100 MiB response (the
  app sends fresh 64 KiB pieces) in 64 KiB reads;
- ``ttfb-length`` / ``ttfb-chunked``: time to the first body bytes of a response whose app
  sends a first chunk, sleeps 1 s, then sends the rest (with / without Content-Length).

"traced" is tracemalloc's peak above the traced memory at the start; "rss" is the peak
resident set (VmHWM, reset through /proc/PID/clear_refs) above the resident set at the
start — for uvicorn, of the client and of the server process. Each starts after a small
warm-up request on the same connection, so imports and the connection are not counted.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import tracemalloc
from time import perf_counter
from typing import Any

from _apps import MIB, Request, expect
from _clients import CheckFailed, open_client

__all__ = ("BODY_SIZE", "MEASUREMENTS", "memory")

BODY_SIZE = 100 * MIB
MEASUREMENTS = ("upload-traced", "upload-rss", "download-traced", "download-rss",
                "ttfb-length", "ttfb-chunked")
TTFB_BOUND = 5.0  # seconds: a response not complete by then is an error, not a hang


def _proc_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


class PeakRss:
    """Peak RSS growth of some processes from now on (VmHWM reset by clear_refs); without
    /proc, this process's ru_maxrss growth (which misses peaks below an earlier one)."""

    def __init__(self, pids: list[int]) -> None:
        self._pids = pids
        try:
            for pid in pids:
                with open(f"/proc/{pid}/clear_refs", "w") as refs:
                    refs.write("5")
            self._base = {pid: _proc_kib(pid, "VmRSS") for pid in pids}
            self._proc = True
        except OSError:
            self._pids, self._proc = [os.getpid()], False
            self._base = {os.getpid(): resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}

    def growth(self) -> list[int]:
        """Bytes of growth per process, in the order given."""
        if self._proc:
            return [(_proc_kib(pid, "VmHWM") - self._base[pid]) * 1024 for pid in self._pids]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return [(peak - self._base[os.getpid()]) * 1024]


async def _ttfb(column: str, name: str, loop: str) -> dict[str, Any]:
    async with open_client(column, name, None, loop) as client:
        await asyncio.wait_for(client.request(Request("GET", "/?sleep=0", read="any")),
                               TTFB_BOUND)
        start = perf_counter()
        try:
            reply = await asyncio.wait_for(
                client.request(Request("GET", "/?sleep=1.0", read="any")), TTFB_BOUND)
        except asyncio.TimeoutError:
            raise RuntimeError(f"no complete response within {TTFB_BOUND} s") from None
        total = perf_counter() - start
    reason = expect(length=1000)(reply)
    if reason or reply.first_at is None:
        raise CheckFailed(reason or "no body")
    return {"status": "ok", "ttfb": reply.first_at - start, "total": total}


async def memory(spec: dict[str, Any]) -> dict[str, Any]:
    column, name, loop = spec["column"], spec["measurement"], spec["loop"]
    if name.startswith("ttfb"):
        return await _ttfb(column, name, loop)
    what, how = name.split("-")
    if what == "upload":
        body = b"m" * BODY_SIZE  # prebuilt: not part of the growth
        app, check = "count-upload", expect(body=b"%d" % BODY_SIZE)
        warm, big = Request("POST", "/", body=b"w" * 1024), Request("POST", "/", body=body)
    else:
        app, check = "download", expect(length=BODY_SIZE)
        warm = Request("GET", "/?size=65536", read="64k")
        big = Request("GET", f"/?size={BODY_SIZE}", read="64k")
    async with open_client(column, app, big, loop) as client:  # big: the floor's canned
        await client.request(warm)
        gc.collect()
        server_pid = getattr(client, "server_pid", None)
        if how == "traced":
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
            reply = await client.request(big)
            growth = [tracemalloc.get_traced_memory()[1] - base]
            tracemalloc.stop()
        else:
            peak = PeakRss([os.getpid()] + ([server_pid] if server_pid else []))
            reply = await client.request(big)
            growth = peak.growth()
    reason = check(reply)
    if reason:
        raise CheckFailed(reason)
    return {"status": "ok", "growth": sum(growth), "parts": growth,
            "ratio": sum(growth) / BODY_SIZE}
