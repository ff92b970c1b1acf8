"""ASGI HTTP extensions: scope["extensions"], path send, trailers, early hints."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse
from starlette.routing import Route

from aiohttp_asgi_fast import ASGIAppError, ASGIProtocolError
from aiohttp_asgi_fast._extensions import CLIENT_PARSES_TRAILERS
from aiohttp_asgi_fast._transport import InMemoryTransport
from helpers import make_session

EXTENSIONS = {
    "http.response.trailers": {},
    "http.response.pathsend": {},
    "http.response.early_hint": {},
}
TE_TRAILERS = {"TE": "trailers"}


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every byte string the connection hands to aiohttp's response parser."""
    delivered: list[bytes] = []
    deliver = InMemoryTransport.deliver

    def recording(self: InMemoryTransport, data: bytes) -> None:
        delivered.append(bytes(data))
        deliver(self, data)

    monkeypatch.setattr(InMemoryTransport, "deliver", recording)
    return delivered


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(100_000) + b"end")
    return path


@pytest.fixture
def content(data_file: Path) -> bytes:
    return data_file.read_bytes()


@pytest.fixture
def large_file(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "large.bin"
    data = os.urandom(8 << 20)
    path.write_bytes(data)
    return path, data


async def client_failure(app: Any, method: str = "GET", **options: Any) -> BaseException:
    """The error the client sees: raised by the request, or the cause of a failed read."""
    async with make_session(app, **options) as session:
        try:
            async with session.request(method, "/") as resp:
                await resp.read()
        except (aiohttp.ClientPayloadError, ASGIAppError) as exc:
            # An app's OSError (a missing file) arrives as ASGIAppError's cause.
            return exc.__cause__ or exc
        except Exception as exc:
            return exc
    raise AssertionError("the request succeeded")


async def check_session_still_works(session: aiohttp.ClientSession) -> None:
    # The next response on the connection parses cleanly: the framing was exact.
    async with session.get("/next") as resp:
        assert resp.status == 200
        assert await resp.read() == b"next"


async def answer_next(scope: dict[str, Any], send: Any) -> bool:
    if scope["path"] != "/next":
        return False
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"next"})
    return True


# -- scope["extensions"] ------------------------------------------------------------------


async def test_scope_advertises_exactly_the_implemented_extensions() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["extensions"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    async with make_session(app) as session:
        for _ in range(2):
            async with session.get("/") as resp:
                assert resp.status == 204
    assert seen == [EXTENSIONS, EXTENSIONS]
    assert seen[0] is not seen[1]  # a fresh dict per request: apps may mutate it


async def test_unknown_message_type_names_the_advertised_extensions() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.push", "path": "/x", "headers": []})

    exc = await client_failure(app)
    assert isinstance(exc, ASGIProtocolError)
    assert "'http.response.push'" in str(exc)
    assert "http.response.pathsend" in str(exc)


# -- http.response.pathsend -----------------------------------------------------------------


def pathsend_app(path: object, headers: list[tuple[bytes, bytes]] | None = None,
                 pause: bool = False) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await answer_next(scope, send):
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers or []})
        if pause:
            await asyncio.sleep(0.01)  # the head goes out first, framed as chunked
        await send({"type": "http.response.pathsend", "path": path})

    return app


async def test_pathsend_without_content_length_uses_the_file_size(
    data_file: Path, content: bytes
) -> None:
    async with make_session(pathsend_app(str(data_file))) as session:
        async with session.get("/") as resp:
            assert resp.headers["Content-Length"] == str(len(content))
            assert "Transfer-Encoding" not in resp.headers
            assert await resp.read() == content
        await check_session_still_works(session)


async def test_pathsend_keeps_the_apps_content_length(
    data_file: Path, content: bytes
) -> None:
    headers = [(b"Content-Length", b"%d" % len(content)), (b"content-type", b"x/y")]
    async with make_session(pathsend_app(str(data_file), headers)) as session:
        async with session.get("/") as resp:
            assert resp.headers.getall("Content-Length") == [str(len(content))]
            assert await resp.read() == content


