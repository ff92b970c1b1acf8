"""The hot path, run against both twins: request parsing and response-head encoding.

``hotpath`` is the compiled module (``_parser``, Cython over httptools) or the pure
one (``_parser_py``); every test here must pass for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import weakref
from http import HTTPStatus
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from aiohttp.http_parser import HttpResponseParserPy

from aiohttp_asgi_fast._framing import (
    BODY_CHUNKED,
    BODY_NONE,
    LAST_CHUNK,
    MAX_HEAD_SIZE,
    PARSE_ERROR_PREFIX,
    PARSER_CLOSED_MESSAGE,
)
from aiohttp_asgi_fast.exceptions import ASGIProtocolError, RequestParseError


class Recorder:
    """A sink that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_request(self, scope: dict[str, Any], expect_continue: bool, keep_alive: bool) -> None:
        assert type(keep_alive) is bool and type(expect_continue) is bool
        self.calls.append(("request", scope, expect_continue, keep_alive))

    def on_body(self, body: bytes | memoryview) -> None:
        # bytes, or a read-only view of an immutable feed for a large body (LARGE_BODY)
        assert type(body) is bytes or (type(body) is memoryview and body.readonly)
        assert body
        body = bytes(body)
        self.calls.append(("body", body))

    def on_request_complete(self) -> None:
        self.calls.append(("complete",))

    def on_upgrade(self, data: bytes) -> None:
        assert type(data) is bytes
        self.calls.append(("upgrade", data))


def make(hotpath: ModuleType, sink: Any = None, scheme: str = "http") -> tuple[Any, Recorder]:
    sink = sink or Recorder()
    parser = hotpath.RequestParser(
        sink, scheme=scheme, server=("testserver", 80), client=("127.0.0.1", 4321), root_path=""
    )
    return parser, sink


def parse(hotpath: ModuleType, *feeds: bytes) -> list[tuple[Any, ...]]:
    parser, sink = make(hotpath)
    for data in feeds:
        parser.feed_data(data)
    return sink.calls


def only_scope(calls: list[tuple[Any, ...]]) -> dict[str, Any]:
    assert [c[0] for c in calls] == ["request", "complete"], calls
    scope: dict[str, Any] = calls[0][1]
    return scope


