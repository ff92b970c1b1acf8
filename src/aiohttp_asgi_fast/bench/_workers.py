"""Load from worker processes: ``--workers N``, and ``--mode`` other than this process's.

Each worker is a spawned process with its own app instance, lifespan and event loop
(app state is per worker). The parent starts them all, waits until every one has its
app ready, then tells each to run; each sends back its recorder in wire form and the
parent merges them (histograms added, never percentiles averaged). ``--mode both``
keeps one group of workers per hot path (chosen by AIOHTTP_ASGI_NO_EXTENSIONS when
each is spawned) and runs them in alternating rounds. Workers ignore SIGINT: on
Ctrl-C the parent sets a shared event, every worker stops its load and reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Final

from ._errors import RunFailed, UsageError
from ._loops import run as run_on_loop
from ._options import BenchOptions
from ._recorder import Recorder

__all__ = ("ModeRun", "Worker", "run_workers")

_ENV: Final = "AIOHTTP_ASGI_NO_EXTENSIONS"
# progress slots per worker in the shared array: requests, failed, p99 (ms), phase (1: load)
_SLOTS: Final = 4


@dataclass
class ModeRun:
    """One hot-path mode's measured load: merged, per worker, and per round."""

    mode: str
    implementation: str = ""
    lifespan_ran: bool | None = None
    recorder: Recorder = field(default_factory=Recorder)
    workers: list[tuple[int, int, Recorder]] = field(default_factory=list)
    rounds: list[Recorder] = field(default_factory=list)
    shutdown_errors: list[str] = field(default_factory=list)


def split(total: int, parts: int) -> list[int]:
    """``total`` shared as evenly as possible, the first parts taking the remainder."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _child_main(options: BenchOptions, conn: Connection, index: int, progress: Any,
                stop: Any) -> None:
    # Ctrl-C goes to the whole process group: the parent alone decides (spawned with
    # SIGINT ignored already; this keeps it so).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        run_on_loop(_child(options, conn, index, progress, stop), options.loop)
    except (BrokenPipeError, EOFError):
        pass  # the parent is gone: nobody to report to
    except BaseException as exc:  # report it rather than die silently
        if isinstance(exc, UsageError):
            message = str(exc)
        else:
            import traceback

            message = (f"worker {index} failed: {type(exc).__name__}: {exc}"
                       + (f"\n{traceback.format_exc()}" if options.debug else ""))
        with contextlib.suppress(OSError):
            conn.send(("error", message))


async def _child(options: BenchOptions, conn: Connection, index: int, progress: Any,
                 stop_flag: Any) -> None:
    from ._runner import prepare, run_load

    prepared, info = await prepare(options)
    loop = asyncio.get_running_loop()
    conn.send(("ready", {"pid": info.pid, "implementation": info.implementation,
                         "lifespan_ran": info.lifespan_ran}))
    base = index * _SLOTS
    stop = asyncio.Event()
    parent = os.getppid()
    before = [0, 0]  # requests and failures of this worker's earlier rounds

    def tick(recorder: Recorder, phase: str, _: float) -> None:
        progress[base] = before[0] + recorder.ok + recorder.failed
        progress[base + 1] = before[1] + recorder.failed
        recorder.fold()
        count = recorder.latency.get_total_count()
        progress[base + 2] = recorder.latency.get_value_at_percentile(99.0) / 1000 if count else -1
        progress[base + 3] = 1 if phase == "load" else 0
        if stop_flag.is_set() or os.getppid() != parent:  # Ctrl-C, or the parent died
            stop.set()

    closed = False
    try:
        first = True
        while True:
            command, load = await loop.run_in_executor(None, conn.recv)
            if command != "run":
                break
            recorder = await run_load(
                prepared, stop, tick, requests=load["requests"], duration=load["duration"],
                warmup=options.warmup if first else 0.0,
            )
            first = False
            before[0] += recorder.ok + recorder.failed
            before[1] += recorder.failed
            conn.send(("done", recorder.to_wire()))
        closed = True
        conn.send(("closed", await prepared.close()))
    finally:
        if not closed:
            await prepared.close()


class Worker:
    def __init__(self, index: int, mode: str, process: Any, conn: Connection) -> None:
        self.index = index
        self.mode = mode
        self.process = process
        self.conn = conn
        self.pid = 0
        self.info: dict[str, Any] = {}


def _spawn(options: BenchOptions, modes: list[str], progress: Any, stop: Any) -> list[Worker]:
    context = multiprocessing.get_context("spawn")
    workers: list[Worker] = []
    concurrency = split(options.concurrency, options.workers)
    saved = os.environ.get(_ENV)
    try:
        for mode in modes:
            os.environ[_ENV] = "1" if mode == "pure" else "0"
            for slot in range(options.workers):
                index = len(workers)
                mine = replace(
                    options,
                    concurrency=max(1, concurrency[slot]),
                    rate=options.rate / options.workers if options.rate else None,
                )
                parent, child = context.Pipe()
                process = context.Process(
                    target=_child_main, args=(mine, child, index, progress, stop),
                    name=f"aiohttp-asgi-fast-bench-{mode}-{slot}", daemon=True,
                )
                # Spawned with SIGINT ignored (kept across exec), so a Ctrl-C while it
                # imports does not kill it: the parent handles Ctrl-C for everyone.
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    process.start()
                finally:
                    signal.signal(signal.SIGINT, previous)
                child.close()
                workers.append(Worker(index, mode, process, parent))
    finally:
        if saved is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = saved
    return workers


def _receive(worker: Worker, expected: str) -> Any:
    # Before "ready" a failure is the app's or the command's (exit 2); later, a failed run.
    error = UsageError if expected == "ready" else RunFailed
    try:
        kind, payload = worker.conn.recv()
    except EOFError:
        worker.process.join(timeout=5)
        raise error(f"worker {worker.index} ({worker.mode}) exited unexpectedly "
                    f"(exit code {worker.process.exitcode})") from None
    if kind == "error":
        raise error(str(payload))
    assert kind == expected, (kind, expected)
    return payload


def _await_all(workers: list[Worker], expected: str, on_wait: Any) -> list[Any]:
    """Each worker's next message (waiting with on_wait() calls between polls)."""
    pending = {w.conn: w for w in workers}
    results: dict[int, Any] = {}
    while pending:
        for conn in wait(list(pending), timeout=0.25):
            worker = pending.pop(conn)  # type: ignore[call-overload]
            results[worker.index] = _receive(worker, expected)
        on_wait()
    return [results[w.index] for w in workers]