async def test_pathsend_after_the_head_was_sent_is_chunked(
    data_file: Path, content: bytes
) -> None:
    async with make_session(pathsend_app(str(data_file), pause=True)) as session:
        async with session.get("/") as resp:
            assert resp.headers["Transfer-Encoding"] == "chunked"
            assert await resp.read() == content
        await check_session_still_works(session)


async def test_pathsend_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    async with make_session(pathsend_app(str(path))) as session:
        async with session.get("/") as resp:
            assert resp.headers["Content-Length"] == "0"
            assert await resp.read() == b""
        await check_session_still_works(session)


async def test_pathsend_head_request_gets_the_size_and_no_body(
    data_file: Path, content: bytes
) -> None:
    async with make_session(pathsend_app(str(data_file))) as session:
        async with session.head("/") as resp:
            assert resp.headers["Content-Length"] == str(len(content))
            assert await resp.read() == b""
        await check_session_still_works(session)


async def test_pathsend_missing_file_raises_oserror_naming_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.txt")
    errors: list[OSError] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            await send({"type": "http.response.pathsend", "path": missing})
        except OSError as exc:
            errors.append(exc)
            await send({"type": "http.response.body", "body": b"fallback"})

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"fallback"
    assert isinstance(errors[0], FileNotFoundError)
    assert missing in str(errors[0])
    # Uncaught, it reaches the client as the same exception (propagate_exceptions).
    exc = await client_failure(pathsend_app(missing))
    assert isinstance(exc, FileNotFoundError)
    assert missing in str(exc)


async def test_pathsend_of_a_directory_raises_oserror(tmp_path: Path) -> None:
    exc = await client_failure(pathsend_app(str(tmp_path)))
    assert isinstance(exc, OSError)
    assert str(tmp_path) in str(exc)


@pytest.mark.parametrize(
    "path", [b"/etc/hostname", Path("/etc/hostname"), None, "", "/tmp/\x00nul"]
)
async def test_pathsend_path_must_be_a_str(path: object) -> None:
    exc = await client_failure(pathsend_app(path))
    assert isinstance(exc, ASGIProtocolError)
    assert "path must be a file path as a non-empty str" in str(exc)


async def test_pathsend_relative_path_is_resolved_against_the_current_directory(
    data_file: Path, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starlette's FileResponse("data.bin") sends the path as given (issue 10 #13):
    # resolved when it is sent, as a server that opens the path would.
    monkeypatch.chdir(data_file.parent)
    async with make_session(pathsend_app("data.bin")) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            assert await resp.read() == content
    monkeypatch.chdir(data_file.parent.parent)
    exc = await client_failure(pathsend_app("data.bin"))
    assert isinstance(exc, FileNotFoundError)
    assert str(data_file.parent.parent / "data.bin") in str(exc)


async def test_starlette_file_response_with_a_relative_path(
    data_file: Path, content: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def download(request: Request) -> FileResponse:
        return FileResponse("data.bin")

    monkeypatch.chdir(data_file.parent)
    app = Starlette(routes=[Route("/file", download)])
    async with make_session(app) as session:
        async with session.get("/file") as resp:
            assert resp.status == 200
            assert await resp.read() == content


async def test_pathsend_size_must_match_the_apps_content_length(data_file: Path) -> None:
    exc = await client_failure(pathsend_app(str(data_file), [(b"content-length", b"5")]))
    assert isinstance(exc, ASGIProtocolError)
    assert "Content-Length is 5" in str(exc)


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        (["pathsend"], "before 'http.response.start'"),
        (["start", "body-more", "pathsend"], "cannot follow 'http.response.body'"),
        (["start", "pathsend", "pathsend"], "after the response completed"),
        (["start", "pathsend", "body"], "after the response completed"),
        (["start:trailers", "body", "pathsend"], "after the final body"),
    ],
)
async def test_pathsend_is_allowed_once_instead_of_bodies(
    data_file: Path, steps: list[str], match: str
) -> None:
    errors: list[BaseException] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        messages = {
            "start": {"type": "http.response.start", "status": 200, "headers": []},
            "start:trailers": {"type": "http.response.start", "status": 200,
                               "headers": [], "trailers": True},
            "body-more": {"type": "http.response.body", "body": b"x", "more_body": True},
            "body": {"type": "http.response.body", "body": b"x"},
            "pathsend": {"type": "http.response.pathsend", "path": str(data_file)},
        }
        try:
            for step in steps:
                await send(messages[step])
        except ASGIProtocolError as exc:
            errors.append(exc)
            raise

    async with make_session(app) as session:
        try:
            async with session.get("/") as resp:
                await resp.read()
        except (ASGIProtocolError, aiohttp.ClientPayloadError):
            pass  # the error reached the client, or the response was already complete
        await asyncio.sleep(0)
    assert len(errors) == 1, "the bad message was accepted"
    assert match in str(errors[0])


