"""Fault matrix (issue 10): what the caller, the app and the log see when an app fails.

Every row is app behaviour x request variant x propagate_exceptions and runs the same
script on one session: a warm-up GET (so the faulty request rides a reused keep-alive
connection, as most requests in a session do, and a retry by aiohttp would show as a
second app call), the faulty request, then a normal GET that must succeed on a fresh
connection. Each row asserts

- what the caller sees: the exact exception (the app's own object, or a
  ``ClientPayloadError`` whose ``__cause__`` is it, ``ASGIAppError``, a timeout) or the
  exact status, body and ``connection: close`` header;
- what the app's ``receive()`` / ``send()`` saw (the request body, ``http.disconnect``
  after the client left, ``ClientDisconnectedError`` / ``ASGIProtocolError`` from send);
- that the app's exception is logged on the ``aiohttp_asgi_fast`` logger exactly once or
  not at all, and nothing else is logged at WARNING or above;
- that no warning is emitted; conftest checks that no task is left.

The expectations are the connector's failure guarantees (README "Options" and
"Response timing"), summarised in ``expect()``. The suite runs once per hot-path mode
(compiled, ``AIOHTTP_ASGI_NO_EXTENSIONS=1``), so every row runs in both.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import ClientTimeout, TraceConfig

from aiohttp_asgi_fast import ASGIAppError, ASGIProtocolError, ClientDisconnectedError
from helpers import make_session

LOGGER = "aiohttp_asgi_fast"
BOUND = 5.0  # seconds: every single await of a row is bounded by this (conftest: 20 s)
REQUEST_TIMEOUT = ClientTimeout(total=BOUND)
HANG_BEFORE_START_TIMEOUT = ClientTimeout(total=0.3)
HANG_MID_STREAM_TIMEOUT = ClientTimeout(total=BOUND, sock_read=0.3)

# Large enough that the app receives it in more than one http.request message (the
# connector cuts a large body into 256 KiB pieces), so "raises while reading the request
# body" really stops half-way through it.
POST_BODY = bytes(range(256)) * 1200  # 300 KiB
NEXT_BODY = b"next request fine"
OK_BODY = b"ok"
INTERNAL_ERROR = b"Internal Server Error"


class AppFault(Exception):
    """The app's own exception in the matrix rows."""


# -- request variants ------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    method: str = "GET"
    body: bytes = b""  # what the app must receive
    headers: dict[str, str] = field(default_factory=dict)
    session_options: dict[str, Any] = field(default_factory=dict)
    closes: bool = False  # the response must carry connection: close
    stream: bool = False  # upload the body from an async generator (chunked), in steps

    @property
    def http_version(self) -> str:
        version = self.session_options.get("version", aiohttp.HttpVersion11)
        return f"{version.major}.{version.minor}"

    def request_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.method == "POST":
            kwargs["data"] = upload(self.body) if self.stream else self.body
        return kwargs


