"""One process's load run: the app behind a connector, virtual users, a recorder.

``run_load`` starts the app (and its lifespan), sends the warm-up load into a
recorder that is thrown away, then the measured load, and returns what it recorded.
Virtual users (``-c``) share one ``Schedule``: in the closed model a user sends its
next request when the last one is done; in the open model (``--rate``) request *i*
is due at ``start + i / rate`` and its latency counts from that time, so a stalled
app cannot hide behind requests that were never sent (coordinated omission).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter, perf_counter_ns
from typing import Final

import aiohttp

from .. import IMPLEMENTATION
from .._interface import as_asgi3
from ..connector import ASGIApplicationConnector
from ..exceptions import LifespanError
from ._appload import load_app
from ._errors import UsageError, origin
from ._options import BenchOptions
from ._recorder import INTERRUPTED, Recorder
from ._targets import TargetPicker, build_targets
from ._timing import guarded_app, time_into
from ._users import User, http_user, make_scenario_user, websocket_user

__all__ = ("Prepared", "RunInfo", "Schedule", "prepare", "run_load")

# An open-model send that leaves this long after its scheduled time counts as late.
LATE_NS: Final = 1_000_000
# Loop lag is sampled by a timer this often.
_LAG_INTERVAL: Final = 0.01
# On Ctrl-C, requests in flight get this long to finish before they are cancelled.
_STOP_GRACE: Final = 1.0
_CONNECTOR_LOGGER: Final = logging.getLogger("aiohttp_asgi_fast")
# How long a phase's end waits for app calls still running after their response.
_DRAIN_LIMIT: Final = 1.0
# How often on_tick hears about the run at most.
_TICK: Final = 0.25

Tick = Callable[[Recorder, str, float], None]


class Schedule:
    """Hands each virtual user its next send, or None when the phase is over.

    ``taken`` turns were handed out, ``sent`` of them went out (a user waiting for its
    due time when the phase ends never sends), ``last_ns`` is when a user last came back
    for a turn: its previous request was then complete.
    """

    def __init__(self, requests: int | None, duration: float | None, rate: float | None,
                 recorder: Recorder) -> None:
        self.requests = requests
        self.rate = rate
        self.recorder = recorder
        self.taken = 0
        self.sent = 0
        self.stopped = False
        self.start_ns = self.last_ns = perf_counter_ns()
        self.deadline_ns = (
            self.start_ns + int(duration * 1e9) if duration is not None else None
        )
        self._interval_ns = 1e9 / rate if rate else 0.0
        self.stopped_ns = 0
        # take_now's bounds: no more turns past either
        self._limit: float = requests if requests is not None else math.inf
        self._deadline: float = self.deadline_ns if self.deadline_ns is not None else math.inf

    def _take(self, now: int) -> int | None:
        if self.stopped or (self.requests is not None and self.taken >= self.requests):
            return None
        deadline = self.deadline_ns
        if deadline is not None and now >= deadline:
            return None  # sends still waiting at the deadline are never made
        if self.rate:
            due = self.start_ns + int(self.taken * self._interval_ns)
            if deadline is not None and due >= deadline:
                return None
        else:
            due = now
        self.taken += 1
        return due

    async def next_send(self) -> tuple[int, int] | None:
        """A virtual user's next turn: (due, sent) in perf_counter_ns, after waiting for
        the due time (open model); None when the phase is over. Counts late sends."""
        now = self.last_ns = perf_counter_ns()
        due = self._take(now)
        if due is None:
            return None
        if due > now:
            await asyncio.sleep((due - now) / 1e9)
            if self.stopped:
                return None
            now = perf_counter_ns()
        if self.rate and now - due > LATE_NS:
            self.recorder.late += 1
        self.sent += 1
        return due, now

    def take_now(self) -> int:
        """The closed model's next turn (no due time to wait for): its send time in
        perf_counter_ns, or -1 when the phase is over. A plain call: no coroutine."""
        now = self.last_ns = perf_counter_ns()
        if self.taken >= self._limit or now >= self._deadline:  # stop(): the limit is 0
            return -1
        self.taken += 1
        self.sent += 1
        return now

    def stop(self) -> None:
        """Ctrl-C: no more sends; the open model counts what was due until now."""
        self.stopped = True
        self._limit = 0
        self.stopped_ns = perf_counter_ns()

    def close(self, end_ns: int) -> None:
        """Count the open model's sends that fell due before the end but were never made."""
        if not self.rate:
            return
        end = self.stopped_ns if self.stopped else end_ns
        if self.deadline_ns is not None:
            end = min(end, self.deadline_ns)
        due = math.ceil((end - self.start_ns) / self._interval_ns)
        if self.requests is not None:
            due = min(due, self.requests)
        self.recorder.scheduled = max(due, self.sent)
        self.recorder.dropped = max(0, due - self.sent)


