"""Hang diagnostics (issue 12): a request that times out, or whose task is cancelled,
while the app still runs says where the app is stuck (README, "Failures")."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
from typing import Any

import aiohttp
import pytest
from fastapi import FastAPI

from helpers import make_session

HAS_NOTES = sys.version_info >= (3, 11)


def _line_of(marker: str) -> int:
    """The line of this file that ends with ``marker``."""
    with open(__file__, encoding="utf-8") as source:
        for number, line in enumerate(source, 1):
            if line.rstrip().endswith(marker) and "_line_of" not in line:
                return number
    raise AssertionError(f"no line ends with {marker!r}")


class Tracked:
    """Records how the app's task ended."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.ended: list[str] = []


def fastapi_app(tracked: Tracked) -> FastAPI:
    app = FastAPI()

    @app.get("/stuck")
    async def stuck() -> dict[str, str]:
        tracked.started.set()
        try:
            await asyncio.Event().wait()  # <- stuck (FastAPI)
        except asyncio.CancelledError:
            tracked.ended.append("cancelled")
            raise
        return {}

    @app.get("/fast")
    async def fast() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def raw_app_after_head(tracked: Tracked) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        tracked.started.set()
        try:
            await asyncio.Event().wait()  # <- stuck (raw, after head)
        except asyncio.CancelledError:
            tracked.ended.append("cancelled")
            raise

    return app


def notes_in_chain(exc: BaseException | None) -> list[str]:
    """Every note on ``exc`` and the exceptions it was raised from or during."""
    notes: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        notes.extend(getattr(exc, "__notes__", ()))
        exc = exc.__cause__ or exc.__context__
    return notes


@pytest.fixture(autouse=True)
def _log_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aiohttp_asgi_fast")


def hang_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record for record in caplog.records
        if record.name == "aiohttp_asgi_fast" and "still running" in record.getMessage()
    ]


def assert_points_at(
    exc: BaseException, caplog: pytest.LogCaptureFixture, marker: str, exc_name: str
) -> None:
    where = f"{__file__}:{_line_of(marker)} in "
    records = hang_records(caplog)
    assert len(records) == 1, [record.getMessage() for record in caplog.records]
    logged = records[0].getMessage()
    assert records[0].levelno == logging.INFO
    assert where in logged, logged
    assert f"({exc_name})" in logged
    assert "await asyncio.Event().wait()" in logged  # the source line too
    if HAS_NOTES:
        notes = notes_in_chain(exc)
        assert len(notes) == 1, notes
        assert where in notes[0], notes[0]
        # innermost last: the app's line comes after the framework's frames
        frames = [line for line in notes[0].splitlines() if " in " in line]
        assert any(where in line for line in frames[-2:]), frames
        # this package's own frames (the cycle's run, run_steps) are left out
        assert f"{os.sep}aiohttp_asgi_fast{os.sep}" not in notes[0]


async def test_framework_frames_are_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """FastAPI's ~17 frames of fastapi and starlette before the endpoint are one line
    naming them; the app's line and the innermost frame stay."""
    tracked = Tracked()
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with make_session(fastapi_app(tracked), session_options={"timeout": timeout}) as session:
        with pytest.raises(asyncio.TimeoutError):
            await session.get("/stuck")
    logged = hang_records(caplog)[0].getMessage().splitlines()
    collapsed = [line for line in logged if line.startswith("  ... ")]
    assert len(collapsed) == 1, logged
    assert re.fullmatch(r"  \.\.\. \d+ frames in (fastapi, starlette|starlette, fastapi).*",
                        collapsed[0]), collapsed
    shown = [line for line in logged if re.match(r"  \S.*:\d+ in ", line)]
    assert len(shown) <= 3, logged  # the endpoint, and asyncio's Event.wait
    assert f"{__file__}:{_line_of('# <- stuck (FastAPI)')} in " in shown[0]
    assert logged.index(collapsed[0]) < logged.index(shown[0])  # innermost last