def run_workers(options: BenchOptions, modes: list[str], progress: Any, stop: Any,
                on_wait: Any) -> list[ModeRun]:
    """Run the load in worker processes; one ModeRun per mode, in ``modes`` order."""
    workers = _spawn(options, modes, progress, stop)
    try:
        ready = _await_all(workers, "ready", on_wait)
        runs = {mode: ModeRun(mode) for mode in modes}
        for worker, info in zip(workers, ready, strict=True):
            worker.pid = info["pid"]
            runs[worker.mode].implementation = info["implementation"]
            runs[worker.mode].lifespan_ran = info["lifespan_ran"]
        rounds = options.rounds if len(modes) > 1 else 1
        requests: list[int | None] = (
            list(split(options.requests, rounds)) if options.requests else [None] * rounds
        )
        totals: dict[int, Recorder] = {w.index: Recorder() for w in workers}
        for number in range(rounds):
            order = modes if number % 2 == 0 else modes[::-1]  # balance drift between modes
            for mode in order:
                if stop.is_set():
                    break
                group = [w for w in workers if w.mode == mode]
                share = requests[number]
                shares = split(share, len(group)) if share is not None else None
                for i, worker in enumerate(group):
                    worker.conn.send(("run", {
                        "requests": shares[i] if shares is not None else None,
                        "duration": options.duration / rounds if options.duration else None,
                    }))
                wires = _await_all(group, "done", on_wait)
                merged = Recorder()
                for worker, wire in zip(group, wires, strict=True):
                    recorder = Recorder.from_wire(wire)
                    merged.merge(recorder)  # side by side: the round lasts the longest
                    _add_sequential(totals[worker.index], recorder)
                runs[mode].rounds.append(merged)
                _add_sequential(runs[mode].recorder, merged)
        for worker in workers:
            runs[worker.mode].workers.append((worker.index, worker.pid, totals[worker.index]))
            worker.conn.send(("quit", None))
        for worker, error in zip(workers, _await_all(workers, "closed", on_wait), strict=True):
            if error:
                runs[worker.mode].shutdown_errors.append(f"worker {worker.index}: {error}")
        return [runs[mode] for mode in modes]
    except BaseException:
        stop.set()  # the other workers stop their load and report, then quit
        raise
    finally:
        for worker in workers:
            with contextlib.suppress(OSError):  # the worker is gone already
                worker.conn.send(("quit", None))
        for worker in workers:
            worker.process.join(timeout=15)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)


def _add_sequential(total: Recorder, part: Recorder) -> None:
    """Add a later run: counts and histograms add, and so do the durations."""
    duration = total.duration + part.duration
    total.merge(part)
    total.duration = duration
