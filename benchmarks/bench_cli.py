"""The load-test CLI (``aiohttp-asgi-fast bench``) measured: its own cost, workers, memory,
and against uvicorn + wrk. Run by hand, never by the tests.

    python benchmarks/bench_cli.py                 # everything (~12 min on a quiet 2-core VM)
    python benchmarks/bench_cli.py --quick         # smaller runs (~2 min; no 1,000,000 run)
    python benchmarks/bench_cli.py --only cost,instructions --json results.json
    python benchmarks/bench_cli.py --max-wait 0    # never wait for a quiet machine

Sections (``--only``, comma-separated):

- ``cost``: the demo app's ``GET /`` at ``-c 10``: ``bench`` against a bare loop of
  ``session.get`` (10 tasks, the same connector and session settings), interleaved pairs,
  each run in a fresh process; then the bare loop, the same loop making bench's leaner
  call (await, read, release) and bench's load phase in one process, in rotating blocks of
  8,192 requests (fresh processes differ by more than 5% among themselves). Target: bench
  >= 95% of the bare loop's req/s (the in-process median).
- ``instructions``: the same under valgrind's callgrind: instructions per request from the
  difference of a long and a short run (start-up and imports cancel out), for whole
  processes and for what the req/s clocks time (callgrind counting only inside the timed
  window, ``_callgrind_window.py``). Noise-free within a few thousand instructions; on a
  shared VM the figure to go by (the wall clock cannot resolve 3% even in one process).
- ``workers``: ``bench -c 10`` against ``bench -c 10 --workers 2``, interleaved.
  Target: >= 1.7x.
- ``memory``: the peak RSS of ``bench -n 10,000`` against ``bench -n 1,000,000``
  (``--quick``: 100,000). Target: < 10 MB more.
- ``fastapi``: FastAPI's hello world (``_fastapi_hello.py``) served by uvicorn (its default
  loop and HTTP implementation) and loaded by ``wrk -t2 -c10 --latency``, against
  ``bench -c 10`` and ``bench -c 10 --workers 2`` in-process. Target: ``--workers 2``
  at least matches uvicorn + wrk's req/s.

Every ``bench`` run is ``sys.executable -m aiohttp_asgi_fast bench ... -q --json -``; from a
checkout, ``src/`` comes first on its ``PYTHONPATH``. A run of this script with ``--bare N``
is the bare loop's own process (prints one JSON line). On a shared machine, each
measurement first waits (``--max-wait``) for the rest of the machine to go quiet, and every
row shows the "other load" during it (``OtherLoad``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _callgrind_window

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SRC = ROOT / "src"
SECTIONS = ("cost", "instructions", "workers", "memory", "fastapi")
CONCURRENCY = 10
_COLLECTED = re.compile(r"Collected : (\d+)")


# -- the bare loop (its own process) -------------------------------------------------


async def _bare_loop(requests: int, concurrency: int, lean: bool = False) -> dict[str, Any]:
    from aiohttp_asgi_fast import ASGIApplicationConnector
    from aiohttp_asgi_fast.demo import app

    connector = ASGIApplicationConnector(app, limit=concurrency, lifespan=True)
    await connector.startup()  # as bench does, before the clock starts
    try:
        return await _bare_requests(connector, requests, concurrency, lean)
    finally:
        await connector.close()


async def _bare_requests(connector: Any, requests: int, concurrency: int,
                         lean: bool = False) -> dict[str, Any]:
    """The bare loop: ``async with session.get("/")`` as people write it; ``lean``: the
    call bench's virtual user makes (await the request, read, release in a finally),
    which skips the context manager's ~12k instructions."""
    import aiohttp

    remaining = requests
    failed = 0
    async with aiohttp.ClientSession(base_url="http://testserver", connector=connector,
                                     connector_owner=False,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:

        async def user() -> None:
            nonlocal remaining, failed
            while remaining > 0:
                remaining -= 1
                async with session.get("/") as response:
                    await response.read()
                    if response.status != 200:
                        failed += 1

        async def lean_user() -> None:
            nonlocal remaining, failed
            while remaining > 0:
                remaining -= 1
                response = await session.get("/")
                try:
                    await response.read()
                finally:
                    response.release()
                if response.status != 200:
                    failed += 1

        toggle = _callgrind_window.toggler()  # under callgrind: count only what is timed
        toggle()
        started = time.perf_counter()
        await asyncio.gather(*((lean_user if lean else user)() for _ in range(concurrency)))
        duration = time.perf_counter() - started
        toggle()
    return {"requests": requests, "failed": failed, "duration_s": duration,
            "rps": requests / duration}


def _bare_main(requests: int, concurrency: int, lean: bool) -> None:
    print(json.dumps(asyncio.run(_bare_loop(requests, concurrency, lean))), flush=True)


async def _load_only(requests: int, concurrency: int) -> dict[str, Any]:
    """bench's load phase alone (what its req/s measures): the CLI's own prepare() and
    run_load() on the demo app, without argument parsing, progress or the report."""
    from aiohttp_asgi_fast.bench import _runner
    from aiohttp_asgi_fast.bench._options import build_parser, options_from_args
    from aiohttp_asgi_fast.bench._runner import prepare, run_load

    toggle = _callgrind_window.toggler()

    class TimedWindow(_runner.Schedule):
        """Under callgrind, counts from the schedule's start to the end of the load: the
        window bench's req/s is taken over (Schedule.start_ns .. the end_ns it closes
        with)."""

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            toggle()

        def close(self, end_ns: int) -> None:
            toggle()
            super().close(end_ns)

    _runner.Schedule = TimedWindow  # type: ignore[misc]  # a measurement harness only
    args = build_parser("bench", "0").parse_args(
        ["bench", "-n", str(requests), "-c", str(concurrency), "-q"])
    prepared, _ = await prepare(options_from_args(args, "compiled"))
    try:
        recorder = await run_load(prepared, asyncio.Event(), None, requests=requests,
                                  duration=None, warmup=0.0)
    finally:
        await prepared.close()
    return {"requests": requests, "failed": recorder.failed, "ok": recorder.ok}


async def _interleaved(blocks: int, requests: int, concurrency: int) -> dict[str, Any]:
    """The bare loop (``async with``), the same loop making bench's leaner call, and
    bench's load phase in one process, in rotating blocks of ``requests``: the req/s of
    each block, and bench's ratio to each loop in the same round. One process removes
    what differs between fresh processes (memory layout, hash seeds: two bare loops
    started together on separate cores have differed by 0.63-1.36x here), and short
    rotating blocks the machine's drift. A block should hold a few of the recorder's
    4,096-tuple batches, so that their counting falls inside bench's clock as in a run."""
    from aiohttp_asgi_fast import ASGIApplicationConnector
    from aiohttp_asgi_fast.bench._options import build_parser, options_from_args
    from aiohttp_asgi_fast.bench._runner import prepare, run_load
    from aiohttp_asgi_fast.demo import app

    bare_connector = ASGIApplicationConnector(app, limit=concurrency, lifespan=True)
    await bare_connector.startup()
    args = build_parser("bench", "0").parse_args(
        ["bench", "-n", str(requests), "-c", str(concurrency), "-q"])
    prepared, _ = await prepare(options_from_args(args, "compiled"))

    async def bare(lean: bool) -> float:
        result = await _bare_requests(bare_connector, requests, concurrency, lean)
        return float(result["rps"])

    async def bench() -> float:
        recorder = await run_load(prepared, asyncio.Event(), None, requests=requests,
                                  duration=None, warmup=0.0)
        if recorder.failed:
            raise RuntimeError(f"bench's load had {recorder.failed} failed requests")
        return recorder.ok / recorder.duration

    runs: dict[str, Callable[[], Any]] = {
        "bare": lambda: bare(False), "lean": lambda: bare(True), "bench": bench}
    got: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for name in runs:  # warm all three up
            await runs[name]()
        order = list(runs)
        for block in range(blocks):
            for name in order[block % 3:] + order[:block % 3]:
                got[name].append(await runs[name]())
    finally:
        await prepared.close()
        await bare_connector.close()
    return {"bare_rps": got["bare"], "lean_rps": got["lean"], "bench_rps": got["bench"],
            "ratios": [b / a for a, b in zip(got["bare"], got["bench"], strict=True)],
            "lean_ratios": [b / a for a, b in zip(got["lean"], got["bench"], strict=True)]}


# -- running things ------------------------------------------------------------------


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    if (SRC / "aiohttp_asgi_fast").is_dir():  # a checkout: the package built in place
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("AIOHTTP_ASGI_NO_EXTENSIONS", None)
    return env


def bench_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "aiohttp_asgi_fast", "bench", *args, "-q", "--json", "-"]


