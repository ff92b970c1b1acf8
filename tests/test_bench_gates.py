"""``--fail-on`` gates: parsing each accepted form and each refusal, and checks on real results."""

from __future__ import annotations

import re
from typing import Any

import pytest

from aiohttp_asgi_fast.bench._errors import UsageError
from aiohttp_asgi_fast.bench._gates import METRICS, OPS, Gate, evaluate, parse_gate
from aiohttp_asgi_fast.bench._recorder import APP_EXCEPTION, Recorder
from aiohttp_asgi_fast.bench._summary import summarize

# -- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "percent"),
    [
        ("p99<20ms", "p99", "<", 20.0, False),
        ("p99.9 <= 0.5s", "p99.9", "<=", 500.0, False),
        ("mean<800us", "mean", "<", 0.8, False),
        ("mean < 800 \u00b5s", "mean", "<", 0.8, False),
        ("errors<0.1%", "errors", "<", 0.1, True),
        ("errors <= 5", "errors", "<=", 5.0, False),
        ("rps>1000", "rps", ">", 1000.0, False),
        ("ok_rps >= 1000.5", "ok_rps", ">=", 1000.5, False),
        ("app_p99<5ms", "app_p99", "<", 5.0, False),
        ("app_max<.5", "app_max", "<", 0.5, False),  # ms by default
        ("service_p50 < 2", "service_p50", "<", 2.0, False),
        ("service_p99.9<0.0015s", "service_p99.9", "<", 1.5, False),  # exact, not 1.5000001
        ("p99_9<3ms", "p99.9", "<", 3.0, False),  # the JSON key is accepted too
        ("  P99<20MS  ", "p99", "<", 20.0, False),
        ("min>0", "min", ">", 0.0, False),
    ],
)
def test_parse_valid(text: str, metric: str, op: str, threshold: float, percent: bool) -> None:
    gate = parse_gate(text)
    assert gate == Gate(text.strip(), metric, op, threshold, percent)


def test_every_metric_and_op_parses() -> None:
    for metric in METRICS:
        for op in OPS:
            gate = parse_gate(f"{metric}{op}1")
            assert (gate.metric, gate.op, gate.threshold) == (metric, op, 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected METRIC OP VALUE[UNIT], such as 'p99<20ms'"),
        ("<20ms", "expected METRIC OP VALUE[UNIT]"),
        ("p98<20ms", "unknown metric 'p98'; choose from min, mean, p50, p90, p95, p99, p99.9, "
                     "max, service_min"),
        ("latency<20ms", "app_max, errors, rps, ok_rps"),
        ("p99 20ms", "missing comparison after 'p99'; use one of <, <=, >, >="),
        ("p99=20ms", "unknown comparison '='; use one of <, <=, >, >="),
        ("p99==20ms", "unknown comparison '=='"),
        ("p99=<20ms", "unknown comparison '=<'"),
        ("p99!=20ms", "unknown comparison '!='"),
        ("p99<", "expected a non-negative number after '<', got ''"),
        ("p99<-1ms", "expected a non-negative number after '<', got '-1ms'"),
        ("p99<fast", "expected a non-negative number after '<', got 'fast'"),
        ("p99<20m", "unknown unit 'm'; p99 is a latency: use ms (the default), us or s"),
        ("p99<20%", "% applies only to errors; p99 is a latency: use ms (the default), us or s"),
        ("app_p99<1ns", "unknown unit 'ns'; app_p99 is a latency"),
        ("errors<5ms", "errors takes % (a share of all requests) or no unit (a count), "
                       "got 'ms'"),
        ("rps>1000/s", "rps takes no unit (requests per second), got '/s'"),
        ("ok_rps>10%", "ok_rps takes no unit (requests per second), got '%'"),
    ],
)
def test_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as info:
        parse_gate(text)
    assert str(info.value).startswith(f"--fail-on {text!r}: ")


# -- evaluation on real summarize() results ------------------------------------------


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    """100 successes (latency 1..100 ms), 2 failures out of 102, over 2 s."""
    recorder = Recorder()
    for i in range(1, 101):
        recorder.record_ok(200, i * 1000, i * 500, 10, 0)
        recorder.record_app_times(i * 100, i * 200)
    recorder.record_status_failure(503, 0, 0)
    recorder.record_failure(APP_EXCEPTION, "app ValueError", "boom", ValueError("boom"))
    recorder.duration = 2.0
    return summarize(recorder, mode="pure", rate=None)


def check(result: dict[str, Any], *texts: str) -> list[dict[str, Any]]:
    return evaluate([parse_gate(text) for text in texts], result)


