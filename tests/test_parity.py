"""Differential tests: the compiled twin (httptools/llhttp) and the pure twin agree.

Same input, same sink calls (body pieces included), same exception types and messages;
for response heads the same bytes or the same error message. llhttp rejects some bad
bytes as soon as it sees them while the pure twin may wait for the end of the line:
when only one twin raised, the other is fed b"\\r\\n\\r\\n" (which ends any line and
head) and must then raise too, after the same sink calls.
"""

from __future__ import annotations

import importlib
import itertools
import os
from http import HTTPStatus
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiohttp_asgi_fast._framing import (
    MAX_HEAD_SIZE,
    PARSE_ERROR_PREFIX,
    REQUEST_METHODS,
    TARGET_CHARS,
    TCHAR,
    VALUE_FORBIDDEN,
)
from aiohttp_asgi_fast.exceptions import RequestParseError

SETTINGS = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
    database=None,
)


def _no_extensions() -> bool:
    value = os.environ.get("AIOHTTP_ASGI_NO_EXTENSIONS", "")
    return bool(value) and value != "0"


def _load_twins() -> tuple[ModuleType, ModuleType] | str:
    pure = importlib.import_module("aiohttp_asgi_fast._parser_py")
    try:
        compiled = importlib.import_module("aiohttp_asgi_fast._parser")
    except ImportError as exc:
        if _no_extensions():
            return f"compiled hot path not built (AIOHTTP_ASGI_NO_EXTENSIONS set): {exc}"
        return f"FAIL: compiled hot path failed to import: {exc!r}"
    return compiled, pure


_TWINS = _load_twins()
pytestmark = pytest.mark.c_extension


@pytest.fixture(scope="module")
def twins() -> tuple[ModuleType, ModuleType]:
    if isinstance(_TWINS, str):
        if _TWINS.startswith("FAIL: "):
            pytest.fail(_TWINS[6:])
        pytest.skip(_TWINS)
    return _TWINS


class Recorder:
    def __init__(self, fail_at: int = -1) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail_at = fail_at

    def _record(self, call: tuple[Any, ...]) -> None:
        self.calls.append(call)
        if len(self.calls) == self.fail_at:
            raise LookupError(f"sink failed at call {self.fail_at}")

    def on_request(self, scope: dict[str, Any], expect_continue: bool, keep_alive: bool) -> None:
        assert type(keep_alive) is bool
        self._record(("request", scope, expect_continue, keep_alive))

    def on_body(self, body: bytes | memoryview) -> None:
        # bytes, or a read-only view of an immutable feed for a large body (LARGE_BODY)
        assert type(body) is bytes or (type(body) is memoryview and body.readonly)
        assert body
        body = bytes(body)
        self._record(("body", body))

    def on_request_complete(self) -> None:
        self._record(("complete",))

    def on_upgrade(self, data: bytes) -> None:
        assert type(data) is bytes
        self._record(("upgrade", data))


def _run(
    mod: ModuleType, feeds: list[bytes], fail_at: int, max_head_size: int
) -> tuple[list[Any], tuple[type[Exception], str] | None]:
    sink = Recorder(fail_at)
    parser = mod.RequestParser(
        sink, scheme="http", server=("testserver", 80), client=("10.0.0.1", 5), root_path="/r",
        max_head_size=max_head_size,
    )
    error: Exception | None = None
    for data in feeds:
        try:
            parser.feed_data(data)
        except (RequestParseError, LookupError) as exc:
            error = exc
            break
    if error is None:
        return sink.calls, None
    if isinstance(error, RequestParseError):  # ours, never llhttp's words
        assert str(error).startswith(
            (PARSE_ERROR_PREFIX, "request head of ", "request trailer section of ")
        ), error
    else:
        assert str(error) == f"sink failed at call {fail_at}"
    return sink.calls, (type(error), str(error))  # the same error, in the same words


def assert_same(
    twins: tuple[ModuleType, ModuleType], feeds: list[bytes], fail_at: int = -1,
    max_head_size: int = MAX_HEAD_SIZE,
) -> Any:
    compiled, pure = twins
    c, p = _run(compiled, feeds, fail_at, max_head_size), _run(pure, feeds, fail_at, max_head_size)
    if (c[1] is None) != (p[1] is None):
        feeds = [*feeds, b"\r\n\r\n"]
        c = _run(compiled, feeds, fail_at, max_head_size)
        p = _run(pure, feeds, fail_at, max_head_size)
    assert c == p, feeds
    return c


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(cut, 0), len(data)) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)] or [b""]


# --- a fixed corpus --------------------------------------------------------------------------