@dataclass
class RunInfo:
    pid: int
    implementation: str
    lifespan_ran: bool | None


@dataclass
class Prepared:
    """The app behind its connector and the virtual user, ready for load."""

    options: BenchOptions
    connector: ASGIApplicationConnector
    user: User
    trace_configs: list[aiohttp.TraceConfig]
    own_sessions: bool  # one session (and cookie jar) per virtual user

    async def close(self) -> str | None:
        """Close the connector (the app's lifespan shutdown); what failed, if anything."""
        try:
            await self.connector.close()
        except LifespanError as exc:
            return f"the app's lifespan shutdown failed: {exc}"
        return None


async def prepare(options: BenchOptions) -> tuple[Prepared, RunInfo]:
    """Load the app and start its lifespan; UsageError when either fails."""
    app = load_app(options.app, options.app_dir, options.factory, options.debug)
    try:
        asgi3 = as_asgi3(app)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{options.app} is not an ASGI app: {exc}") from None
    targets = build_targets(options)
    trace_configs: list[aiohttp.TraceConfig] = []
    user: User
    if options.scenario:
        user, trace = make_scenario_user(options)
        trace_configs.append(trace)
    elif options.websocket:
        user = websocket_user(options, targets[0].path)
    else:
        user = http_user(options, TargetPicker(targets, options.order))
    connector = ASGIApplicationConnector(
        guarded_app(asgi3),
        interface="asgi3",
        limit=options.concurrency,
        propagate_exceptions=True,
        lifespan=options.lifespan != "off",
    )
    lifespan_ran: bool | None = None
    if options.lifespan != "off":
        try:
            await connector.startup()
        except LifespanError as exc:
            await connector.close()
            cause = exc.__cause__
            if options.debug and cause is not None:
                traceback.print_exception(type(cause), cause, cause.__traceback__)
            where = f" ({origin(cause).strip()})" if cause is not None and origin(cause) else ""
            raise UsageError(f"the app's lifespan startup failed: {exc}{where}") from None
        lifespan_ran = connector.state is not None
        if options.lifespan == "on" and not lifespan_ran:
            await connector.close()
            raise UsageError("--lifespan on: the app does not support the ASGI lifespan "
                             "protocol (use --lifespan auto or off)")
    prepared = Prepared(options, connector, user, trace_configs, bool(options.scenario))
    return prepared, RunInfo(os.getpid(), IMPLEMENTATION, lifespan_ran)


class _LoggedAppErrors(logging.Filter):
    """Takes the app errors the connector logs (those no client saw) into the report
    instead of printing a traceback per request; other log records pass."""

    def __init__(self, state: _Progress) -> None:
        super().__init__()
        self._state = state

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR or not record.exc_info or not record.exc_info[1]:
            return True
        exc = record.exc_info[1]
        where = origin(exc)
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self._state.recorder.record_logged(
            f"{type(exc).__name__}{where}: {record.getMessage()}", str(exc), tb)
        return False