async def test_pathsend_concurrent_body_is_refused(large_file: tuple[Path, bytes]) -> None:
    data_file, content = large_file
    errors: list[BaseException] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        task = asyncio.ensure_future(
            send({"type": "http.response.pathsend", "path": str(data_file)})
        )
        await asyncio.sleep(0)  # the path send is under way (waiting on backpressure)
        try:
            await send({"type": "http.response.body", "body": b"x"})
        except ASGIProtocolError as exc:
            errors.append(exc)
        await task

    async with make_session(app, session_options={"read_bufsize": 2**10}) as session:
        async with session.get("/") as resp:
            assert await resp.read() == content
    assert errors, "a body during a path send was accepted"
    assert "after 'http.response.pathsend'" in str(errors[0])


async def test_pathsend_large_file_streams_with_bounded_memory(
    large_file: tuple[Path, bytes], wire: list[bytes]
) -> None:
    path, data = large_file
    size = len(data)
    digest = hashlib.sha256(data).hexdigest()
    async with make_session(pathsend_app(str(path))) as session:
        async with session.get("/") as resp:
            assert resp.headers["Content-Length"] == str(size)
            first = await resp.content.readexactly(64 << 10)
            await asyncio.sleep(0.05)  # the client stops reading for a while
            delivered = sum(map(len, wire))
            assert delivered < 2 << 20, f"{delivered} bytes sent to a client not reading"
            sha = hashlib.sha256(first)
            received = len(first)
            while chunk := await resp.content.read(1 << 16):
                sha.update(chunk)
                received += len(chunk)
    assert received == size
    assert sha.hexdigest() == digest


def starlette_file_app(path: Path, sent: list[str]) -> Any:
    async def file(request: Request) -> FileResponse:
        return FileResponse(path)

    starlette = Starlette(routes=[Route("/file", file, methods=["GET", "HEAD"])])

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def spy(message: dict[str, Any]) -> None:
            sent.append(message["type"])
            await send(message)

        await starlette(scope, receive, spy)

    return app


async def test_starlette_file_response_uses_pathsend(large_file: tuple[Path, bytes]) -> None:
    path, content = large_file
    sent: list[str] = []
    async with make_session(starlette_file_app(path, sent)) as session:
        async with session.get("/file") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(content))
            assert await resp.read() == content
        assert sent == ["http.response.start", "http.response.pathsend"]
        sent.clear()
        async with session.head("/file") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Length"] == str(len(content))
            assert await resp.read() == b""
        async with session.get("/file") as resp:  # the connection is still in step
            assert await resp.read() == content


# -- http.response.trailers -----------------------------------------------------------------


