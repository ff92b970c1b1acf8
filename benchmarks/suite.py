"""The peer benchmark suite (issue 4): every workload against every column, each
(column, workload, repeat) in its own process, repeats interleaved.

    python benchmarks/suite.py                    # the full table (~6 min on 2 cores)
    python benchmarks/suite.py --loop uvloop      # the same with uvloop in every process
    python benchmarks/suite.py --memory           # peak memory growth and time to first byte
    python benchmarks/suite.py --workloads get-small,ws-echo --columns compiled,rival \\
        --repeats 5 --seconds 2 --json results.json

Prints req/s (MiB/s for the 10 MiB bodies), the median over repeats, the spread
((max - min) / median) and each column's ratio to aiohttp-asgi-connector ("x rival") and to
the ideal 1 / (1/app_only + 1/aiohttp_only) ("x ideal"). ERR and n/a cells carry a footnote
with the reason. See benchmarks/README.md for what each column and workload is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from _apps import WORKLOADS
from _clients import COLUMNS
from _memory import MEASUREMENTS
from _report import Footnotes, format_memory, format_speed, summarize

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
# Known before running: these columns have no WebSocket client (printed as n/a).
NOT_APPLICABLE = {
    ("rival", "ws-echo"): "aiohttp-asgi-connector has no WebSocket support",
    ("httpx", "ws-echo"): "httpx.ASGITransport has no WebSocket support",
}
MEMORY_COLUMNS = ("aiohttp", "compiled", "pure", "rival", "httpx", "asgi-tools", "uvicorn")


def child_env(column: str) -> dict[str, str]:
    env = dict(os.environ)
    if (SRC / "aiohttp_asgi_fast").is_dir():  # a checkout: the package built in place
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("AIOHTTP_ASGI_NO_EXTENSIONS", None)
    if column == "pure":
        env["AIOHTTP_ASGI_NO_EXTENSIONS"] = "1"
    return env


def run_child(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one measurement process; a timeout kills its process group (it and its uvicorn)."""
    cmd = [sys.executable, str(HERE / "_child.py"), json.dumps(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(spec["column"]), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "err", "reason": f"timeout (no result within {timeout:g} s)"}
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    lines = [line for line in out.splitlines() if line.startswith("{")]
    result: dict[str, Any]
    if lines:
        result = json.loads(lines[-1])
    else:
        last = (err.strip().splitlines() or ["no output"])[-1]
        result = {"status": "err", "reason": f"exit code {proc.returncode}: {last}"[:300]}
    if result["status"] == "err" and err.strip():
        print("\n".join("    | " + line for line in err.strip().splitlines()[-15:]),
              file=sys.stderr)
    return result


def environment(loop: str) -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    probe = "import aiohttp_asgi_fast as m; print(m.__version__, m.IMPLEMENTATION)"
    ours = {}
    for column in ("compiled", "pure"):
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              env=child_env(column), check=False)
        ours[column] = done.stdout.strip() or "import failed"
    env = {"python": f"{platform.python_implementation()} {platform.python_version()}",
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
                      + " ".join(f"{load:.2f}" for load in os.getloadavg()),
           "aiohttp": version("aiohttp"),
           "loop": loop + (f" {version('uvloop')}" if loop == "uvloop" else ""),
           "aiohttp-asgi-fast": f"{ours['compiled']} / pure column: {ours['pure']}",
           "aiohttp-asgi-connector": version("aiohttp-asgi-connector"),
           "httpx": version("httpx"), "asgi-tools": version("asgi-tools"),
           "uvicorn": f"{version('uvicorn')} (httptools {version('httptools')})",
           "fastapi": f"{version('fastapi')} (pydantic {version('pydantic')})"}
    return env


