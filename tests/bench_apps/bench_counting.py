"""An app that records what it served, for checks the report alone cannot make.

With ``BENCH_COUNT_DIR`` set, the lifespan startup creates ``started-<pid>`` there (the
app is ready: the load is about to start) and the shutdown writes ``counts-<pid>``, the
JSON ``{"counts": {path: requests}, "order": [path, ...]}`` (the order in which the
requests reached the app). Every process (worker) has its own files.
``/a`` answers ``a`` (1 byte), ``/b`` ``bbb`` (3 bytes), anything else ``other``.
"""

from __future__ import annotations

import json
import os
from collections import Counter

served: Counter[str] = Counter()
order: list[str] = []


def _write(name: str, data: object) -> None:
    """``$BENCH_COUNT_DIR/<name>-<pid>``: ``data`` as JSON, or empty for None."""
    directory = os.environ.get("BENCH_COUNT_DIR")
    if not directory:
        return
    with open(os.path.join(directory, f"{name}-{os.getpid()}"), "w", encoding="utf-8") as file:
        if data is not None:
            json.dump(data, file)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _write("started", None)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _write("counts", {"counts": dict(served), "order": order})
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    served[path] += 1
    order.append(path)
    body = b"a" if path == "/a" else b"bbb" if path == "/b" else b"other"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
