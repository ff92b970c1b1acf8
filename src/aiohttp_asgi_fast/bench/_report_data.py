"""The whole report as plain data: what ``--json`` writes and the text report draws.

Its format is ``report.schema.json`` (``schema_version`` 1); ``summarize`` makes each
mode's entry in ``results``.
"""

from __future__ import annotations

import datetime
import platform
import statistics
from typing import Any, Final

import aiohttp

from .. import __version__
from ._options import BenchOptions
from ._summary import distribution, summarize
from ._workers import ModeRun

__all__ = ("SCHEMA_VERSION", "build_report")

SCHEMA_VERSION: Final = 1


def _config(options: BenchOptions, lifespan_ran: bool | None) -> dict[str, Any]:
    kind = "scenario" if options.scenario else "websocket" if options.websocket else "http"
    return {
        "app": options.app,
        "factory": options.factory,
        "lifespan": options.lifespan,
        "lifespan_ran": lifespan_ran,
        "paths": list(options.paths),
        "method": options.method,
        "headers": [list(pair) for pair in options.headers],
        "body_bytes": len(options.body) if options.body is not None else None,
        "targets": options.targets,
        "order": options.order,
        "model": "open" if options.rate else "closed",
        "requests": options.requests,
        "duration_s": options.duration,
        "concurrency": options.concurrency,
        "rate": options.rate,
        "warmup_s": options.warmup,
        "timeout_s": options.timeout,
        "workers": options.workers,
        "mode": options.mode,
        "rounds": options.rounds if options.mode == "both" else None,
        "kind": kind,
        "scenario": options.scenario,
        "message_size": options.message_size if options.websocket else None,
    }


def _result(options: BenchOptions, run: ModeRun) -> dict[str, Any]:
    unit = "iteration" if options.scenario else "round trip" if options.websocket else "request"
    result = summarize(run.recorder, mode=run.mode, rate=options.rate, unit=unit)
    result["implementation"] = run.implementation
    result["warnings"].extend(run.shutdown_errors)
    workers = []
    if len(run.workers) > 1:
        for index, pid, recorder in run.workers:
            latency = distribution(recorder.latency)
            total = recorder.ok + recorder.failed
            workers.append({
                "index": index,
                "pid": pid,
                "ok": recorder.ok,
                "failed": recorder.failed,
                "rps": round(total / recorder.duration, 3) if recorder.duration else 0.0,
                "duration_s": round(recorder.duration, 6),
                "p50_ms": latency["p50"] if latency else None,
                "p99_ms": latency["p99"] if latency else None,
            })
    result["workers"] = workers
    result["rounds"] = [
        {
            "index": number,
            "rps": round((r.ok + r.failed) / r.duration, 3) if r.duration else 0.0,
            "ok": r.ok,
            "failed": r.failed,
            "duration_s": round(r.duration, 6),
        }
        for number, r in enumerate(run.rounds)
    ] if options.mode == "both" else []
    return result


def _comparison(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_mode = {r["mode"]: r for r in results}
    if set(by_mode) != {"compiled", "pure"}:
        return None
    compiled, pure = by_mode["compiled"], by_mode["pure"]
    ratios = [
        round(c["rps"] / p["rps"], 4)
        for c, p in zip(compiled["rounds"], pure["rounds"], strict=False)
        if p["rps"] > 0
    ]
    if not ratios or pure["rps"] <= 0:
        return None
    return {
        "numerator": "compiled",
        "denominator": "pure",
        "rps_ratio": round(compiled["rps"] / pure["rps"], 4),
        "round_ratios": ratios,
        "min": min(ratios),
        "max": max(ratios),
        "stdev": round(statistics.stdev(ratios), 4) if len(ratios) > 1 else 0.0,
    }


def build_report(options: BenchOptions, runs: list[ModeRun], loop: str,
                 started_at: datetime.datetime) -> dict[str, Any]:
    """Everything but ``gates`` and ``exit_code``, which the caller fills in last."""
    results = [_result(options, run) for run in runs]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {
            "name": "aiohttp-asgi-fast",
            "version": __version__,
            "python": platform.python_version(),
            "aiohttp": aiohttp.__version__,
            "loop": loop,
        },
        "started_at": started_at.isoformat(timespec="seconds"),
        "config": _config(options, runs[0].lifespan_ran if runs else None),
        "results": results,
        "comparison": _comparison(results),
        "gates": [],
        "interrupted": any(r["interrupted"] for r in results),
        "exit_code": 0,
    }