def trailers_app(bodies: list[bytes], trailer_messages: list[dict[str, Any]],
                 headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await answer_next(scope, send):
            return
        await send({"type": "http.response.start", "status": 200, "trailers": True,
                    "headers": [(b"trailer", b"x-checksum, x-other"), *(headers or [])]})
        for i, body in enumerate(bodies):
            await send({"type": "http.response.body", "body": body,
                        "more_body": i < len(bodies) - 1})
        for message in trailer_messages:
            await send({"type": "http.response.trailers", **message})

    return app


TRAILERS = [
    {"headers": [(b"x-checksum", b"abc")], "more_trailers": True},
    {"headers": [(b"x-other", b"1"), (b"x-other", b"2")]},
]
SECTION = b"0\r\nx-checksum: abc\r\nx-other: 1\r\nx-other: 2\r\n\r\n"


@pytest.mark.parametrize(
    ("bodies", "headers"),
    [
        ([b"hello"], []),
        ([b"he", b"", b"llo"], []),
        ([b""], []),
        ([b"hel", b"lo"], [(b"content-length", b"5")]),
    ],
)
async def test_trailers_are_sent_when_the_client_accepts_them(
    bodies: list[bytes], headers: list[tuple[bytes, bytes]], wire: list[bytes]
) -> None:
    body = b"".join(bodies)
    async with make_session(trailers_app(bodies, TRAILERS, headers)) as session:
        async with session.get("/", headers=TE_TRAILERS) as resp:
            assert resp.status == 200
            assert await resp.read() == body
            raw = b"".join(wire)
            head, _, framed = raw.partition(b"\r\n\r\n")
            if CLIENT_PARSES_TRAILERS:
                # RFC 9112 §7.1.2: the trailer section follows the last chunk.
                assert resp.headers["Transfer-Encoding"] == "chunked"
                assert b"content-length" not in head.lower()
                assert framed.endswith(b"\r\n" + SECTION) or framed == SECTION
            else:  # aiohttp's pure parser before 3.12.14 hangs on them: dropped
                assert b"x-checksum: abc" not in framed
        await check_session_still_works(session)


@pytest.mark.parametrize("bodies", [[b"hello"], [b"he", b"llo"]])
async def test_trailers_are_dropped_without_te_trailers(
    bodies: list[bytes], wire: list[bytes]
) -> None:
    async with make_session(trailers_app(bodies, TRAILERS)) as session:
        async with session.get("/", headers={"TE": "gzip"}) as resp:
            assert await resp.read() == b"hello"
            raw = b"".join(wire)
            assert b"x-checksum: abc" not in raw.partition(b"\r\n\r\n")[2]
            # Chunked all the same: the last chunk waits for the final trailers
            # message, so a failure before it still fails the read.
            assert resp.headers["Transfer-Encoding"] == "chunked"
        await check_session_still_works(session)


async def test_te_trailers_is_found_in_a_list(wire: list[bytes]) -> None:
    async with make_session(trailers_app([b"x"], TRAILERS)) as session:
        async with session.get("/", headers={"TE": "deflate;q=0.5, Trailers"}) as resp:
            assert await resp.read() == b"x"
    assert (SECTION in b"".join(wire)) is CLIENT_PARSES_TRAILERS


async def test_trailers_on_a_head_response_are_dropped(wire: list[bytes]) -> None:
    async with make_session(trailers_app([b"hello"], TRAILERS)) as session:
        async with session.head("/", headers=TE_TRAILERS) as resp:
            assert await resp.read() == b""
        await check_session_still_works(session)
    assert b"x-checksum: abc" not in b"".join(wire)


async def test_response_completes_only_with_the_last_trailers() -> None:
    release = asyncio.Event()
    completed = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [],
                    "trailers": True})
        await asyncio.sleep(0.01)  # the head goes out; the end of the body waits
        await send({"type": "http.response.body", "body": b"data"})
        await release.wait()
        await send({"type": "http.response.trailers", "headers": [(b"x-t", b"1")]})
        assert await receive() == {"type": "http.disconnect"}  # the response is done
        completed.set()

    async with make_session(app) as session:
        for headers in ({}, TE_TRAILERS):
            release.clear()
            completed.clear()
            async with session.get("/", headers=headers) as resp:
                read = asyncio.ensure_future(resp.read())
                await asyncio.sleep(0.02)
                assert not read.done(), "the response ended before its trailers"
                release.set()
                assert await read == b"data"
            await completed.wait()


