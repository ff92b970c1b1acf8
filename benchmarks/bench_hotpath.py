"""Micro-benchmark of the hot-path functions alone, compiled vs pure.

    python benchmarks/bench_hotpath.py

Times request bytes -> scope (a 6-header and a 50-header GET) and response head
framing, for each twin that imports, and prints the compiled/pure ratio (the best of
ROUNDS interleaved rounds each).
"""

from __future__ import annotations

import importlib
import timeit
from collections.abc import Callable
from types import ModuleType
from typing import Any

REQUEST_6 = (
    b"GET /items/42?q=x HTTP/1.1\r\nHost: testserver\r\nUser-Agent: bench\r\n"
    b"Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    b"Cookie: a=1\r\n\r\n"
)
REQUEST_50 = (
    b"GET /items/42?q=x HTTP/1.1\r\nHost: testserver\r\n"
    + b"".join(b"X-Header-%02d: value number %02d\r\n" % (i, i) for i in range(49))
    + b"\r\n"
)
ROUNDS = 9
HEAD_HEADERS = [(b"content-type", b"application/json"), (b"x-request-id", b"abc123"),
                (b"cache-control", b"no-store"), (b"set-cookie", b"a=1; Path=/")]


class Sink:
    def on_request(self, scope: Any, expect_continue: bool, keep_alive: bool) -> None:
        pass

    def on_body(self, body: bytes) -> None:
        pass

    def on_request_complete(self) -> None:
        pass

    def on_upgrade(self, data: bytes) -> None:
        pass


def _cases(mod: ModuleType) -> dict[str, Callable[[], object]]:
    parser = mod.RequestParser(Sink(), scheme="http", server=("testserver", 80),
                               client=("127.0.0.1", 123), root_path="")
    encode = mod.encode_response_head
    return {
        "request-6-headers": lambda: parser.feed_data(REQUEST_6),
        "request-50-headers": lambda: parser.feed_data(REQUEST_50),
        "response-head": lambda: encode(200, HEAD_HEADERS, head_request=False, body_length=13),
    }


def main() -> None:
    twins: dict[str, dict[str, Callable[[], object]]] = {}
    for label, name in (("compiled", "aiohttp_asgi_fast._parser"),
                        ("pure", "aiohttp_asgi_fast._parser_py")):
        try:
            twins[label] = _cases(importlib.import_module(name))
        except ImportError as exc:
            print(f"{label}: not available ({exc})")
    if not twins:
        raise SystemExit("neither twin imports: run with PYTHONPATH=src or install the package")
    # Rounds interleave the twins and the best round counts (as timeit advises): on a
    # shared machine noise only ever adds time.
    best = {label: dict.fromkeys(cases, float("inf")) for label, cases in twins.items()}
    for _ in range(ROUNDS):
        for label, cases in twins.items():
            for workload, call in cases.items():
                n, total = timeit.Timer(call).autorange()
                best[label][workload] = min(best[label][workload], total / n)
    print(f"{'workload':<22}" + "".join(f"{k:>14}" for k in best) + "   compiled/pure speed-up")
    for workload in next(iter(best.values())):
        cells = "".join(f"{best[k][workload] * 1e6:>12.2f}us" for k in best)
        ratio = ""
        if "compiled" in best and "pure" in best:
            ratio = f"{best['pure'][workload] / best['compiled'][workload]:>10.2f}x"
        print(f"{workload:<22}{cells}   {ratio}")


if __name__ == "__main__":
    main()