CORPUS = [
    b"GET / HTTP/1.1\r\nHost: testserver\r\n\r\n",
    b"GET /caf%C3%A9?q=%20x&y HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
    b"\r\n\r\nGET  /sp   HTTP/1.1\r\nA:\t v \t\r\nB:\r\nA: \x80\xff\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n0\r\n\r\nabcde",
    b"PUT /c HTTP/1.1\r\nTransfer-Encoding: gzip , chunked  \r\n\r\n"
    b'3;a=b;c="d\\"e";=f\r\nabc\r\n00A\r\n0123456789\r\n0;x\r\nT: 1\r\nConnection: close\r\n\r\n',
    b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n\x81\x00",
    b"GET /ws HTTP/1.1\r\nProxy-Connection: upgrade\r\nUpgrade: x\r\n\r\nrest",
    b"GET /ws?a HTTP/1.1\r\nUpgrade: h2c, WebSocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Protocol: chat, ,\tv2\r\nSec-WebSocket-Protocol: x\r\n\r\n",
    b"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"CONNECT h:443 HTTP/1.1\r\n\r\ntunnel",
    b"OPTIONS * HTTP/1.1\r\n\r\nGET http://h:1/p?q HTTP/1.1\r\n\r\n",
    b"GET / RTSP/1.0\r\n\r\n",
    b"SOURCE /m ICE/1.0\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t, chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
    b"Content-Length: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1; a\r\nx\r\n0\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET /\r\nHost: a\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"DESCRIBE / RTSP/1.0\r\n\r\n",
    b"GET /#f HTTP/1.1\r\n\r\n",
    b"GET http://a@@b/ HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: b\n\r\n",
    b"XGET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\nxyz",
    # The compiled twin reads version and method off a request line that begins a feed:
    # pipelined versions, a body then a request, a field value ending like a version.
    b"GET /a HTTP/1.1\r\nConnection: keep-alive\r\n\r\nPOST /b HTTP/1.0\r\n"
    b"Connection: keep-alive\r\nContent-Length: 2\r\n\r\nokGET /c HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.0\r\nX: a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPUT / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\r\n",
    b"POSTX / HTTP/1.0\r\n\r\n",
    # The compiled twin feeds llhttp one request at a time and hands the stream to the pure
    # twin's parser where llhttp cannot go on: bodies ending like a request line's start
    # ("-", "_", A-Z, SP), a request line begun after a body, chunked bodies, errors after
    # a good request, a head split across feeds that llhttp rejects.
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nAB-\r\nPOST / HTTP/1.1\r\n"
    b"Content-Length: 2\r\n\r\nA GET / HTTP/1.1\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n_GE",
    b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nAB\r\n0\r\n\r\n"
    b"GET /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nBad Name: 1\r\n\r\n",
    b"GET /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET /b HTTP/9.9\r\n\r\n",
    b"GET /a HTTP/1.1\r\nX: \x01\r\n\r\n",
    # Only CONNECT and a WebSocket handshake switch protocols (RFC 9110 §7.8): other
    # upgrade requests have bodies (none, Content-Length, chunked) and requests after them.
    b"POST /h2 HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Content-Length: 4\r\n\r\nbodyGET /next HTTP/1.1\r\n\r\n",
    b"PUT /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nT: 1\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
    b"GET /h2 HTTP/1.0\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n\r\n",
    b"BREW /x HTTP/1.1\r\nUpgrade: tea\r\nConnection: upgrade\r\nContent-Length: 0\r\n\r\n"
    b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nframes",
    # Extension methods (RFC 9110 §9.1): any token, as sent; llhttp reads a placeholder.
    b"FOO /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nokBREW /b HTTP/1.1\r\n\r\n"
    b"_DO_DELETE /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\nX /d HTTP/1.1\r\n\r\n",
    b"X-CUSTOM /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
    b"get /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
    b"M" * 100 + b" /long?q HTTP/1.1\r\nHost: h\r\n\r\n",
    b"PRI / HTTP/1.1\r\n\r\nDESCRIBE / HTTP/1.1\r\n\r\nPOSTX / HTTP/1.1\r\n\r\n",
    b"FOO * HTTP/1.1\r\n\r\n",
    b"BREW h:1 HTTP/1.1\r\n\r\n",
    b"FOO / RTSP/1.0\r\n\r\n",
    b"G\x01T / HTTP/1.1\r\n\r\n",
    b"GET /a HTTP/1.1\r\n\r\nFO(O / HTTP/1.1\r\n\r\n",
    # on_request's keep_alive (RFC 9112 §9.3): HTTP/1.0 with and without keep-alive, close,
    # Proxy-Connection, pipelined requests each with their own.
    b"GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    b"GET /a HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n"
    b"GET /b HTTP/1.1\r\nProxy-Connection: close\r\n\r\n",
    b"POST /a HTTP/1.1\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\nx",
    b"GET /a HTTP/1.1\r\nConnection: closer\r\n\r\nGET /b HTTP/1.0\r\n"
    b"Connection: close, keep-alive\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
]


