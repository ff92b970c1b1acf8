"""The bench text report and live progress, from real ``summarize()`` results."""

from __future__ import annotations

import copy
import functools
import io
import re
from typing import Any

import pytest

pytest.importorskip("rich")
pytest.importorskip("hdrh")

from rich.console import Console

from aiohttp_asgi_fast.bench._progress import Progress
from aiohttp_asgi_fast.bench._recorder import APP_EXCEPTION, TIMEOUT, Recorder
from aiohttp_asgi_fast.bench._report_text import render_report
from aiohttp_asgi_fast.bench._summary import summarize

HISTOGRAM_LINE = re.compile(r"^\s+[\d,.]+ ms \[\s*[\d,]+\]( \S+)?$", re.MULTILINE)


def _raise_boom() -> None:
    raise ValueError("boom [not markup]")


def make_recorder(*, rate: float | None = None) -> Recorder:
    """100 requests at 1 ms and 1 at 50 ms (status 200), 3 x 404, 2 x ValueError, 1 timeout."""
    recorder = Recorder()
    for _ in range(100):
        recorder.record_ok(200, 1_000, 900, 2_048, 100)
        recorder.record_app_times(200, 300)
    recorder.record_ok(200, 50_000, 49_000, 2_048, 100)
    for _ in range(3):
        recorder.record_status_failure(404, 10, 100)
    try:
        _raise_boom()
    except ValueError as exc:
        for _ in range(2):
            recorder.record_failure(APP_EXCEPTION, "app ValueError", "ValueError: boom", exc)
    recorder.record_failure(TIMEOUT, "timeout", "no response within 30 s")
    recorder.loop_lag.record_value(150)
    recorder.duration = 2.0
    if rate:
        recorder.scheduled, recorder.late, recorder.dropped = 108, 7, 1
    return recorder


@functools.cache
def _summary(rate: float | None) -> Any:
    # summarize() costs ~0.5 s (hdrh's mean and stdev walk every bucket in Python): once.
    return summarize(make_recorder(rate=rate), mode="compiled", rate=rate)


def make_result(mode: str = "compiled", *, rate: float | None = None, **extra: Any) -> Any:
    result = copy.deepcopy(_summary(rate))
    result["mode"] = mode
    result.update(implementation="cython" if mode == "compiled" else "python", workers=[],
                  rounds=[])
    result.update(extra)
    return result


def make_report(results: list[Any], **extra: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "schema_version": 1,
        "tool": {"name": "aiohttp-asgi-fast", "version": "9.9", "python": "3.11.7",
                 "aiohttp": "3.9.5", "loop": "asyncio"},
        "started_at": "2026-01-01T00:00:00+00:00",
        "config": {
            "app": "myapp:app", "factory": False, "lifespan": "auto", "lifespan_ran": True,
            "paths": ["/"], "method": "GET", "headers": [], "body_bytes": None,
            "targets": None, "order": "sequential", "model": "closed", "requests": 107,
            "duration_s": None, "concurrency": 10, "rate": None, "warmup_s": 0.0,
            "timeout_s": 30.0, "workers": 1, "mode": results[0]["mode"], "rounds": None,
            "kind": "http", "scenario": None, "message_size": None,
        },
        "results": results,
        "comparison": None,
        "gates": [],
        "interrupted": False,
        "exit_code": 1,
    }
    for key, value in extra.items():
        if key in report["config"]:
            report["config"][key] = value
        else:
            report[key] = value
    return report