def test_evaluate_shape_and_order(result: dict[str, Any]) -> None:
    checked = check(result, "p99<20ms", "rps>1000", "errors<=5")
    assert [c["expression"] for c in checked] == ["p99<20ms", "rps>1000", "errors<=5"]
    assert checked[0] == {
        "mode": "pure", "expression": "p99<20ms", "metric": "p99", "op": "<", "threshold": 20.0,
        "actual": result["latency_ms"]["p99"], "passed": False,
    }
    assert all(set(c) == {"mode", "expression", "metric", "op", "threshold", "actual", "passed"}
               for c in checked)


@pytest.mark.parametrize("metric", METRICS)
def test_every_metric_has_a_value(result: dict[str, Any], metric: str) -> None:
    [checked] = check(result, f"{metric}>=0")
    assert isinstance(checked["actual"], (int, float))
    assert checked["passed"] is True


def test_latency_pass_and_breach(result: dict[str, Any]) -> None:
    p99 = result["latency_ms"]["p99"]
    assert 98 < p99 < 101
    passed = {c["expression"]: c["passed"] for c in check(
        result, "p99<20ms", "p99<0.2s", "p99 > 50", "mean<800us", "min>=0.5ms",
        "p99.9<=100100us",
    )}
    assert passed == {"p99<20ms": False, "p99<0.2s": True, "p99 > 50": True,
                      "mean<800us": False, "min>=0.5ms": True, "p99.9<=100100us": True}


def test_latency_boundary_le_versus_lt(result: dict[str, Any]) -> None:
    p99 = result["latency_ms"]["p99"]
    at_le, at_lt, at_ge, at_gt = check(result, f"p99<={p99!r}", f"p99<{p99!r}",
                                       f"p99>={p99!r}", f"p99>{p99!r}")
    assert at_le["actual"] == at_le["threshold"] == p99
    assert (at_le["passed"], at_lt["passed"], at_ge["passed"], at_gt["passed"]) == (
        True, False, True, False)


def test_service_and_app_metrics_read_their_own_distributions(result: dict[str, Any]) -> None:
    service, app, app_head = check(result, "service_max<1s", "app_max<1s", "app_p50<1s")
    assert service["actual"] == result["service_time_ms"]["max"]
    assert app["actual"] == result["app_time_ms"]["to_last_body_byte"]["max"]
    assert app_head["actual"] == result["app_time_ms"]["to_last_body_byte"]["p50"]
    assert app["actual"] != result["app_time_ms"]["to_response_start"]["max"]
    [alias] = check(result, "app_p99_9<1s")
    assert alias["metric"] == "app_p99.9"
    assert alias["actual"] == result["app_time_ms"]["to_last_body_byte"]["p99_9"]


def test_errors_percent_and_count(result: dict[str, Any]) -> None:
    share = 100.0 * 2 / 102  # 1.96 %
    pct_pass, pct_breach, count_le, count_lt = check(
        result, "errors<2%", "errors<1.9%", "errors<=2", "errors<2")
    assert pct_pass["actual"] == pytest.approx(share)
    assert (pct_pass["passed"], pct_breach["passed"]) == (True, False)
    assert count_le["actual"] == count_lt["actual"] == 2
    assert (count_le["passed"], count_lt["passed"]) == (True, False)
    # the same share the report's error groups give
    assert sum(g["percent"] for g in result["errors"]) == pytest.approx(share, abs=1e-3)


def test_rates(result: dict[str, Any]) -> None:
    assert (result["rps"], result["ok_rps"]) == (51.0, 50.0)
    passed = {c["expression"]: (c["actual"], c["passed"]) for c in check(
        result, "rps>50", "rps>1000", "ok_rps>50", "ok_rps>=50")}
    assert passed == {"rps>50": (51.0, True), "rps>1000": (51.0, False),
                      "ok_rps>50": (50.0, False), "ok_rps>=50": (50.0, True)}


def test_no_data_never_passes() -> None:
    recorder = Recorder()  # nothing recorded: every distribution is null
    empty = summarize(recorder, mode="pure", rate=None)
    assert empty["latency_ms"] is None
    checked = check(empty, "p99<20ms", "max>=0", "service_p50<1s", "app_p99<5ms",
                    "errors<1%", "errors<=0", "rps>=0")
    assert [(c["actual"], c["passed"]) for c in checked] == [
        (None, False), (None, False), (None, False), (None, False),
        (None, False),  # a share of no requests is no data
        (0, True), (0.0, True),
    ]


def test_all_failed_latency_gate_fails_but_app_time_may_exist() -> None:
    recorder = Recorder()
    for _ in range(5):
        recorder.record_status_failure(500, 0, 0)
        recorder.record_app_times(1000, 2000)  # the app answered, with a failing status
    recorder.duration = 1.0
    failed = summarize(recorder, mode="compiled", rate=None)
    latency, app, errors = check(failed, "p99<1s", "app_p99<1s", "errors<100%")
    assert (latency["actual"], latency["passed"]) == (None, False)
    assert app["passed"] is True
    assert (errors["actual"], errors["passed"]) == (100.0, False)