@pytest.mark.parametrize("data", CORPUS)
def test_corpus(twins: tuple[ModuleType, ModuleType], data: bytes) -> None:
    whole = assert_same(twins, [data])
    assert_same(twins, [data[i : i + 1] for i in range(len(data))])
    for cut in range(1, len(data)):
        assert_same(twins, [data[:cut], data[cut:]])
    for fail_at in range(1, len(whole[0]) + 1):
        assert_same(twins, [data], fail_at)


# --- generated requests ----------------------------------------------------------------------

_TARGET = sorted(TARGET_CHARS)
_TCHARS = sorted(TCHAR)
_VALUE = sorted(set(range(256)) - VALUE_FORBIDDEN)
_METHODS = sorted(REQUEST_METHODS - {"CONNECT"})

names = st.one_of(
    st.sampled_from([b"Host", b"Accept", b"User-Agent", b"Cookie", b"X-Req", b"a"]),
    st.lists(st.sampled_from(_TCHARS), min_size=1, max_size=10).map(bytes),
)
values = st.one_of(
    st.sampled_from([b"", b"x", b"a b", b" \t", b"caf\xc3\xa9", b"\xff", b'"q\\"', b"v\t "]),
    st.lists(st.sampled_from(_VALUE), max_size=12).map(bytes),
)
separators = st.sampled_from([b": ", b":", b":  ", b":\t", b": \t "])
plain_header = st.builds(lambda n, s, v: n + s + v, names, separators, values)
special_header = st.one_of(
    st.builds(
        lambda n, v: n + b": " + v,
        st.sampled_from([b"Connection", b"connection", b"Proxy-Connection"]),
        st.lists(
            st.sampled_from([b"close", b"Keep-Alive", b"upgrade", b"x", b"", b" ", b"\t",
                             b"closex", b"UPGRADE"]),
            max_size=4,
        ).map(b",".join),
    ),
    st.sampled_from([b"Upgrade: websocket", b"Upgrade:", b"upgrade: h2c", b"Expect: 100-continue",
                     b"Upgrade: x, WEBSOCKET", b"Sec-WebSocket-Protocol: a, b",
                     b"Expect: 100-CONTINUE", b"expect: nope"]),
)
header_lines = st.lists(st.one_of(plain_header, plain_header, special_header), max_size=6)

