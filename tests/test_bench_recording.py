"""How a load run records each request cheaply, and that nothing is lost doing so.

The per-request path appends a tuple of microsecond figures (``Recorder.add_response``,
and the connector's ``_app_timer`` into ``Recorder.add_app_span``); ``fold`` turns them
into counts per value in bulk, and those go into the HdrHistograms (``add_counts``,
hdrh's index written out) when read or when many distinct values wait. The loop-lag
sampler is a timer callback that stops with the run. Each figure is checked against the
slow, obvious way of computing it.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp
import pytest

from aiohttp_asgi_fast import IMPLEMENTATION, ASGIApplicationConnector
from aiohttp_asgi_fast.bench._options import build_parser, options_from_args
from aiohttp_asgi_fast.bench._recorder import (
    _BATCH,
    _HIGHEST,
    _MAX_KEYS,
    Recorder,
    add_values,
    new_histogram,
)
from aiohttp_asgi_fast.bench._targets import TargetPicker, build_targets
from aiohttp_asgi_fast.bench._users import http_user

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _same_histogram(a: Any, b: Any) -> None:
    assert list(a.counts) == list(b.counts)
    assert (a.total_count, a.min_value, a.max_value) == (b.total_count, b.min_value, b.max_value)
    assert a.encode() == b.encode()


@pytest.mark.parametrize("seed", range(20))
def test_add_values_matches_record_value(seed: int) -> None:
    rng = random.Random(seed)
    edges = [0, 1, 2, 2047, 2048, 2049, 4095, 4096, 4097, 10**6, _HIGHEST - 1, _HIGHEST,
             _HIGHEST + 1, _HIGHEST * 5]
    values = [rng.choice([rng.choice(edges), rng.randrange(0, 10**7),
                          int(rng.expovariate(1e-3)), rng.randrange(0, 3000)])
              for _ in range(rng.randrange(1, 2000))]
    expected, actual = new_histogram(), new_histogram()
    for value in values:
        assert expected.record_value(min(value, _HIGHEST))
    add_values(actual, values)
    _same_histogram(expected, actual)
    # Twice into the same histogram: counts add up, min and max hold.
    add_values(actual, [5, 3_000_000])
    expected.record_value(5)
    expected.record_value(3_000_000)
    _same_histogram(expected, actual)


def test_fold_turns_the_tuples_into_the_figures() -> None:
    recorder = Recorder()
    recorder.open_model = True
    responses = [
        # latency (from due), service (from sent) in us, status, bytes in, bytes out
        (2500, 2499, 200, 13, 0),
        (1000, 500, 201, 7, 5),
        (0, 0, 0, 4, 4),  # a WebSocket round trip: no status
    ]
    for response in responses:
        recorder.add_response(response)
    assert recorder.ok == 3  # counted before any fold
    assert recorder.statuses == {200: 1, 201: 1}
    assert (recorder.bytes_in, recorder.bytes_out) == (24, 9)
    assert recorder.latency.get_total_count() == 3
    assert recorder.latency.get_max_value() == recorder.latency.get_highest_equivalent_value(2500)
    assert recorder.latency.get_min_value() == 0
    assert recorder.service.get_total_count() == 3
    assert recorder.service.get_min_value() == 0
    assert recorder.service.get_max_value() == recorder.service.get_highest_equivalent_value(2499)
    recorder.add_response((4, 4, 200, 1, 0))
    assert recorder.ok == 4
    assert recorder.statuses[200] == 2


def test_closed_model_fills_no_service_histogram() -> None:
    recorder = Recorder()
    recorder.add_response((5, 5, 200, 0, 0))
    recorder.fold()
    assert recorder.latency.get_total_count() == 1
    assert recorder.service.get_total_count() == 0


def test_app_times_only_for_accepted_statuses() -> None:
    recorder = Recorder()
    recorder.ok_statuses = frozenset({200})
    recorder.add_app_span((200, 3, 10))
    recorder.add_app_span((500, 7_000, 9_000))  # a failing status: left out
    recorder.add_app_span((404, 1, 2))
    recorder.fold()
    assert recorder.app_head.get_total_count() == 1
    assert recorder.app_body.get_total_count() == 1
    assert recorder.app_head.get_max_value() == 3
    assert recorder.app_body.get_max_value() == 10
    # Only failing statuses in a batch: nothing recorded, nothing raised.
    recorder.add_app_span((500, 1, 2))
    recorder.fold()
    assert recorder.app_head.get_total_count() == 1


def test_fold_if_large_bounds_what_waits() -> None:
    recorder = Recorder()
    for i in range(_BATCH - 1):
        recorder.add_response((i, i, 200, 1, 0))
    recorder.fold_if_large()
    assert len(recorder._responses) == _BATCH - 1  # not yet a batch
    recorder.add_response((0, 0, 200, 1, 0))
    recorder.fold_if_large()
    assert recorder._responses == []  # counted per value...
    assert recorder.ok == _BATCH
    assert recorder.latency.get_total_count() == 0  # ...not yet in the histogram
    assert len(recorder._latency_counts) == _BATCH - 1
    recorder.fold()  # a reader: everything in the histogram
    assert recorder.latency.get_total_count() == _BATCH
    assert recorder.latency.get_max_value() == recorder.latency.get_highest_equivalent_value(
        _BATCH - 2)  # the largest latency


def test_counts_with_many_distinct_values_go_into_the_histogram() -> None:
    """The counts waiting are bounded by distinct values, not by requests."""
    recorder = Recorder()
    sent = 0
    for batch in range(3):
        for i in range(_BATCH):
            value_us = (batch * _BATCH + i) * 7  # all distinct
            recorder.add_response((value_us, value_us, 200, 1, 0))
            sent += 1
        recorder.fold_if_large()
        assert len(recorder._latency_counts) < _MAX_KEYS
    assert recorder.latency.get_total_count() + recorder._latency_counts.total() == sent
    assert recorder.latency.get_total_count() >= _MAX_KEYS
    # The same value many times keeps one key: nothing to add yet.
    same = Recorder()
    for _ in range(3 * _BATCH):
        same.add_response((5000, 5000, 200, 1, 0))
        same.fold_if_large()
    assert dict(same._latency_counts) == {5000: 3 * _BATCH}
    assert same.latency.get_total_count() == 0
    same.fold()
    assert same.latency.get_total_count() == 3 * _BATCH
    assert same.latency.get_value_at_percentile(50) == same.latency.get_highest_equivalent_value(
        5000)


def test_loop_lag_is_counted_then_added() -> None:
    recorder = Recorder()
    for lag in (100, 100, 2500):
        recorder.record_loop_lag(lag)
    recorder.fold()
    assert recorder.loop_lag.get_total_count() == 3
    assert recorder.loop_lag.get_min_value() == 100


def test_merge_and_wire_carry_unfolded_stamps() -> None:
    a, b = Recorder(), Recorder()
    a.add_response((2000, 2000, 200, 10, 1))
    b.add_response((3000, 3000, 200, 20, 2))
    b.add_app_span((200, 1, 2))
    copy = Recorder.from_wire(b.to_wire())
    assert (copy.ok, copy.bytes_in, copy.bytes_out, dict(copy.statuses)) == (1, 20, 2, {200: 1})
    assert copy.app_body.get_total_count() == 1
    a.merge(copy)
    assert (a.ok, a.bytes_in, a.bytes_out, dict(a.statuses)) == (2, 30, 3, {200: 2})
    assert a.latency.get_total_count() == 2


# -- the connector's own timer (both hot-path modes: the suite runs twice) ----------


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close"})
        return
    path = scope["path"]
    if path == "/fail":
        raise RuntimeError("before the response")
    status = 404 if path == "/missing" else 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    if path == "/stream":
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await asyncio.sleep(0.02)
        await send({"type": "http.response.body", "body": b"b", "more_body": True})
    await send({"type": "http.response.body", "body": b"end"})


async def test_connector_times_each_http_response_once(caplog: pytest.LogCaptureFixture) -> None:
    spans: list[tuple[int, int, int]] = []
    connector = ASGIApplicationConnector(_app, propagate_exceptions=False)
    connector._app_timer = spans.append
    async with aiohttp.ClientSession("http://testserver", connector=connector) as session:
        for path in ("/", "/missing", "/stream"):
            async with session.get(path) as response:
                await response.read()
        async with session.head("/") as response:
            await response.read()
        async with session.get("/fail") as response:  # the canned 500: no app response
            assert response.status == 500
        assert "before the response" in caplog.text
        async with session.ws_connect("/ws") as ws:
            await ws.receive()
    assert [span[0] for span in spans] == [200, 404, 200, 200]
    for _status, head_us, last_byte_us in spans:
        assert 0 <= head_us <= last_byte_us < 1_000_000
    streamed = spans[2]
    assert streamed[2] - streamed[1] >= 15_000  # the 20 ms pause before the last byte


async def test_connector_without_timer_records_nothing() -> None:
    connector = ASGIApplicationConnector(_app)
    assert connector._app_timer is None
    async with aiohttp.ClientSession("http://testserver", connector=connector) as session:
        async with session.get("/") as response:
            assert await response.read() == b"end"


# -- the closed model's turns --------------------------------------------------------


def test_take_now_hands_out_exactly_the_requests() -> None:
    from aiohttp_asgi_fast.bench._runner import Schedule

    schedule = Schedule(3, None, None, Recorder())
    turns = [schedule.take_now() for _ in range(5)]
    assert [turn >= 0 for turn in turns] == [True, True, True, False, False]
    assert turns[0] <= turns[1] <= turns[2]
    assert (schedule.taken, schedule.sent) == (3, 3)


def test_take_now_after_stop_still_notes_the_returning_user() -> None:
    from aiohttp_asgi_fast.bench._runner import Schedule

    schedule = Schedule(None, None, None, Recorder())
    assert schedule.take_now() >= 0
    schedule.stop()
    before = schedule.last_ns
    assert schedule.take_now() == -1
    # The user came back after the stop: its request ended then, and the run with it.
    assert schedule.last_ns >= schedule.stopped_ns >= before
    assert (schedule.taken, schedule.sent) == (1, 1)


def test_take_now_ends_at_the_deadline() -> None:
    from aiohttp_asgi_fast.bench._runner import Schedule

    schedule = Schedule(None, 0.0, None, Recorder())
    assert schedule.take_now() == -1
    assert schedule.taken == 0


# -- the loop-lag sampler ------------------------------------------------------------


async def test_sampler_sees_a_blocked_loop_and_stops_with_the_run() -> None:
    """An app that blocks the event loop (time.sleep) shows as timer overshoot; after
    run_load returns, the sampler's timer is gone (nothing more is recorded)."""
    import time

    from aiohttp_asgi_fast.bench import _runner

    async def blocking(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        time.sleep(0.03)  # noqa: ASYNC251 - the point: the loop is blocked
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    options = options_from_args(
        build_parser("bench", "0").parse_args(["bench", "-n", "4", "-c", "1", "-q",
                                               "--lifespan", "off"]),
        "compiled" if IMPLEMENTATION == "cython" else "pure")
    connector = ASGIApplicationConnector(blocking, interface="asgi3", limit=1)
    prepared = _runner.Prepared(options, connector, http_user(options, TargetPicker(
        build_targets(options), options.order)), [], False)
    try:
        recorder = await asyncio.wait_for(
            _runner.run_load(prepared, asyncio.Event(), None, requests=4, duration=None,
                             warmup=0.0), 10)
    finally:
        await connector.close()
    assert recorder.ok == 4
    lag = recorder.loop_lag
    assert lag.get_total_count() >= 1
    assert lag.get_max_value() >= 15_000  # us: a 30 ms block overshoots a 10 ms timer
    seen = lag.get_total_count()
    await asyncio.sleep(0.05)
    recorder.fold()
    assert recorder.loop_lag.get_total_count() == seen
