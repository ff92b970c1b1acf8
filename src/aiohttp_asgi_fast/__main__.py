"""Command line: an in-process load test of an ASGI app through the connector.

    aiohttp-asgi-fast bench aiohttp_asgi_fast.demo:app --requests 5000 --concurrency 10

Every response is checked against the expected status; a wrong answer is counted and
makes the command exit non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import ClientSession

from . import IMPLEMENTATION, __version__
from .connector import ASGIApplicationConnector

__all__ = ("load_app", "main")


def load_app(spec: str) -> Any:
    """Import ``module:attribute`` (attribute may be dotted) and return the object."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise SystemExit(f"error: app must look like 'module:attribute', got {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(f"error: cannot import module {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SystemExit(f"error: module {module_name!r} has no attribute {attr!r}") from None
    return obj


async def _bench(args: argparse.Namespace) -> int:
    app = load_app(args.app)
    body = args.data.encode() if args.data is not None else None
    latencies: list[float] = []
    errors: list[str] = []
    remaining = args.requests

    connector = ASGIApplicationConnector(app, limit=args.concurrency)
    async with ClientSession(base_url="http://testserver", connector=connector) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                start = time.perf_counter()
                try:
                    async with session.request(args.method, args.path, data=body) as resp:
                        await resp.read()
                        if resp.status != args.expect_status:
                            errors.append(f"status {resp.status}")
                except Exception as exc:  # report, don't die: a load test counts failures
                    errors.append(repr(exc))
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started

    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    print(
        f"aiohttp-asgi-fast {__version__} ({IMPLEMENTATION} hot path): "
        f"{args.method} {args.path} on {args.app}"
    )
    print(
        f"{len(latencies)} requests, concurrency {args.concurrency}, {elapsed:.3f} s: "
        f"{len(latencies) / elapsed:,.0f} req/s"
    )
    print(f"latency ms: p50 {pct(0.5):.3f}  p90 {pct(0.9):.3f}  p99 {pct(0.99):.3f}")
    if errors:
        print(f"{len(errors)} failed requests, first: {errors[0]}", file=sys.stderr)
        return 1
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aiohttp-asgi-fast", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="load-test an ASGI app in-process")
    bench.add_argument("app", help="the ASGI app as module:attribute")
    bench.add_argument("-n", "--requests", type=_positive, default=5000)
    bench.add_argument("-c", "--concurrency", type=_positive, default=10)
    bench.add_argument("-m", "--method", default="GET")
    bench.add_argument("-p", "--path", default="/")
    bench.add_argument("-d", "--data", default=None, help="request body (text)")
    bench.add_argument("--expect-status", type=int, default=200)
    args = parser.parse_args(argv)
    return asyncio.run(_bench(args))


if __name__ == "__main__":
    sys.exit(main())