extension_methods = st.one_of(
    st.sampled_from(["FOO", "get", "BREW", "X-CUSTOM", "_DO_DELETE", "PRI", "DESCRIBE"]),
    st.lists(st.sampled_from(_TCHARS), min_size=1, max_size=12).map(bytes).map(bytes.decode),
)
chunk_ext = st.sampled_from([b"", b"", b";a", b";a=b", b';q="x y\\"z"', b";;a", b";=v", b";a=;b"])
trailer = st.sampled_from(
    [b"T: v", b"X-Sum:abc ", b"Connection: close", b"Proxy-Connection: keep-alive"]
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    """Framing header lines and body bytes: none, Content-Length or chunked."""
    kind = draw(st.sampled_from(["none", "length", "chunked"]))
    payload = st.binary(max_size=24) | st.sampled_from(
        [b"\r\n\r\n", b"0\r\n\r\n", b"GET / HTTP/1.1"]
    )
    if kind == "none":
        return [], b""
    if kind == "length":
        body = draw(payload)
        number = draw(st.sampled_from([b"%d", b"%d ", b"0%d", b"%d\t"])) % len(body)
        return [b"Content-Length: " + number], body
    coding = draw(st.sampled_from([b"chunked", b"CHUNKED", b"gzip, chunked", b"x,chunked  "]))
    out = b""
    for data in draw(st.lists(payload.filter(bool), max_size=3)):
        size = draw(st.sampled_from([b"%x", b"%X", b"00%x"])) % len(data)
        out += size + draw(chunk_ext) + b"\r\n" + data + b"\r\n"
    out += draw(st.sampled_from([b"0", b"000"])) + draw(chunk_ext) + b"\r\n"
    out += b"".join(t + b"\r\n" for t in draw(st.lists(trailer, max_size=2))) + b"\r\n"
    return [b"Transfer-Encoding: " + coding], out


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    method = draw(st.one_of(st.sampled_from(_METHODS), extension_methods))
    form = draw(st.sampled_from(["origin", "origin", "origin", "absolute", "asterisk", "connect"]))
    if form == "origin":
        target = b"/" + bytes(draw(st.lists(st.sampled_from(_TARGET), max_size=16)))
    elif form == "absolute":
        scheme = draw(st.sampled_from([b"http", b"HTTPS", b"ws"]))
        authority = draw(st.sampled_from([b"h", b"h:80", b"u:p@h.example", b"[::1]:8", b"a%20b"]))
        rest = draw(st.sampled_from([b"", b"/", b"/p/q", b"?q=1", b"/p?q?r"]))
        target = scheme + b"://" + authority + rest
    elif form == "asterisk":
        method, target = "OPTIONS", b"*"
    else:
        method, target = "CONNECT", draw(st.sampled_from([b"h:443", b"[::1]:1", b"u@h:2"]))
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"]))
    gap1, gap2 = draw(st.sampled_from([b" ", b" ", b"  "])), draw(st.sampled_from([b" ", b"  "]))
    framing, body = draw(bodies())
    lines = draw(header_lines) + framing
    lines = draw(st.permutations(lines))
    return (
        draw(st.sampled_from([b"", b"", b"\r\n", b"\n\r"]))
        + method.encode() + gap1 + target + gap2 + version + b"\r\n"
        + b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body
    )


streams = st.lists(requests(), min_size=1, max_size=3).map(b"".join)
cut_points = st.lists(st.integers(0, 400), max_size=6)


@SETTINGS
@given(data=streams, cuts=cut_points)
def test_generated_requests(
    twins: tuple[ModuleType, ModuleType], data: bytes, cuts: list[int]
) -> None:
    assert_same(twins, splits(data, cuts))


@pytest.mark.parametrize("limit", [20, 45, 90])
@pytest.mark.parametrize("data", CORPUS)
def test_corpus_small_head_limits(
    twins: tuple[ModuleType, ModuleType], data: bytes, limit: int
) -> None:
    # The compiled twin counts head bytes only where a head may pass the limit, and then
    # lets the pure twin's parser count them: both refuse the same heads, in the same words.
    assert_same(twins, [data], max_head_size=limit)
    assert_same(twins, [data[i : i + 1] for i in range(len(data))], max_head_size=limit)
    for cut in range(1, len(data)):
        assert_same(twins, [data[:cut], data[cut:]], max_head_size=limit)


@SETTINGS
@given(data=streams, cuts=cut_points, limit=st.integers(16, 400))
def test_generated_requests_small_head_limits(
    twins: tuple[ModuleType, ModuleType], data: bytes, cuts: list[int], limit: int
) -> None:
    assert_same(twins, splits(data, cuts), max_head_size=limit)


@SETTINGS
@given(data=streams, cuts=cut_points, fail_at=st.integers(1, 8))
def test_generated_sink_failures(
    twins: tuple[ModuleType, ModuleType], data: bytes, cuts: list[int], fail_at: int
) -> None:
    assert_same(twins, splits(data, cuts), fail_at)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    size=st.sampled_from([(64 << 10) - 1, 64 << 10, (64 << 10) + 1, 300_000]),
    before=st.sampled_from([b"", b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"]),
    after=st.sampled_from([b"", b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"]),
    cuts=st.lists(st.integers(0, 320_000), max_size=4),
    fail_at=st.sampled_from([-1, 2, 3, 4]),
    fields=st.sampled_from([
        b"",
        b"Connection: close\r\n",  # nothing may follow the body
        b"Connection: upgrade\r\nUpgrade: h2c\r\n",  # not switched for: a plain request
        b"Connection: upgrade\r\nUpgrade: websocket\r\n",  # switched for with GET only
        b"Expect: 100-continue\r\n",
    ]),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]),
    method=st.sampled_from([b"PUT", b"GET"]),
)
def test_large_bodies(
    twins: tuple[ModuleType, ModuleType],
    size: int,
    before: bytes,
    after: bytes,
    cuts: list[int],
    fail_at: int,
    fields: bytes,
    version: bytes,
    method: bytes,
) -> None:
    # Around LARGE_BODY the compiled twin parses Content-Length bodies itself.
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    head = b"%s /up %s\r\nHost: t\r\n%sContent-Length: %d\r\n\r\n" % (
        method, version, fields, size
    )
    assert_same(twins, splits(before + head + body + after, cuts), fail_at)


_MUTANT_BYTES = b"aZ0 \t\r\n:;,/?#%@\"\\\x00\x01\x7f\x80\xff"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(streams))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.sampled_from(_MUTANT_BYTES))
        if op == "insert" or at == len(data):
            data.insert(at, byte)
        elif op == "replace":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