@pytest.mark.parametrize("te", [{}, TE_TRAILERS])
@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("propagate", [True, False])
async def test_app_returning_without_promised_trailers_fails_like_an_unfinished_body(
    streamed: bool, propagate: bool, te: dict[str, str]
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await answer_next(scope, send):
            return
        await send(start())
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        if streamed:
            await asyncio.sleep(0)  # the head and b"a" reach the client
        await send({"type": "http.response.body", "body": b"b"})

    async with make_session(app, propagate_exceptions=propagate) as session:
        if streamed:  # the head went out: the read fails, as for any unfinished body
            async with session.get("/", headers=te) as resp:
                assert resp.status == 200
                with pytest.raises(aiohttp.ClientPayloadError) as info:
                    await resp.read()
            exc = info.value.__cause__
        elif propagate:  # in the step that started the response: it is replaced
            with pytest.raises(ASGIAppError) as replaced:
                await session.get("/", headers=te)
            exc = replaced.value
        else:
            async with session.get("/", headers=te) as resp:
                assert resp.status == 500
            exc = None
        if exc is not None:
            assert isinstance(exc, ASGIAppError)
            assert "trailers" in str(exc)
        await check_session_still_works(session)


@pytest.mark.parametrize("te", [{}, TE_TRAILERS])
async def test_trailers_do_not_hold_back_the_head_and_body(te: dict[str, str]) -> None:
    # Issue 10 #11: only the last chunk and the trailer section wait for the final
    # http.response.trailers message; the head and body are flushed as sent (ASGI).
    release = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await answer_next(scope, send):
            return
        await send(start())
        await send({"type": "http.response.body", "body": b"all of it"})
        await release.wait()
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    async with make_session(app) as session:
        async with session.get("/", headers=te) as resp:
            assert resp.status == 200
            body = await asyncio.wait_for(resp.content.readexactly(9), 5)
            assert body == b"all of it"
            assert not resp.content.at_eof()
            release.set()
            assert await asyncio.wait_for(resp.read(), 5) == b""
        await check_session_still_works(session)


async def test_app_raising_while_trailers_are_due_fails_the_read() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [],
                    "trailers": True})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})
        raise KeyError("checksum")

    exc = await client_failure(app)
    assert isinstance(exc, KeyError)


def start(trailers: object = True) -> dict[str, Any]:
    return {"type": "http.response.start", "status": 200, "headers": [],
            "trailers": trailers}


BODY = {"type": "http.response.body", "body": b"x"}
TRAILER = {"type": "http.response.trailers", "headers": []}


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([TRAILER], "before 'http.response.start'"),
        ([start(False), BODY, TRAILER], "after the response completed"),
        ([start(False), TRAILER], "did not set 'trailers': True"),
        ([start(), TRAILER], "before the final 'http.response.body'"),
        ([start(), {**BODY, "more_body": True}, TRAILER], "before the final"),
        ([start(), BODY, BODY], "promised 'http.response.trailers'"),
        ([start(), BODY, TRAILER, TRAILER], "after the response completed"),
        ([start(), BODY, TRAILER, BODY], "after the response completed"),
        ([start(), BODY, TRAILER, start()], "after the response completed"),
        ([start("yes")], "trailers must be a bool"),
        ([start(), BODY, {**TRAILER, "more_trailers": 1}], "more_trailers must be a bool"),
        ([start(), BODY, {**TRAILER, "headers": None}], "iterable of [name, value]"),
        ([start(), BODY, {**TRAILER, "headers": [(b"x",)]}], "[name, value] pair"),
        ([start(), BODY, {**TRAILER, "headers": [("x", "1")]}], "must be bytes"),
        ([start(), BODY, {**TRAILER, "headers": [(b"X-Up", b"1")]}], "lower-case"),
        ([start(), BODY, {**TRAILER, "headers": [(b"x y", b"1")]}], "token"),
        ([start(), BODY, {**TRAILER, "headers": [(b"", b"1")]}], "token"),
        ([start(), BODY, {**TRAILER, "headers": [(b"x", b"a\r\nb: c")]}], "CR, LF, NUL"),
        ([start(), BODY, {**TRAILER, "headers": [(b"x", b"a\x00")]}], "CR, LF, NUL"),
        ([start(), BODY, {**TRAILER, "headers": [(b"content-length", b"1")]}],
         "RFC 9110 §6.5.1"),
    ],
)
@pytest.mark.parametrize("te", [False, True])
async def test_trailer_protocol_errors(
    messages: list[dict[str, Any]], match: str, te: bool
) -> None:
    errors: list[BaseException] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            for message in messages:
                await send(message)
        except ASGIProtocolError as exc:
            errors.append(exc)
            raise

    async with make_session(app) as session:
        try:
            async with session.get("/", headers=TE_TRAILERS if te else {}) as resp:
                await resp.read()
        except (ASGIProtocolError, aiohttp.ClientPayloadError):
            pass
        await asyncio.sleep(0)
    assert len(errors) == 1, "the bad message was accepted"
    assert match in str(errors[0])