def run_speed(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]], Any]:
    results: list[dict[str, Any]] = []
    total = args.repeats * len(args.workloads) * len(args.columns)
    done = 0
    for repeat in range(1, args.repeats + 1):
        for workload in args.workloads:
            for column in args.columns:
                done += 1
                base = {"column": column, "workload": workload, "repeat": repeat}
                if (column, workload) in NOT_APPLICABLE:
                    results.append(base | {"status": "na",
                                           "reason": NOT_APPLICABLE[(column, workload)]})
                    continue
                spec = base | {"mode": "speed", "seconds": args.seconds,
                               "warmup": args.warmup, "loop": args.loop}
                result = base | run_child(spec, args.timeout)
                results.append(result)
                shown = (f"{result['rate']:,.0f}/s" if result["status"] == "ok"
                         else f"{result['status'].upper()} {result.get('reason', '')}")
                print(f"[{done:>3}/{total}] r{repeat} {workload:<15}{column:<11}{shown}",
                      file=sys.stderr, flush=True)
    summary = summarize(results)
    notes = Footnotes()
    table = format_speed(summary, args.workloads, args.columns, notes)
    if notes.notes:
        table += "\n\n" + notes.render()
    json_summary = [{"workload": w, "column": c} | cell for (w, c), cell in summary.items()]
    return table, results, json_summary


def run_memory(args: argparse.Namespace) -> tuple[str, list[dict[str, Any]], Any]:
    columns = [c for c in args.columns if c in MEMORY_COLUMNS]
    measurements = [m for m in MEASUREMENTS if m in args.measurements]
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for measurement in measurements:
        for column in columns:
            if column == "aiohttp" and measurement.startswith("ttfb"):
                results[(measurement, column)] = {
                    "status": "na", "reason": "a canned response has no pause to time"}
                continue
            spec = {"mode": "memory", "column": column, "measurement": measurement,
                    "loop": args.loop}
            result = results[(measurement, column)] = run_child(spec, args.timeout)
            shown = {k: v for k, v in result.items() if k != "status"}
            print(f"{measurement:<16}{column:<11}{result['status'].upper()} {shown}",
                  file=sys.stderr, flush=True)
    notes = Footnotes()
    table = ("Peak memory growth for a 100 MiB body (MiB, and x = growth / 100 MiB) and time "
             "to first byte\n(app sends a first chunk, sleeps 1 s, sends the rest)\n\n"
             + format_memory(results, measurements, columns, notes)
             + "\n\ntraced: tracemalloc peak of the client process. RSS: peak resident set "
             "growth (VmHWM);\nfor uvicorn the client's plus the server's. "
             "aiohttp-only floor: aiohttp itself with a canned peer.")
    if notes.notes:
        table += "\n\n" + notes.render()
    raw = [{"measurement": m, "column": c} | r for (m, c), r in results.items()]
    return table, raw, raw


def _names(text: str, known: tuple[str, ...] | list[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma list (default: all)")
    parser.add_argument("--columns", default=",".join(COLUMNS), help="comma list (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="per measurement, after the warm-up (at least one operation)")
    parser.add_argument("--warmup", type=float, default=0.2,
                        help="seconds of warm-up (at least one operation)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds before a measurement process is killed (ERR timeout)")
    parser.add_argument("--memory", action="store_true",
                        help="memory growth and time to first byte instead of speed")
    parser.add_argument("--measurements", default=",".join(MEASUREMENTS),
                        help="with --memory: comma list (default: all)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    args = parser.parse_args()
    args.workloads = _names(args.workloads, list(WORKLOADS), "workloads")
    args.columns = _names(args.columns, COLUMNS, "columns")
    args.measurements = _names(args.measurements, MEASUREMENTS, "measurements")

    started = time.perf_counter()
    env = environment(args.loop)
    table, raw, summary = run_memory(args) if args.memory else run_speed(args)
    elapsed = time.perf_counter() - started
    print("\n" + "; ".join(f"{k} {v}" for k, v in env.items()))
    print(table)
    print(f"\n{'memory' if args.memory else 'speed'} run took {elapsed:.0f} s")
    if args.json:
        options = {k: v for k, v in vars(args).items() if k != "json"}
        Path(args.json).write_text(json.dumps(
            {"environment": env, "options": options, "elapsed": elapsed,
             "summary": summary, "results": raw}, indent=1))


if __name__ == "__main__":
    main()
