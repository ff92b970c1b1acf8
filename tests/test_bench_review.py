"""Regression tests for the bench review's findings (numbered as in the review).

Each test fails on the code before the fixes: late sends after a late wake-up (1), the
``--mode both --rate`` hang (2), sends and the grace counted after Ctrl-C (3), the false
rate warning (4), scenario statuses (5), unbounded step rows (6), workers outliving a
killed parent (7), Ctrl-C while workers start (8), unchecked ``--targets`` headers and
the failure kind of an exception not from the app (9), a worker dying mid-load (10),
requests stuck at Ctrl-C (11), unbounded numbers (12), where a lifespan startup failed
(14), options that would be ignored (15) and small input oddities (21).

Every run is the CLI in a subprocess of its own session (so a signal can go to its whole
process group, and a run that does not end is killed with its workers), bounded by a
timeout, with the test process's environment (AIOHTTP_ASGI_NO_EXTENSIONS included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from test_bench_cli import (
    APPS,
    CURRENT_MODE,
    ERROR_PREFIX,
    PROG,
    _explain,
    bench_env,
    line_of,
    only_result,
    report_of,
)

# A run that does not end within this fails (and is killed with its workers).
TIMEOUT = 30.0
Run = subprocess.CompletedProcess[str]


def start(*args: str, env: dict[str, str] | None = None, stdout: Any = subprocess.PIPE,
          stderr: Any = subprocess.PIPE) -> subprocess.Popen[str]:
    """The CLI started in a session of its own (its workers share its process group)."""
    return subprocess.Popen([sys.executable, "-m", "aiohttp_asgi_fast", "bench", *args],
                            cwd=APPS, env=env or bench_env(), stdout=stdout, stderr=stderr,
                            text=True, start_new_session=True)


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL what is left of the run's process group (the CLI and its workers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def finish(proc: subprocess.Popen[str], timeout: float = TIMEOUT) -> Run:
    """Wait (bounded) for a started run; a run still going then is killed, and fails."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the run did not end within {timeout} s:\n{stderr[-3000:]}")
    finally:
        kill_group(proc)  # workers left behind by a failed run
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def bench(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Run:
    return finish(start(*args, env=env), timeout)


def bench_json(*args: str, exit_code: int = 0, env: dict[str, str] | None = None) -> Any:
    """Run with ``-q --json -``, expect ``exit_code``, return the schema-checked report."""
    proc = bench(*args, "-q", "--json", "-", env=env)
    assert proc.returncode == exit_code, _explain(proc)
    return report_of(proc)


def review_env(directory: Path) -> dict[str, str]:
    """bench_review's apps create ``started-<pid>`` in ``directory`` once started."""
    return bench_env(BENCH_REVIEW_DIR=str(directory))


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str],
             limit: float = TIMEOUT) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_group(proc)
            done = finish(proc)
            pytest.fail(f"the run ended or took too long before the condition:\n"
                        f"{_explain(done)}")
        time.sleep(0.02)


def started(directory: Path) -> int:
    return len(list(directory.glob("started-*")))


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return fields[0], int(fields[1])


def children(pid: int) -> dict[int, str]:
    """The live child processes of ``pid``: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[1] != pid or stat[0] == "Z":
            continue
        with contextlib.suppress(OSError):
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has exited)."""
    return [pid for pid in pids if (stat := _stat(pid)) is not None and stat[0] != "Z"]


def one_error_line(proc: Run) -> str:
    assert proc.returncode == 2, _explain(proc)
    assert proc.stdout == ""  # no report
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, _explain(proc)  # one line, no traceback
    assert lines[0].startswith(ERROR_PREFIX)
    return lines[0]


# -- exit 2 with one line: started at once (each is a short process start-up) ------------

BAD_HEADER_NAME = '{"path": "/", "headers": [["bad name", "v"]]}'
CRLF_IN_VALUE = '{"path": "/", "headers": [["x-a", "a\\r\\nInjected: 1"]]}'
NULL_METHOD = '{"path": "/", "method": null}'