class _Progress:
    """What the tick and the loop-lag sampler look at: the recorder and phase now."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.phase = "load"
        self.started = perf_counter()

    def begin(self, phase: str) -> None:
        self.phase = phase
        self.started = perf_counter()


class _LoopLagSampler:
    """Every _LAG_INTERVAL, records how late the event loop ran this timer, and lets the
    recorder count what piled up (the users only append: memory stays bounded). A
    plain timer callback: no task to wake."""

    def __init__(self, state: _Progress) -> None:
        self._state = state
        self._loop = asyncio.get_running_loop()
        self._due = self._loop.time() + _LAG_INTERVAL
        self._handle = self._loop.call_at(self._due, self._sample)

    def _sample(self) -> None:
        now = self._loop.time()
        recorder = self._state.recorder
        recorder.record_loop_lag(max(int((now - self._due) * 1e6), 0))
        recorder.fold_if_large()
        self._due = now + _LAG_INTERVAL
        self._handle = self._loop.call_at(self._due, self._sample)

    def cancel(self) -> None:
        self._handle.cancel()


async def _tick(on_tick: Tick, state: _Progress) -> None:
    """Every _TICK: the recorder, the phase and the seconds since the phase began."""
    while True:
        await asyncio.sleep(_TICK)
        on_tick(state.recorder, state.phase, perf_counter() - state.started)


async def _run_phase(prepared: Prepared, recorder: Recorder, requests: int | None,
                     duration: float | None, stop: asyncio.Event) -> None:
    options = prepared.options
    schedule = Schedule(requests, duration, options.rate, recorder)
    recorder.open_model = bool(options.rate)
    recorder.ok_statuses = options.ok_statuses
    time_into(prepared.connector, recorder)
    sessions: list[aiohttp.ClientSession] = []

    def new_session() -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(
            base_url="http://testserver",
            connector=prepared.connector,
            connector_owner=False,
            timeout=aiohttp.ClientTimeout(total=options.timeout),
            # Plain load keeps no cookies (as wrk); a scenario's user keeps its own.
            cookie_jar=None if prepared.own_sessions else aiohttp.DummyCookieJar(),
            trace_configs=prepared.trace_configs or None,
            # A scenario's requests carry the -H headers (plain loads set them per target).
            headers=options.headers if prepared.own_sessions else None,
        )
        sessions.append(session)
        return session

    shared = None if prepared.own_sessions else new_session()
    users = asyncio.gather(*(
        prepared.user(schedule, shared or new_session()) for _ in range(options.concurrency)
    ))
    stopper = asyncio.ensure_future(stop.wait())
    end_ns = 0
    try:
        await asyncio.wait((users, stopper), return_when=asyncio.FIRST_COMPLETED)
        if not users.done():  # stopped: no new sends; those in flight may finish
            schedule.stop()
            recorder.interrupted = True
            await asyncio.wait((users,), timeout=_STOP_GRACE)
            # The run ended at the stop, or at the last response that came after it.
            end_ns = max(schedule.last_ns, schedule.stopped_ns)
    finally:
        stopper.cancel()
        users.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await users
        end_ns = end_ns or perf_counter_ns()
        schedule.close(end_ns)
        recorder.duration = (end_ns - schedule.start_ns) / 1e9
        recorder.fold()
        # Sent but never answered: in flight when the stop's grace ran out.
        unanswered = schedule.sent - (recorder.ok + recorder.failed)
        if schedule.stopped and unanswered > 0:
            for _ in range(unanswered):
                recorder.record_failure(INTERRUPTED, "in flight at the stop",
                                        f"no response within {_STOP_GRACE:g} s of Ctrl-C")
        for session in sessions:
            await session.close()


async def _drain(prepared: Prepared) -> None:
    """Wait (a bounded time) for the app calls the load started to end."""
    deadline = perf_counter() + _DRAIN_LIMIT
    connector = prepared.connector
    # The connector offers a count, not an event, of running app calls: poll it.
    while connector.running_app_calls and perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def run_load(prepared: Prepared, stop: asyncio.Event, on_tick: Tick | None, *,
                   requests: int | None, duration: float | None, warmup: float) -> Recorder:
    """Warm up (recorded, then thrown away), then the measured load into a new recorder."""
    state = _Progress()
    logged = _LoggedAppErrors(state)
    _CONNECTOR_LOGGER.addFilter(logged)
    sampler = _LoopLagSampler(state)
    helpers = []
    if on_tick is not None:
        helpers.append(asyncio.ensure_future(_tick(on_tick, state)))
    try:
        if warmup > 0 and not stop.is_set():
            state.begin("warmup")
            await _run_phase(prepared, state.recorder, None, warmup, stop)
            if not stop.is_set():
                await _drain(prepared)
            state.recorder = Recorder()
        state.begin("load")
        measured = state.recorder
        if stop.is_set():
            measured.interrupted = True
        else:
            await _run_phase(prepared, measured, requests, duration, stop)
        if not stop.is_set():
            # App calls still running after their responses (or a WebSocket close) may
            # yet fail: their errors belong to this run's report.
            await _drain(prepared)
        return measured
    finally:
        _CONNECTOR_LOGGER.removeFilter(logged)
        sampler.cancel()
        for task in helpers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
