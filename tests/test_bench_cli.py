"""``aiohttp-asgi-fast bench`` end to end: the command run as a subprocess, as a user runs it.

Every run is ``python -m aiohttp_asgi_fast bench ...`` (or the installed console script)
in its own process, bounded by ``timeout=`` so a hang fails instead of freezing CI, with
the test process's environment (so AIOHTTP_ASGI_NO_EXTENSIONS picks the same hot path).
The test apps live in ``tests/bench_apps`` (the runs' working directory, so ``module:app``
imports from there as it would from a project). Every JSON report read here is validated
against the shipped ``report.schema.json`` and its ``exit_code`` checked against the
process's.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import aiohttp_asgi_fast

APPS = Path(__file__).parent / "bench_apps"
# Every subprocess is bounded by this; a run here takes well under 5 s.
TIMEOUT = 60.0
PROG = "python -m aiohttp_asgi_fast bench"
ERROR_PREFIX = f"{PROG}: error: "
CURRENT_MODE = "compiled" if aiohttp_asgi_fast.IMPLEMENTATION == "cython" else "pure"
NO_EXTENSIONS = os.environ.get("AIOHTTP_ASGI_NO_EXTENSIONS", "") not in ("", "0")
EXTRA_HINT = "pip install 'aiohttp-asgi-fast[bench]'"
DEMO = "aiohttp_asgi_fast.demo:app"
# The demo app's GET / body: {"hello":"w"}
DEMO_BODY = 13

_SCHEMA = json.loads((files("aiohttp_asgi_fast.bench") / "report.schema.json").read_text("utf-8"))
_VALIDATOR = jsonschema.Draft202012Validator(_SCHEMA)


def bench_env(**extra: str) -> dict[str, str]:
    """The test process's environment, without what would make rich draw for a terminal."""
    env = dict(os.environ)
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE"):
        env.pop(name, None)
    env["COLUMNS"] = "120"
    env.update(extra)
    return env


