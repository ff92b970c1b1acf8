"""The JSON report's schema (report.schema.json): valid itself, and real reports fit it.

Reports are built around real ``summarize()`` results of real ``Recorder``s, so a key
added to or renamed in the summary without the schema (or the reverse) fails here.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
from collections.abc import Callable, Iterator
from importlib.resources import files
from typing import Any

import aiohttp
import jsonschema
import pytest

import aiohttp_asgi_fast
from aiohttp_asgi_fast.bench._gates import METRICS, OPS, evaluate, parse_gate
from aiohttp_asgi_fast.bench._recorder import (
    APP_EXCEPTION,
    CONNECTOR,
    SCENARIO,
    TIMEOUT,
    Recorder,
)
from aiohttp_asgi_fast.bench._summary import distribution, summarize


def load_schema() -> dict[str, Any]:
    """The schema as shipped in the package."""
    resource = files("aiohttp_asgi_fast.bench") / "report.schema.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


SCHEMA = load_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors_of(report: dict[str, Any]) -> list[str]:
    # Through JSON (no NaN/inf), as the CLI writes it.
    data = json.loads(json.dumps(report, allow_nan=False))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATOR.iter_errors(data)]


def assert_valid(report: dict[str, Any]) -> None:
    assert errors_of(report) == []


# -- building reports ----------------------------------------------------------------


def make_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "app": "aiohttp_asgi_fast.demo:app", "factory": False, "lifespan": "auto",
        "lifespan_ran": True, "paths": ["/"], "method": "GET", "headers": [],
        "body_bytes": None, "targets": None, "order": "sequential", "model": "closed",
        "requests": 1000, "duration_s": None, "concurrency": 10, "rate": None,
        "warmup_s": 0.0, "timeout_s": 30.0, "workers": 1, "mode": "compiled", "rounds": None,
        "kind": "http", "scenario": None, "message_size": None,
    }
    unknown = set(overrides) - set(config)
    assert not unknown, unknown
    config.update(overrides)
    return config


def make_result(
    recorder: Recorder,
    *,
    mode: str = "compiled",
    rate: float | None = None,
    unit: str = "request",
    workers: list[Recorder] | None = None,
    rounds: list[Recorder] | None = None,
) -> dict[str, Any]:
    """summarize() plus implementation, workers (none for one) and rounds, as the CLI does."""
    result = summarize(recorder, mode=mode, rate=rate, unit=unit)
    result["implementation"] = "cython" if mode == "compiled" else "python"
    result["workers"] = []
    for index, worker in enumerate(workers or []):
        latency = distribution(worker.latency)
        total = worker.ok + worker.failed
        result["workers"].append({
            "index": index, "pid": os.getpid() + index, "ok": worker.ok,
            "failed": worker.failed,
            "rps": round(total / worker.duration, 3) if worker.duration else 0.0,
            "duration_s": round(worker.duration, 6),
            "p50_ms": latency and latency["p50"], "p99_ms": latency and latency["p99"],
        })
    result["rounds"] = [
        {"index": index, "rps": round((r.ok + r.failed) / r.duration, 3), "ok": r.ok,
         "failed": r.failed, "duration_s": round(r.duration, 6)}
        for index, r in enumerate(rounds or [])
    ]
    return result


def make_report(
    results: list[dict[str, Any]],
    config: dict[str, Any] | None = None,
    *,
    comparison: dict[str, Any] | None = None,
    fail_on: tuple[str, ...] = (),
    interrupted: bool = False,
) -> dict[str, Any]:
    """The full report around results; gates are checked on each result, as the CLI does."""
    parsed = [parse_gate(text) for text in fail_on]
    gates = [check for result in results for check in evaluate(parsed, result)]
    failed = any(r["requests"]["failed"] for r in results) or not all(
        g["passed"] for g in gates)
    return {
        "schema_version": 1,
        "tool": {"name": "aiohttp-asgi-fast", "version": aiohttp_asgi_fast.__version__,
                 "python": platform.python_version(), "aiohttp": aiohttp.__version__,
                 "loop": "asyncio"},
        "started_at": "2026-05-09T07:35:25.123456+00:00",
        "config": config or make_config(),
        "results": results,
        "comparison": comparison,
        "gates": gates,
        "interrupted": interrupted,
        "exit_code": 130 if interrupted else 1 if failed else 0,
    }


def record_http(recorder: Recorder, n: int, *, scale: int = 1, failures: bool = True) -> None:
    """n successes with spread latencies, app times and loop lag; a few failures."""
    for i in range(1, n + 1):
        recorder.record_ok(200 if i % 10 else 201, i * 37 * scale, i * 31 * scale, 512, 64)
        recorder.record_app_times(i * 5, i * 9)
        recorder.loop_lag.record_value(100 + i)
    if failures:
        recorder.record_status_failure(503, 20, 0)
        recorder.record_status_failure(503, 20, 0)
        recorder.record_status_failure(404, 9, 0)
        try:
            raise ValueError("bad input")
        except ValueError as exc:
            recorder.record_failure(APP_EXCEPTION, "app ValueError", str(exc), exc)
        recorder.record_failure(TIMEOUT, "timeout", "no response within 30 s")
        recorder.record_failure(CONNECTOR, "connector ASGIProtocolError", "bad message")


# -- the schema itself ---------------------------------------------------------------


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].endswith("/src/aiohttp_asgi_fast/bench/report.schema.json")
    assert SCHEMA["title"]
    assert SCHEMA["properties"]["schema_version"]["const"] == 1


def walk(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def test_every_object_is_closed_and_every_property_documented() -> None:
    for path, node in walk(SCHEMA):
        if path.rsplit("/", 1)[-1] in ("properties", "patternProperties"):
            for name, sub in node.items():
                assert sub.get("description"), f"{path}/{name} has no description"
            continue
        types = node.get("type")
        is_object = types == "object" or (isinstance(types, list) and "object" in types)
        if is_object or "properties" in node:
            assert node.get("additionalProperties") is False, f"{path} is open"
            # every property is always present (null when it does not apply)
            assert sorted(node.get("required", [])) == sorted(node.get("properties", {})), path


def test_gate_enums_match_the_gates_module() -> None:
    gate = SCHEMA["$defs"]["Gate"]["properties"]
    assert gate["metric"]["enum"] == list(METRICS)
    assert gate["op"]["enum"] == list(OPS)


# -- real reports fit ----------------------------------------------------------------


def test_http_closed_model_with_errors_and_statuses() -> None:
    recorder = Recorder()
    record_http(recorder, 500)
    recorder.duration = 1.5
    result = make_result(recorder)
    assert result["requests"]["scheduled"] is None
    assert {g["kind"] for g in result["errors"]} == {
        "status", "app_exception", "timeout", "connector"}
    [app_error] = [g for g in result["errors"] if g["kind"] == "app_exception"]
    assert "ValueError: bad input" in app_error["traceback"]
    assert [g["label"] for g in result["errors"][:2]] == ["status 503", "status 404"]
    assert set(result["status_codes"]) == {"200", "201", "404", "503"}
    config = make_config(headers=[["x-token", "abc"], ["accept", "*/*"]], body_bytes=64,
                         method="POST", paths=["/a", "/b"], order="random")
    report = make_report([result], config, fail_on=("p99<20ms", "errors<0.1%", "rps>1000",
                                                    "app_p99.9<=5ms", "errors<=10"))
    assert report["exit_code"] == 1
    assert_valid(report)


def test_http_with_workers_merged_over_the_wire() -> None:
    workers = []
    for index in range(3):
        worker = Recorder()
        record_http(worker, 200, scale=index + 1, failures=index == 1)
        worker.duration = 1.0 + index / 10
        workers.append(Recorder.from_wire(json.loads(json.dumps(worker.to_wire()))))
    merged = Recorder()
    for worker in workers:
        merged.merge(worker)
    result = make_result(merged, mode="pure", workers=workers)
    assert len(result["workers"]) == 3
    assert_valid(make_report([result], make_config(workers=3, mode="pure")))


def test_open_model_with_rate() -> None:
    recorder = Recorder()
    record_http(recorder, 300, failures=False)
    recorder.scheduled, recorder.late, recorder.dropped = 320, 12, 20
    recorder.duration = 1.0
    result = make_result(recorder, rate=320.0)
    counts = result["requests"]
    assert (counts["scheduled"], counts["late"], counts["dropped"]) == (320, 12, 20)
    assert all(type(counts[k]) is int for k in ("scheduled", "late", "dropped"))
    assert result["target_rps"] == 320.0
    assert result["warnings"]  # rate not reached; late and dropped sends
    config = make_config(model="open", rate=320.0, requests=None, duration_s=1.0,
                         warmup_s=0.5, timeout_s=None)
    assert_valid(make_report([result], config, fail_on=("service_p99<10ms",)))


def test_scenario_with_steps() -> None:
    recorder = Recorder()
    for i in range(1, 51):
        for name, status in (("login", 200), ("list items", 200), ("logout", 204)):
            step = recorder.step(name)
            step.count += 1
            step.statuses[status] += 1
            step.latency.record_value(i * 40)
        recorder.record_ok(200, i * 130, i * 120, 300, 40)
    never = recorder.step("delete")  # a step that always failed: null latency
    never.count = never.failed = 3
    never.statuses[403] += 3
    recorder.record_failure(SCENARIO, "scenario AssertionError", "expected 200, got 403")
    recorder.duration = 0.8
    result = make_result(recorder, unit="iteration")
    assert [s["name"] for s in result["steps"]] == ["login", "list items", "logout", "delete"]
    assert result["steps"][3]["latency_ms"] is None
    assert result["app_time_ms"]["to_response_start"] is None
    config = make_config(kind="scenario", scenario="loadtest:scenario", requests=50)
    assert_valid(make_report([result], config))


def test_websocket_round_trips() -> None:
    recorder = Recorder()
    for i in range(1, 101):
        recorder.record_ok(101, i * 20, i * 20, 32, 32)
    recorder.duration = 0.2
    result = make_result(recorder, unit="round trip")
    config = make_config(kind="websocket", paths=["/ws"], message_size=32)
    assert_valid(make_report([result], config, fail_on=("p50<1ms",)))


def test_mode_both_with_comparison_and_rounds() -> None:
    results = []
    per_mode_rps = {}
    for mode, speed in (("compiled", 1), ("pure", 2)):
        rounds = []
        total = Recorder()
        for r in range(3):
            part = Recorder()
            record_http(part, 100 + r, scale=speed, failures=False)
            part.duration = 0.25 * speed
            rounds.append(part)
            total.merge(part)
        total.duration = sum(p.duration for p in rounds)  # rounds run one after another
        result = make_result(total, mode=mode, rounds=rounds)
        results.append(result)
        per_mode_rps[mode] = [r["rps"] for r in result["rounds"]]
    ratios = [c / p for c, p in zip(per_mode_rps["compiled"], per_mode_rps["pure"],
                                             strict=True)]
    comparison = {
        "numerator": "compiled", "denominator": "pure",
        "rps_ratio": results[0]["rps"] / results[1]["rps"], "round_ratios": ratios,
        "min": min(ratios), "max": max(ratios), "stdev": statistics.stdev(ratios),
    }
    config = make_config(mode="both", rounds=3)
    report = make_report(results, config, comparison=comparison, fail_on=("ok_rps>=1",))
    assert [g["mode"] for g in report["gates"]] == ["compiled", "pure"]
    assert report["exit_code"] == 0
    assert_valid(report)


def test_empty_interrupted_run_has_null_distributions() -> None:
    recorder = Recorder()
    recorder.interrupted = True
    result = make_result(recorder, mode="pure", workers=[recorder, Recorder()])
    for key in ("latency_ms", "service_time_ms", "loop_lag_ms"):
        assert result[key] is None
    assert result["app_time_ms"] == {"to_response_start": None, "to_last_body_byte": None}
    assert result["histogram"] == [] and result["rps"] == 0.0
    assert [w["p50_ms"] for w in result["workers"]] == [None, None]
    report = make_report([result], make_config(mode="pure", lifespan_ran=None, workers=2),
                         fail_on=("p99<20ms", "errors<1%"), interrupted=True)
    assert [g["actual"] for g in report["gates"]] == [None, None]
    assert report["exit_code"] == 130
    assert_valid(report)


# -- drift is caught -----------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def mutate(report: dict[str, Any]) -> None:
        node: Any = report
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def mutate(report: dict[str, Any]) -> None:
        node: Any = report
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


@pytest.fixture(scope="module")
def good_report() -> dict[str, Any]:
    recorder = Recorder()
    record_http(recorder, 100)
    recorder.duration = 1.0
    result = make_result(recorder, workers=[recorder, recorder])
    report = make_report([result], make_config(workers=2), fail_on=("p99<20ms",))
    assert_valid(report)
    return report


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_set("extra", 1), id="unknown top-level key"),
        pytest.param(_set("results/0/p999", 1.0), id="unknown result key"),
        pytest.param(_set("results/0/latency_ms/p99.9", 1.0), id="unknown distribution key"),
        pytest.param(_set("results/0/requests/retried", 0), id="unknown requests key"),
        pytest.param(_set("config/loop", "asyncio"), id="unknown config key"),
        pytest.param(_set("results/0/workers/0/cpu", 0.5), id="unknown worker key"),
        pytest.param(_set("gates/0/unit", "ms"), id="unknown gate key"),
        pytest.param(_set("results/0/unit", "requests"), id="unknown unit"),
        pytest.param(_delete("results/0/latency_ms/p99"), id="missing percentile"),
        pytest.param(_delete("results/0/implementation"), id="missing implementation"),
        pytest.param(_delete("comparison"), id="missing comparison"),
        pytest.param(_set("results/0/requests/total", "100"), id="count as string"),
        pytest.param(_set("results/0/requests/ok", 1.5), id="count as float"),
        pytest.param(_set("results/0/rps", None), id="null rps"),
        pytest.param(_set("results/0/latency_ms", 12.0), id="distribution as number"),
        pytest.param(_set("results/0/status_codes/ok", 1), id="status key not a code"),
        pytest.param(_set("results/0/errors/0/kind", "boom"), id="unknown error kind"),
        pytest.param(_set("results/0/mode", "both"), id="result mode both"),
        pytest.param(_set("results/0/implementation", "c"), id="unknown implementation"),
        pytest.param(_set("results", []), id="no results"),
        pytest.param(_set("config/headers", [["a", "b", "c"]]), id="header triple"),
        pytest.param(_set("config/model", "mixed"), id="unknown model"),
        pytest.param(_set("gates/0/passed", "no"), id="passed as string"),
        pytest.param(_set("gates/0/metric", "p98"), id="unknown gate metric"),
        pytest.param(_set("schema_version", 2), id="schema version 2"),
        pytest.param(_set("exit_code", 2), id="exit code 2"),
        pytest.param(_set("tool/name", "oha"), id="other tool"),
    ],
)
def test_drift_fails_validation(
    good_report: dict[str, Any], mutate: Callable[[dict[str, Any]], None]
) -> None:
    report = copy.deepcopy(good_report)
    mutate(report)
    assert errors_of(report)
