"""Apps for the bench review's regression tests (tests/test_bench_review.py).

With ``BENCH_REVIEW_DIR`` set, every app that supports the lifespan creates
``started-<pid>`` there when its startup completes (the load is about to start), so a
test can time a signal from the start of the load rather than of the process.

``app``: 200 ``ok`` on every path (``/slow?ms=N`` after N ms). ``stall``: as ``app``,
but every 20th request blocks the event loop for 50 ms. ``hang``: never answers.
``startup_raises``: its lifespan startup raises ``RuntimeError("db down")``.
``system_exit``: every request raises ``SystemExit(3)``. ``one_worker_exits``: the first
process to serve 200 requests dies at once (``os._exit(3)``), the others serve on.
"""

from __future__ import annotations

import asyncio
import os
import time


def _mark(name: str) -> bool:
    """Create ``$BENCH_REVIEW_DIR/<name>``; False when it exists already (or no dir)."""
    directory = os.environ.get("BENCH_REVIEW_DIR")
    if not directory:
        return False
    try:
        os.close(os.open(os.path.join(directory, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


async def _lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _mark(f"started-{os.getpid()}")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _ok(send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(int(scope["query_string"].decode().partition("ms=")[2]) / 1000)
    await _ok(send)


_stall_count = 0


async def stall(scope, receive, send):
    global _stall_count
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    _stall_count += 1
    if _stall_count % 20 == 0:
        # Holds the event loop: every send due meanwhile leaves late.
        time.sleep(0.05)  # noqa: ASYNC251
    await _ok(send)


async def hang(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    await asyncio.Event().wait()  # never answers


async def startup_raises(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        raise RuntimeError("db down")
    await _ok(send)


async def system_exit(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    raise SystemExit(3)


_served = 0


async def one_worker_exits(scope, receive, send):
    global _served
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    _served += 1
    if _served == 200 and _mark("exited"):
        os._exit(3)  # this worker process dies mid-load; only the first to get here
    await _ok(send)
