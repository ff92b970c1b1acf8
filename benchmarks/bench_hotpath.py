"""Micro-benchmark of the hot-path functions alone, compiled vs pure.

    python benchmarks/bench_hotpath.py

Times request bytes -> scope (a 6-header and a 50-header GET) and response head
framing, for each twin that imports, and prints the compiled/pure ratio.
"""

from __future__ import annotations

import importlib
import timeit
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
HEAD_HEADERS = [(b"content-type", b"application/json"), (b"x-request-id", b"abc123"),
                (b"cache-control", b"no-store"), (b"set-cookie", b"a=1; Path=/")]


class Sink:
    def on_request(self, scope: Any, expect_continue: bool) -> None:
        pass

    def on_body(self, body: bytes) -> None:
        pass

    def on_request_complete(self) -> None:
        pass

    def on_upgrade(self, data: bytes) -> None:
        pass


def time_module(mod: ModuleType) -> dict[str, float]:
    parser = mod.RequestParser(Sink(), scheme="http", server=("testserver", 80),
                               client=("127.0.0.1", 123), root_path="")
    results = {}
    for name, request in (("request-6-headers", REQUEST_6), ("request-50-headers", REQUEST_50)):
        n, total = timeit.Timer(lambda r=request: parser.feed_data(r)).autorange()
        results[name] = total / n
    encode = mod.encode_response_head
    n, total = timeit.Timer(
        lambda: encode(200, HEAD_HEADERS, head_request=False, body_length=13)
    ).autorange()
    results["response-head"] = total / n
    return results


def main() -> None:
    rows: dict[str, dict[str, float]] = {}
    for label, name in (("compiled", "aiohttp_asgi_fast._parser"),
                        ("pure", "aiohttp_asgi_fast._parser_py")):
        try:
            rows[label] = time_module(importlib.import_module(name))
        except ImportError as exc:
            print(f"{label}: not available ({exc})")
    print(f"{'workload':<22}" + "".join(f"{k:>14}" for k in rows) + "   compiled/pure speed-up")
    for workload in next(iter(rows.values())):
        cells = "".join(f"{rows[k][workload] * 1e6:>12.2f}us" for k in rows)
        ratio = ""
        if "compiled" in rows and "pure" in rows:
            ratio = f"{rows['pure'][workload] / rows['compiled'][workload]:>10.2f}x"
        print(f"{workload:<22}{cells}   {ratio}")


if __name__ == "__main__":
    main()
