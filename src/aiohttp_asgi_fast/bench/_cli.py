"""``aiohttp-asgi-fast bench``: parse, run (inline or in worker processes), report, exit.

Exit codes (``_errors``): 0 all requests succeeded and every ``--fail-on`` gate held;
1 failed requests or a breached gate; 2 a bad command or APP (one line, no traceback
unless ``--debug``); 130 Ctrl-C (the load stops and the partial report is printed).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib.util
import json
import signal
import sys
from collections.abc import Sequence
from time import perf_counter
from typing import Any

from .. import IMPLEMENTATION, __version__
from ._errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, RunFailed, UsageError
from ._options import BenchOptions, build_parser, options_from_args, parse_command_line

__all__ = ("main",)

_EXTRA_HINT = "pip install 'aiohttp-asgi-fast[bench]'"


def _check_extras() -> None:
    missing = [name for name, module in (("hdrhistogram", "hdrh"), ("rich", "rich"))
               if importlib.util.find_spec(module) is None]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise UsageError(f"bench needs {' and '.join(missing)}, which {verb} not installed; "
                         f"install with: {_EXTRA_HINT}")


def _check_mode(options: BenchOptions, current: str) -> None:
    if options.mode in ("compiled", "both") and current != "compiled":
        from .._hotpath import IMPORT_ERROR

        compiled = importlib.util.find_spec("aiohttp_asgi_fast._parser")
        if IMPORT_ERROR is not None or compiled is None:
            reason = f" ({IMPORT_ERROR})" if IMPORT_ERROR else ""
            raise UsageError(f"--mode {options.mode}: the compiled hot path is not available "
                             f"in this install{reason}")


class _Ticks:
    """Turns the runner's ticks into progress snapshots (current req/s, p99 so far)."""

    def __init__(self, progress: Any, options: BenchOptions) -> None:
        self.progress = progress
        self.target = (f"{options.requests:,} requests" if options.requests
                       else f"{options.duration:g} s")
        self._last = (0.0, 0)
        self._phase = ""

    def snapshot(self, phase: str, elapsed: float, requests: int, failed: int,
                 p99_ms: float | None) -> None:
        if phase != self._phase:
            self._phase, self._last = phase, (0.0, 0)
        then, count = self._last
        rps = (requests - count) / (elapsed - then) if elapsed > then else 0.0
        self._last = (elapsed, requests)
        self.progress.update({"phase": phase, "elapsed_s": elapsed, "requests": requests,
                              "failed": failed, "rps": rps, "p99_ms": p99_ms,
                              "target": self.target})


def _run_inline(options: BenchOptions, ticks: _Ticks | None) -> list[Any]:
    from ._loops import run
    from ._runner import prepare, run_load
    from ._workers import ModeRun

    async def main() -> list[ModeRun]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        presses = [0]

        def on_sigint() -> None:
            presses[0] += 1
            if presses[0] > 1:  # a second Ctrl-C: stop waiting for anything
                loop.remove_signal_handler(signal.SIGINT)
                raise KeyboardInterrupt
            stop.set()

        # Windows has no add_signal_handler: Ctrl-C is a KeyboardInterrupt there.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        prepared, info = await prepare(options)
        def tick(recorder: Any, phase: str, elapsed: float) -> None:
            if ticks is None:
                return
            recorder.fold()
            count = recorder.latency.get_total_count()
            p99 = recorder.latency.get_value_at_percentile(99.0) / 1000 if count else None
            ticks.snapshot(phase, elapsed, recorder.ok + recorder.failed, recorder.failed, p99)

        try:
            recorder = await run_load(prepared, stop, tick, requests=options.requests,
                                      duration=options.duration, warmup=options.warmup)
        except BaseException:
            await prepared.close()
            raise
        error = await prepared.close()
        return [ModeRun(options.mode, info.implementation, info.lifespan_ran, recorder,
                        [(0, info.pid, recorder)], [recorder], [error] if error else [])]

    return run(main(), options.loop)