# -- http.response.early_hint --------------------------------------------------------------

HINT = b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\r\n"


@pytest.mark.parametrize("before_start", [False, True])
async def test_early_hint_reaches_the_client_before_the_final_head(
    before_start: bool, wire: list[bytes]
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if await answer_next(scope, send):
            return
        hint = {"type": "http.response.early_hint",
                "links": [b"</style.css>; rel=preload; as=style"]}
        if before_start:  # as Starlette's Request.send_early_hints() does
            await send(hint)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"link", b"</style.css>; rel=preload")]})
        if not before_start:  # the head is still held: the hint goes first
            await send(hint)
            await send({**hint, "links": (b"</a.js>", b"</b.js>")})
        await send({"type": "http.response.body", "body": b"page"})

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            assert resp.headers["Link"] == "</style.css>; rel=preload"
            assert await resp.read() == b"page"
        await check_session_still_works(session)
    assert wire[0] == HINT
    if not before_start:
        assert wire[1] == b"HTTP/1.1 103 Early Hints\r\nlink: </a.js>\r\nlink: </b.js>\r\n\r\n"
    assert wire[-2].startswith(b"HTTP/1.1 200 OK\r\n")


async def test_early_hints_are_ignored_once_the_head_was_sent(wire: list[bytes]) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.early_hint", "links": [b"</late.css>"]})
        await send({"type": "http.response.body", "body": b"b"})

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"ab"
    assert not any(b"103" in data for data in wire)


async def test_starlette_send_early_hints(wire: list[bytes]) -> None:
    if not hasattr(Request, "send_early_hints"):
        pytest.skip("this Starlette has no Request.send_early_hints()")

    async def page(request: Request) -> PlainTextResponse:
        await request.send_early_hints("</style.css>; rel=preload; as=style")
        return PlainTextResponse("page")

    async with make_session(Starlette(routes=[Route("/", page)])) as session:
        async with session.get("/") as resp:
            assert resp.status == 200
            assert await resp.text() == "page"
    assert wire[0] == HINT


@pytest.mark.parametrize(
    ("links", "match"),
    [
        (None, "iterable of bytes"),
        (b"</a>", "iterable of bytes"),
        ("</a>", "iterable of bytes"),
        (["</a>"], "must be bytes"),
        ([b"</a>\r\nx-injected: 1"], "CR, LF, NUL"),
        ([b"</a>\x00"], "CR, LF, NUL"),
    ],
)
async def test_early_hint_links_are_validated(links: object, match: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.early_hint", "links": links})

    exc = await client_failure(app)
    assert isinstance(exc, ASGIProtocolError)
    assert match in str(exc)


async def test_early_hint_after_the_response_completed_is_an_error() -> None:
    errors: list[BaseException] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        try:
            await send({"type": "http.response.early_hint", "links": [b"</a>"]})
        except ASGIProtocolError as exc:
            errors.append(exc)

    async with make_session(app) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"done"
    assert errors
    assert "after the response completed" in str(errors[0])