def merged(calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Calls with adjacent body pieces joined: the same whatever the split points."""
    out: list[tuple[Any, ...]] = []
    for call in calls:
        if call[0] == "body" and out and out[-1][0] == "body":
            out[-1] = ("body", out[-1][1] + call[1])
        else:
            out.append(call)
    return out


def get(target: bytes, *headers: bytes, version: bytes = b"HTTP/1.1") -> bytes:
    lines = b"".join(h + b"\r\n" for h in headers)
    return b"GET " + target + b" " + version + b"\r\n" + lines + b"\r\n"


def feed_all(parser: Any, *feeds: bytes) -> None:
    for data in feeds:
        parser.feed_data(data)


# --- request parsing -------------------------------------------------------------------------


def test_simple_get_scope(hotpath: ModuleType) -> None:
    calls = parse(hotpath, get(b"/items/1?x=1", b"Host: testserver", b"Accept: */*"))
    assert calls == [
        (
            "request",
            {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.5"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": "/items/1",
                "raw_path": b"/items/1",
                "query_string": b"x=1",
                "root_path": "",
                "headers": [(b"host", b"testserver"), (b"accept", b"*/*")],
                "client": ("127.0.0.1", 4321),
                "server": ("testserver", 80),
                "extensions": {},
            },
            False,
            True,
        ),
        ("complete",),
    ]
    assert type(calls[0][1]["headers"][0]) is tuple


def test_scheme_root_path_and_none_addresses(hotpath: ModuleType) -> None:
    sink = Recorder()
    parser = hotpath.RequestParser(sink, scheme="https", server=None, client=None, root_path="/api")
    parser.feed_data(get(b"/"))
    scope = only_scope(sink.calls)
    assert (scope["scheme"], scope["root_path"], scope["server"], scope["client"]) == (
        "https", "/api", None, None,
    )


@pytest.mark.parametrize(
    ("target", "path", "raw_path", "query"),
    [
        (b"/caf%C3%A9", "/café", b"/caf%C3%A9", b""),
        (b"/a%2Fb%20c", "/a/b c", b"/a%2Fb%20c", b""),
        (b"/bad%zz%", "/bad%zz%", b"/bad%zz%", b""),
        (b"/q?a=1&b=%20&c=d?e", "/q", b"/q", b"a=1&b=%20&c=d?e"),
        (b"/q?", "/q", b"/q", b""),
        (b"/~u/a;p=1,2'()*!$&+=:@", "/~u/a;p=1,2'()*!$&+=:@", b"/~u/a;p=1,2'()*!$&+=:@", b""),
        (b'/"<>\\^`{|}', '/"<>\\^`{|}', b'/"<>\\^`{|}', b""),
        (b"//double", "//double", b"//double", b""),
    ],
)
def test_path_and_query(
    hotpath: ModuleType, target: bytes, path: str, raw_path: bytes, query: bytes
) -> None:
    scope = only_scope(parse(hotpath, get(target)))
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == (path, raw_path, query)


@pytest.mark.parametrize(
    ("target", "path", "raw_path", "query"),
    [
        (b"http://example.com:8080/a%20b?x=1", "/a b", b"/a%20b", b"x=1"),
        (b"HTTPS://user:pw@[::1]:443/p", "/p", b"/p", b""),
        (b"http://example.com", "/", b"/", b""),
        (b"http://example.com?q=1", "/", b"/", b"q=1"),
    ],
)
def test_absolute_form(
    hotpath: ModuleType, target: bytes, path: str, raw_path: bytes, query: bytes
) -> None:
    scope = only_scope(parse(hotpath, get(target, b"Host: example.com")))
    assert (scope["path"], scope["raw_path"], scope["query_string"]) == (path, raw_path, query)


def test_asterisk_form(hotpath: ModuleType) -> None:
    scope = only_scope(parse(hotpath, b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert (scope["method"], scope["path"], scope["raw_path"], scope["query_string"]) == (
        "OPTIONS", "*", b"*", b"",
    )


def test_headers_order_duplicates_case_and_bytes(hotpath: ModuleType) -> None:
    scope = only_scope(
        parse(
            hotpath,
            get(
                b"/",
                b"Host: testserver",
                b"X-Dup: 1",
                b"x-DUP: 2",
                b"X-Bin: caf\xc3\xa9 \xff\x80",
                b"X-Ws:  \t lead and trail \t ",
                b"X-Empty:",
                b"X-Dup:3",
            ),
        )
    )
    assert scope["headers"] == [
        (b"host", b"testserver"),
        (b"x-dup", b"1"),
        (b"x-dup", b"2"),
        (b"x-bin", b"caf\xc3\xa9 \xff\x80"),
        (b"x-ws", b"lead and trail \t "),  # leading OWS dropped, trailing kept (as llhttp)
        (b"x-empty", b""),
        (b"x-dup", b"3"),
    ]


def test_http_10(hotpath: ModuleType) -> None:
    scope = only_scope(parse(hotpath, get(b"/", version=b"HTTP/1.0")))
    assert scope["http_version"] == "1.0"


def test_http_10_keep_alive_and_close(hotpath: ModuleType) -> None:
    first = get(b"/a", b"Connection: keep-alive", version=b"HTTP/1.0")
    calls = parse(hotpath, first + get(b"/b", version=b"HTTP/1.0"))
    assert [c[1]["path"] for c in calls if c[0] == "request"] == ["/a", "/b"]
    # HTTP/1.0 without keep-alive ends the connection: only CR/LF may follow.
    parser, _ = make(hotpath)
    parser.feed_data(get(b"/", version=b"HTTP/1.0") + b"\r\n")
    with pytest.raises(RequestParseError, match="^" + PARSE_ERROR_PREFIX):
        parser.feed_data(get(b"/again"))


@pytest.mark.parametrize(
    ("version", "fields", "keep_alive"),
    [
        (b"HTTP/1.1", [], True),
        (b"HTTP/1.1", [b"Connection: close"], False),
        (b"HTTP/1.1", [b"Connection: keep-alive"], True),
        (b"HTTP/1.1", [b"Connection: Keep-Alive, CLOSE"], False),
        (b"HTTP/1.1", [b"Connection: closed"], True),  # not the "close" option
        (b"HTTP/1.1", [b"Proxy-Connection: close"], False),  # llhttp honours it too
        (b"HTTP/1.1", [b"Connection: keep-alive", b"Connection: close"], False),
        (b"HTTP/1.0", [], False),
        (b"HTTP/1.0", [b"Connection: keep-alive"], True),
        (b"HTTP/1.0", [b"Connection: x, keep-alive"], True),
        (b"HTTP/1.0", [b"Proxy-Connection: Keep-Alive"], True),
        (b"HTTP/1.0", [b"Connection: close, keep-alive"], True),  # 1.0 only looks for keep-alive
    ],
)
def test_keep_alive_signal(
    hotpath: ModuleType, version: bytes, fields: list[bytes], keep_alive: bool
) -> None:
    # on_request's third argument is llhttp_should_keep_alive() as of the head (RFC 9112 §9.3)
    calls = parse(hotpath, get(b"/", *fields, version=version))
    assert calls[0][0] == "request" and calls[0][3] is keep_alive
    post = b"POST / %s\r\n%sContent-Length: 2\r\n\r\n" % (
        version, b"".join(f + b"\r\n" for f in fields),
    )
    calls = parse(hotpath, post, b"ok")
    assert [c[0] for c in calls] == ["request", "body", "complete"]
    assert calls[0][3] is keep_alive


def test_keep_alive_signal_pipelined_and_split(hotpath: ModuleType) -> None:
    data = (
        get(b"/a", b"Connection: keep-alive", version=b"HTTP/1.0")
        + get(b"/b")
        + get(b"/c", b"Proxy-Connection: close")
    )
    expected = [True, True, False]
    calls = parse(hotpath, data)
    assert [c[3] for c in calls if c[0] == "request"] == expected
    calls = parse(hotpath, *[data[i : i + 1] for i in range(len(data))])
    assert [c[3] for c in calls if c[0] == "request"] == expected


def test_keep_alive_signal_is_the_heads(hotpath: ModuleType) -> None:
    # A trailer "Connection: close" ends the connection but cannot change what
    # on_request was told about the head.
    data = (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"1\r\nx\r\n0\r\nConnection: close\r\n\r\n"
    )
    parser, sink = make(hotpath)
    parser.feed_data(data)
    assert [c[0] for c in sink.calls] == ["request", "body", "complete"]
    assert sink.calls[0][3] is True
    with pytest.raises(RequestParseError):
        parser.feed_data(get(b"/next"))


def test_keep_alive_signal_on_upgrades(hotpath: ModuleType) -> None:
    head = get(b"/ws", b"Upgrade: websocket", b"Connection: keep-alive, Upgrade")
    assert parse(hotpath, head)[0][3] is True
    head = get(b"/ws", b"Upgrade: websocket", b"Connection: Upgrade", version=b"HTTP/1.0")
    assert parse(hotpath, head)[0][3] is False
    assert parse(hotpath, b"CONNECT h:1 HTTP/1.1\r\nConnection: close\r\n\r\n")[0][3] is False


def test_connection_close_then_data(hotpath: ModuleType) -> None:
    parser, sink = make(hotpath)
    parser.feed_data(get(b"/", b"Connection: close") + b"\r\n\r\n")
    assert [c[0] for c in sink.calls] == ["request", "complete"]
    with pytest.raises(RequestParseError, match="^" + PARSE_ERROR_PREFIX):
        parser.feed_data(b"G")


POST = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"


def test_content_length_body(hotpath: ModuleType) -> None:
    calls = parse(hotpath, POST)
    assert [c[0] for c in calls] == ["request", "body", "complete"]
    assert calls[1] == ("body", b"hello world")


def test_content_length_one_byte_at_a_time(hotpath: ModuleType) -> None:
    calls = parse(hotpath, *[POST[i : i + 1] for i in range(len(POST))])
    assert [c[0] for c in calls] == ["request"] + ["body"] * 11 + ["complete"]
    assert b"".join(c[1] for c in calls if c[0] == "body") == b"hello world"


def test_every_two_way_split(hotpath: ModuleType) -> None:
    chunked = (
        b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    for data in (POST, chunked, get(b"/a?b", b"Host: x") + POST):
        whole = merged(parse(hotpath, data))
        for cut in range(1, len(data)):
            assert merged(parse(hotpath, data[:cut], data[cut:])) == whole, cut


def test_content_length_zero(hotpath: ModuleType) -> None:
    calls = parse(hotpath, b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    assert [c[0] for c in calls] == ["request", "complete"]


def test_chunked_body(hotpath: ModuleType) -> None:
    data = (
        b"POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"5;name=value;quoted=\"a b\\\"c\"\r\nhello\r\n"
        b"A\r\n0123456789\r\n"
        b"000;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
    )
    calls = parse(hotpath, data)
    assert [c[0] for c in calls] == ["request", "body", "body", "complete"]
    assert [c[1] for c in calls[1:3]] == [b"hello", b"0123456789"]
    # trailers are not request headers
    assert calls[0][1]["headers"] == [(b"transfer-encoding", b"gzip, chunked")]


def test_body_with_delimiters_intact(hotpath: ModuleType) -> None:
    body = b"a\r\n\r\nb0\r\n\r\nGET / HTTP/1.1\r\n\r\n"
    cl = b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%b\r\n0\r\n\r\n" % (
        len(body), body,
    )
    for data in (cl, chunked):
        calls = parse(hotpath, data)
        assert calls[1:] == [("body", body), ("complete",)]


def test_keep_alive_requests_in_one_feed(hotpath: ModuleType) -> None:
    data = get(b"/one") + POST + b"\r\n" + get(b"/three", b"Host: h")
    calls = parse(hotpath, data)
    assert [c[0] for c in calls] == [
        "request", "complete", "request", "body", "complete", "request", "complete",
    ]
    assert [c[1]["path"] for c in calls if c[0] == "request"] == ["/one", "/upload", "/three"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"Expect: 100-continue", True),
        (b"expect: 100-Continue", True),
        (b"Expect: 100-continue \t", True),
        (b"Expect: 200-ok", False),
        (None, False),
    ],
)
def test_expect_continue(hotpath: ModuleType, header: bytes | None, expected: bool) -> None:
    headers = b"".join(h + b"\r\n" for h in [b"Content-Length: 3", header] if h)
    calls = parse(hotpath, b"POST / HTTP/1.1\r\n" + headers + b"\r\nabc")
    assert calls[0][2] is expected


def test_upgrade(hotpath: ModuleType) -> None:
    parser, sink = make(hotpath)
    head = get(b"/ws", b"Upgrade: websocket", b"Connection: keep-alive, Upgrade")
    parser.feed_data(head + b"\x81\x05hello")
    parser.feed_data(b"more\r\n\r\n")
    parser.feed_data(bytearray(b"GET / HTTP/1.1\r\n"))
    parser.feed_data(memoryview(b"x"))
    parser.feed_data(b"")
    assert [c[0] for c in sink.calls] == ["request", "complete"] + ["upgrade"] * 5
    scope = sink.calls[0][1]
    assert scope["type"] == "websocket" and "method" not in scope
    assert scope["scheme"] == "ws" and scope["subprotocols"] == []
    assert sink.calls[0][2] is False
    assert [c[1] for c in sink.calls[2:]] == [
        b"\x81\x05hello", b"more\r\n\r\n", b"GET / HTTP/1.1\r\n", b"x", b"",
    ]


@pytest.mark.parametrize(
    ("scheme", "ws_scheme", "upgrade", "protocols", "expected"),
    [
        ("https", "wss", b"websocket", [b"chat, v2", b"x"], ["chat", "v2", "x"]),
        ("http", "ws", b"h2c, WebSocket", [b" a ,, b\t"], ["a", "b"]),
        ("ws", "ws", b"WEBSOCKET", [], []),
    ],
)
def test_websocket_scope(
    hotpath: ModuleType, scheme: str, ws_scheme: str, upgrade: bytes,
    protocols: list[bytes], expected: list[str],
) -> None:
    parser, sink = make(hotpath, scheme=scheme)
    lines = [b"Upgrade: " + upgrade, b"Connection: Upgrade"]
    lines += [b"Sec-WebSocket-Protocol: " + p for p in protocols]
    fields = b"".join(x + b"\r\n" for x in lines)
    parser.feed_data(b"GET /caf%C3%A9?q=1 HTTP/1.1\r\n" + fields + b"\r\n")
    scope = sink.calls[0][1]
    assert list(scope) == [
        "type", "asgi", "http_version", "scheme", "path", "raw_path", "query_string",
        "root_path", "headers", "client", "server", "subprotocols", "extensions",
    ]
    assert scope["type"] == "websocket" and scope["scheme"] == ws_scheme
    assert scope["path"] == "/café" and scope["raw_path"] == b"/caf%C3%A9"
    assert scope["query_string"] == b"q=1" and scope["subprotocols"] == expected
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.5"}


def test_websocket_needs_get(hotpath: ModuleType) -> None:
    # Only a GET opens a WebSocket (RFC 6455 §4.1); another method stays an HTTP upgrade.
    head = b"POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    calls = parse(hotpath, head)
    assert calls[0][1]["type"] == "http" and calls[0][1]["method"] == "POST"


def test_upgrade_tail_empty_and_split_head(hotpath: ModuleType) -> None:
    head = get(b"/ws", b"Connection: upgrade", b"Upgrade: websocket")
    calls = parse(hotpath, head[:10], head[10:])
    assert [c[0] for c in calls] == ["request", "complete", "upgrade"]
    assert calls[2] == ("upgrade", b"")


def test_switching_ignores_body_framing(hotpath: ModuleType) -> None:
    # After the head of a request we switch protocols for, the rest is the new protocol's.
    for head in (
        get(b"/ws", b"Upgrade: websocket", b"Connection: upgrade", b"Content-Length: 3"),
        b"CONNECT h:1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ):
        assert parse(hotpath, head + b"abcdef")[1:] == [("complete",), ("upgrade", b"abcdef")]


UPGRADE_HEADS = [
    b"POST /u HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n",
    b"GET /u HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n",
    b"PUT /u HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n",  # not a GET
    b"FOO /u HTTP/1.1\r\nProxy-Connection: upgrade\r\nUpgrade: websocket\r\n",
    b"GET /u HTTP/1.0\r\nUpgrade: TLS/1.2\r\nConnection: upgrade, keep-alive\r\n",
]
BODIES = {
    "none": (b"", b""),
    "empty": (b"Content-Length: 0\r\n", b""),
    "small": (b"Content-Length: 11\r\n", b"hello world"),
    "chunked": (b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
}


@pytest.mark.parametrize("head", UPGRADE_HEADS)
@pytest.mark.parametrize("body", list(BODIES))
def test_upgrade_we_do_not_switch_for_is_plain_http(
    hotpath: ModuleType, head: bytes, body: str
) -> None:
    # RFC 9110 §7.8: only CONNECT and a WebSocket handshake switch protocols; with any
    # other Upgrade request (an h2c POST...) the app gets its body, then the next request.
    framing, payload = BODIES[body]
    data = head + framing + b"\r\n" + payload + get(b"/next")
    expected_body = b"hello world" if payload else b""
    whole = merged(parse(hotpath, data))
    assert [c[0] for c in whole] == (
        ["request", "body", "complete"] if expected_body else ["request", "complete"]
    ) + ["request", "complete"]
    assert whole[0][1]["type"] == "http" and whole[0][1]["path"] == "/u"
    assert b"".join(c[1] for c in whole if c[0] == "body") == expected_body
    assert whole[-2][1]["path"] == "/next"
    assert merged(parse(hotpath, *[data[i : i + 1] for i in range(len(data))])) == whole
    for cut in range(1, len(data)):
        assert merged(parse(hotpath, data[:cut], data[cut:])) == whole, cut


def test_upgrade_we_do_not_switch_for_keeps_keep_alive_rules(hotpath: ModuleType) -> None:
    head = b"POST / HTTP/1.0\r\nUpgrade: h2c\r\nConnection: upgrade\r\nContent-Length: 1\r\n\r\nx"
    parser, sink = make(hotpath)
    parser.feed_data(head)
    assert [c[0] for c in sink.calls] == ["request", "body", "complete"]
    assert sink.calls[0][3] is False  # HTTP/1.0 without keep-alive: the connection ends
    with pytest.raises(RequestParseError, match="data after a request that closes"):
        parser.feed_data(get(b"/next"))


def test_upgrade_we_do_not_switch_for_with_a_large_body(hotpath: ModuleType) -> None:
    body = bytes(range(256)) * 1024
    head = b"POST / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\nContent-Length: %d\r\n\r\n"
    data = head % len(body) + body + get(b"/next")
    for cuts in ([], [10], [len(head) + 5], [len(head) + 70_000, len(head) + 200_000]):
        points = [0, *cuts, len(data)]
        calls = merged(parse(hotpath, *[data[a:b] for a, b in itertools.pairwise(points)]))
        assert [c[0] for c in calls] == ["request", "body", "complete", "request", "complete"]
        assert calls[1][1] == body


def test_connect_is_an_upgrade(hotpath: ModuleType) -> None:
    calls = parse(hotpath, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\ntunnel")
    assert calls[0][1]["raw_path"] == b"example.com:443"
    assert calls[1:] == [("complete",), ("upgrade", b"tunnel")]


@pytest.mark.parametrize(
    "headers",
    [[b"Upgrade: websocket"], [b"Connection: upgrade"], [b"Upgrade:", b"Connection: upgrade"],
     [b"Upgrade: x", b"Connection: upgradex"]],
)
def test_not_an_upgrade(hotpath: ModuleType, headers: list[bytes]) -> None:
    calls = parse(hotpath, get(b"/", *headers) + get(b"/next"))
    assert [c[0] for c in calls] == ["request", "complete", "request", "complete"]


MALFORMED = [
    b"G(T / HTTP/1.1\r\n\r\n",  # a method is a token (RFC 9110 §9.1)
    b"GE\x7fT / HTTP/1.1\r\n\r\n",
    b"\x00GET / HTTP/1.1\r\n\r\n",
    b" / HTTP/1.1\r\n\r\n",
    b"FOO\t/ HTTP/1.1\r\n\r\n",
    b"FOO / RTSP/1.0\r\n\r\n",  # llhttp's RTSP/ICE quirk is for its own methods only
    b"FOO * HTTP/1.1\r\n\r\n",  # asterisk-form is OPTIONS's (RFC 9112 §3.2.4)
    b"OPTIONSX * HTTP/1.1\r\n\r\n",
    b"FOO h:443 HTTP/1.1\r\n\r\n",  # authority-form is CONNECT's (RFC 9112 §3.2.3)
    b"connect h:443 HTTP/1.1\r\n\r\n",  # methods are case-sensitive
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.2\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET / HTTP/0.9\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / http/1.1\r\n\r\n",
    b"GET / HTTP/1.1 \r\n\r\n",
    b"GET\t/ HTTP/1.1\r\n\r\n",
    b"GET /a#frag HTTP/1.1\r\n\r\n",
    b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",
    b"GET relative HTTP/1.1\r\n\r\n",
    b"GET * HTTP/1.1\r\n\r\n",
    b"GET http:/x HTTP/1.1\r\n\r\n",
    b"GET http://a@@b/ HTTP/1.1\r\n\r\n",
    b"CONNECT / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nName : x\r\n\r\n",
    b"GET / HTTP/1.1\r\n: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: \x7f\r\n\r\n",
    b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
    b"GET / HTTP/1.1\nHost: x\n\n",
    b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
    b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;\r\nhello\r\n0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer: 1\r\n\r\n",
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed(hotpath: ModuleType, data: bytes) -> None:
    parser, sink = make(hotpath)
    with pytest.raises(RequestParseError) as info:
        feed_all(parser, data, b"\r\n\r\n")  # ends any line the parser still waits on
    assert str(info.value).startswith(PARSE_ERROR_PREFIX)
    assert "request" not in [c[0] for c in sink.calls] or b"chunked" in data
    # httptools cannot resume after an error: neither twin does.
    with pytest.raises(RequestParseError) as again:
        parser.feed_data(get(b"/"))
    assert str(again.value) == PARSER_CLOSED_MESSAGE


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"GET / HTTP/1.2\r\n\r\n", "bad HTTP version in request line b'GET / HTTP/1.2'"),
        (b"GET /a#f HTTP/1.1\r\n\r\n", "bad request-target b'/a#f' for GET"),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "bad header name b'bad name'"),
        (b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
         "control character in the value of header b'a': b'\\x01'"),
        (b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
         "bad or repeated Content-Length b'+5'"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
         "bad chunk-size line b'zz'"),
        (get(b"/", b"Connection: close") + b"GET",
         "data after a request that closes the connection"),
        (get(b"/a") + get(b"/b", b"A: b\rc"),
         "control character in the value of header b'a': b'b\\rc'"),
    ],
)
def test_error_texts(hotpath: ModuleType, data: bytes, detail: str) -> None:
    # Both twins say what was wrong in the same words (the compiled twin lets the pure
    # twin's parser read what llhttp rejects), quoting the offending bytes; split feeds
    # are compared across twins in test_parity.
    parser, _ = make(hotpath)
    with pytest.raises(RequestParseError) as info:
        feed_all(parser, data, b"\r\n\r\n")
    assert str(info.value) == PARSE_ERROR_PREFIX + detail


def test_head_size_limit(hotpath: ModuleType) -> None:
    # Over the limit is not malformed: the message names the limit (tests/test_parser_limits.py)
    big = get(b"/", b"X-Big: " + b"a" * MAX_HEAD_SIZE)
    with pytest.raises(RequestParseError, match=r"^request head of .* limit of 65536 bytes"):
        parse(hotpath, big)
    incomplete = big[:-10]
    with pytest.raises(RequestParseError, match=r"^request head of more than 65553 bytes"):
        parse(hotpath, *[incomplete[i : i + 4096] for i in range(0, len(incomplete), 4096)])
    # just under the limit is fine
    fits = get(b"/", b"X-Big: " + b"a" * (MAX_HEAD_SIZE - 100))
    assert len(fits) < MAX_HEAD_SIZE
    only_scope(parse(hotpath, fits))


EXTENSION_METHODS = [
    "FOO", "_DO_DELETE", "BREW", "X-CUSTOM", "get", "Post", "X", "M" * 100, "PRI", "DESCRIBE",
    "SETUP", "HEADX", "CONNECTX", "!#$%&'*+-.^_`|~09azAZ",
]


@pytest.mark.parametrize("method", EXTENSION_METHODS)
def test_extension_methods(hotpath: ModuleType, method: str) -> None:
    # RFC 9110 §9.1: any token is a method; the scope has it exactly as sent.
    m = method.encode()
    head = m + b" /x?q HTTP/1.1\r\nHost: h\r\n"
    cl = head + b"Content-Length: 5\r\n\r\nhello"
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    stream = get(b"/a") + cl + b"\r\n" + chunked + m + b" /z HTTP/1.0\r\n\r\n"
    expected = [
        ("GET", "/a", "1.1", True), (method, "/x", "1.1", True), (method, "/x", "1.1", True),
        (method, "/z", "1.0", False),
    ]
    whole = merged(parse(hotpath, stream))
    requests = [c for c in whole if c[0] == "request"]
    assert [(c[1]["method"], c[1]["path"], c[1]["http_version"], c[3]) for c in requests] == (
        expected
    )
    assert [c[1] for c in whole if c[0] == "body"] == [b"hello", b"hello"]
    assert whole[-1] == ("complete",)
    assert merged(parse(hotpath, *[stream[i : i + 1] for i in range(len(stream))])) == whole
    for cut in range(1, len(cl) + len(get(b"/a"))):
        assert merged(parse(hotpath, stream[:cut], stream[cut:])) == whole, cut


def test_known_methods_keep_their_meaning(hotpath: ModuleType) -> None:
    # Only the real CONNECT and OPTIONS get authority- and asterisk-form (RFC 9112 §3.2).
    assert only_scope(parse(hotpath, b"OPTIONS * HTTP/1.1\r\n\r\n"))["method"] == "OPTIONS"
    calls = parse(hotpath, b"CONNECT h:1 HTTP/1.1\r\n\r\nxy")
    assert calls[0][1]["method"] == "CONNECT" and calls[-1] == ("upgrade", b"xy")
    assert only_scope(parse(hotpath, b"HEAD / HTTP/1.1\r\n\r\n"))["method"] == "HEAD"
    assert type(only_scope(parse(hotpath, b"PUT / HTTP/1.1\r\n\r\n"))["method"]) is str


class Boom(Exception):
    pass


@pytest.mark.parametrize("method", ["on_request", "on_body", "on_request_complete", "on_upgrade"])
@pytest.mark.parametrize("inside_except", [False, True])
def test_sink_exception_propagates_unchanged(
    hotpath: ModuleType, method: str, inside_except: bool
) -> None:
    error = Boom(method)

    class Sink(Recorder):
        pass

    def fail(*args: Any) -> None:
        raise error

    sink = Sink()
    setattr(sink, method, fail)
    parser, _ = make(hotpath, sink)
    data = b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
    if method == "on_upgrade":
        data = get(b"/", b"Upgrade: websocket", b"Connection: upgrade")
    handled = KeyError("being handled")

    def feed() -> None:
        if not inside_except:
            parser.feed_data(data)
            return
        try:
            raise handled
        except KeyError:
            parser.feed_data(data)

    with pytest.raises(Boom) as info:
        feed()
    assert info.value is error
    assert error.__context__ is (handled if inside_except else None)
    assert error.__cause__ is None
    with pytest.raises(RequestParseError, match="closed after an earlier error"):
        parser.feed_data(get(b"/"))


def test_fresh_scope_per_request(hotpath: ModuleType) -> None:
    calls = parse(hotpath, get(b"/a", b"Host: h") * 2)
    first, second = calls[0][1], calls[2][1]
    assert first == second
    for key in ("asgi", "headers", "extensions"):
        assert first[key] is not second[key]
    parser, sink = make(hotpath)
    parser.feed_data(get(b"/a", b"Host: h"))
    scope = sink.calls[0][1]
    scope["headers"].append((b"x", b"y"))
    scope["asgi"]["version"] = "2.0"
    scope["extensions"]["z"] = {}
    scope["path"] = "/changed"
    parser.feed_data(get(b"/a", b"Host: h"))
    assert sink.calls[2][1] == second


def test_input_types(hotpath: ModuleType) -> None:
    data = get(b"/t", b"Host: h")
    expected = parse(hotpath, data)
    assert parse(hotpath, bytearray(data)) == expected
    assert parse(hotpath, memoryview(data)[:10], memoryview(data)[10:]) == expected
    assert parse(hotpath, b"", data, b"") == expected


@pytest.mark.parametrize(
    "data",
    [get(b"/", b"Host: h") + POST, get(b"/", b"Upgrade: a", b"Connection: upgrade") + b"x",
     b"BAD / HTTP/1.1\r\n\r\n"],
)
def test_no_reference_cycles(hotpath: ModuleType, data: bytes) -> None:
    """Dropping the parser frees it and the sink at once, without the cyclic GC."""
    gc.disable()
    try:
        parser, sink = make(hotpath)
        ref = weakref.ref(sink)
        with contextlib.suppress(RequestParseError):
            parser.feed_data(data)
        del parser, sink
        assert ref() is None
    finally:
        gc.enable()


# --- response heads --------------------------------------------------------------------------


def encode(hotpath: ModuleType, status: Any, headers: Any, *, head: bool = False,
           length: int = -1) -> tuple[bytes, int]:
    result: tuple[bytes, int] = hotpath.encode_response_head(
        status, headers, head_request=head, body_length=length
    )
    return result


def aiohttp_parse(head: bytes) -> Any:
    """Cross-check: aiohttp's own response parser accepts the head."""
    loop = asyncio.new_event_loop()
    try:
        parser = HttpResponseParserPy(mock.Mock(), loop, 2**16, response_with_body=False)
        messages, _, tail = parser.feed_data(head)
        assert tail == b""
        return messages[0][0]
    finally:
        loop.close()


def test_head_chunked_by_default(hotpath: ModuleType) -> None:
    head, framing = encode(hotpath, 200, [(b"Content-Type", b"text/plain"), (b"x-a", b"1")])
    assert head == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-a: 1\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    assert framing == BODY_CHUNKED
    message = aiohttp_parse(head)
    assert (message.code, message.reason, message.chunked) == (200, "OK", True)


def test_head_auto_content_length(hotpath: ModuleType) -> None:
    assert encode(hotpath, 201, [], length=5) == (
        b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\n", 5,
    )
    assert encode(hotpath, 200, ((b"a", b"b"),), length=0) == (
        b"HTTP/1.1 200 OK\r\na: b\r\ncontent-length: 0\r\n\r\n", 0,
    )


def test_head_app_content_length(hotpath: ModuleType) -> None:
    head, framing = encode(hotpath, 200, [[b"Content-Length", b"12"], [b"x", b"y"]], length=99)
    assert (head, framing) == (b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nx: y\r\n\r\n", 12)
    # equal duplicates are sent once, at the first one's place
    head, framing = encode(
        hotpath, 200, [(b"content-length", b"7"), (b"a", b"b"), (b"CONTENT-LENGTH", b"007")]
    )
    assert (head, framing) == (b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\na: b\r\n\r\n", 7)
    assert aiohttp_parse(head).headers["Content-Length"] == "7"


@pytest.mark.parametrize(
    "lengths",
    [[b"5", b"6"], [b""], [b"abc"], [b"-1"], [b" 5"], [b"5 "], [b"1e3"], [b"0x10"], [b"\xd9\xa3"],
     [b"18446744073709551616"], [b"5", b"x"]],
)
def test_head_bad_content_length(hotpath: ModuleType, lengths: list[bytes]) -> None:
    headers = [(b"Content-Length", value) for value in lengths]
    with pytest.raises(ASGIProtocolError, match="content-length"):
        encode(hotpath, 200, headers)


def test_head_transfer_encoding_dropped(hotpath: ModuleType) -> None:
    headers = [(b"Transfer-Encoding", b"gzip"), (b"a", b"b"), (b"transfer-encoding", b"chunked")]
    assert encode(hotpath, 200, headers) == (
        b"HTTP/1.1 200 OK\r\na: b\r\ntransfer-encoding: chunked\r\n\r\n", BODY_CHUNKED,
    )
    assert encode(hotpath, 200, headers, length=3)[0].endswith(b"a: b\r\ncontent-length: 3\r\n\r\n")


@pytest.mark.parametrize(
    ("status", "head_request", "expected"),
    [
        (200, True, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx: y\r\n\r\n"),
        (304, False, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\nx: y\r\n\r\n"),
        (204, False, b"HTTP/1.1 204 No Content\r\nx: y\r\n\r\n"),
        (204, True, b"HTTP/1.1 204 No Content\r\nx: y\r\n\r\n"),
        (103, False, b"HTTP/1.1 103 Early Hints\r\nx: y\r\n\r\n"),
        (100, False, b"HTTP/1.1 100 Continue\r\nx: y\r\n\r\n"),
    ],
)
def test_head_without_body(
    hotpath: ModuleType, status: int, head_request: bool, expected: bytes
) -> None:
    headers = [(b"Content-Length", b"5"), (b"x", b"y"), (b"Transfer-Encoding", b"chunked")]
    assert encode(hotpath, status, headers, head=head_request, length=5) == (expected, BODY_NONE)
    # nothing added when the app gave no length either
    head, framing = encode(hotpath, status, [(b"x", b"y")], head=head_request, length=5)
    assert framing == BODY_NONE
    assert b"content-length" not in head.lower()
    assert b"transfer-encoding" not in head.lower()


@pytest.mark.parametrize(
    ("status", "line"),
    [(599, b"HTTP/1.1 599 Unknown\r\n"), (999, b"HTTP/1.1 999 Unknown\r\n"),
     (100, b"HTTP/1.1 100 Continue\r\n"),
     (HTTPStatus.NOT_FOUND, b"HTTP/1.1 404 Not Found\r\n")],
)
def test_head_status_line(hotpath: ModuleType, status: int, line: bytes) -> None:
    head, _ = encode(hotpath, status, [], length=0)
    assert head.startswith(line)
    if status >= 200:
        assert aiohttp_parse(head).code == status


@pytest.mark.parametrize("status", [True, False, "200", 200.0, None, 99, 1000, -1, 2**70])
def test_head_bad_status(hotpath: ModuleType, status: Any) -> None:
    with pytest.raises(ASGIProtocolError) as info:
        encode(hotpath, status, [])
    assert str(info.value) == (
        f"http.response.start status must be an int between 100 and 999, got {status!r}"
    )


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        (None, "must be an iterable of"),
        (5, "must be an iterable of"),
        ([b"ab"], "must be a \\[name, value\\] pair"),
        ([(b"a", b"b", b"c")], "must be a \\[name, value\\] pair"),
        ([None], "must be a \\[name, value\\] pair"),
        ([("a", b"b")], "header names and values must be bytes"),
        ([(b"a", "b")], "header names and values must be bytes"),
        ([(bytearray(b"a"), b"b")], "header names and values must be bytes"),
        # shape and type problems are reported before byte problems
        ([(b"bad name", b"x"), ("str", b"x")], "header names and values must be bytes"),
    ],
)
def test_head_bad_header_shapes(hotpath: ModuleType, headers: Any, match: str) -> None:
    with pytest.raises(ASGIProtocolError, match=match):
        encode(hotpath, 200, headers)


@pytest.mark.parametrize(
    "name", [b"a b", b"a:b", b"", b"x\r\ny", b"caf\xc3\xa9", b"a\tb", b"(a)", b"a/b", b"a\x00"]
)
def test_head_bad_header_name(hotpath: ModuleType, name: bytes) -> None:
    with pytest.raises(ASGIProtocolError) as info:
        encode(hotpath, 200, [(b"ok", b"1"), (name, b"v")])
    assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    "value", [b"a\rb", b"a\nb", b"a\x00b", b"\x01", b"\x1f", b"x\x7f", b"\r\n"]
)
def test_head_bad_header_value(hotpath: ModuleType, value: bytes) -> None:
    with pytest.raises(ASGIProtocolError) as info:
        encode(hotpath, 200, [(b"X-Name", value)])
    assert "b'X-Name'" in str(info.value)


def test_head_value_bytes_pass_through(hotpath: ModuleType) -> None:
    tchar_name = b"!#$%&'*+-.^_`|~09azAZ"
    value = b"\ta b\t\x80\xff caf\xc3\xa9 \xfe\"\\"
    head, _ = encode(hotpath, 200, [(tchar_name, value), (b"Set-Cookie", b"a=1"),
                                    (b"set-cookie", b"b=2")], length=0)
    assert head == (
        b"HTTP/1.1 200 OK\r\n" + tchar_name + b": " + value + b"\r\nSet-Cookie: a=1\r\n"
        b"set-cookie: b=2\r\ncontent-length: 0\r\n\r\n"
    )
    raw = aiohttp_parse(head).raw_headers
    assert raw[0] == (tchar_name, value.strip(b" \t"))
    assert raw[1:3] == ((b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"))


def test_encode_chunk(hotpath: ModuleType) -> None:
    assert hotpath.encode_chunk(b"hello") == b"5\r\nhello\r\n"
    assert hotpath.encode_chunk(bytearray(b"x" * 255)) == b"ff\r\n" + b"x" * 255 + b"\r\n"
    assert hotpath.encode_chunk(memoryview(b"abc")[1:]) == b"2\r\nbc\r\n"
    ints = memoryview(bytearray(8)).cast("I")  # a length in bytes, not in items
    assert hotpath.encode_chunk(ints) == b"8\r\n" + bytes(8) + b"\r\n"
    assert hotpath.encode_chunk(b"") == b""
    assert hotpath.encode_chunk(b"0\r\n\r\n") == b"5\r\n0\r\n\r\n\r\n"
    assert LAST_CHUNK == b"0\r\n\r\n"
    with pytest.raises(TypeError, match="needs bytes, bytearray or memoryview, got str"):
        hotpath.encode_chunk("text")


# --- large Content-Length bodies: handed on without a copy (_framing.LARGE_BODY) -----------


def post(body: bytes) -> bytes:
    return b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)


class Pieces:
    """A sink keeping body pieces as given (bytes objects or views)."""

    def __init__(self) -> None:
        self.pieces: list[bytes | memoryview] = []
        self.events: list[str] = []

    def on_request(self, scope: dict[str, Any], expect_continue: bool, keep_alive: bool) -> None:
        self.events.append(scope["method"])

    def on_body(self, body: bytes | memoryview) -> None:
        self.pieces.append(body)

    def on_request_complete(self) -> None:
        self.events.append("complete")

    def on_upgrade(self, data: bytes) -> None:
        raise AssertionError("no upgrade here")


def make_pieces(hotpath: ModuleType) -> tuple[Any, Pieces]:
    sink = Pieces()
    parser = hotpath.RequestParser(
        sink, scheme="http", server=("t", 80), client=None, root_path=""
    )
    return parser, sink


def test_large_body_fed_alone_is_passed_on_as_the_same_object(hotpath: ModuleType) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    parser, sink = make_pieces(hotpath)
    parser.feed_data(post(body))
    parser.feed_data(body)
    assert sink.pieces[0] is body
    assert sink.events == ["POST", "complete"]


def test_large_body_after_its_head_is_a_read_only_view_then_parsing_goes_on(
    hotpath: ModuleType,
) -> None:
    body = bytes(range(256)) * 4096
    small = b"POST /s HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
    # One feed: head + large body + a pipelined small request, as aiohttp joins them.
    parser, sink = make_pieces(hotpath)
    parser.feed_data(post(body) + body + small)
    assert sink.events == ["POST", "complete", "POST", "complete"]
    view, rest = sink.pieces
    assert type(view) is memoryview and view.readonly
    assert view == body and rest == b"abc"
    parser.feed_data(get(b"/next", b"Host: t"))  # the parser is still in step
    assert sink.events[-2:] == ["GET", "complete"]


def test_large_body_split_anywhere_arrives_whole(hotpath: ModuleType) -> None:
    body = bytes(range(251)) * 1000  # not a multiple of anything round
    wire = post(body) + body + get(b"/after", b"Host: t")
    for cut in (10, len(post(body)) - 1, len(post(body)), len(post(body)) + 70000):
        parser, sink = make_pieces(hotpath)
        parser.feed_data(wire[:cut])
        parser.feed_data(wire[cut:])
        assert b"".join(bytes(p) for p in sink.pieces) == body, cut
        assert sink.events == ["POST", "complete", "GET", "complete"], cut