def _run_processes(options: BenchOptions, ticks: _Ticks | None) -> list[Any]:
    import multiprocessing

    from ._workers import _SLOTS, run_workers

    modes = ["compiled", "pure"] if options.mode == "both" else [options.mode]
    count = options.workers * len(modes)
    context = multiprocessing.get_context("spawn")
    progress = context.Array("d", _SLOTS * count, lock=False)
    for slot in range(count):
        progress[slot * _SLOTS + 2] = -1  # no p99 yet
    stop = context.Event()
    started = perf_counter()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())

    def on_wait() -> None:
        if ticks is None:
            return
        slots = [progress[i * _SLOTS:(i + 1) * _SLOTS] for i in range(count)]
        p99s = [s[2] for s in slots if s[2] >= 0]
        warming = options.warmup > 0 and not any(s[3] for s in slots)
        phase = "warmup" if warming else "load"
        ticks.snapshot(phase, perf_counter() - started, int(sum(s[0] for s in slots)),
                       int(sum(s[1] for s in slots)), max(p99s) if p99s else None)

    try:
        runs = run_workers(options, modes, progress, stop, on_wait)
    finally:
        signal.signal(signal.SIGINT, previous)
    if stop.is_set():
        for run in runs:
            run.recorder.interrupted = True
    return runs


def _bench(options: BenchOptions, prog: str) -> int:
    from rich.console import Console

    from ._gates import evaluate, parse_gate
    from ._loops import check_loop
    from ._progress import Progress
    from ._report_data import build_report
    from ._report_text import render_report

    gates = [parse_gate(text) for text in options.fail_on]
    check_loop(options.loop)
    to_stdout = options.json_path == "-"
    console = Console(stderr=to_stdout, highlight=False)
    progress = Progress(Console(stderr=True), quiet=options.quiet,
                        interval=options.progress_interval)
    ticks = None if options.quiet else _Ticks(progress, options)
    current = "compiled" if IMPLEMENTATION == "cython" else "pure"
    started_at = datetime.datetime.now(datetime.timezone.utc)
    try:
        if options.workers == 1 and options.mode == current:
            runs = _run_inline(options, ticks)
        else:
            runs = _run_processes(options, ticks)
    finally:
        progress.close()
    report = build_report(options, runs, options.loop, started_at)
    breached = False
    for result in report["results"]:
        checks = evaluate(gates, result)
        report["gates"].extend(checks)
        breached = breached or not all(check["passed"] for check in checks)
    shutdown_errors = [error for run in runs for error in run.shutdown_errors]
    failed = any(r["requests"]["failed"] for r in report["results"])
    # With an errors gate, that gate decides whether failed requests fail the run.
    if any(gate.metric == "errors" for gate in gates):
        failed = False
    if report["interrupted"]:
        code = EXIT_INTERRUPTED
    elif breached or failed or shutdown_errors:
        code = EXIT_FAILED
    else:
        code = EXIT_OK
    report["exit_code"] = code
    if not to_stdout:
        render_report(report, console)
    if options.json_path:
        text = json.dumps(report, indent=2)
        if to_stdout:
            sys.stdout.write(text + "\n")
        else:
            try:
                with open(options.json_path, "w", encoding="utf-8") as file:
                    file.write(text + "\n")
            except OSError as exc:
                raise UsageError(f"--json: cannot write {options.json_path!r}: {exc}") from None
    for error in shutdown_errors:
        print(f"{prog} bench: error: {error}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None, prog: str = "aiohttp-asgi-fast") -> int:
    parser = build_parser(prog, __version__)
    # argparse exits 2 with a usage line on its own errors
    args = parse_command_line(parser, argv)
    try:
        _check_extras()
        current = "compiled" if IMPLEMENTATION == "cython" else "pure"
        options = options_from_args(args, current)
        _check_mode(options, current)
        return _bench(options, prog)
    except UsageError as exc:
        print(f"{prog} bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RunFailed as exc:
        print(f"{prog} bench: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{prog} bench: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