async def upload(data: bytes) -> Any:
    # A small first piece, a pause, then the rest in pieces written back to back: the
    # app has the first piece while the client is still uploading.
    yield data[:100]
    await asyncio.sleep(0)
    size = -(-(len(data) - 100) // 4)
    for i in range(100, len(data), size):
        yield data[i:i + size]


VARIANTS = {
    v.name: v
    for v in (
        Variant("GET"),
        Variant("HEAD", method="HEAD"),
        Variant("POST", method="POST", body=POST_BODY),
        # Not in issue 10's list, added: a chunked upload still streaming while the app
        # reads (see also test_failure_while_the_upload_streams).
        Variant("POST-stream", method="POST", body=POST_BODY[:60_000], stream=True),
        Variant("conn-close", headers={"Connection": "close"}, closes=True),
        # aiohttp sets the HTTP version per session: warm-up, faulty and next request
        # are all HTTP/1.0. With "Connection: keep-alive" the connection persists (RFC
        # 9112 §9.3; aiohttp 3.14 adds that field itself, 3.8 sends none: then it
        # closes); with "close" it does not.
        Variant("http10", session_options={"version": aiohttp.HttpVersion10,
                                           "headers": {"Connection": "keep-alive"}}),
        Variant("http10-close", session_options={"version": aiohttp.HttpVersion10},
                headers={"Connection": "close"}, closes=True),
    )
}


# -- the app ---------------------------------------------------------------------------


class FaultApp:
    """A raw ASGI app: ``/fault`` runs one behaviour, any other path answers normally.

    Records what the faulty call's ``receive()`` returned, what its ``send()`` raised and
    what escaped the app.
    """

    def __init__(self, behaviour: str, make_exc: Callable[[], BaseException]) -> None:
        self.behaviour = behaviour
        self.make_exc = make_exc
        self.fault_calls = 0
        self.other_calls = 0
        self.scope: dict[str, Any] | None = None
        self.received: list[dict[str, Any]] = []
        self.send_errors: list[BaseException] = []
        self.escaped: BaseException | None = None
        self.done = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        if scope["path"] != "/fault":
            self.other_calls += 1
            await read_body(receive)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": NEXT_BODY})
            return
        self.fault_calls += 1
        self.scope = scope

        async def recording_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            self.received.append(message)
            return message

        async def recording_send(message: dict[str, Any]) -> None:
            try:
                await send(message)
            except BaseException as exc:
                self.send_errors.append(exc)
                raise

        try:
            await BEHAVIOURS[self.behaviour](self, recording_receive, recording_send)
        except BaseException as exc:
            self.escaped = exc
            raise
        finally:
            self.done.set()

    @property
    def request_body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.received if m["type"] == "http.request")


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def start(headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": headers or []}


def body(data: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


async def ok(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    await send(start([(b"content-type", b"text/plain")]))
    await send(body(OK_BODY, False))


async def raise_before_start(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    raise app.make_exc()


async def raise_in_start_step(app: FaultApp, receive: Any, send: Any) -> None:
    # Same event-loop step as http.response.start: the held head is replaced.
    await read_body(receive)
    await send(start())
    await send(body(b"partial", True))
    raise app.make_exc()


async def raise_after_start(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    await send(start())
    await asyncio.sleep(0)  # the step ends: the head reaches the client
    raise app.make_exc()


async def raise_mid_body(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    await send(start())
    await send(body(b"piece-1 ", True))
    await asyncio.sleep(0)
    await send(body(b"piece-2 ", True))
    await asyncio.sleep(0)
    raise app.make_exc()


async def raise_after_complete_length(app: FaultApp, receive: Any, send: Any) -> None:
    # The Content-Length body is complete on the wire although more_body=True.
    await read_body(receive)
    await send(start([(b"content-length", b"5")]))
    await send(body(b"12345", True))
    for _ in range(3):
        await asyncio.sleep(0)
    raise app.make_exc()


async def raise_reading_body(app: FaultApp, receive: Any, send: Any) -> None:
    await receive()  # the first piece (all of it for an empty body), then fail
    raise app.make_exc()


async def raise_in_child_task(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)

    async def child() -> None:
        await asyncio.sleep(0)
        raise app.make_exc()

    await asyncio.ensure_future(child())


async def return_without_response(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)


async def send_after_final_body(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    await send(start())
    await send(body(b"done", False))
    await asyncio.sleep(0)  # the whole response went out
    await send(body(b"extra", False))  # raises ASGIProtocolError, which escapes the app


async def hang_before_start(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    await receive()  # waits until the client leaves: http.disconnect
    await send(start())  # raises ClientDisconnectedError, which escapes the app


async def hang_mid_stream(app: FaultApp, receive: Any, send: Any) -> None:
    await read_body(receive)
    await send(start())
    await send(body(b"piece-1 ", True))
    await asyncio.sleep(0)  # the head and piece-1 reach the client
    await receive()  # waits until the client leaves: http.disconnect
    await send(body(b"piece-2 ", True))  # raises ClientDisconnectedError (HEAD: see expect)
    await send(body(b"", False))


BEHAVIOURS: dict[str, Callable[[FaultApp, Any, Any], Any]] = {
    "ok": ok,
    "raise-before-start": raise_before_start,
    "raise-in-start-step": raise_in_start_step,
    "raise-after-start": raise_after_start,
    "raise-mid-body": raise_mid_body,
    "raise-after-complete-length": raise_after_complete_length,
    "raise-reading-body": raise_reading_body,
    "raise-in-child-task": raise_in_child_task,
    "return-without-response": return_without_response,
    "send-after-final-body": send_after_final_body,
    "hang-before-start": hang_before_start,
    "hang-mid-stream": hang_mid_stream,
}

# Behaviours whose app raises app.make_exc() (the exception-kind rows use these).
RAISING = (
    "raise-before-start",
    "raise-in-start-step",
    "raise-after-start",
    "raise-mid-body",
    "raise-after-complete-length",
    "raise-reading-body",
    "raise-in-child-task",
)


# -- expectations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    # What the caller sees. error: None (a complete response), "app" (the request call
    # raises the app's exception object), "payload" (the head arrives, reading the body
    # raises ClientPayloadError caused by the app's exception), "ASGIAppError",
    # "timeout" (asyncio.TimeoutError, at request or read stage).
    error: str | None
    stage: str  # "request": the request call raised; "read": reading the body; "done"
    status: int | None = None
    body: bytes | None = None
    # Logged at ERROR on the aiohttp_asgi_fast logger, exactly once: None (nothing at
    # WARNING or above), "escaped" (the exception that escaped the app),
    # "ASGIAppError" (one the connector made); log_fragment must be in the message.
    logged: str | None = None
    log_fragment: str | None = None
    # What send() raised inside the app: the allowed types (None: nothing raised).
    send_errors: tuple[type[BaseException] | None, ...] = (None,)
    sees_disconnect: bool = False  # the app's receive() returned http.disconnect
    reads_whole_body: bool = True
    fresh_connection: bool | None = True  # the next GET does not reuse the connection
    app_ends_first: bool = True  # the app ends before the next GET is sent


BEFORE_START = {"raise-before-start", "raise-in-start-step", "raise-reading-body",
                "raise-in-child-task"}


def expect(behaviour: str, variant: Variant, propagate: bool) -> Expect:
    head = variant.method == "HEAD"
    no_body = b""
    if behaviour == "ok":
        # (A HEAD response without Content-Length ends the connection in aiohttp's
        # llhttp parser: reuse after HEAD is not this matrix's business.)
        return Expect(None, "done", 200, no_body if head else OK_BODY,
                      fresh_connection=None if head and not variant.closes else variant.closes)
    if behaviour in BEFORE_START or behaviour == "return-without-response":
        # Nothing reached the client (or the head was held in the failing step).
        reads = behaviour != "raise-reading-body"
        if propagate:
            error = "ASGIAppError" if behaviour == "return-without-response" else "app"
            return Expect(error, "request", reads_whole_body=reads)
        return Expect(
            None, "done", 500, no_body if head else INTERNAL_ERROR,
            logged="ASGIAppError" if behaviour == "return-without-response" else "escaped",
            reads_whole_body=reads,
        )
    if behaviour in ("raise-after-start", "raise-mid-body"):
        if head:
            # The head is the whole response: it completed before the failure. aiohttp
            # closes a connection after a HEAD response without Content-Length, so a
            # body piece the app sends after it may be refused as sent to a closed
            # connection (ClientDisconnectedError, never logged); if it is accepted,
            # the app's own exception is logged as after the response completed.
            return Expect(None, "done", 200, no_body, logged="escaped",
                          log_fragment="after the response completed",
                          send_errors=(None,) if behaviour == "raise-after-start"
                          else (None, ClientDisconnectedError))
        return Expect("payload", "read", 200, logged=None if propagate else "escaped")
    if behaviour == "raise-after-complete-length":
        return Expect(None, "done", 200, no_body if head else b"12345", logged="escaped",
                      log_fragment="after the response completed")
    if behaviour == "send-after-final-body":
        return Expect(None, "done", 200, no_body if head else b"done", logged="escaped",
                      log_fragment="after the response completed",
                      send_errors=(ASGIProtocolError,))
    if behaviour == "hang-before-start":
        return Expect("timeout", "request", send_errors=(ClientDisconnectedError,),
                      sees_disconnect=True)
    if behaviour == "hang-mid-stream":
        if head:
            # The head is the whole HEAD response: the caller is done while the app
            # waits; the app learns of the disconnect at the latest when the session
            # closes. Whether its next body piece is refused depends on whether the
            # connection was closed by then: either is right.
            return Expect(None, "done", 200, no_body, sees_disconnect=True,
                          send_errors=(None, ClientDisconnectedError),
                          fresh_connection=None, app_ends_first=False)
        return Expect("timeout", "read", 200, send_errors=(ClientDisconnectedError,),
                      sees_disconnect=True)
    raise AssertionError(behaviour)


# -- running a row ---------------------------------------------------------------------


@dataclass
class Outcome:
    stage: str
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    exc: BaseException | None = None

    def __str__(self) -> str:
        return (f"stage={self.stage} status={self.status} body={self.body!r:.60} "
                f"exc={self.exc!r:.200} cause={getattr(self.exc, '__cause__', None)!r:.200}")


async def perform(session: aiohttp.ClientSession, method: str, path: str,
                  timeout: ClientTimeout, **kwargs: Any) -> Outcome:
    # Bounded by the request's ClientTimeout (total, or sock_read), not wait_for: its
    # extra task would shift the client's steps against the app's (and hid a failure
    # that shows with plain awaits, see test_failure_while_the_upload_streams).
    assert timeout.total is not None and timeout.total <= BOUND
    try:
        resp = await session.request(method, path, timeout=timeout, **kwargs)
    except Exception as exc:
        return Outcome("request", exc=exc)
    try:
        headers = {k.lower(): v for k, v in resp.headers.items()}
        try:
            data = await resp.read()
        except Exception as exc:
            return Outcome("read", resp.status, headers, exc=exc)
        return Outcome("done", resp.status, headers, data)
    finally:
        resp.release()


def connection_trace() -> tuple[TraceConfig, dict[str, int]]:
    counts = {"created": 0, "reused": 0}
    trace = TraceConfig()

    async def created(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        counts["created"] += 1

    async def reused(session: Any, ctx: SimpleNamespace, params: Any) -> None:
        counts["reused"] += 1

    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace, counts


def our_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if (r.name == LOGGER or r.name.startswith(LOGGER + "."))
            and r.levelno >= logging.WARNING]


def check_caller(exp: Expect, got: Outcome, app: FaultApp, variant: Variant) -> None:
    assert got.stage == exp.stage, f"caller saw {got}; expected stage {exp.stage}"
    if exp.error is None:
        assert got.exc is None, f"caller saw {got}"
    elif exp.error == "app":
        assert app.escaped is not None, "the app did not raise"
        if isinstance(app.escaped, (OSError, asyncio.TimeoutError, aiohttp.ClientError)):
            # aiohttp would wrap an OSError in ClientOSError (and retry the request on a
            # reused connection) and take a TimeoutError for its own: the connector
            # raises ASGIAppError with the app's exception object as __cause__.
            assert type(got.exc) is ASGIAppError, f"caller saw {got}"
            assert got.exc.__cause__ is app.escaped, f"caller saw {got}"
        else:
            assert got.exc is app.escaped, (
                f"the request must raise the app's own exception object {app.escaped!r}; "
                f"caller saw {got}"
            )
    elif exp.error == "payload":
        assert type(got.exc) is aiohttp.ClientPayloadError, f"caller saw {got}"
        assert got.exc.__cause__ is app.escaped, (
            f"ClientPayloadError.__cause__ must be the app's exception {app.escaped!r}; "
            f"caller saw {got}"
        )
    elif exp.error == "ASGIAppError":
        assert type(got.exc) is ASGIAppError, f"caller saw {got}"
    elif exp.error == "timeout":
        assert isinstance(got.exc, asyncio.TimeoutError), f"caller saw {got}"
        assert got.exc is not app.escaped
    else:
        raise AssertionError(exp.error)
    if exp.status is not None:
        assert got.status == exp.status, f"caller saw {got}"
    if exp.body is not None:
        assert got.body == exp.body, f"caller saw {got}"
    if got.status == 500:
        assert got.headers.get("connection", "").lower() == "close", (
            f"the canned 500 must close the connection; headers {got.headers}"
        )
    if variant.closes and got.status is not None:
        assert got.headers.get("connection", "").lower() == "close", (
            f"a {variant.name} request's response must carry connection: close; "
            f"headers {got.headers}"
        )


def check_app(exp: Expect, app: FaultApp, variant: Variant) -> None:
    assert app.fault_calls == 1, f"the faulty request reached the app {app.fault_calls} times"
    assert app.scope is not None
    assert app.scope["method"] == variant.method
    assert app.scope["http_version"] == variant.http_version
    first = app.received[0] if app.received else None
    assert first is not None and first["type"] == "http.request", app.received[:1]
    if exp.reads_whole_body:
        assert app.request_body == variant.body, "the app received a different body"
    else:
        assert variant.body.startswith(first.get("body", b""))
    disconnects = [m for m in app.received if m["type"] == "http.disconnect"]
    if exp.sees_disconnect:
        assert app.received[-1] == {"type": "http.disconnect"}, app.received[-3:]
    else:
        assert not disconnects, app.received[-3:]
    errors = app.send_errors
    assert len(errors) <= 1, f"send() raised more than once: {errors!r}"
    seen = type(errors[0]) if errors else None
    assert seen in exp.send_errors, (
        f"the app's send() raised {errors!r}; expected one of {exp.send_errors}"
    )
    if errors and exp.send_errors != (None,):
        assert app.escaped is errors[0]


def check_log(exp: Expect, app: FaultApp, records: list[logging.LogRecord]) -> None:
    shown = [(r.levelname, r.getMessage(), r.exc_info and r.exc_info[1]) for r in records]
    if exp.logged is None or isinstance(app.escaped, ClientDisconnectedError):
        # (a ClientDisconnectedError escaping the app is never logged as an error)
        assert records == [], f"nothing may be logged; logged {shown}"
        return
    assert len(records) == 1, f"the failure must be logged exactly once; logged {shown}"
    record = records[0]
    assert record.levelno == logging.ERROR, shown
    logged = record.exc_info[1] if record.exc_info else None
    if exp.logged == "escaped":
        assert logged is app.escaped, f"logged {shown}, not the app's {app.escaped!r}"
    else:
        assert type(logged) is ASGIAppError, shown
    if exp.log_fragment is not None:
        assert exp.log_fragment in record.getMessage(), shown


async def run_row(
    behaviour: str,
    variant: Variant,
    propagate: bool,
    caplog: pytest.LogCaptureFixture,
    make_exc: Callable[[], BaseException] = lambda: AppFault("app failed"),
) -> None:
    exp = expect(behaviour, variant, propagate)
    app = FaultApp(behaviour, make_exc)
    trace, counts = connection_trace()
    timeout = {
        "hang-before-start": HANG_BEFORE_START_TIMEOUT,
        "hang-mid-stream": HANG_MID_STREAM_TIMEOUT,
    }.get(behaviour, REQUEST_TIMEOUT)
    caplog.set_level(logging.INFO, logger=LOGGER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        session_options = {"trace_configs": [trace], **variant.session_options}
        async with make_session(app, session_options=session_options,
                                propagate_exceptions=propagate) as session:
            warm = await perform(session, "GET", "/warm-up", REQUEST_TIMEOUT)
            assert (warm.status, warm.body) == (200, NEXT_BODY), f"warm-up: {warm}"

            got = await perform(session, variant.method, "/fault", timeout,
                                **variant.request_kwargs())
            if exp.app_ends_first:
                await asyncio.wait_for(app.done.wait(), BOUND)
            before = dict(counts)
            after_fault = await perform(session, "GET", "/next", REQUEST_TIMEOUT)
            assert (after_fault.stage, after_fault.status, after_fault.body) == (
                "done", 200, NEXT_BODY
            ), f"the next request on the session failed: {after_fault}"
            if exp.fresh_connection is not None:
                fresh = counts["created"] == before["created"] + 1
                reused = counts["reused"] == before["reused"] + 1
                assert (fresh, reused) == (exp.fresh_connection, not exp.fresh_connection), (
                    f"the next request {'reused' if reused else 'did not reuse'} the "
                    f"faulty request's connection (fresh expected: {exp.fresh_connection})"
                )
        await asyncio.wait_for(app.done.wait(), BOUND)
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()
    check_caller(exp, got, app, variant)
    check_app(exp, app, variant)
    assert app.other_calls == 2  # warm-up and next: nothing was retried
    check_log(exp, app, our_records(caplog))
    asyncio_errors = [r.getMessage() for r in caplog.records
                      if r.name == "asyncio" and r.levelno >= logging.ERROR]
    assert asyncio_errors == [], asyncio_errors
    assert [str(w.message) for w in caught] == [], "warnings were emitted"


# -- the matrix ------------------------------------------------------------------------


def matrix() -> list[Any]:
    return [
        pytest.param(behaviour, variant, propagate,
                     id=f"{behaviour}-{variant}-{'propagate' if propagate else 'no-propagate'}")
        for behaviour in BEHAVIOURS
        for variant in VARIANTS
        for propagate in (True, False)
    ]


@pytest.mark.parametrize(("behaviour", "variant", "propagate"), matrix())
async def test_fault_matrix(
    behaviour: str, variant: str, propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    await run_row(behaviour, VARIANTS[variant], propagate, caplog)


# OSError subclasses and TimeoutError raised by the app are its own exceptions too: not
# wrapped in aiohttp's ClientOSError, not taken for a client timeout or disconnect.
EXCEPTION_KINDS: dict[str, Callable[[], BaseException]] = {
    "FileNotFoundError": lambda: FileNotFoundError(2, "No such file", "/nowhere"),
    "ConnectionResetError": lambda: ConnectionResetError(104, "reset by peer"),
    "TimeoutError": lambda: TimeoutError("app timed out"),
}


@pytest.mark.parametrize(
    ("behaviour", "kind", "propagate"),
    [
        pytest.param(behaviour, kind, propagate,
                     id=f"{behaviour}-{kind}-{'propagate' if propagate else 'no-propagate'}")
        for behaviour in RAISING
        for kind in EXCEPTION_KINDS
        for propagate in (True, False)
    ],
)
async def test_exception_kinds(
    behaviour: str, kind: str, propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    await run_row(behaviour, VARIANTS["GET"], propagate, caplog, EXCEPTION_KINDS[kind])


# -- canned responses vs HEAD, connection: close sessions, no wait for the app --------


@pytest.mark.parametrize("behaviour", ["raise-before-start", "raise-in-start-step",
                                       "return-without-response"])
async def test_canned_500_for_head_has_no_body(
    behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Body bytes after a HEAD response's head would be read as the next response.
    app = FaultApp(behaviour, lambda: AppFault("app failed"))
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with make_session(app, propagate_exceptions=False) as session:
        for method, path in [("HEAD", "/fault"), ("HEAD", "/next"), ("GET", "/next"),
                             ("HEAD", "/next")]:
            got = await perform(session, method, path, REQUEST_TIMEOUT)
            if path == "/fault":
                assert (got.stage, got.status, got.body) == ("done", 500, b""), str(got)
                assert got.headers.get("connection", "").lower() == "close", got.headers
            else:
                expected_body = NEXT_BODY if method == "GET" else b""
                assert (got.stage, got.status, got.body) == ("done", 200, expected_body), (
                    f"{method} after the canned HEAD 500: {got}"
                )
        await asyncio.wait_for(app.done.wait(), BOUND)
    assert len(our_records(caplog)) == 1


@pytest.mark.parametrize(
    "session_options",
    [
        pytest.param({"headers": {"Connection": "close"}}, id="conn-close"),
        pytest.param({"version": aiohttp.HttpVersion10, "headers": {"Connection": "close"}},
                     id="http10-close"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_closing_requests_in_a_row(
    session_options: dict[str, Any], method: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = FaultApp("ok", lambda: AppFault("unused"))
    trace, counts = connection_trace()
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with make_session(
        app, session_options={"trace_configs": [trace], **session_options}
    ) as session:
        for i in range(5):
            data = f"request {i}".encode() if method == "POST" else None
            got = await perform(session, method, f"/n{i}", REQUEST_TIMEOUT, data=data)
            expected_body = b"" if method == "HEAD" else NEXT_BODY
            assert (got.stage, got.status, got.body) == ("done", 200, expected_body), (
                f"request {i}: {got}"
            )
            assert got.headers.get("connection", "").lower() == "close", (
                f"request {i}: headers {got.headers}"
            )
    assert app.other_calls == 5
    assert counts == {"created": 5, "reused": 0}
    assert our_records(caplog) == []


@pytest.mark.parametrize("propagate", [True, False], ids=["propagate", "no-propagate"])
@pytest.mark.parametrize("behaviour", ["raise-after-complete-length", "send-after-final-body"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_failure_after_completion_never_affects_the_next_request(
    behaviour: str, method: str, propagate: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # The next request goes out at once, while the app may still be running on the
    # connection that carried its complete response: it must succeed either way.
    app = FaultApp(behaviour, lambda: AppFault("app failed"))
    caplog.set_level(logging.INFO, logger=LOGGER)
    async with make_session(app, propagate_exceptions=propagate) as session:
        got = await perform(session, method, "/fault", REQUEST_TIMEOUT)
        exp = expect(behaviour, VARIANTS[method], propagate)
        assert (got.stage, got.status, got.body) == ("done", 200, exp.body), str(got)
        for i in range(3):
            nxt = await perform(session, "GET", f"/next{i}", REQUEST_TIMEOUT)
            assert (nxt.stage, nxt.status, nxt.body) == ("done", 200, NEXT_BODY), (
                f"request {i} after the completed response: {nxt}"
            )
        await asyncio.wait_for(app.done.wait(), BOUND)
    assert [type(e) for e in app.send_errors] == [t for t in exp.send_errors if t], (
        f"the app's send() raised {app.send_errors!r}"
    )
    check_log(exp, app, our_records(caplog))


@pytest.mark.parametrize("propagate", [True, False], ids=["propagate", "no-propagate"])
@pytest.mark.parametrize("reads", [0, 1, 2])
@pytest.mark.parametrize(
    ("pieces", "pauses"),
    [
        pytest.param([49, 0, 4933, 3483], [True, False, False, True], id="pause-1-4"),
        pytest.param([49, 4933, 3483], [True, False, True], id="pause-1-3"),
        pytest.param([20_000] * 3, [True, True, True], id="pause-each"),
    ],
)
async def test_failure_while_the_upload_streams(
    pieces: list[int], pauses: list[bool], reads: int, propagate: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Found by the differential driver: the app reads part of a chunked upload, then
    # fails in the step that started its response; the client's upload is still being
    # written. The caller must still get the app's exception / the canned 500 (not
    # aiohttp's "Cannot write to closing transport"), and the session must stay usable.
    raised: list[BaseException] = []
    received: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] != "/fault":
            await read_body(receive)
            await send(start())
            await send(body(NEXT_BODY, False))
            return
        for _ in range(reads):
            received.append(await receive())
        await send(start())
        exc = AppFault("app failed")
        raised.append(exc)
        raise exc

    async def upload_pieces() -> Any:
        for size, pause in zip(pieces, pauses, strict=True):
            yield b"u" * size
            if pause:
                await asyncio.sleep(0)

    caplog.set_level(logging.INFO, logger=LOGGER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with make_session(app, propagate_exceptions=propagate) as session:
            got = await perform(session, "POST", "/fault", REQUEST_TIMEOUT,
                                data=upload_pieces())
            nxt = await perform(session, "GET", "/next", REQUEST_TIMEOUT)
        gc.collect()
    if propagate:
        assert got.stage == "request" and got.exc is raised[0], str(got)
    else:
        assert (got.stage, got.status, got.body) == ("done", 500, INTERNAL_ERROR), str(got)
    assert (nxt.stage, nxt.status, nxt.body) == ("done", 200, NEXT_BODY), str(nxt)
    assert all(m["type"] == "http.request" for m in received), received
    records = our_records(caplog)
    assert len(records) == (0 if propagate else 1), records
    assert [str(w.message) for w in caught] == []
