"""Virtual users: each takes the next send from the schedule until there is none.

Three kinds: plain HTTP requests (the targets in turn), WebSocket round trips on one
connection per user, and a user's own ``async def scenario(session)`` whose requests
are recorded per named step. Every outcome is classified here: success, a status the
options do not accept, the app's exception (grouped by type and the line it was
raised at, with its first traceback), a timeout, or a connector/client error.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from time import perf_counter_ns
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Final

import aiohttp

from ..exceptions import ASGIAppError
from . import step_name as _step_name
from ._appload import load_callable
from ._errors import UsageError, origin
from ._options import BenchOptions
from ._recorder import APP_EXCEPTION, CONNECTOR, SCENARIO, STATUS, TIMEOUT, Recorder
from ._timing import APP_CALL_CODE, AppSystemExit

if TYPE_CHECKING:
    from ._runner import Schedule
    from ._targets import TargetPicker

__all__ = ("User", "http_user", "make_scenario_user", "record_exception", "websocket_user")

User = Callable[["Schedule", aiohttp.ClientSession], Awaitable[None]]

def raised_in_app(exc: BaseException) -> bool:
    """Whether ``exc`` came out of the app (its traceback passes through timed_app)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is APP_CALL_CODE:
            return True
        tb = tb.tb_next
    return False