async def test_fastapi_total_timeout_before_head(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with make_session(fastapi_app(tracked), session_options={"timeout": timeout}) as session:
        with pytest.raises(asyncio.TimeoutError) as info:
            await session.get("/stuck")
        assert tracked.started.is_set()
        assert_points_at(info.value, caplog, "# <- stuck (FastAPI)", "TimeoutError")
        if HAS_NOTES:
            # a ClientTimeout's note is on the very exception raised
            assert info.value.__notes__
        assert not tracked.ended  # still running until the session closes, as before
    assert tracked.ended == ["cancelled"]


async def test_raw_app_total_timeout_during_read(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with make_session(
        raw_app_after_head(tracked), session_options={"timeout": timeout}
    ) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            with pytest.raises(asyncio.TimeoutError) as info:
                await resp.read()
        assert_points_at(info.value, caplog, "# <- stuck (raw, after head)", "TimeoutError")
    assert tracked.ended == ["cancelled"]


@pytest.mark.parametrize("after_head", [False, True], ids=["before-head", "during-read"])
async def test_sock_read_timeout(caplog: pytest.LogCaptureFixture, after_head: bool) -> None:
    tracked = Tracked()
    app = raw_app_after_head(tracked) if after_head else fastapi_app(tracked)
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with make_session(app, session_options={"timeout": timeout}) as session:
        with pytest.raises(aiohttp.ServerTimeoutError) as info:
            async with session.get("/stuck") as resp:
                await resp.read()
        marker = "# <- stuck (raw, after head)" if after_head else "# <- stuck (FastAPI)"
        exc_name = type(info.value).__name__  # SocketTimeoutError on aiohttp 3.10+
        assert_points_at(info.value, caplog, marker, exc_name)
    assert tracked.ended == ["cancelled"]


async def test_wait_for_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()
    async with make_session(fastapi_app(tracked)) as session:
        with pytest.raises(asyncio.TimeoutError) as info:
            await asyncio.wait_for(session.get("/stuck"), 0.2)
        # wait_for raises its TimeoutError from the CancelledError that carries the note
        assert isinstance(info.value.__cause__, asyncio.CancelledError)
        assert_points_at(info.value, caplog, "# <- stuck (FastAPI)", "CancelledError")
    assert tracked.ended == ["cancelled"]


async def test_task_cancel(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()
    async with make_session(fastapi_app(tracked)) as session:
        request = asyncio.ensure_future(session.get("/stuck"))
        await asyncio.wait_for(tracked.started.wait(), 5)
        request.cancel()
        with pytest.raises(asyncio.CancelledError) as info:
            await asyncio.wait_for(request, 5)
        assert_points_at(info.value, caplog, "# <- stuck (FastAPI)", "CancelledError")
    assert tracked.ended == ["cancelled"]


async def test_websocket_handshake_timeout(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await asyncio.Event().wait()  # <- stuck (WebSocket, before accept)

    timeout = aiohttp.ClientTimeout(total=0.2)
    async with make_session(app, session_options={"timeout": timeout}) as session:
        with pytest.raises(asyncio.TimeoutError) as info:
            await session.ws_connect("/ws")
        assert_points_at(
            info.value, caplog, "# <- stuck (WebSocket, before accept)", "TimeoutError"
        )


async def test_no_timeout_no_note_no_log(caplog: pytest.LogCaptureFixture) -> None:
    tracked = Tracked()
    timeout = aiohttp.ClientTimeout(total=5)
    async with make_session(fastapi_app(tracked), session_options={"timeout": timeout}) as session:
        for _ in range(3):
            async with session.get("/fast") as resp:
                assert await resp.json() == {"ok": "yes"}
    async with make_session(fastapi_app(tracked), force_close=True) as session:
        async with session.get("/fast") as resp:
            assert await resp.json() == {"ok": "yes"}
    assert caplog.records == []


async def test_other_errors_get_no_note(caplog: pytest.LogCaptureFixture) -> None:
    """Leaving a response early with an error of one's own is no hang."""
    tracked = Tracked()
    async with make_session(raw_app_after_head(tracked)) as session:

        async def leave_with_own_error() -> None:
            async with session.get("/"):
                await asyncio.wait_for(tracked.started.wait(), 5)
                raise ValueError("the caller's own error")

        with pytest.raises(ValueError) as info:
            await leave_with_own_error()
        assert notes_in_chain(info.value) == []
    assert hang_records(caplog) == []
    assert tracked.ended == ["cancelled"]


async def test_finished_response_gets_no_note(caplog: pytest.LogCaptureFixture) -> None:
    """The app runs on after its whole response reached the client: the caller
    timing out later is not the app's hang."""
    done = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        done.set()
        await asyncio.Event().wait()

    async def time_out_after_response() -> None:
        async with make_session(app) as session:
            async with session.get("/") as resp:
                assert await resp.read() == b"ok"
            await asyncio.wait_for(done.wait(), 5)
            # the session closes its idle connection while this propagates
            raise asyncio.TimeoutError("the caller's own timeout")

    with pytest.raises(asyncio.TimeoutError) as info:
        await time_out_after_response()
    assert notes_in_chain(info.value) == []
    assert hang_records(caplog) == []


def test_pytest_shows_where(pytester: pytest.Pytester) -> None:
    """What a user sees: a failing test's report names the endpoint's line."""
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    test_file = pytester.makepyfile(
        test_stuck="""
        import asyncio
        import aiohttp
        from fastapi import FastAPI
        from aiohttp_asgi_fast import ASGIApplicationConnector

        app = FastAPI()

        @app.get("/stuck")
        async def stuck():
            await asyncio.Event().wait()

        async def call():
            async with aiohttp.ClientSession(
                base_url="http://testserver",
                connector=ASGIApplicationConnector(app),
                timeout=aiohttp.ClientTimeout(total=0.2),
            ) as session:
                await session.get("/stuck")

        def test_stuck():
            asyncio.run(call())
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--log-level=INFO")
    result.assert_outcomes(failed=1)
    source = test_file.read_text(encoding="utf-8").splitlines()
    line = source.index("    await asyncio.Event().wait()") + 1
    where = f"{test_file}:{line} in stuck"
    lines = [text for text in result.outlines if where in text]
    # the note under the TimeoutError (an E line) and the captured log (at INFO, shown
    # with --log-level=INFO); only the log on 3.10. (With CI set, pytest's short
    # summary also prints the whole message, notes included: not counted here.)
    noted = [line for line in lines if line.startswith("E ")]
    assert len(noted) == (1 if HAS_NOTES else 0), result.outlines
    log_start = next(i for i, text in enumerate(result.outlines) if "Captured log call" in text)
    log_end = next(i for i, text in enumerate(result.outlines) if "short test summary" in text)
    assert any(where in text for text in result.outlines[log_start:log_end]), result.outlines



async def test_unreadable_awaitable_keeps_the_callers_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An awaitable the stack walk cannot read: the caller still gets its own
    timeout, and the failure to tell is logged."""

    class Unreadable:
        @property
        def cr_frame(self) -> Any:
            raise RuntimeError("unreadable frame")

        def __await__(self) -> Any:
            return asyncio.Event().wait().__await__()

    def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        return Unreadable()

    timeout = aiohttp.ClientTimeout(total=0.2)
    async with make_session(
        app, interface="asgi3", session_options={"timeout": timeout}
    ) as session:
        with pytest.raises(asyncio.TimeoutError) as info:
            await session.get("/")
    assert notes_in_chain(info.value) == []
    errors = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert [record.getMessage() for record in errors] == [
        "Could not tell where the ASGI application is stuck"
    ]
    assert isinstance(errors[0].exc_info and errors[0].exc_info[1], RuntimeError)


@pytest.mark.skipif(not HAS_NOTES, reason="exception notes are new in Python 3.11 (the log has it)")
async def test_an_awaited_task_shows_the_apps_awaiting_line() -> None:
    """The walk ends where the app awaits another task (no frame to follow there): the
    note shows the app's own line, not the other task's."""

    async def inner() -> None:
        await asyncio.Event().wait()  # <- inside the other task

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.create_task(inner())  # <- awaits a task

    async with make_session(app, session_options={
        "timeout": aiohttp.ClientTimeout(total=0.2)}) as session:
        with pytest.raises(asyncio.TimeoutError) as caught:
            await session.get("/")
    note = "\n".join(notes_in_chain(caught.value))
    assert f"{__file__}:{_line_of('# <- awaits a task')} in " in note
    assert "inside the other task" not in note
