"""One measurement in its own process: ``suite.py`` runs

    python benchmarks/_child.py '{"mode": "speed", "column": ..., "workload": ..., ...}'

and reads the JSON object this prints as its last stdout line: ``status`` ``ok`` (with the
numbers), ``err`` or ``na`` (with a ``reason``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from time import perf_counter
from typing import Any

from _apps import MIB, WORKLOADS, WS_MESSAGES, Workload
from _clients import CheckFailed, Client, NotSupported, open_client

__all__ = ("count", "make_op", "run_in_loop", "speed")


def make_op(client: Client, workload: Workload) -> Callable[[], Awaitable[None]]:
    """One measured operation: a request, 100 concurrent ones, or 1000 WebSocket echoes."""
    req, check = workload.request, workload.check

    async def one() -> None:
        reason = check(await client.request(req))
        if reason:
            raise CheckFailed(reason)

    async def concurrent() -> None:
        for reply in await asyncio.gather(*(client.request(req) for _ in
                                            range(workload.per_op))):
            reason = check(reply)
            if reason:
                raise CheckFailed(reason)

    async def ws() -> None:
        echoed = await client.ws_echo(req.path, WS_MESSAGES)
        if echoed != WS_MESSAGES:
            pairs = enumerate(zip(echoed, WS_MESSAGES, strict=False))
            bad = next((i for i, (a, b) in pairs if a != b), min(len(echoed), len(WS_MESSAGES)))
            got = echoed[bad] if bad < len(echoed) else "nothing"
            raise CheckFailed(f"echo {bad}: {got!r}, expected {WS_MESSAGES[bad]!r}")

    return {"http": one, "concurrent": concurrent, "ws": ws}[workload.kind]


async def speed(spec: dict[str, Any]) -> dict[str, Any]:
    """Warm up (at least one operation), then run operations for ``seconds`` (at least one)."""
    workload = WORKLOADS[spec["workload"]]
    async with open_client(spec["column"], workload.app, workload.request,
                           spec["loop"]) as client:
        op = make_op(client, workload)
        warm_until = perf_counter() + spec["warmup"]
        await op()
        while perf_counter() < warm_until:
            await op()
        ops, start = 0, perf_counter()
        while True:
            await op()
            ops += 1
            elapsed = perf_counter() - start
            if elapsed >= spec["seconds"]:
                break
    return {"status": "ok", "ops": ops, "elapsed": elapsed,
            "rate": ops * workload.per_op / elapsed,
            "mib_s": ops * workload.bytes_per_op / elapsed / MIB}


async def count(spec: dict[str, Any]) -> dict[str, Any]:
    """``warmup_ops`` then ``ops`` operations, untimed: bench_instructions.py runs this
    under callgrind twice with different ``ops`` and takes the difference."""
    workload = WORKLOADS[spec["workload"]]
    async with open_client(spec["column"], workload.app, workload.request,
                           spec["loop"]) as client:
        op = make_op(client, workload)
        for _ in range(spec["warmup_ops"] + spec["ops"]):
            await op()
    return {"status": "ok", "ops": spec["ops"]}


def run_in_loop(coro: Coroutine[Any, Any, dict[str, Any]], loop: str) -> dict[str, Any]:
    if loop == "uvloop":
        import uvloop

        if sys.version_info >= (3, 11):
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(coro)
        uvloop.install()
    return asyncio.run(coro)


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["mode"] == "speed":
        coro = speed(spec)
    elif spec["mode"] == "count":
        coro = count(spec)
    else:
        from _memory import memory

        coro = memory(spec)
    try:
        result = run_in_loop(coro, spec["loop"])
    except NotSupported as exc:
        result = {"status": "na", "reason": str(exc)}
    except CheckFailed as exc:
        result = {"status": "err", "reason": f"wrong answer: {exc}"}
    except Exception as exc:
        traceback.print_exc()
        result = {"status": "err", "reason": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