def bench(*args: str, cwd: Path = APPS, env: dict[str, str] | None = None,
          command: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = (command or [sys.executable, "-m", "aiohttp_asgi_fast"]) + ["bench", *args]
    return subprocess.run(argv, cwd=cwd, env=env or bench_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)


def finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait (bounded) for a started run; kill it if it does not end."""
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _explain(proc: subprocess.CompletedProcess[str]) -> str:
    return (f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}\n"
            f"--- stderr ---\n{proc.stderr[-3000:]}")


def report_of(proc: subprocess.CompletedProcess[str], text: str | None = None) -> Any:
    """The JSON report on stdout (nothing else may be there) or ``text``, schema-checked."""
    text = proc.stdout if text is None else text
    try:
        report = json.loads(text)
    except ValueError:
        pytest.fail(f"stdout is not one JSON document:\n{_explain(proc)}")
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in _VALIDATOR.iter_errors(report)]
    assert not problems, f"the report does not fit report.schema.json: {problems}"
    assert report["exit_code"] == proc.returncode
    return report


def bench_json(*args: str, exit_code: int = 0, **kwargs: Any) -> Any:
    """Run with ``-q --json -``, expect ``exit_code``, return the checked report."""
    proc = bench(*args, "-q", "--json", "-", **kwargs)
    assert proc.returncode == exit_code, _explain(proc)
    return report_of(proc)


def only_result(report: Any) -> Any:
    assert len(report["results"]) == 1, report["results"]
    return report["results"][0]


def line_of(path: Path, text: str) -> int:
    """The number of the one line of ``path`` that contains ``text``."""
    [number] = [n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if text in line]
    return number


def read_counts(directory: Path) -> dict[int, Any]:
    """bench_counting's files: pid -> {"counts": ..., "order": ...}."""
    return {
        int(path.name[len("counts-"):]): json.loads(path.read_text("utf-8"))
        for path in directory.glob("counts-*")
    }


# -- the report: exact counts, JSON shape, the text report --------------------------


def test_json_report_exact_counts_and_shape() -> None:
    report = bench_json("-n", "300", "-c", "7")
    result = only_result(report)
    assert report["schema_version"] == 1
    assert report["interrupted"] is False
    assert report["gates"] == []
    assert report["comparison"] is None
    assert report["tool"]["name"] == "aiohttp-asgi-fast"
    assert report["tool"]["version"] == aiohttp_asgi_fast.__version__
    assert report["tool"]["loop"] == "asyncio"
    config = report["config"]
    assert config["app"] == DEMO
    assert config["paths"] == ["/"]
    assert config["method"] == "GET"
    assert (config["requests"], config["concurrency"], config["workers"]) == (300, 7, 1)
    assert config["model"] == "closed"
    assert config["kind"] == "http"
    assert config["lifespan_ran"] is True  # the demo app supports the lifespan
    # The default mode is the hot path this install (and environment) loads.
    assert config["mode"] == CURRENT_MODE
    assert result["mode"] == CURRENT_MODE
    assert result["implementation"] == aiohttp_asgi_fast.IMPLEMENTATION
    assert result["unit"] == "request"
    assert result["requests"] == {"total": 300, "ok": 300, "failed": 0, "scheduled": None,
                                  "late": None, "dropped": None}
    assert result["status_codes"] == {"200": 300}
    assert result["errors"] == []
    assert result["steps"] == []
    assert result["workers"] == []
    assert result["rounds"] == []
    assert result["bytes"]["in"] == 300 * DEMO_BODY
    assert result["bytes"]["out"] == 0
    assert result["duration_s"] > 0
    assert result["rps"] == pytest.approx(300 / result["duration_s"], rel=1e-3)
    assert result["ok_rps"] == result["rps"]
    latency = result["latency_ms"]
    assert latency["count"] == 300
    assert latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert result["service_time_ms"]["count"] == 300
    app_time = result["app_time_ms"]
    assert app_time["to_response_start"]["count"] == 300
    assert app_time["to_last_body_byte"]["count"] == 300
    # Inside the app is part of the whole: never more than the client saw.
    assert app_time["to_last_body_byte"]["max"] <= latency["max"]
    assert len(result["histogram"]) == 10
    assert sum(bucket["count"] for bucket in result["histogram"]) == 300
    assert result["histogram"][-1]["upper_ms"] == pytest.approx(latency["max"], abs=0.002)
    # The encoded histograms carry the same data, for merging reports elsewhere.
    from hdrh.histogram import HdrHistogram

    decoded = HdrHistogram.decode(result["hdr"]["latency"])
    assert decoded.get_total_count() == 300
    assert decoded.get_value_at_percentile(99.0) / 1000 == pytest.approx(latency["p99"], abs=1e-3)
    assert HdrHistogram.decode(result["hdr"]["app_to_last_body_byte"]).get_total_count() == 300


def test_text_report_shows_the_figures_of_the_json_report(tmp_path: Path) -> None:
    # --json FILE keeps the text report on stdout: both come from one run.
    proc = bench("-n", "300", "-c", "7", "-q", "--json", str(tmp_path / "report.json"))
    assert proc.returncode == 0, _explain(proc)
    text = proc.stdout
    result = only_result(report_of(proc, (tmp_path / "report.json").read_text("utf-8")))

    assert f"Benchmark of {DEMO}" in text
    assert re.search(r"Requests\s+300 \(300 ok, 0 failed\)", text), text
    throughput = re.search(r"Throughput\s+([\d,]+\.\d) req/s", text)
    assert throughput, text
    assert float(throughput[1].replace(",", "")) == pytest.approx(result["rps"], abs=0.051)

    header = next(line.split() for line in text.splitlines() if " p99 " in f" {line} ")
    total = next(line.split() for line in text.splitlines() if line.split()[:1] == ["total"])
    figures = dict(zip(header, total[1:], strict=True))
    assert float(figures["p99"]) == pytest.approx(result["latency_ms"]["p99"], abs=0.0011)
    assert float(figures["p50"]) == pytest.approx(result["latency_ms"]["p50"], abs=0.0011)

    assert "Latency histogram" in text
    bars = re.findall(r"^\s*([\d,.]+) ms \[\s*([\d,]+)\]", text, re.M)
    assert [int(count.replace(",", "")) for _, count in bars] == [
        bucket["count"] for bucket in result["histogram"]
    ]
    assert "Status codes" in text
    assert re.search(r"^\s*200\s+300\s+100\.00%", text, re.M), text


# -- exit codes ----------------------------------------------------------------------


def test_failed_statuses_exit_1_grouped_by_status() -> None:
    report = bench_json("/nope", "-n", "60", exit_code=1)
    assert report["config"]["app"] == DEMO  # paths alone go to the demo app
    result = only_result(report)
    assert result["requests"]["ok"] == 0
    assert result["requests"]["failed"] == 60
    assert result["status_codes"] == {"404": 60}
    assert result["latency_ms"] is None  # failed requests stay out of the latencies
    assert result["bytes"]["in"] == 60 * len(b"not found")
    [error] = result["errors"]
    assert (error["kind"], error["label"], error["count"], error["percent"]) == (
        "status", "status 404", 60, 100.0)
    assert error["traceback"] is None

    # --expect-status says which statuses are a success.
    result = only_result(bench_json("/nope", "-n", "60", "--expect-status", "404"))
    assert (result["requests"]["ok"], result["requests"]["failed"]) == (60, 0)
    assert result["latency_ms"]["count"] == 60


def test_app_exception_exit_1_with_its_type_and_first_traceback() -> None:
    report = bench_json("bench_checks:app", "/boom", "-n", "40", "-c", "4", exit_code=1)
    result = only_result(report)
    assert result["requests"]["failed"] == 40
    assert result["status_codes"] == {}
    [error] = result["errors"]
    assert error["kind"] == "app_exception"
    assert error["count"] == 40
    assert error["label"].startswith("KeyError")
    raised_at = line_of(APPS / "bench_checks.py", "raise KeyError")
    assert f"bench_checks.py:{raised_at}" in error["label"]
    assert error["example"] == "'boom-key'"
    traceback = error["traceback"]
    assert traceback.startswith("Traceback (most recent call last):")
    assert 'raise KeyError("boom-key")' in traceback
    assert traceback.rstrip().endswith("KeyError: 'boom-key'")


def test_fail_on_breached_exits_1_and_held_exits_0() -> None:
    report = bench_json("-n", "100", "--fail-on", "p99<0.000001ms", exit_code=1)
    [gate] = report["gates"]
    p99 = only_result(report)["latency_ms"]["p99"]
    assert gate == {"mode": CURRENT_MODE, "expression": "p99<0.000001ms", "metric": "p99",
                    "op": "<", "threshold": 1e-06, "actual": p99, "passed": False}

    report = bench_json("-n", "100", "--fail-on", "rps>1")
    [gate] = report["gates"]
    assert gate["passed"] is True
    assert gate["actual"] == only_result(report)["rps"]


@pytest.mark.parametrize(("gates", "exit_code"), [
    ((), 1),  # failed requests fail the run
    (("errors<50%",), 0),  # an errors gate alone decides: 1 in 3 failed is under 50%
    (("errors<10%",), 1),
    (("errors<=100", "p99<0.000001ms"), 1),  # the errors gate holds, another does not
])
def test_errors_gate_alone_decides_about_failed_requests(
        gates: tuple[str, ...], exit_code: int) -> None:
    args = [arg for gate in gates for arg in ("--fail-on", gate)]
    report = bench_json("/", "/", "/nope", "-n", "300", *args, exit_code=exit_code)
    result = only_result(report)
    assert result["requests"]["ok"] == 200
    assert result["requests"]["failed"] == 100
    assert result["status_codes"] == {"200": 200, "404": 100}
    assert [g["expression"] for g in report["gates"]] == list(gates)
    for gate in report["gates"]:
        if gate["metric"] == "errors":
            expected = 100 * 100 / 300 if gate["expression"].endswith("%") else 100
            assert gate["actual"] == pytest.approx(expected)


# (id, arguments, what the one error line says)
USAGE_ERRORS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("bad-app-string", ["nocolon"],
     ("APP must look like 'module:attribute' (e.g. main:app), got 'nocolon'",)),
    ("module-not-found", ["no_such_module_xyz:app"],
     ("cannot import 'no_such_module_xyz': no module named 'no_such_module_xyz'",)),
    ("module-raises", ["bench_import_raises:app"],
     ("importing 'bench_import_raises' raised RuntimeError: import-time failure in "
      "bench_import_raises", "--debug")),
    ("attribute-missing", ["bench_shapes:ap"],
     ("'bench_shapes' has no attribute 'ap' (did you mean 'app'?)",)),
    ("not-callable", ["bench_shapes:x"], ("bench_shapes:x is int 3, not an ASGI app",)),
    ("wsgi", ["bench_shapes:wsgi_app"], ("it looks like a WSGI app",)),
    ("factory-without-flag", ["bench_shapes:make_app"],
     ("bench_shapes:make_app takes no arguments: if it is an app factory, add --factory",)),
    ("factory-raises", ["bench_shapes:broken_factory", "--factory"],
     ("--factory: calling bench_shapes:broken_factory() raised LookupError: factory cannot "
      "build the app",)),
    ("async-factory", ["bench_shapes:async_factory", "--factory"],
     ("--factory: bench_shapes:async_factory() returned an awaitable",)),
    ("lifespan-startup-failed", ["bench_lifespans:startup_fails"],
     ("lifespan startup failed", "database unreachable")),
    ("lifespan-on-unsupported", ["bench_shapes:app", "--lifespan", "on"],
     ("--lifespan on: the app does not support the ASGI lifespan protocol",)),
    ("bad-fail-on", ["--fail-on", "p99<<1ms"], ("--fail-on 'p99<<1ms': unknown comparison '<<'",)),
    ("n-and-z", ["-n", "5", "-z", "1s"], ("give -n/--requests or -z/--duration, not both",)),
    ("path-without-slash", ["bench_shapes:app", "nopath"],
     ("PATH must start with a single '/' and have no spaces, got 'nopath'",)),
    ("both-fewer-requests-than-rounds", ["--mode", "both", "-n", "2", "--rounds", "3"],
     ("--mode both needs at least one request per round",)),
    ("bad-json-body", ["--json-body", "{not json"], ("--json-body is not valid JSON",)),
    ("fewer-users-than-workers", ["--workers", "2", "-c", "1"],
     ("-c/--concurrency is the total across workers: -c 1 cannot give each of --workers 2",)),
]