# (id, arguments, what the one error line says); TARGETS is the targets file of the case.
USAGE_ERRORS: list[tuple[str, list[str], tuple[str, ...]]] = [
    # 2: a round with no requests ran without an end under --rate
    ("both-rate-fewer-requests-than-rounds",
     ["--mode", "both", "--rate", "50", "-n", "2", "--rounds", "3", "-c", "2"],
     ("--mode both needs at least one request per round",)),
    # 9: --targets headers are checked like -H
    ("targets-header-name-with-space", ["--targets", "TARGETS", "-n", "5"],
     ("--targets TARGETS:2:", "'bad name'")),
    ("targets-crlf-in-value", ["--targets", "TARGETS", "-n", "5"],
     ("--targets TARGETS:2:", "x-a", "CR, LF or NUL")),
    # 14: where the lifespan startup failed
    ("lifespan-startup-raises", ["bench_review:startup_raises", "-n", "5"],
     ("lifespan startup failed", "db down", "(at bench_review.py:LINE)")),
    # 15: options the kind of load would ignore
    ("scenario-with-path", ["--scenario", "bench_review_flows:token", "/x", "-n", "5"],
     ("--scenario makes its own requests: PATH would not be used",)),
    ("targets-with-method", ["--targets", "TARGETS", "-m", "POST", "-n", "5"],
     ("--targets gives each request's method", "-m/--method would not be used")),
    ("ws-two-paths", ["--ws", "/ws", "/b", "-n", "5"],
     ("--ws takes one PATH", "a second PATH would not be used")),
    ("rounds-without-both", ["--rounds", "2", "-n", "5"],
     ("--rounds applies to --mode both only",)),
    ("message-size-without-ws", ["--message-size", "10", "-n", "5"],
     ("--message-size applies to --ws only",)),
    # 21: '//x' is a host to the client, and a null method is no method
    ("double-slash-path", ["//x", "-n", "5"],
     ("PATH must start with a single '/'", "'//x'")),
    ("targets-null-method", ["--targets", "TARGETS", "-n", "5"],
     ("--targets TARGETS:1:", "'method' must be a string, got None")),
]
TARGETS = {
    "targets-header-name-with-space": f"GET /\n{BAD_HEADER_NAME}\n",
    "targets-crlf-in-value": f"GET /\n{CRLF_IN_VALUE}\n",
    "targets-with-method": "GET /\n",
    "targets-null-method": f"{NULL_METHOD}\n",
}
# 12: out of range numbers are argparse errors (usage, then one line)
ARGPARSE_ERRORS: list[tuple[str, list[str], str]] = [
    ("tiny-rate", ["--rate", "1e-300", "-n", "5"], "argument --rate: must be between"),
    ("huge-message", ["--ws", "/ws", "--message-size", "1000000000000", "-n", "5"],
     "argument --message-size: must be at most"),
]


