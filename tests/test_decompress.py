"""Request decompression with ``decompress_requests=True`` (RFC 9110 §8.4 Content-Encoding)."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request

from aiohttp_asgi_fast import RequestParseError
from aiohttp_asgi_fast._decompress import MAX_OUTPUT
from helpers import make_session

RAW = b"".join(b"line %05d: the quick brown fox\n" % i for i in range(3000))


class Echo:
    """Echoes the decoded body; records headers and each http.request message."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.messages: list[tuple[int, bool]] = []  # (len(body), more_body)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.headers = list(scope["headers"])
        chunks = []
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            chunks.append(message["body"])
            self.messages.append((len(message["body"]), message["more_body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"".join(chunks)})

    def names(self) -> set[bytes]:
        return {name for name, _ in self.headers}


async def post(data: Any, headers: dict[str, str] | None = None, *, decompress: bool = True,
               **options: Any) -> tuple[bytes, Echo]:
    echo = Echo()
    session_options = {"auto_decompress": False}
    async with make_session(echo, session_options=session_options,
                            decompress_requests=decompress) as session:
        async with session.post("/", data=data, headers=headers, **options) as resp:
            assert resp.status == 200
            return await resp.read(), echo


def deflate(data: bytes, wbits: int = zlib.MAX_WBITS) -> bytes:
    compressor = zlib.compressobj(wbits=wbits)
    return compressor.compress(data) + compressor.flush()


async def test_off_by_default_the_body_passes_as_written() -> None:
    body = gzip.compress(RAW)
    echo = Echo()
    async with make_session(echo) as session:
        async with session.post("/", data=body, headers={"Content-Encoding": "gzip"}) as resp:
            assert await resp.read() == body
    assert (b"content-encoding", b"gzip") in echo.headers
    assert (b"content-length", b"%d" % len(body)) in echo.headers


async def test_aiohttp_compress_deflate_is_decoded() -> None:
    body, echo = await post(RAW, compress="deflate")
    assert body == RAW
    assert b"content-encoding" not in echo.names()
    assert b"content-length" not in echo.names()
    assert echo.messages[-1][1] is False


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "GZip"])
async def test_gzip_body_is_decoded_and_headers_updated(coding: str) -> None:
    body, echo = await post(gzip.compress(RAW), {"Content-Encoding": coding,
                                                 "Content-Type": "text/plain"})
    assert body == RAW
    assert b"content-encoding" not in echo.names()
    assert b"content-length" not in echo.names()  # the decoded length is not known
    assert (b"content-type", b"text/plain") in echo.headers


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS])
async def test_deflate_zlib_wrapped_or_raw(wbits: int) -> None:
    body, _ = await post(deflate(RAW, wbits), {"Content-Encoding": "deflate"})
    assert body == RAW


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        ("deflate, gzip", lambda d: gzip.compress(deflate(d))),
        ("gzip,deflate", lambda d: deflate(gzip.compress(d))),
        ("identity, gzip", gzip.compress),
    ],
)
async def test_codings_are_undone_in_reverse_order(header: str, encode: Any) -> None:
    body, echo = await post(encode(RAW), {"Content-Encoding": header})
    assert body == RAW
    assert b"content-encoding" not in echo.names()


async def test_gzip_members_one_after_another_and_zero_padding() -> None:
    data = gzip.compress(RAW[:1000]) + gzip.compress(RAW[1000:]) + b"\x00" * 8
    body, _ = await post(data, {"Content-Encoding": "gzip"})
    assert body == RAW


async def test_empty_body_with_a_content_encoding_is_empty() -> None:
    body, echo = await post(b"", {"Content-Encoding": "gzip"})
    assert body == b""
    assert echo.messages == [(0, False)]


def blocks(count: int) -> Iterator[bytes]:
    rng = random.Random(1234)
    for i in range(count):
        yield rng.randbytes(128) + b"%08d," % i * 114  # 1154 bytes, ~15% after gzip