def render(report: dict[str, Any]) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    render_report(report, console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def row(output: str, label: str) -> list[str]:
    """The cells after ``label`` on the first line whose first words are ``label``'s."""
    words = label.split()
    for line in output.splitlines():
        cells = line.split()
        if cells[:len(words)] == words:
            return cells[len(words):]
    raise AssertionError(f"no line starts with {label!r}:\n{output}")


def test_closed_model_report_figures() -> None:
    result = make_result()
    output = render(make_report([result]))
    assert "Benchmark of myapp:app" in output
    assert "closed model: -c 10" in output
    assert "107 requests" in output
    assert "107 (101 ok, 6 failed: 5.61%)" in output
    assert "53.5 req/s (ok: 50.5 req/s)" in output
    # 101 x 2,048 bytes + 3 x 10 in 2 s
    assert "Bytes in    202.03 KiB, 101.01 KiB/s" in output
    latency = result["latency_ms"]
    cells = row(output, "total")
    assert cells == [f"{latency[k]:,.3f}" for k in
                     ("min", "mean", "p50", "p90", "p95", "p99", "p99_9", "max")]
    assert cells[0] == "1.000" and cells[5] == "1.000"  # p99: the 50 ms one is above it
    assert cells[-1].startswith("50.0")
    assert row(output, "app: to response start")[5] == "0.200"
    assert row(output, "app: to last body byte")[5] == "0.300"
    assert "App time is measured inside the app" in output
    assert "service time" not in output
    assert "interrupted" not in output
    assert "Event loop lag (timer overshoot): p99 0.150 ms, max 0.150 ms" in output


def test_histogram_lines() -> None:
    output = render(make_report([make_result()]))
    lines = HISTOGRAM_LINE.findall(output)
    assert len(lines) == 10
    bars = [line for line in output.splitlines() if HISTOGRAM_LINE.match(line)]
    assert "[100] " + "\u25a0" * 40 in bars[0]
    assert bars[-1].endswith("[  1] \u25a0")  # a non-zero count always shows
    assert all(line.endswith("]") for line in bars[1:-1])


def test_statuses_errors_and_traceback_once() -> None:
    output = render(make_report([make_result(), make_result("pure")], mode="both"))
    assert row(output, "200") == ["101", "97.12%"]
    assert row(output, "404")[:2] == ["3", "2.88%"]
    assert row(output, "status status 404")[:2] == ["3", "2.80%"]
    app_error = row(output, "app exception app ValueError")
    assert app_error == ["2", "1.87%", "ValueError:", "boom"]
    assert "no response within 30 s" in output
    # The app exception's traceback, once for the whole report, markup left as text.
    assert output.count("Traceback of the first app ValueError:") == 1
    assert output.count("Traceback (most recent call last):") == 1
    assert 'raise ValueError("boom [not markup]")' in output
    assert "ValueError: boom [not markup]" in output
    # Errors are listed in kind order: status, app exception, timeout.
    assert output.index("status 404") < output.index("app ValueError") \
        < output.index("no response within")


def test_several_modes_rounds_and_comparison() -> None:
    rounds = [{"index": i, "rps": 1000.0 + i, "ok": 50, "failed": 0, "duration_s": 0.05}
              for i in (1, 2, 3)]
    results = [make_result(rounds=rounds), make_result("pure", rounds=rounds)]
    comparison = {"numerator": "compiled", "denominator": "pure", "rps_ratio": 1.8512,
                  "round_ratios": [1.8, 1.85, 1.9], "min": 1.8, "max": 1.9, "stdev": 0.0408}
    gates = [{"mode": mode, "expression": "rps>1000", "metric": "rps", "op": ">",
              "threshold": 1000.0, "actual": 53.5, "passed": False}
             for mode in ("compiled", "pure")]
    output = render(make_report(results, mode="both", rounds=3, comparison=comparison,
                                gates=gates))
    assert "compiled (cython)" in output and "pure (python)" in output
    assert output.count("Summary") == 2
    assert "compiled and pure hot paths, 3 rounds each" in output
    assert "compiled / pure: 1.85x req/s (rounds 1.80\u20131.90, stdev 0.04)" in output
    assert row(output, "3")[:3] == ["1,003.0", "50", "0"]
    assert output.index("pure (python)") < output.index("compiled / pure")
    assert row(output, "FAIL compiled rps>1000") == ["53.5"]
    assert row(output, "FAIL pure rps>1000") == ["53.5"]


def test_open_model_interrupted_and_gates() -> None:
    result = make_result(rate=100.0)
    gates = [
        {"expression": "p99<20ms", "metric": "p99", "op": "<", "threshold": 20.0,
         "actual": result["latency_ms"]["p99"], "passed": True},
        {"expression": "errors<0.1%", "metric": "errors", "op": "<", "threshold": 0.1,
         "actual": 5.6075, "passed": False},
        {"expression": "rps>1000", "metric": "rps", "op": ">", "threshold": 1000.0,
         "actual": None, "passed": False},
        {"expression": "errors<=5", "metric": "errors", "op": "<=", "threshold": 5.0,
         "actual": 6.0, "passed": False},
        {"expression": "service_p99.9<100", "metric": "service_p99.9", "op": "<",
         "threshold": 100.0, "actual": 49.023, "passed": True},
    ]
    for gate in gates:
        gate["mode"] = "compiled"
    output = render(make_report([result], model="open", rate=100.0, interrupted=True,
                                gates=gates))
    assert "open model: --rate 100/s, up to 10 in flight" in output
    assert output.count("interrupted by Ctrl-C: partial report") == 1
    assert "Target rate  100 req/s: 108 scheduled, 7 late, 1 dropped" in output
    assert row(output, "from scheduled send (corrected)")[5] == "1.000"
    assert row(output, "service time (from actual send)")[5] == "0.900"
    # 7 of 108 sends late is over 1%: said; 1 never made is under 1%: not a missed rate.
    assert "note: 7 of 108 sends left more than 1 ms after their scheduled time" in output
    assert "rate was not reached" not in output
    assert row(output, "PASS") == ["p99<20ms", "1.000", "ms"]
    assert row(output, "FAIL") == ["errors<0.1%", "5.607%"]
    assert row(output, "FAIL rps>1000") == ["\u2014"]
    assert row(output, "FAIL errors<=5") == ["6"]
    assert row(output, "PASS service_p99.9<100") == ["49.023", "ms"]


def test_empty_distributions_workers_and_steps() -> None:
    recorder = Recorder()
    recorder.duration = 1.0
    step = recorder.step("login")
    step.count, step.failed = 4, 1
    step.latency.record_value(2_000)
    result = summarize(recorder, mode="compiled", rate=None, unit="iteration")
    workers = [{"index": 0, "pid": 4242, "ok": 0, "failed": 0, "rps": 0.0, "duration_s": 1.0,
                "p50_ms": None, "p99_ms": None}]
    result.update(implementation="cython", workers=workers, rounds=[])
    output = render(make_report([result], kind="scenario", scenario="flows:checkout",
                                workers=2, requests=None, duration_s=30.0))
    assert "scenario flows:checkout" in output
    assert "for 30 s" in output and "2 worker processes" in output
    assert "Iterations" in output
    assert row(output, "total") == ["\u2014"] * 8
    assert "Latency histogram" not in output
    assert row(output, "login") == ["4", "1", "2.000", "2.000", "2.000"]
    assert row(output, "0 4242") == ["0", "0", "0.0", "\u2014", "\u2014"]


def test_ascii_console_falls_back() -> None:
    raw = io.BytesIO()
    file = io.TextIOWrapper(raw, encoding="ascii")
    console = Console(file=file, width=100, color_system=None)
    render_report(make_report([make_result(), make_result("pure")], mode="both"), console)
    file.flush()
    output = raw.getvalue().decode("ascii")
    assert "[100] " + "#" * 40 in output
    assert row(output, "total")[-1].startswith("50.0")


def snapshot(elapsed: float, phase: str = "load", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"phase": phase, "elapsed_s": elapsed, "requests": 12_345,
                            "failed": 2, "rps": 4_100.4, "p99_ms": 1.2341, "target": "30 s"}
    data.update(extra)
    return data


def test_progress_plain_lines_at_the_interval() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    progress = Progress(console, quiet=False, interval=1.0)
    for step in range(1, 13):  # 0.25 s .. 3.0 s
        progress.update(snapshot(step * 0.25))
    progress.update(snapshot(0.25, phase="load", p99_ms=None))  # a new round: clock restarts
    progress.update(snapshot(1.1, p99_ms=None))
    progress.close()
    progress.close()
    progress.update(snapshot(5.0))  # after close: ignored
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines == [
        "[ 1.0s] load: 12,345 requests, 4,100 req/s, 2 failed, p99 1.234 ms",
        "[ 2.0s] load: 12,345 requests, 4,100 req/s, 2 failed, p99 1.234 ms",
        "[ 3.0s] load: 12,345 requests, 4,100 req/s, 2 failed, p99 1.234 ms",
        "[ 1.1s] load: 12,345 requests, 4,100 req/s, 2 failed",
    ]


def test_progress_phase_change_and_quiet() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    progress = Progress(console, quiet=False, interval=2.0)
    for elapsed in (0.5, 1.0, 2.1, 2.5, 3.0):
        progress.update(snapshot(elapsed, phase="warmup"))
    for elapsed in (0.25, 1.9, 2.0, 3.9, 4.3):
        progress.update(snapshot(elapsed))
    progress.close()
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line[:15] for line in lines] == ["[ 2.1s] warmup:", "[ 2.0s] load: 1",
                                             "[ 4.3s] load: 1"]

    quiet_console = Console(file=io.StringIO(), width=100, color_system=None)
    quiet = Progress(quiet_console, quiet=True, interval=0.0)
    for elapsed in (0.5, 1.0, 5.0):
        quiet.update(snapshot(elapsed))
    quiet.close()
    assert quiet_console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_progress_terminal_is_transient() -> None:
    file = io.StringIO()
    console = Console(file=file, width=100, force_terminal=True, color_system=None)
    progress = Progress(console, quiet=False)
    progress.update(snapshot(0.25))
    progress.update(snapshot(0.5, requests=99))
    assert "99 requests" in file.getvalue()
    assert "(target 30 s)" in file.getvalue()
    progress.close()
    progress.close()
    # The live line was erased: the last thing written moves the cursor up and clears.
    assert file.getvalue().rstrip("\x1b[?25h").endswith("\x1b[2K")