def bare_cmd(requests: int, lean: bool = False) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--bare-lean" if lean else "--bare",
            str(requests)]


def interleaved_cmd(blocks: int, requests: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--interleaved",
            f"{blocks}x{requests}"]


def load_only_cmd(requests: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--load-only", str(requests)]


def run_json(cmd: Sequence[str], timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    done = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), check=False,
                          timeout=timeout, cwd=cwd)
    try:
        return json.loads(done.stdout)  # type: ignore[no-any-return]
    except ValueError:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {done.returncode}): "
                           f"{done.stderr[-500:]}") from None


def bench_result(report: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = report["results"][0]
    if result["requests"]["failed"]:
        raise RuntimeError(f"bench had {result['requests']['failed']} failed requests")
    return result


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def median_spread(values: Sequence[float]) -> tuple[float, float]:
    """The median and (max - min) / median."""
    mid = statistics.median(values)
    return mid, (max(values) - min(values)) / mid if mid else 0.0


@dataclass
class Section:
    name: str
    lines: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    verdicts: list[tuple[str, bool | None]] = field(default_factory=list)

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def target(self, text: str, met: bool | None) -> None:
        self.verdicts.append((text, met))


def verdict(met: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: "n/a"}[met]


# -- other load on the machine -------------------------------------------------------

# A pair of runs counts as quiet when the rest of the machine used less than this (cores).
QUIET_CORES = 0.25


def _busy_seconds() -> float:
    """CPU time the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as file:
        fields = [int(x) for x in file.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class OtherLoad:
    """The CPU the rest of the machine used while the block ran, in cores: all busy time
    minus this script's (reaped) children's. Other tenants of a VM are not seen; other
    processes on it (tests, builds) are. None where /proc/stat is missing."""

    cores: float | None = None

    def __enter__(self) -> OtherLoad:
        self._start = (time.monotonic(), _busy_seconds() if _HAS_PROC else 0.0,
                       _children_cpu())
        return self

    def __exit__(self, *_: object) -> None:
        if not _HAS_PROC:
            return
        wall = time.monotonic() - self._start[0]
        others = (_busy_seconds() - self._start[1]) - (_children_cpu() - self._start[2])
        self.cores = max(0.0, others / wall) if wall > 0 else 0.0


_HAS_PROC = os.path.exists("/proc/stat")


def other_load_now(seconds: float = 1.0) -> float | None:
    """Cores the machine is busy with over ``seconds``, while this script runs nothing."""
    if not _HAS_PROC:
        return None
    before = _busy_seconds()
    time.sleep(seconds)
    return (_busy_seconds() - before) / seconds


# Set by --max-wait: how long to wait for a quiet machine before each measurement.
MAX_WAIT = [60.0]


def wait_for_quiet() -> None:
    """Wait (at most MAX_WAIT s) until the rest of the machine uses < QUIET_CORES."""
    deadline = time.monotonic() + MAX_WAIT[0]
    load = other_load_now()
    while load is not None and load >= QUIET_CORES and time.monotonic() < deadline:
        log(f"  waiting for a quiet machine (other load {load:.2f} cores)")
        time.sleep(2.0)
        load = other_load_now()


def _max_load(loads: Iterable[float | None]) -> float | None:
    values = list(loads)
    return None if None in values else max(x for x in values if x is not None)


def busy_note(loads: Iterable[float | None]) -> str:
    """For a target's line: whether other load may have spoiled the measurement."""
    worst = _max_load(loads)
    if worst is None or worst < QUIET_CORES:
        return ""
    return f"; other load reached {worst:.2f} cores: rerun on a quiet machine"


def _fmt_cores(cores: float | None) -> str:
    return "?" if cores is None else f"{cores:.2f}"


@dataclass
class Pairs:
    """Interleaved pairs of runs (A, B) with B / A and the other load during each pair."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    others: list[float | None] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [b / a for a, b in zip(self.a, self.b, strict=True)]

    def quiet_ratios(self) -> list[float]:
        return [r for r, o in zip(self.ratios, self.others, strict=True)
                if o is not None and o < QUIET_CORES]

    def summary(self, section: Section, digits: int) -> float:
        ratios = self.ratios
        ratio, _ = median_spread(ratios)
        a_mid, a_spread = median_spread(self.a)
        b_mid, b_spread = median_spread(self.b)
        section.line(f"{'median':<6}{a_mid:>13,.0f}{b_mid:>13,.0f}{ratio:>12.{digits}f}")
        section.line(f"{'spread':<6}{a_spread:>13.0%}{b_spread:>13.0%}   ratios "
                     f"{min(ratios):.{digits}f} .. {max(ratios):.{digits}f}")
        quiet = self.quiet_ratios()
        if quiet:
            section.line(f"pairs with other load < {QUIET_CORES} cores: {len(quiet)}, "
                         f"median ratio {statistics.median(quiet):.{digits}f}")
        return ratio


def run_pairs(section: Section, name: str, pairs: int, labels: tuple[str, str],
              run_a: Callable[[], float], run_b: Callable[[], float], digits: int) -> Pairs:
    """``pairs`` of (A, B), order alternating (A-B, B-A, ...), each run timed alone."""
    section.line(f"{'pair':<6}{labels[0]:>13}{labels[1]:>13}{'ratio':>12}{'other load':>12}")
    result = Pairs()
    for pair in range(pairs):
        got: dict[str, float] = {}
        loads: list[float | None] = []
        wait_for_quiet()
        for which in ("a", "b") if pair % 2 == 0 else ("b", "a"):
            with OtherLoad() as load:
                got[which] = run_a() if which == "a" else run_b()
            loads.append(load.cores)
        other = _max_load(loads)
        result.a.append(got["a"])
        result.b.append(got["b"])
        result.others.append(other)
        section.line(f"{pair + 1:<6}{got['a']:>13,.0f}{got['b']:>13,.0f}"
                     f"{got['b'] / got['a']:>12.{digits}f}{_fmt_cores(other):>12}")
        log(f"[{name} {pair + 1}/{pairs}] {labels[0]} {got['a']:,.0f}, {labels[1]} "
            f"{got['b']:,.0f}, other load {_fmt_cores(other)} cores")
    return result


# -- 1. the tool's own cost ----------------------------------------------------------


def measure_cost(pairs: int, requests: int, blocks: int) -> Section:
    section = Section("cost")
    section.line(f"demo app GET /, -c {CONCURRENCY}, {requests:,} requests per run, "
                 f"{pairs} pairs (order alternating), each run a fresh process; ratio = "
                 "bench / bare; other load = cores the rest of the machine used (max of "
                 "the pair's two runs)")
    p99s: list[float] = []

    def bare() -> float:
        result = run_json(bare_cmd(requests), 300)
        if result["failed"]:
            raise RuntimeError(f"bare loop had {result['failed']} failed requests")
        return float(result["rps"])

    def bench() -> float:
        summary = bench_result(run_json(
            bench_cmd("-n", str(requests), "-c", str(CONCURRENCY)), 300))
        p99s.append(summary["latency_ms"]["p99"])
        return float(summary["rps"])

    runs = run_pairs(section, "cost", pairs, ("bare req/s", "bench req/s"), bare, bench, 3)
    process_ratio = runs.summary(section, 3)
    section.line(f"bench p99 latency (median of runs): {statistics.median(p99s):.3f} ms")
    # Fresh processes differ by more than the 5% measured (memory layout, hash seeds):
    # the same, finely interleaved in one process (bench's own load phase, prepare()
    # and run_load(), against the bare loop and against it making bench's leaner call).
    block = 8192  # two of the recorder's batches: their counting falls inside the clock
    section.line(f"in one process: the bare loop, the bare loop making bench's call (await, "
                 f"read, release: 'lean') and bench's load phase in rotating blocks of "
                 f"{block:,} requests, {blocks} rounds, 3 processes; ratio = bench / loop "
                 "in the same round")
    ratios: list[float] = []
    lean_ratios: list[float] = []
    loads: list[float | None] = []
    for run in range(3):
        wait_for_quiet()
        with OtherLoad() as load:
            got = run_json(interleaved_cmd(blocks, block), 900)
        loads.append(load.cores)
        ratios.extend(got["ratios"])
        lean_ratios.extend(got["lean_ratios"])
        section.line(f"  process {run + 1}: bare {statistics.median(got['bare_rps']):,.0f}, "
                     f"lean {statistics.median(got['lean_rps']):,.0f}, bench "
                     f"{statistics.median(got['bench_rps']):,.0f} req/s (medians); bench / "
                     f"bare {statistics.median(got['ratios']):.3f}, bench / lean "
                     f"{statistics.median(got['lean_ratios']):.3f}; other load "
                     f"{_fmt_cores(load.cores)}")
        log(f"[cost interleaved {run + 1}/3] bench / bare "
            f"{statistics.median(got['ratios']):.3f}")
    ratio = statistics.median(ratios)
    lean_ratio = statistics.median(lean_ratios)
    quartiles = statistics.quantiles(ratios, n=4)
    section.line(f"  all {len(ratios)} rounds: bench / bare median {ratio:.3f} (quartiles "
                 f"{quartiles[0]:.3f}..{quartiles[2]:.3f}); bench / lean median "
                 f"{lean_ratio:.3f}")
    section.data = {"bare_rps": runs.a, "bench_rps": runs.b, "ratios": runs.ratios,
                    "other_load_cores": runs.others, "median_ratio": process_ratio,
                    "bench_p99_ms": p99s, "interleaved_ratios": ratios,
                    "interleaved_lean_ratios": lean_ratios,
                    "interleaved_median_ratio": ratio, "interleaved_lean_median_ratio": lean_ratio,
                    "interleaved_other_load": loads}
    section.target(f"bench >= 95% of a bare session.get loop's req/s (interleaved in one "
                   f"process: median ratio {ratio:.3f}{busy_note(loads)}; against the loop "
                   f"making bench's leaner call: {lean_ratio:.3f}; fresh processes: "
                   f"{process_ratio:.3f}{busy_note(runs.others)})", ratio >= 0.95)
    return section


def callgrind(cmd: Sequence[str], window: Path | None = None) -> tuple[int, str]:
    """Instructions the command executed; with ``window`` (the compiled toggle library),
    only those between the two toggles its timed window makes."""
    env = child_env()
    env["PYTHONHASHSEED"] = "0"  # the same dict layouts in both runs
    options = ["--collect-atstart=no"] if window else []
    if window:
        env[_callgrind_window.ENV] = str(window)
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                           *options, *cmd], capture_output=True, text=True, env=env,
                          check=False, timeout=1800)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind {' '.join(cmd[2:])} failed (exit {done.returncode}): "
                           f"{done.stderr[-500:]}")
    return int(found.group(1)), done.stdout


def measure_instructions(short: int, long: int) -> Section:
    section = Section("instructions")
    if shutil.which("valgrind") is None:
        section.line("valgrind is not installed: skipped")
        section.target("instructions: bench within 5% of the bare loop", None)
        return section
    section.line(f"instructions per request under callgrind: (I({long:,}) - I({short:,})) "
                 f"/ {long - short:,}; PYTHONHASHSEED=0")
    with tempfile.TemporaryDirectory() as directory:
        window = _callgrind_window.build(Path(directory))
        jobs: dict[str, Callable[[], tuple[int, str]]] = {}
        for n in (short, long):
            jobs[f"bare {n}"] = partial(callgrind, bare_cmd(n))
            jobs[f"bench {n}"] = partial(callgrind, bench_cmd("-n", str(n), "-c",
                                                              str(CONCURRENCY)))
            jobs[f"load {n}"] = partial(callgrind, load_only_cmd(n))
            if window is not None:
                jobs[f"bare timed {n}"] = partial(callgrind, bare_cmd(n), window)
                jobs[f"lean timed {n}"] = partial(callgrind, bare_cmd(n, lean=True), window)
                jobs[f"load timed {n}"] = partial(callgrind, load_only_cmd(n), window)
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 2))) as pool:
            futures = {name: pool.submit(job) for name, job in jobs.items()}
            counts = {name: future.result() for name, future in futures.items()}

    def per_request(name: str) -> float:
        return (counts[f"{name} {long}"][0] - counts[f"{name} {short}"][0]) / (long - short)

    per = {name: per_request(name) for name in ("bare", "bench", "load")}
    # The loop-lag sampler fires every 10 ms of wall time; callgrind runs the process
    # ~50x slower, so it fires far more often per request than in a real run.
    lag = [json.loads(counts[f"bench {n}"][1])["results"][0]["loop_lag_ms"] for n in
           (short, long)]
    lag_samples = [x["count"] if x else 0 for x in lag]
    section.line("  whole processes:")
    section.line(f"    bare loop           {per['bare']:>12,.0f}")
    for name, label in (("bench", "bench (the CLI)"), ("load", "bench load only")):
        section.line(f"    {label:<20}{per[name]:>12,.0f}   ({per[name] / per['bare'] - 1:+.1%}"
                     f"; bare / {name} = {per['bare'] / per[name]:.3f})")
    section.line("    (load only: bench's prepare() + run_load() without the CLI around them; "
                 "the CLI also counts the report, whose histograms grow with the run)")
    if window is not None:
        per["bare timed"] = per_request("bare timed")
        per["load timed"] = per_request("load timed")
        per["lean timed"] = per_request("lean timed")
        ratio = per["bare timed"] / per["load timed"]
        lean_ratio = per["lean timed"] / per["load timed"]
        section.line("  what the req/s clocks time (callgrind counting only between the "
                     "window's edges: the bare loop's gather; bench's schedule start to the "
                     "load's end):")
        section.line(f"    bare loop           {per['bare timed']:>12,.0f}")
        section.line(f"    bare loop, lean     {per['lean timed']:>12,.0f}   (making bench's "
                     "call: await, read, release)")
        section.line(f"    bench's load        {per['load timed']:>12,.0f}   "
                     f"({per['load timed'] / per['bare timed'] - 1:+.1%}; bare / bench = "
                     f"{ratio:.3f}; lean / bench = {lean_ratio:.3f})")
        target = (f"instructions: the load bench times within 5% of the bare loop's (bare / "
                  f"bench = {ratio:.3f}; against the loop making bench's leaner call "
                  f"{lean_ratio:.3f}; whole processes: load only "
                  f"{per['bare'] / per['load']:.3f}, CLI {per['bare'] / per['bench']:.3f})")
    else:
        ratio = per["bare"] / per["load"]
        section.line("  (no C compiler or valgrind header: the timed window was not counted)")
        target = (f"instructions: bench's load within 5% of the bare loop (bare / load = "
                  f"{ratio:.3f}; whole CLI {per['bare'] / per['bench']:.3f})")
    section.line(f"  loop-lag samples under callgrind: {lag_samples[0]} ({short:,} requests), "
                 f"{lag_samples[1]} ({long:,}): time-based, so inflated by the slowdown")
    section.data = {"per_request": per, "lag_samples": lag_samples,
                    "raw": {k: v[0] for k, v in counts.items()}}
    section.target(target, ratio >= 0.95)
    return section


# -- 2. workers ----------------------------------------------------------------------


def measure_workers(pairs: int, seconds: float) -> Section:
    section = Section("workers")
    section.line(f"demo app GET /, -c {CONCURRENCY} in total, -z {seconds:g}s, {pairs} pairs "
                 "(order alternating); ratio = 2 workers / 1")

    def bench(workers: int) -> float:
        args = ["-c", str(CONCURRENCY), "-z", f"{seconds:g}s", "--workers", str(workers)]
        return float(bench_result(run_json(bench_cmd(*args), seconds * 5 + 60))["rps"])

    runs = run_pairs(section, "workers", pairs, ("1 worker", "--workers 2"),
                     lambda: bench(1), lambda: bench(2), 2)
    ratio = runs.summary(section, 2)
    section.data = {"one": runs.a, "two": runs.b, "ratios": runs.ratios,
                    "other_load_cores": runs.others, "median_ratio": ratio}
    section.target(f"--workers 2 >= 1.7x one worker (median {ratio:.2f}x"
                   f"{busy_note(runs.others)})", ratio >= 1.7)
    return section


# -- 3. memory -----------------------------------------------------------------------


def max_rss_mib(cmd: Sequence[str], timeout: float) -> tuple[float, dict[str, Any]]:
    """Run ``cmd``; its peak resident set (ru_maxrss from wait4) in MiB, and its report."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env())
    assert proc.stdout is not None and proc.stderr is not None
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    try:
        # The report is a few kB and stderr is empty with -q: reading stdout to its end,
        # then stderr, before wait4 cannot deadlock.
        out = proc.stdout.read()
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        report = json.loads(out)
    except ValueError:
        raise RuntimeError(f"{' '.join(cmd[2:])} failed (exit {proc.returncode}): "
                           f"{err.decode()[-500:]}") from None
    return usage.ru_maxrss / 1024, report  # Linux: KiB


def measure_memory(counts: Sequence[int]) -> Section:
    section = Section("memory")
    section.line(f"demo app GET /, -c {CONCURRENCY}; peak RSS of the bench process "
                 "(ru_maxrss from wait4)")
    section.line(f"{'requests':>12}{'peak RSS':>12}{'req/s':>10}{'duration':>10}"
                 f"{'other load':>12}")
    rss: dict[int, float] = {}
    for count in counts:
        log(f"[memory] -n {count:,} ...")
        wait_for_quiet()
        with OtherLoad() as load:
            peak, report = max_rss_mib(bench_cmd("-n", str(count), "-c", str(CONCURRENCY)),
                                       count / 1000 + 120)
        result = bench_result(report)
        rss[count] = peak
        section.line(f"{count:>12,}{peak:>8.1f} MiB{result['rps']:>10,.0f}"
                     f"{result['duration_s']:>9.1f}s{_fmt_cores(load.cores):>12}")
    low, high = min(counts), max(counts)
    growth = (rss[high] - rss[low]) * 1.048576  # MiB -> MB
    section.line(f"growth from {low:,} to {high:,} requests: {rss[high] - rss[low]:+.2f} MiB "
                 f"({growth:+.2f} MB)")
    section.data = {"rss_mib": {str(k): v for k, v in rss.items()}, "growth_mb": growth}
    met = growth < 10 if high >= 1_000_000 else None
    section.target(f"{high:,}-request run grows < 10 MB over {low:,} ({growth:+.2f} MB)"
                   + ("" if met is not None else "; needs a 1,000,000-request run"), met)
    return section


# -- 4. FastAPI: uvicorn + wrk against bench ----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def uvicorn_defaults() -> str:
    """The loop and HTTP implementation uvicorn's defaults (loop/http "auto") pick here."""
    code = ("import importlib.util as u;"
            "from uvicorn.protocols.http.auto import AutoHTTPProtocol as P;"
            "print(('uvloop' if u.find_spec('uvloop') else 'asyncio'), P.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=child_env())
    if done.returncode != 0:
        return "unknown"
    loop, protocol = done.stdout.split()
    http = {"HttpToolsProtocol": "httptools", "H11Protocol": "h11"}.get(protocol, protocol)
    return f"loop {loop}, http {http}"


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _wrk_ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise RuntimeError(f"unexpected wrk latency {text!r}")
    return float(found[1]) * _WRK_UNITS[found[2]]


def run_wrk(seconds: float) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "_fastapi_hello:app", "--log-level", "warning",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=HERE, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    err = server.stderr.read().decode() if server.stderr else ""
                    raise RuntimeError(f"uvicorn did not start: {err[-500:]}") from None
                time.sleep(0.05)
        done = subprocess.run(
            ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{seconds:g}s", "--latency",
             f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, check=True, timeout=seconds + 60)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    out = done.stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return {"rps": float(rps[1]), "p50": _wrk_ms(p50[1]), "p99": _wrk_ms(p99[1])}


def run_bench_fastapi(seconds: float, workers: int) -> dict[str, Any]:
    args = ["_fastapi_hello:app", "-c", str(CONCURRENCY), "-z", f"{seconds:g}s",
            "--app-dir", str(HERE)]
    if workers > 1:
        args += ["--workers", str(workers)]
    result = bench_result(run_json(bench_cmd(*args), seconds * 5 + 60, cwd=HERE))
    app_time = result["app_time_ms"] or {}
    head = app_time.get("to_response_start") or {}
    body = app_time.get("to_last_body_byte") or {}
    return {"rps": result["rps"], "p50": result["latency_ms"]["p50"],
            "p99": result["latency_ms"]["p99"], "app_head_p50": head.get("p50"),
            "app_head_p99": head.get("p99"), "app_body_p50": body.get("p50"),
            "app_body_p99": body.get("p99"), "app_body_mean": body.get("mean")}


def measure_fastapi(rounds: int, seconds: float) -> Section:
    section = Section("fastapi")
    if shutil.which("wrk") is None:
        section.line("wrk is not installed: skipped")
        section.target("bench --workers 2 >= uvicorn + wrk req/s", None)
        return section
    picked = uvicorn_defaults()
    section.line(f"FastAPI hello world (benchmarks/_fastapi_hello.py), concurrency "
                 f"{CONCURRENCY}, {seconds:g} s per run, {rounds} round(s) interleaved; "
                 f"uvicorn's defaults picked: {picked}")
    columns: dict[str, Callable[[], dict[str, Any]]] = {
        "uvicorn + wrk": lambda: run_wrk(seconds),
        "bench": lambda: run_bench_fastapi(seconds, 1),
        "bench --workers 2": lambda: run_bench_fastapi(seconds, 2),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in columns}
    for round_ in range(rounds):
        for name, run in columns.items():
            wait_for_quiet()
            with OtherLoad() as load:
                result = run()
            result["other_load"] = load.cores
            runs[name].append(result)
            log(f"[fastapi {round_ + 1}/{rounds}] {name}: {runs[name][-1]['rps']:,.0f} req/s")
    section.line(f"{'':<20}{'req/s':>9}{'spread':>8}{'p50 ms':>9}{'p99 ms':>9}"
                 f"{'app p50 ms':>12}{'app p99 ms':>12}{'other load':>12}")
    summary: dict[str, dict[str, float]] = {}
    for name, results in runs.items():
        rps, spread = median_spread([r["rps"] for r in results])
        # The run with the median req/s gives the latency columns.
        middle = sorted(results, key=lambda r: r["rps"])[len(results) // 2]
        summary[name] = {"rps": rps, **middle}
        app50 = middle.get("app_body_p50")
        app99 = middle.get("app_body_p99")
        section.line(f"{name:<20}{rps:>9,.0f}{spread:>8.0%}{middle['p50']:>9.3f}"
                     f"{middle['p99']:>9.3f}"
                     + (f"{app50:>12.3f}{app99:>12.3f}" if app50 is not None else
                        f"{'-':>12}{'-':>12}")
                     + f"{_fmt_cores(_max_load(r['other_load'] for r in results)):>12}")
    section.line("app p50/p99: time inside the app from its call to the last body byte "
                 "(bench only; wrk cannot see it); p50/p99 from the run with the median "
                 "req/s; other load: the most the rest of the machine used in any run (cores)")
    wrk = summary["uvicorn + wrk"]["rps"]
    two = summary["bench --workers 2"]["rps"]
    section.line(f"bench / uvicorn+wrk: {summary['bench']['rps'] / wrk:.2f}x; "
                 f"bench --workers 2 / uvicorn+wrk: {two / wrk:.2f}x")
    section.data = {"uvicorn": picked, "runs": runs, "summary": summary}
    loads = [r["other_load"] for results in runs.values() for r in results]
    section.target(f"bench --workers 2 >= uvicorn + wrk req/s ({two:,.0f} vs {wrk:,.0f}"
                   f"{busy_note(loads)})",
                   two >= wrk)
    return section


# -- main ----------------------------------------------------------------------------


def environment() -> str:
    from importlib import metadata

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "-"

    code = "import aiohttp_asgi_fast as m; print(m.IMPLEMENTATION)"
    impl = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, env=child_env()).stdout.strip()
    # BENCH_CLI_COMMIT names the commit of a source snapshot that is not a checkout.
    commit = os.environ.get("BENCH_CLI_COMMIT") or subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
        check=False, cwd=ROOT).stdout.strip() or "?"
    return (f"python {platform.python_version()}; {platform.machine()}, "
            f"{os.cpu_count()} cores; aiohttp {version('aiohttp')}; aiohttp-asgi-fast "
            f"{impl} at {commit}; fastapi {version('fastapi')}; uvicorn "
            f"{version('uvicorn')}; load average {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--json", dest="json_path", default=None, metavar="FILE",
                        help="also write every figure as JSON")
    parser.add_argument("--max-wait", type=float, default=MAX_WAIT[0], metavar="SECONDS",
                        help="before each measurement, wait up to this long for the rest of "
                             f"the machine to use < {QUIET_CORES} cores (default %(default)s; "
                             "0: never wait)")
    parser.add_argument("--bare", type=int, default=None, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--bare-lean", type=int, default=None, metavar="N",
                        help=argparse.SUPPRESS)
    parser.add_argument("--load-only", type=int, default=None, metavar="N",
                        help=argparse.SUPPRESS)
    parser.add_argument("--interleaved", default=None, metavar="BLOCKSxN",
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare is not None or args.bare_lean is not None:
        lean = args.bare_lean is not None
        _bare_main(args.bare_lean if lean else args.bare, CONCURRENCY, lean)
        return
    if args.interleaved is not None:
        blocks, requests = (int(x) for x in args.interleaved.split("x"))
        print(json.dumps(asyncio.run(_interleaved(blocks, requests, CONCURRENCY))), flush=True)
        return
    if args.load_only is not None:
        print(json.dumps(asyncio.run(_load_only(args.load_only, CONCURRENCY))), flush=True)
        return
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    quick = args.quick
    MAX_WAIT[0] = args.max_wait
    plan: dict[str, Callable[[], Section]] = {
        "cost": lambda: measure_cost(3 if quick else 9, 10_000 if quick else 20_000,
                                     4 if quick else 12),
        "instructions": lambda: measure_instructions(200 if quick else 2000,
                                                     1000 if quick else 6000),
        "workers": lambda: measure_workers(2 if quick else 5, 3.0 if quick else 8.0),
        "memory": lambda: measure_memory((10_000, 100_000) if quick
                                         else (10_000, 100_000, 1_000_000)),
        "fastapi": lambda: measure_fastapi(1 if quick else 3, 3.0 if quick else 10.0),
    }
    header = environment()
    started = time.perf_counter()
    log(header)
    sections: list[Section] = []
    for name in chosen:
        log(f"== {name}")
        try:
            sections.append(plan[name]())
        except (RuntimeError, subprocess.SubprocessError) as exc:
            failed = Section(name)
            failed.line(f"ERR: {exc}")
            failed.target(f"{name}: could not be measured", None)
            sections.append(failed)
    print(header)
    for section in sections:
        print(f"\n## {section.name}")
        for text in section.lines:
            print(text)
    print("\n## targets")
    for section in sections:
        for text, met in section.verdicts:
            print(f"  {verdict(met):<8} {text}")
    print(f"\nload average at the end {load_average()}; took {time.perf_counter() - started:.0f} s")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as file:
            json.dump({"environment": header, "sections": {
                s.name: {"lines": s.lines, "data": s.data,
                         "targets": [{"target": t, "met": m} for t, m in s.verdicts]}
                for s in sections}}, file, indent=2)


if __name__ == "__main__":
    main()