@pytest.fixture(scope="module")
def usage_runs(tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[dict[str, Future[Run]]]:
    directory = tmp_path_factory.mktemp("usage")
    cases = []
    for case, args, _ in USAGE_ERRORS:
        if case in TARGETS:
            path = directory / f"{case}.txt"
            path.write_text(TARGETS[case], "utf-8")
            args = [str(path) if arg == "TARGETS" else arg for arg in args]
        cases.append((case, args))
    cases += [(case, args) for case, args, _ in ARGPARSE_ERRORS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {case: pool.submit(bench, *args, "-q", "--json", "-") for case, args in cases}


@pytest.mark.parametrize(("case", "messages"), [(case, messages)
                                                for case, _, messages in USAGE_ERRORS],
                         ids=[case for case, _, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line(usage_runs: dict[str, Future[Run]], case: str,
                                           messages: tuple[str, ...]) -> None:
    line = one_error_line(usage_runs[case].result(timeout=2 * TIMEOUT))
    for message in messages:
        if "TARGETS" in message:
            path = next(arg for arg in usage_runs[case].result().args if arg.endswith(".txt"))
            message = message.replace("TARGETS", path)
        if "LINE" in message:
            raised_at = line_of(APPS / "bench_review.py", 'raise RuntimeError("db down")')
            message = message.replace("LINE", str(raised_at))
        assert message in line


@pytest.mark.parametrize(("case", "message"), [(case, message)
                                               for case, _, message in ARGPARSE_ERRORS],
                         ids=[case for case, _, _ in ARGPARSE_ERRORS])
def test_out_of_range_numbers_are_argparse_errors(usage_runs: dict[str, Future[Run]],
                                                  case: str, message: str) -> None:
    proc = usage_runs[case].result(timeout=2 * TIMEOUT)
    assert proc.returncode == 2, _explain(proc)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(f"{PROG}: error: {message}")


def test_lifespan_startup_failure_traceback_with_debug() -> None:
    # 14: --debug shows the app's traceback, as for import errors.
    proc = bench("bench_review:startup_raises", "-n", "5", "-q", "--debug")
    assert proc.returncode == 2, _explain(proc)
    assert "Traceback (most recent call last):" in proc.stderr
    assert "RuntimeError: db down" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(ERROR_PREFIX)


# -- the open model -------------------------------------------------------------------


def test_sends_leaving_late_after_a_late_wake_up_are_late() -> None:
    # 1: every 20th request holds the loop 50 ms; the users sleeping until their due
    # time wake up late, and those sends count as late.
    report = bench_json("bench_review:stall", "--rate", "200", "-c", "50", "-z", "1s")
    requests = only_result(report)["requests"]
    assert requests["scheduled"] == 200
    assert requests["total"] + requests["dropped"] == 200
    # ~10 stalls, each making the sends due during it late
    assert 10 <= requests["late"] <= requests["total"]
    assert any("sends left more than 1 ms after their scheduled time" in warning
               for warning in only_result(report)["warnings"])


def test_slow_app_holding_the_rate_gets_no_rate_warning() -> None:
    # 4: every send left on time; the last responses come 300 ms after the last send,
    # which is no reason to say the rate was not reached.
    result = only_result(bench_json("/slow?ms=300", "--rate", "10", "-z", "1s", "-c", "10"))
    requests = result["requests"]
    assert (requests["scheduled"], requests["ok"], requests["dropped"]) == (10, 10, 0)
    assert not [w for w in result["warnings"] if "rate was not reached" in w]
    assert result["duration_s"] >= 1.2  # the last response, 300 ms after the last send


def test_open_model_ctrl_c_stops_the_sends(tmp_path: Path) -> None:
    # 3: at Ctrl-C the users sleeping until their due time send nothing, scheduled is
    # what fell due until then, and the grace after it (nothing in flight) is no load.
    proc = start("bench_review:app", "--rate", "2", "-c", "10", "-z", "30s", "-q", "--json",
                 str(tmp_path / "report.json"), env=review_env(tmp_path))
    try:
        wait_for(lambda: started(tmp_path) == 1, proc)
        load_started = time.monotonic()
        time.sleep(2.5)  # sends due at 0, 0.5, ..., 2.5 s: about 6
        elapsed = time.monotonic() - load_started
        proc.send_signal(signal.SIGINT)
    finally:
        done = finish(proc)
    assert done.returncode == 130, _explain(done)
    report = report_of(done, (tmp_path / "report.json").read_text("utf-8"))
    assert report["interrupted"] is True
    result = only_result(report)
    requests = result["requests"]
    assert 4 <= requests["scheduled"] <= 8
    assert 4 <= requests["total"] <= requests["scheduled"]
    assert requests["failed"] == 0
    assert requests["dropped"] == requests["scheduled"] - requests["total"]
    assert 2.0 <= result["duration_s"] < elapsed + 0.75


def test_ctrl_c_with_requests_stuck_in_the_app(tmp_path: Path) -> None:
    # 11: the three requests still in the app at the end of the grace are failures of
    # their own kind, and the run ends without waiting for those app calls.
    report_path = tmp_path / "report.json"
    proc = start("bench_review:hang", "--timeout", "0", "-n", "100", "-c", "3", "-q",
                 "--json", str(report_path), env=review_env(tmp_path))
    try:
        wait_for(lambda: started(tmp_path) == 1, proc)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        signalled = time.monotonic()
    finally:
        done = finish(proc)
    assert time.monotonic() - signalled < 4.0  # the grace is 1 s
    assert done.returncode == 130, _explain(done)
    result = only_result(report_of(done, report_path.read_text("utf-8")))
    assert result["requests"]["ok"] == 0
    assert result["requests"]["failed"] == 3
    [error] = result["errors"]
    assert (error["kind"], error["count"]) == ("interrupted", 3)


# -- scenarios -------------------------------------------------------------------------


def test_scenario_step_with_a_rejected_status_fails_the_iteration() -> None:
    # 5: GET / then GET /nope (404) without raise_for_status: the iteration failed.
    report = bench_json("--scenario", "bench_review_flows:home_then_missing", "-n", "20",
                        "--fail-on", "errors<1", exit_code=1)
    result = only_result(report)
    assert result["requests"]["failed"] == 20
    assert result["requests"]["ok"] == 0
    [error] = result["errors"]
    assert (error["kind"], error["label"], error["count"]) == (
        "status", "missing: status 404", 20)
    assert result["status_codes"] == {"200": 20, "404": 20}
    [gate] = report["gates"]
    assert (gate["expression"], gate["passed"]) == ("errors<1", False)
    assert [(s["name"], s["count"], s["failed"]) for s in result["steps"]] == [
        ("home", 20, 0), ("missing", 20, 20)]


def test_scenario_step_rows_are_bounded() -> None:
    # 6: 60 distinct unnamed paths: 50 rows of their own, the rest share one.
    result = only_result(bench_json("bench_review:app", "--scenario",
                                    "bench_review_flows:sixty_items", "-n", "2", "-c", "1"))
    assert result["requests"]["ok"] == 2
    steps = result["steps"]
    assert len(steps) == 51
    assert [s["name"] for s in steps[:50]] == [f"GET /items/{i}" for i in range(50)]
    assert steps[50]["name"].startswith("(other requests")
    assert steps[50]["count"] == 20
    assert sum(s["count"] for s in steps) == 120


def test_scenario_requests_carry_the_headers() -> None:
    # 15: -H reaches a scenario's requests (/token answers 403 without X-Token: t).
    result = only_result(bench_json("bench_checks:app", "--scenario", "bench_review_flows:token",
                                    "-H", "X-Token: t", "-n", "20"))
    assert [(s["name"], s["status_codes"]) for s in result["steps"]] == [("token", {"200": 20})]
    assert result["requests"]["ok"] == 20
    assert result["status_codes"] == {"200": 20}


# -- failure kinds ---------------------------------------------------------------------


def test_app_system_exit_is_an_app_exception() -> None:
    # 21: an app's SystemExit fails its request; the run goes on and reports.
    result = only_result(bench_json("bench_review:system_exit", "-n", "30", "-c", "3",
                                    exit_code=1))
    assert result["requests"]["failed"] == 30
    [error] = result["errors"]
    assert (error["kind"], error["count"]) == ("app_exception", 30)
    raised_at = line_of(APPS / "bench_review.py", "raise SystemExit(3)")
    assert error["label"] == f"SystemExit at bench_review.py:{raised_at}"


def test_client_side_exception_is_a_connector_error() -> None:
    # 9: a control character in a header value fails the request before the app runs:
    # not an app exception.
    result = only_result(bench_json("-H", "X-A: a\x01b", "-n", "5", exit_code=1))
    assert result["requests"]["failed"] == 5
    [error] = result["errors"]
    assert (error["kind"], error["count"]) == ("connector", 5)
    # aiohttp refuses it (3.9 and later), or the connector's parser does (3.8)
    assert error["label"].startswith(("ValueError", "RequestParseError"))


# -- workers ---------------------------------------------------------------------------


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    # 7: SIGTERM kills the CLI; its workers notice and stop instead of loading on.
    proc = start("bench_review:app", "/slow?ms=50", "-c", "2", "-z", "20s", "--workers", "2",
                 "-q", env=review_env(tmp_path), stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)  # the workers would keep a pipe open
    try:
        wait_for(lambda: started(tmp_path) == 2, proc)
        time.sleep(0.5)
        workers = [pid for pid, command in children(proc.pid).items()
                   if "spawn_main" in command]
        spawned = list(children(proc.pid))  # the workers and the resource tracker
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=TIMEOUT)
        deadline = time.monotonic() + 6.0
        while alive(spawned) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = alive(spawned)
    finally:
        kill_group(proc)
        if proc.poll() is None:
            proc.wait(timeout=TIMEOUT)
    assert len(workers) == 2
    assert proc.returncode != 0
    assert left == []


def test_ctrl_c_while_workers_start_is_an_interrupt(tmp_path: Path) -> None:
    # 8: Ctrl-C reaches the whole process group while the workers import: they must not
    # die of it; the CLI stops and reports (nothing measured), exit 130.
    report_path = tmp_path / "report.json"
    proc = start("--workers", "2", "-n", "2000", "-q", "--json", str(report_path))
    try:
        wait_for(lambda: sum("spawn_main" in c for c in children(proc.pid).values()) == 2,
                 proc)
        time.sleep(0.1)  # the workers are still importing (about 0.5 s)
        os.killpg(proc.pid, signal.SIGINT)
    finally:
        done = finish(proc)
    assert done.returncode == 130, _explain(done)
    assert "Traceback" not in done.stderr
    assert "exited unexpectedly" not in done.stderr
    report = report_of(done, report_path.read_text("utf-8"))
    assert report["interrupted"] is True
    assert only_result(report)["requests"]["total"] == 0


def test_a_worker_dying_mid_load_stops_the_run(tmp_path: Path) -> None:
    # 10: one worker dies after 200 requests (well under a second); the run stops then
    # (not after -z 8s) with exit 1, naming the worker.
    began = time.monotonic()
    proc = bench("bench_review:one_worker_exits", "--workers", "2", "-z", "8s", "-q",
                 env=review_env(tmp_path))
    took = time.monotonic() - began
    assert (tmp_path / "exited").exists()
    assert proc.returncode == 1, _explain(proc)
    assert took < 6.5  # -z 8s
    [line] = proc.stderr.splitlines()
    assert line.startswith(ERROR_PREFIX)
    assert f"({CURRENT_MODE}) exited unexpectedly (exit code 3)" in line
    assert line[len(ERROR_PREFIX):].startswith("worker ")
    assert proc.stdout == ""  # no report
