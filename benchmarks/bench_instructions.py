"""Instructions per request under callgrind: a noise-free companion to suite.py.

    python benchmarks/bench_instructions.py [--workloads get-small,...] [--columns ...]

On a shared machine wall-clock ratios move by about +-0.1 between runs. valgrind's
callgrind counts the instructions a process executes: the same on every run of the same
build and inputs, whatever else the machine is doing. Each (column, workload) runs
``_child.py``'s ``count`` mode twice under callgrind, with N and 3N operations after the
same warm-up; the difference over 2N operations is the cost of one request, start-up and
warm-up excluded. ideal = app-only + aiohttp-only instructions; ``x ideal`` = ideal /
column, as in suite.py.

Instructions are not time: cache misses, branch mispredictions and system calls are not
counted (code that touches more memory is slower than its count says), and uvicorn's
server runs in another process (left out). Use this to compare builds and columns without
noise; report speed from suite.py. ``beyond aiohttp`` (compiled, pure, rival: aiohttp
clients) is the column minus the aiohttp-only floor: the connector's work plus the app's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _apps import WORKLOADS
from suite import child_env

HERE = Path(__file__).resolve().parent
COLUMNS = ("app", "aiohttp", "compiled", "pure", "rival", "httpx", "asgi-tools")
# Columns whose client is aiohttp: "beyond aiohttp" is what they add to the aiohttp-only
# floor, the app included.
AIOHTTP_COLUMNS = ("compiled", "pure", "rival")
DEFAULT_WORKLOADS = ("get-small", "post-echo-1k", "headers-50", "concurrent-100",
                     "stream-1000", "fastapi-json")
# Operations in the shorter of the two runs (the longer has three times as many): enough
# that one run's count dwarfs the noise of start-up (dict layouts, GC timing).
OPS = {"concurrent-100": 4, "stream-1000": 60, "fastapi-json": 100, "upload-10m": 4,
       "download-10m": 4, "ws-echo": 2}
DEFAULT_OPS = 300
WARMUP_OPS = 20
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(column: str, workload: str, ops: int) -> int:
    spec = {"mode": "count", "column": column, "workload": workload, "loop": "asyncio",
            "ops": ops, "warmup_ops": WARMUP_OPS}
    env = child_env(column)
    env["PYTHONHASHSEED"] = "0"  # the same dict layouts in both runs
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, str(HERE / "_child.py"), json.dumps(spec)],
        capture_output=True, text=True, env=env, check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if lines else {"status": "err", "reason": done.stderr[-300:]}
    if result["status"] != "ok":
        raise RuntimeError(f"{column} {workload}: {result.get('reason')}")
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"{column} {workload}: no callgrind total in {done.stderr[-300:]!r}")
    return int(found.group(1))


def per_request(column: str, workload: str, pool: ThreadPoolExecutor) -> float:
    n = OPS.get(workload, DEFAULT_OPS)
    short, long = pool.map(lambda ops: instructions(column, workload, ops), (n, 3 * n))
    return (long - short) / (2 * n * WORKLOADS[workload].per_op)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default=",".join(DEFAULT_WORKLOADS))
    parser.add_argument("--columns", default=",".join(COLUMNS))
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    columns = args.columns.split(",")
    unknown = [w for w in workloads if w not in WORKLOADS] + [
        c for c in columns if c not in COLUMNS]
    if unknown:
        raise SystemExit(f"unknown workloads/columns: {', '.join(unknown)} "
                         f"(columns: {', '.join(COLUMNS)})")
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    print(f"python {sys.version.split()[0]}; instructions per request (callgrind), "
          f"difference of {{N, 3N}} operations; PYTHONHASHSEED=0\n")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for workload in workloads:
            counts: dict[str, float | str] = {}
            for column in columns:
                try:
                    counts[column] = per_request(column, workload, pool)
                except RuntimeError as exc:
                    counts[column] = "ERR"
                    print(f"  {exc}", file=sys.stderr)
                print(f"[{workload} {column}] {counts[column]}", file=sys.stderr, flush=True)
            app, client = counts.get("app"), counts.get("aiohttp")
            ideal = app + client if isinstance(app, float) and isinstance(client, float) else None
            print(f"{workload:<28}{'instructions':>14}{'x ideal':>9}{'beyond aiohttp':>16}")
            for column, value in counts.items():
                if isinstance(value, str):
                    print(f"  {column:<26}{value:>14}")
                    continue
                ratio = beyond = ""
                if ideal and column not in ("app", "aiohttp"):
                    ratio = f"{ideal / value:.3f}"
                if isinstance(client, float) and column in AIOHTTP_COLUMNS:
                    beyond = f"{value - client:,.0f}"
                print(f"  {column:<26}{value:>14,.0f}{ratio:>9}{beyond:>16}")
            if ideal:
                print(f"  {'ideal (app + aiohttp)':<26}{ideal:>14,.0f}")
            compiled, pure = counts.get("compiled"), counts.get("pure")
            if isinstance(compiled, float) and isinstance(pure, float):
                print(f"  pure / compiled: {pure / compiled:.3f}")
            print(flush=True)


if __name__ == "__main__":
    main()