@pytest.fixture(scope="module")
def usage_runs() -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """All the usage-error runs, started at once (each is a short process start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {case: pool.submit(bench, *args, "-q", "--json", "-")
               for case, args, _ in USAGE_ERRORS}


@pytest.mark.parametrize(("case", "messages"), [(case, messages)
                                                for case, _, messages in USAGE_ERRORS],
                         ids=[case for case, _, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_one_line(
        usage_runs: dict[str, Future[subprocess.CompletedProcess[str]]], case: str,
        messages: tuple[str, ...]) -> None:
    proc = usage_runs[case].result(timeout=2 * TIMEOUT)
    assert proc.returncode == 2, _explain(proc)
    assert proc.stdout == ""  # no report at all
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, _explain(proc)  # one line, no traceback
    assert lines[0].startswith(ERROR_PREFIX)
    for message in messages:
        assert message in lines[0]


def test_unwritable_json_path_fails_before_the_load(tmp_path: Path) -> None:
    # Checked up front: a long run must not end with its report lost.
    proc = bench("-n", "1000000", "-q", "--json", str(tmp_path / "missing" / "report.json"))
    assert proc.returncode == 2, _explain(proc)
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"{ERROR_PREFIX}--json: the directory of "
        f"{str(tmp_path / 'missing' / 'report.json')!r} does not exist"
    ]


def test_argparse_errors_exit_2() -> None:
    proc = bench("-n", "0")
    assert proc.returncode == 2, _explain(proc)
    assert proc.stdout == ""
    assert proc.stderr.splitlines()[-1] == (
        f"{PROG}: error: argument -n/--requests: must be at least 1, got 0")


def test_app_and_paths_may_follow_options() -> None:
    """``bench main:app -m POST /items``: argparse alone stops at the first option and
    left /items over ("unrecognized arguments"); every positional is taken, in order."""
    report = bench_json(DEMO, "-m", "POST", "/echo", "-d", "hello", "-n", "5", "-c", "1")
    assert (report["config"]["method"], report["config"]["paths"]) == ("POST", ["/echo"])
    assert only_result(report)["bytes"]["in"] == 5 * len("hello")  # echoed: the path held
    report = bench_json("-n", "4", DEMO, "/", "-c", "1", "/stream", "--order", "sequential")
    assert (report["config"]["app"], report["config"]["paths"]) == (DEMO, ["/", "/stream"])
    assert only_result(report)["requests"]["ok"] == 4
    # After "--" every token is a positional (review finding F3: "--" was an error).
    proc = bench("-q", "--json", "-", DEMO, "-n", "3", "-c", "1", "--", "/stream")
    assert proc.returncode == 0, _explain(proc)
    report = report_of(proc)
    assert (report["config"]["app"], report["config"]["paths"]) == (DEMO, ["/stream"])
    # A left-over option is still argparse's error.
    proc = bench(DEMO, "-n", "5", "/x", "--bogus")
    assert proc.returncode == 2, _explain(proc)
    assert proc.stderr.splitlines()[-1].endswith(": error: unrecognized arguments: --bogus")


def test_debug_shows_the_import_traceback() -> None:
    proc = bench("bench_import_raises:app", "--debug", "-q")
    assert proc.returncode == 2, _explain(proc)
    assert "Traceback (most recent call last):" in proc.stderr
    assert "RuntimeError: import-time failure in bench_import_raises" in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(ERROR_PREFIX)


def test_targets_bad_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "targets.txt").write_text("# requests\nGET /a\n\nGET\n", "utf-8")
    proc = bench("bench_checks:app", "--app-dir", str(APPS), "--targets", "targets.txt", "-q",
                 cwd=tmp_path)
    assert proc.returncode == 2, _explain(proc)
    [line] = proc.stderr.splitlines()
    assert line.startswith(ERROR_PREFIX)
    assert "--targets targets.txt:4:" in line
    assert "'GET'" in line


def test_missing_uvloop_exits_2_and_uvloop_runs_when_installed() -> None:
    code = ("import sys; sys.modules['uvloop'] = None; "
            "from aiohttp_asgi_fast.bench._cli import main; "
            "sys.exit(main(['bench', '--loop', 'uvloop', '-n', '5', '-q']))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=APPS, env=bench_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2, _explain(proc)
    [line] = proc.stderr.splitlines()
    assert "--loop uvloop: uvloop is not installed" in line

    try:
        import uvloop  # noqa: F401
    except ImportError:
        proc = bench("--loop", "uvloop", "-n", "5", "-q")
        assert proc.returncode == 2, _explain(proc)
        assert "uvloop is not installed" in proc.stderr
        return
    report = bench_json("--loop", "uvloop", "-n", "200")
    assert report["tool"]["loop"] == "uvloop"
    assert only_result(report)["requests"]["ok"] == 200


@pytest.mark.parametrize(("hidden", "named"), [
    (["rich"], "rich"),
    (["hdrh", "rich"], "hdrhistogram and rich"),
])
def test_missing_extras_exit_2_naming_the_install_command(hidden: list[str], named: str) -> None:
    code = ("import sys\n"
            f"for name in {hidden!r}: sys.modules[name] = None\n"
            "from aiohttp_asgi_fast.__main__ import main\n"
            "sys.exit(main(['bench', '-n', '5']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=APPS, env=bench_env(),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 2, _explain(proc)
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert f"bench needs {named}" in line
    assert EXTRA_HINT in line


# -- finding the app: the console script, --app-dir, --factory ---------------------

MYAPP = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"mine"})


def create():
    return app
'''


def test_console_script_imports_the_app_from_the_current_directory(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "aiohttp-asgi-fast"
    assert script.is_file(), f"the console script is not installed next to {sys.executable}"
    (tmp_path / "myapp.py").write_text(MYAPP, "utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The script's sys.path has no current directory of its own: the CLI puts it there.
    proc = bench("myapp:app", "-n", "50", "-q", "--json", "-", cwd=tmp_path,
                 command=[str(script)])
    assert proc.returncode == 0, _explain(proc)
    report = report_of(proc)
    result = only_result(report)
    assert result["requests"]["ok"] == 50
    assert result["bytes"]["in"] == 50 * len(b"mine")
    assert report["config"]["lifespan_ran"] is False  # auto: the app has no lifespan

    proc = bench("myapp:app", "-n", "5", "-q", cwd=elsewhere, command=[str(script)])
    assert proc.returncode == 2, _explain(proc)
    assert "cannot import 'myapp': no module named 'myapp'" in proc.stderr
    assert "--app-dir" in proc.stderr

    proc = bench("--app-dir", "..", "myapp:create", "--factory", "-n", "50", "-q", "--json",
                 "-", cwd=elsewhere, command=[str(script)])
    assert proc.returncode == 0, _explain(proc)
    report = report_of(proc)
    assert report["config"]["factory"] is True
    assert only_result(report)["requests"]["ok"] == 50


# -- lifespan ------------------------------------------------------------------------


def test_lifespan_auto_runs_the_startup_and_off_does_not() -> None:
    report = bench_json("bench_lifespans:needs_startup", "-n", "50")
    assert report["config"]["lifespan_ran"] is True
    assert only_result(report)["status_codes"] == {"200": 50}

    report = bench_json("bench_lifespans:needs_startup", "-n", "50", "--lifespan", "off",
                        exit_code=1)
    assert report["config"]["lifespan_ran"] is None
    result = only_result(report)
    assert result["status_codes"] == {"503": 50}
    assert [(e["kind"], e["label"], e["count"]) for e in result["errors"]] == [
        ("status", "status 503", 50)]


@pytest.mark.parametrize("workers", [1, 2])
def test_lifespan_shutdown_failure_keeps_the_report(workers: int) -> None:
    # The load ran: its report is printed, and the failed shutdown is one error line
    # (not a traceback), the same with or without worker processes.
    proc = bench("bench_lifespans:shutdown_fails", "-n", "10", "--workers", str(workers),
                 "-q", "--json", "-")
    assert proc.returncode != 0, _explain(proc)
    assert "cannot close db" in proc.stderr, _explain(proc)
    assert "Traceback" not in proc.stderr, _explain(proc)
    result = only_result(report_of(proc))
    assert result["requests"]["ok"] == 10


# -- what is sent ----------------------------------------------------------------


def test_json_body_post_with_content_type_and_a_header() -> None:
    report = bench_json("bench_checks:app", "/json", "-m", "POST", "--json-body", '{"a":1}',
                        "-H", "X-Token: t", "-n", "40")
    config = report["config"]
    assert (config["method"], config["body_bytes"]) == ("POST", 7)
    assert config["headers"] == [["X-Token", "t"]]
    result = only_result(report)
    assert result["status_codes"] == {"200": 40}  # 415 without the content-type, 403 without -H
    assert result["bytes"]["out"] == 40 * len(b'{"a":1}')
    assert result["bytes"]["in"] == 40 * len(b'{"a":1}')  # echoed


def test_data_from_file(tmp_path: Path) -> None:
    (tmp_path / "body.txt").write_bytes(b"payload-from-file\n")
    report = bench_json("--app-dir", str(APPS), "bench_checks:app", "/data", "-d", "@body.txt",
                        "-n", "40", cwd=tmp_path)
    assert report["config"]["method"] == "POST"  # the default with a body
    result = only_result(report)
    assert result["status_codes"] == {"200": 40}  # 400 for any other body
    assert result["bytes"]["out"] == 40 * 18
    assert result["bytes"]["in"] == 40 * 18


def test_several_paths_are_taken_in_turn(tmp_path: Path) -> None:
    env = bench_env(BENCH_COUNT_DIR=str(tmp_path))
    report = bench_json("bench_counting:app", "/a", "/b", "-n", "40", "-c", "1", env=env)
    result = only_result(report)
    assert result["requests"]["ok"] == 40
    assert result["bytes"]["in"] == 20 * len(b"a") + 20 * len(b"bbb")
    [served] = read_counts(tmp_path).values()
    assert served["counts"] == {"/a": 20, "/b": 20}
    assert served["order"] == ["/a", "/b"] * 20


def test_random_order_is_seeded(tmp_path: Path) -> None:
    orders = []
    for run in ("first", "second"):
        directory = tmp_path / run
        directory.mkdir()
        env = bench_env(BENCH_COUNT_DIR=str(directory))
        result = only_result(bench_json("bench_counting:app", "/a", "/b", "-n", "60", "-c", "1",
                                        "--order", "random", env=env))
        assert result["requests"]["ok"] == 60
        [served] = read_counts(directory).values()
        orders.append(served["order"])
    assert orders[0] == orders[1]  # repeatable
    assert set(orders[0]) == {"/a", "/b"}
    assert orders[0] != ["/a", "/b"] * 30  # not in turn


def test_targets_file_plain_and_json_lines(tmp_path: Path) -> None:
    (tmp_path / "body.txt").write_bytes(b"payload-from-file\n")
    (tmp_path / "targets.txt").write_text(
        "# a comment, then a blank line\n"
        "\n"
        "GET /a\n"
        "POST /data @body.txt\n"
        '{"method": "POST", "path": "/json", "headers": {"X-Token": "t"}, "json": {"k": [1, 2]}}\n'
        '{"path": "/token", "headers": [["X-Token", "t"]]}\n',
        "utf-8",
    )
    report = bench_json("--app-dir", str(APPS), "bench_checks:app", "--targets", "targets.txt",
                        "-n", "40", cwd=tmp_path)
    result = only_result(report)
    assert result["status_codes"] == {"200": 40}
    # Ten of each: a, the body file echoed, the JSON echoed, ok.
    assert result["bytes"]["in"] == 10 * (1 + 18 + len(b'{"k":[1,2]}') + 2)
    assert result["bytes"]["out"] == 10 * (18 + len(b'{"k":[1,2]}'))


# -- hot-path modes ------------------------------------------------------------------


@pytest.mark.c_extension
def test_compiled_build_is_importable_here() -> None:
    # CI always builds the compiled hot path; without the variable it must load.
    env = bench_env()
    env.pop("AIOHTTP_ASGI_NO_EXTENSIONS", None)
    code = ("from aiohttp_asgi_fast import _hotpath; "
            "print(repr(_hotpath.IMPORT_ERROR), _hotpath.IMPLEMENTATION)")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, _explain(proc)
    assert proc.stdout.split() == ["None", "cython"]
    assert ("pure" if NO_EXTENSIONS else "compiled") == CURRENT_MODE


@pytest.mark.parametrize(("mode", "implementation"), [
    ("pure", "python"), pytest.param("compiled", "cython", marks=pytest.mark.c_extension)])
def test_mode_selects_the_hot_path(mode: str, implementation: str) -> None:
    report = bench_json("--mode", mode, "-n", "100")
    assert report["config"]["mode"] == mode
    result = only_result(report)
    assert (result["mode"], result["implementation"]) == (mode, implementation)
    assert result["requests"]["ok"] == 100


@pytest.mark.c_extension
def test_mode_both_runs_all_requests_in_rounds_for_each_mode() -> None:
    report = bench_json("--mode", "both", "-n", "600", "--rounds", "2")
    assert report["config"]["rounds"] == 2
    compiled, pure = report["results"]
    assert (compiled["mode"], compiled["implementation"]) == ("compiled", "cython")
    assert (pure["mode"], pure["implementation"]) == ("pure", "python")
    for result in (compiled, pure):
        assert result["requests"]["ok"] == 600
        assert result["status_codes"] == {"200": 600}
        assert [(r["index"], r["ok"], r["failed"]) for r in result["rounds"]] == [
            (0, 300, 0), (1, 300, 0)]
    comparison = report["comparison"]
    assert (comparison["numerator"], comparison["denominator"]) == ("compiled", "pure")
    assert len(comparison["round_ratios"]) == 2
    assert comparison["min"] == min(comparison["round_ratios"])
    assert comparison["max"] == max(comparison["round_ratios"])
    assert comparison["rps_ratio"] == pytest.approx(compiled["rps"] / pure["rps"], rel=1e-3)


# -- workers -------------------------------------------------------------------------


def test_workers_merge_into_one_report(tmp_path: Path) -> None:
    env = bench_env(BENCH_COUNT_DIR=str(tmp_path))
    args = ["bench_counting:app", "--workers", "2", "-n", "400", "-q", "--json", "-"]
    proc = subprocess.Popen([sys.executable, "-m", "aiohttp_asgi_fast", "bench", *args],
                            cwd=APPS, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    cli_pid = proc.pid
    done = finish(proc)
    assert done.returncode == 0, _explain(done)
    result = only_result(report_of(done))
    assert result["requests"]["ok"] == 400
    assert result["latency_ms"]["count"] == 400
    workers = result["workers"]
    assert [w["index"] for w in workers] == [0, 1]
    assert sum(w["ok"] for w in workers) == 400
    assert [w["ok"] for w in workers] == [200, 200]
    pids = {w["pid"] for w in workers}
    assert len(pids) == 2
    assert cli_pid not in pids  # each worker is its own process with its own app
    served = read_counts(tmp_path)
    assert set(served) == pids
    for worker in workers:
        assert served[worker["pid"]]["counts"] == {"/": worker["ok"]}


# -- open model, warm-up, latency ---------------------------------------------------


def test_rate_open_model() -> None:
    report = bench_json("--rate", "200", "-z", "2s")
    assert report["config"]["model"] == "open"
    result = only_result(report)
    assert result["target_rps"] == 200
    requests = result["requests"]
    assert requests["scheduled"] == 400
    assert requests["dropped"] == 0
    assert requests["ok"] == requests["total"] == 400
    assert result["rps"] == pytest.approx(200, rel=0.10)
    assert result["latency_ms"]["count"] == 400
    assert result["service_time_ms"]["count"] == 400
    assert result["service_time_ms"]["min"] <= result["latency_ms"]["max"]


def test_rate_with_duration_stops_at_the_deadline_and_counts_unsent() -> None:
    # 100 sends due in 0.5 s, but one user at 20 ms a request makes ~25: the run must
    # end at -z, with the sends never made counted as dropped (not run on for 2 s).
    report = bench_json("--rate", "200", "-z", "0.5s", "-c", "1", "/slow?ms=20")
    result = only_result(report)
    requests = result["requests"]
    assert requests["scheduled"] == 100
    assert result["duration_s"] < 1.5
    assert requests["dropped"] > 0
    assert requests["total"] + requests["dropped"] == requests["scheduled"]
    assert any("never made" in warning for warning in result["warnings"])


def test_warmup_is_sent_but_left_out(tmp_path: Path) -> None:
    env = bench_env(BENCH_COUNT_DIR=str(tmp_path))
    report = bench_json("bench_counting:app", "-n", "100", "--warmup", "0.3", env=env)
    assert report["config"]["warmup_s"] == 0.3
    result = only_result(report)
    assert result["requests"]["total"] == result["requests"]["ok"] == 100
    assert result["latency_ms"]["count"] == 100
    assert result["duration_s"] < 0.3  # the warm-up's time is left out too
    [served] = read_counts(tmp_path).values()
    assert served["counts"]["/"] > 100  # the warm-up load did reach the app


def test_percentiles_of_a_known_delay() -> None:
    result = only_result(bench_json("/slow?ms=50", "-n", "40", "-c", "4"))
    assert result["requests"]["ok"] == 40
    latency = result["latency_ms"]
    app_body = result["app_time_ms"]["to_last_body_byte"]
    # Percentiles are the top of their HDR bucket; min is its bottom (32 us wide here).
    assert 50 <= latency["p50"] < 90
    assert 50 <= app_body["p50"] < 90
    assert latency["min"] >= 49.95
    assert app_body["min"] >= 49.95
    assert app_body["p50"] <= latency["p50"]
    # Four users, 40 requests of 50 ms: at least 10 after another, so at least 0.5 s.
    assert 0.5 <= result["duration_s"] < 2.0


def test_timeout_counts_timeouts_and_finishes_quickly() -> None:
    started = time.monotonic()
    report = bench_json("/slow?ms=10000", "--timeout", "0.1", "-n", "4", "-c", "2",
                        exit_code=1)
    assert time.monotonic() - started < 8.0
    result = only_result(report)
    assert report["config"]["timeout_s"] == 0.1
    assert result["requests"]["failed"] == 4
    [error] = result["errors"]
    assert (error["kind"], error["label"], error["count"]) == ("timeout", "timeout (0.1 s)", 4)
    assert result["duration_s"] < 1.0


# -- Ctrl-C ------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_stops_and_prints_the_partial_report(tmp_path: Path, workers: int) -> None:
    env = bench_env(BENCH_COUNT_DIR=str(tmp_path))
    args = [sys.executable, "-m", "aiohttp_asgi_fast", "bench", "bench_counting:app", "-z",
            "30s", "--workers", str(workers), "-q", "--json", "-"]
    proc = subprocess.Popen(args, cwd=APPS, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # Wait until every app instance has started (so the SIGINT handler is in place)
        # and the load has run for a while, then press Ctrl-C.
        deadline = time.monotonic() + 30
        while (len(list(tmp_path.glob("started-*"))) < workers and proc.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.05)
        started = len(list(tmp_path.glob("started-*")))
        time.sleep(0.7)
        sent = time.monotonic()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    finally:
        done = finish(proc)
    stopped_in = time.monotonic() - sent
    assert started == workers, _explain(done)
    assert done.returncode == 130, _explain(done)
    assert stopped_in < 10
    report = report_of(done)
    assert report["interrupted"] is True
    assert report["exit_code"] == 130
    result = only_result(report)
    assert result["interrupted"] is True
    assert result["requests"]["ok"] > 0
    assert result["requests"]["failed"] == 0
    assert result["duration_s"] < 30
    assert len(result["workers"]) == (workers if workers > 1 else 0)
    # Every app was shut down after the interrupt, having served what was reported.
    served = read_counts(tmp_path)
    assert len(served) == workers
    assert sum(s["counts"].get("/", 0) for s in served.values()) >= result["requests"]["ok"]


# -- WebSocket and scenarios --------------------------------------------------------


def test_websocket_round_trips() -> None:
    report = bench_json("--ws", "/ws", "-n", "200", "--message-size", "10")
    assert report["config"]["kind"] == "websocket"
    result = only_result(report)
    assert result["unit"] == "round trip"
    assert result["requests"]["ok"] == 200
    assert result["requests"]["failed"] == 0
    assert result["bytes"] == {**result["bytes"], "in": 2000, "out": 2000}
    assert result["latency_ms"]["count"] == 200


def test_scenario_reports_each_step() -> None:
    report = bench_json("--scenario", "bench_scenarios:two_steps", "-n", "50")
    assert report["config"]["kind"] == "scenario"
    result = only_result(report)
    assert result["unit"] == "iteration"
    assert result["requests"]["ok"] == 50
    assert [(s["name"], s["count"], s["failed"], s["status_codes"], s["latency_ms"]["count"])
            for s in result["steps"]] == [("home", 50, 0, {"200": 50}, 50),
                                          ("echo", 50, 0, {"200": 50}, 50)]


def test_scenario_raising_is_a_scenario_error() -> None:
    report = bench_json("--scenario", "bench_scenarios:raises", "-n", "20", exit_code=1)
    result = only_result(report)
    assert result["requests"]["failed"] == 20
    [error] = result["errors"]
    assert (error["kind"], error["count"], error["example"]) == ("scenario", 20,
                                                                 "scenario gave up")
    assert error["label"].startswith("ValueError")
    # Its request, made before it raised, still counts under its default name.
    assert [(s["name"], s["count"]) for s in result["steps"]] == [("GET /", 20)]


def test_app_exception_inside_a_scenario_is_an_app_exception() -> None:
    # The app raised (the scenario only passed it on): kind app_exception, with the
    # traceback, as for plain requests.
    report = bench_json("bench_checks:app", "--scenario", "bench_scenarios:boom", "-n", "10",
                        exit_code=1)
    result = only_result(report)
    assert result["requests"]["failed"] == 10
    [error] = result["errors"]
    assert error["kind"] == "app_exception"
    assert error["label"].startswith("KeyError")
    assert error["traceback"] is not None
    assert 'raise KeyError("boom-key")' in error["traceback"]


# -- app errors no client sees -------------------------------------------------------


@pytest.mark.parametrize("delay_ms", [1, 50])
def test_app_errors_after_the_response_are_logged_not_failed(delay_ms: int) -> None:
    proc = bench("bench_checks:app", f"/after?ms={delay_ms}", "-n", "30", "-q", "--json", "-")
    assert proc.returncode == 0, _explain(proc)
    result = only_result(report_of(proc))
    assert result["requests"]["ok"] == 30
    assert result["requests"]["failed"] == 0
    [error] = result["errors"]
    assert error["kind"] == "logged"
    assert error["count"] == 30
    assert error["label"].startswith("ZeroDivisionError")
    assert "ZeroDivisionError: raised after the response" in error["traceback"]
    # Grouped in the report instead of a traceback per request on stderr.
    assert "Traceback" not in proc.stderr