async def test_large_chunked_gzip_upload_is_decoded_as_it_streams() -> None:
    count = (20 << 20) // 1154  # 20 MiB decoded
    expected = hashlib.sha256()
    for block in blocks(count):
        expected.update(block)
    pieces = 0

    async def upload() -> AsyncIterator[bytes]:
        nonlocal pieces
        compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        pending = b""
        for block in blocks(count):
            pending += compressor.compress(block)
            while len(pending) >= 8192:  # many small pieces, as a slow upload sends them
                pieces += 1
                yield pending[:8192]
                pending = pending[8192:]
        yield pending + compressor.flush()

    sizes: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        sha = hashlib.sha256()
        while True:
            message = await receive()
            sha.update(message["body"])
            sizes.append(len(message["body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body",
                    "body": json.dumps([sum(sizes), sha.hexdigest()]).encode()})

    tracemalloc.start()
    try:
        async with make_session(app, decompress_requests=True) as session:
            async with session.post("/", data=upload(),
                                    headers={"Content-Encoding": "gzip"}) as resp:
                size, digest = json.loads(await resp.read())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == count * 1154
    assert digest == expected.hexdigest()
    assert pieces > 100
    assert len(sizes) > 100, "the body was not decoded piece by piece"
    assert max(sizes) <= MAX_OUTPUT
    assert peak < 8 << 20, f"peak traced memory {peak / 2**20:.1f} MiB"


async def test_a_small_piece_that_expands_a_lot_is_decoded_in_bounded_messages() -> None:
    zeros = 64 << 20
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    data = b"".join(compressor.compress(b"\0" * (1 << 20)) for _ in range(zeros >> 20))
    data += compressor.flush()
    assert len(data) < 100_000  # one small upload ...
    sizes: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            sizes.append(len(message["body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % sum(sizes)})

    tracemalloc.start()
    try:
        async with make_session(app, decompress_requests=True) as session:
            async with session.post("/", data=data,
                                    headers={"Content-Encoding": "gzip"}) as resp:
                assert await resp.read() == b"%d" % zeros
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(sizes) <= MAX_OUTPUT  # ... never 64 MiB in one message
    assert peak < 8 << 20, f"peak traced memory {peak / 2**20:.1f} MiB"


async def test_brotli_body_is_decoded() -> None:
    brotli = pytest.importorskip("brotli")
    body, echo = await post(brotli.compress(RAW), {"Content-Encoding": "br"})
    assert body == RAW
    assert b"content-encoding" not in echo.names()
    big = b"\0" * (8 << 20)
    body, echo = await post(brotli.compress(big), {"Content-Encoding": "br"})
    assert body == big
    if hasattr(brotli.Decompressor(), "can_accept_more_data"):  # brotli >= 1.2: bounded
        # Its output_buffer_limit stops the buffer growing past the limit, in steps.
        assert max(size for size, _ in echo.messages) <= 2 * MAX_OUTPUT


async def test_zstd_body_is_decoded() -> None:
    zstandard = pytest.importorskip("zstandard")
    frame = zstandard.ZstdCompressor().compress(RAW)
    body, echo = await post(frame, {"Content-Encoding": "zstd"})
    assert body == RAW
    assert b"content-encoding" not in echo.names()
    body, _ = await post(frame + frame, {"Content-Encoding": "zstd"})  # two frames
    assert body == RAW + RAW
    streaming = zstandard.ZstdCompressor().compressobj()  # no content size in the frame
    data = streaming.compress(RAW) + streaming.flush()
    body, _ = await post(data, {"Content-Encoding": "zstd"})
    assert body == RAW


def corrupt_cases() -> list[Any]:
    gz = gzip.compress(RAW)
    cases = [
        pytest.param("gzip", b"not gzip at all", "'gzip'.*incorrect header check",
                     id="gzip-garbage"),
        pytest.param("gzip", gz[:-10], "truncated 'gzip'", id="gzip-truncated"),
        pytest.param("gzip", gz[:200] + b"\xff" * 50 + gz[250:], "'gzip'.*Error -3",
                     id="gzip-corrupt"),
        pytest.param("gzip", gz + b"trailing junk", "'gzip'.*incorrect header check",
                     id="gzip-trailing-junk"),
        pytest.param("deflate", deflate(RAW)[:-4], "truncated 'deflate'",
                     id="deflate-truncated"),
        pytest.param("deflate", deflate(RAW) + b"x", "data after the end",
                     id="deflate-trailing-data"),
        pytest.param("deflate", b"\x78\x9c" + b"\xff" * 40, "'deflate'.*Error -3",
                     id="deflate-garbage"),
    ]
    return cases


@pytest.mark.parametrize(("coding", "data", "match"), corrupt_cases())
async def test_corrupt_body_raises_request_parse_error_at_the_client(
    coding: str, data: bytes, match: str
) -> None:
    with pytest.raises(RequestParseError, match=match):
        await post(data, {"Content-Encoding": coding})


@pytest.mark.parametrize("codec", ["br", "zstd"])
async def test_corrupt_or_truncated_br_and_zstd(codec: str) -> None:
    if codec == "br":
        compress = pytest.importorskip("brotli").compress
    else:
        compress = pytest.importorskip("zstandard").ZstdCompressor().compress
    good = compress(RAW)
    with pytest.raises(RequestParseError, match=f"corrupt '{codec}'"):
        await post(b"garbage" * 10, {"Content-Encoding": codec})
    with pytest.raises(RequestParseError, match=f"truncated '{codec}'"):
        await post(good[: len(good) // 2], {"Content-Encoding": codec})


async def test_corrupt_streamed_upload_fails_the_request() -> None:
    async def upload() -> AsyncIterator[bytes]:
        data = gzip.compress(RAW * 20)
        for i in range(0, 4000, 1000):
            yield data[i:i + 1000]
        yield b"\xff" * 5000  # corrupt from here on
        for _ in range(100):
            yield b"\x00" * 1000

    with pytest.raises(RequestParseError, match="'gzip'"):
        await post(upload(), {"Content-Encoding": "gzip"})


async def test_app_can_answer_a_corrupt_body_itself() -> None:
    errors: list[RequestParseError] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            while (await receive())["more_body"]:
                pass
        except RequestParseError as exc:
            errors.append(exc)
            with pytest.raises(RequestParseError):  # the body stays broken
                await receive()
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": str(exc).encode()})

    async with make_session(app, decompress_requests=True) as session:
        async with session.post("/", data=b"\x1f\x8b broken",
                                headers={"Content-Encoding": "gzip"}) as resp:
            assert resp.status == 400
            text = (await resp.read()).decode()
    assert "'gzip'" in text
    assert "Error -3 while decompressing data" in text
    assert isinstance(errors[0].__cause__, zlib.error)


@pytest.mark.parametrize("header", ["compress", "gzip, foo", "x-unknown"])
async def test_unsupported_coding_passes_the_body_through(header: str) -> None:
    data = gzip.compress(RAW)
    body, echo = await post(data, {"Content-Encoding": header})
    assert body == data
    assert (b"content-encoding", header.encode()) in echo.headers
    assert (b"content-length", b"%d" % len(data)) in echo.headers


async def test_identity_alone_changes_nothing() -> None:
    body, echo = await post(RAW, {"Content-Encoding": "identity"})
    assert body == RAW
    assert (b"content-encoding", b"identity") in echo.headers
    assert (b"content-length", b"%d" % len(RAW)) in echo.headers


async def test_fastapi_reads_the_decoded_body() -> None:
    app = FastAPI()

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "encoding": request.headers.get("content-encoding"),
        }

    async with make_session(app, decompress_requests=True) as session:
        for options in ({"compress": "deflate"},
                        {"headers": {"Content-Encoding": "gzip"}, "data": gzip.compress(RAW)}):
            kwargs = {"data": RAW, **options}
            async with session.post("/upload", **kwargs) as resp:
                assert resp.status == 200
                assert await resp.json() == {
                    "size": len(RAW),
                    "sha256": hashlib.sha256(RAW).hexdigest(),
                    "encoding": None,
                }