@SETTINGS
@given(data=mutated(), cuts=cut_points)
def test_mutated_requests(
    twins: tuple[ModuleType, ModuleType], data: bytes, cuts: list[int]
) -> None:
    assert_same(twins, splits(data, cuts))


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(data=st.binary(max_size=64), cuts=cut_points)
def test_random_bytes(twins: tuple[ModuleType, ModuleType], data: bytes, cuts: list[int]) -> None:
    assert_same(twins, splits(data, cuts))
    assert_same(twins, splits(b"GET / HTTP/1.1\r\n" + data, cuts))


# --- response heads and chunks ---------------------------------------------------------------


def _encode(mod: ModuleType, *args: Any, **kwargs: Any) -> Any:
    try:
        return mod.encode_response_head(*args, **kwargs)
    except Exception as exc:  # compared by type and message
        return type(exc), str(exc)


header_names = st.one_of(
    names,
    st.sampled_from([b"Content-Length", b"content-length", b"CONTENT-LENGTH", b"Transfer-Encoding",
                     b"transfer-encoding", b"content-lengtH", b"Content-Lengthx"]),
    st.binary(max_size=4),
)
header_values = st.one_of(
    values,
    st.sampled_from([b"0", b"5", b"05", b"12", b"", b" 5", b"5 ", b"x", b"chunked",
                     b"18446744073709551615", b"18446744073709551616", b"0" * 30 + b"7"]),
    st.binary(max_size=4),
)
header_items = st.one_of(
    st.tuples(header_names, header_values),
    st.tuples(header_names, header_values).map(list),
    st.sampled_from([("str", b"v"), (b"n", "str"), (b"a", b"b", b"c"), None, b"ab", [b"x"]]),
)
header_lists = st.one_of(
    st.lists(header_items, max_size=6),
    st.lists(header_items, max_size=3).map(tuple),
    st.sampled_from([None, 5, "ab"]),
)
statuses = st.one_of(
    st.integers(95, 1005),
    st.sampled_from([200, 204, 304, 101, 599, True, False, "200", 200.0, None, 2**70,
                     HTTPStatus.OK, HTTPStatus.NO_CONTENT]),
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    status=statuses,
    headers=header_lists,
    head_request=st.booleans(),
    body_length=st.integers(-3, 2**40),
)
def test_response_head(
    twins: tuple[ModuleType, ModuleType], status: Any, headers: Any, head_request: bool,
    body_length: int,
) -> None:
    compiled, pure = twins
    kwargs = {"head_request": head_request, "body_length": body_length}
    assert _encode(compiled, status, headers, **kwargs) == _encode(pure, status, headers, **kwargs)


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(body=st.binary(max_size=300), kind=st.sampled_from([bytes, bytearray, memoryview]))
def test_chunk(twins: tuple[ModuleType, ModuleType], body: bytes, kind: type) -> None:
    compiled, pure = twins
    assert compiled.encode_chunk(kind(body)) == pure.encode_chunk(kind(body))
    for bad in ("text", None, 5):
        with pytest.raises(TypeError) as c_info:
            compiled.encode_chunk(bad)
        with pytest.raises(TypeError) as p_info:
            pure.encode_chunk(bad)
        assert str(c_info.value) == str(p_info.value)


def _unmask(module: ModuleType, *args: Any) -> Any:
    try:
        return module.unmask(*args)
    except (TypeError, ValueError) as exc:
        return (type(exc), str(exc))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    mask=st.one_of(st.binary(min_size=4, max_size=4), st.binary(max_size=6)),
    data=st.binary(max_size=100),
    start=st.integers(-2, 110),
    length=st.integers(-2, 110),
)
def test_unmask(
    twins: tuple[ModuleType, ModuleType], mask: bytes, data: bytes, start: int, length: int
) -> None:
    compiled, pure = twins
    args = (mask, data, start, start + length)
    result = _unmask(compiled, *args)
    assert result == _unmask(pure, *args)
    if len(mask) == 4 and 0 <= start <= start + length <= len(data):
        # RFC 6455 §5.3, computed the slow obvious way.
        assert result == bytes(b ^ mask[i % 4] for i, b in enumerate(data[start:start + length]))
    for bad in (("abcd", b"x", 0, 1), (b"abcd", bytearray(b"x"), 0, 1)):
        assert _unmask(compiled, *bad) == _unmask(pure, *bad)