def record_exception(recorder: Recorder, exc: BaseException, timeout: float | None,
                     kind: str | None = None) -> None:
    """Count one failed send under its kind and label."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        recorder.record_failure(TIMEOUT, f"timeout ({timeout:g} s)" if timeout else "timeout",
                                str(exc) or type(exc).__name__)
        return
    cause = exc.__cause__
    if isinstance(exc, aiohttp.ClientPayloadError) and cause is not None:
        recorder.record_failure(
            APP_EXCEPTION, f"{type(cause).__name__}{origin(cause)} (after the response started)",
            str(cause), cause)
    elif isinstance(exc, ASGIAppError):
        if cause is not None:
            recorder.record_failure(APP_EXCEPTION, f"{type(cause).__name__}{origin(cause)}",
                                    str(cause), cause)
        else:
            recorder.record_failure(APP_EXCEPTION, f"ASGIAppError: {exc}", str(exc), exc)
    elif kind is None and isinstance(exc, aiohttp.ClientError | OSError):
        recorder.record_failure(CONNECTOR, type(exc).__name__, str(exc))
    else:  # with propagate_exceptions the app's own exception is raised as is
        if raised_in_app(exc):
            kind = APP_EXCEPTION
        if isinstance(exc, AppSystemExit) and exc.__cause__ is not None:
            exc = exc.__cause__
        recorder.record_failure(kind or CONNECTOR, f"{type(exc).__name__}{origin(exc)}",
                                str(exc), exc)


def http_user(options: BenchOptions, picker: TargetPicker) -> User:
    ok_statuses = options.ok_statuses
    timeout = options.timeout
    rate = options.rate

    async def user(schedule: Schedule, session: aiohttp.ClientSession) -> None:
        request = session.request
        recorder = schedule.recorder
        add_response = recorder.add_response
        take_now = None if rate else schedule.take_now  # the closed model needs no wait
        single = picker.single
        while True:
            if take_now is not None:
                due = now = take_now()
                if due < 0:
                    return
            else:
                turn = await schedule.next_send()
                if turn is None:
                    return
                due, now = turn
            target = single or picker.next()
            try:
                # Awaited, read and released rather than ``async with``: the context
                # manager's __aenter__/__aexit__ (and wait_for_close) cost ~12k
                # instructions a request on the demo app, 3% of the request, for nothing
                # a load needs; the response is released on every path all the same.
                response = await request(target.method, target.path,
                                         headers=target.headers, data=target.body)
                try:
                    body = await response.read()
                finally:
                    response.release()
                status = response.status
            except Exception as exc:
                record_exception(recorder, exc, timeout)
                continue
            if status in ok_statuses:
                done = perf_counter_ns()
                add_response(((done - due) // 1000, (done - now) // 1000, status, len(body),
                              target.body_size))
            else:
                recorder.record_status_failure(status, len(body), target.body_size)

    return user


def websocket_user(options: BenchOptions, path: str) -> User:
    payload = b"x" * options.message_size
    timeout = options.timeout

    async def user(schedule: Schedule, session: aiohttp.ClientSession) -> None:
        ws: Any = None  # aiohttp.ClientWebSocketResponse (its generic differs by version)
        try:
            while True:
                turn = await schedule.next_send()
                if turn is None:
                    return
                due, now = turn
                recorder = schedule.recorder
                try:
                    if ws is None or ws.closed:
                        ws = await session.ws_connect(path, headers=options.headers)
                    await ws.send_bytes(payload)
                    message = await ws.receive(timeout=timeout)
                except Exception as exc:
                    record_exception(recorder, exc, timeout)
                    ws = None
                    continue
                if message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                    done = perf_counter_ns()
                    recorder.add_response(((done - due) // 1000, (done - now) // 1000, 0,
                                           len(message.data), len(payload)))
                else:
                    recorder.record_failure(CONNECTOR, f"websocket {message.type.name}",
                                            f"expected the echo, got {message.type.name} "
                                            f"{message.data!r:.80} {message.extra or ''}")
                    await ws.close()
                    ws = None
        finally:
            if ws is not None:
                await ws.close()

    return user


def _load_scenario(options: BenchOptions) -> Callable[[aiohttp.ClientSession], Awaitable[Any]]:
    assert options.scenario is not None
    function = load_callable(options.scenario, options.app_dir, "--scenario", options.debug)
    if not inspect.iscoroutinefunction(function):
        raise UsageError(f"--scenario {options.scenario} must be an 'async def' function "
                         "taking the session")
    try:
        inspect.signature(function).bind(None)
    except TypeError:
        raise UsageError(f"--scenario {options.scenario} must take one argument (the "
                         "session)") from None
    return function  # type: ignore[no-any-return]


# A scenario iteration's first request with a status the options do not accept.
_bad_step: Final[ContextVar[list[tuple[str, int]] | None]] = ContextVar(
    "aiohttp_asgi_fast_bench_bad_step", default=None
)


def make_scenario_user(options: BenchOptions) -> tuple[User, aiohttp.TraceConfig]:
    """The scenario's user, and the trace config its sessions need for per-step figures.

    Each virtual user runs the scenario in its own session (its own cookies). A step's
    latency runs from the request's start to its response head (the app's own times
    are taken by ``timed_app``, as for plain requests). An iteration
    fails when the scenario raises or one of its requests gets a status the options do
    not accept.
    """
    scenario = _load_scenario(options)
    ok_status = options.is_ok_status
    current: list[Recorder] = []
    trace = aiohttp.TraceConfig()

    async def on_start(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        ctx.start = perf_counter_ns()
        ctx.name = _step_name.get() or f"{params.method} {params.url.path}"

    async def on_end(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        recorder = current[0]
        stats = recorder.step(ctx.name)
        stats.count += 1
        status = params.response.status
        stats.statuses[status] += 1
        recorder.count_status(status)
        stats.latency.record_value((perf_counter_ns() - ctx.start) // 1000)
        if not ok_status(status):
            stats.failed += 1
            bad = _bad_step.get()
            if bad is not None and not bad:
                bad.append((ctx.name, status))

    async def on_error(_: Any, ctx: SimpleNamespace, params: Any) -> None:
        stats = current[0].step(ctx.name)
        stats.count += 1
        stats.failed += 1

    trace.on_request_start.append(on_start)
    trace.on_request_end.append(on_end)
    trace.on_request_exception.append(on_error)
    trace.freeze()

    async def user(schedule: Schedule, session: aiohttp.ClientSession) -> None:
        current[:] = [schedule.recorder]
        while True:
            turn = await schedule.next_send()
            if turn is None:
                return
            due, now = turn
            bad: list[tuple[str, int]] = []
            _bad_step.set(bad)
            try:
                await scenario(session)
            except Exception as exc:
                record_exception(schedule.recorder, exc, options.timeout, SCENARIO)
                continue
            if bad:
                name, status = bad[0]
                schedule.recorder.record_failure(STATUS, f"{name}: status {status}")
                continue
            done = perf_counter_ns()
            schedule.recorder.add_response(((done - due) // 1000, (done - now) // 1000, 0, 0,
                                            0))

    return user, trace
