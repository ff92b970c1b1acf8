"""The request-head limit, RequestParser's ``max_head_size`` (the connector's
``max_request_head_size``), run against both twins.

A valid request whose head (request line and header fields, RFC 9112 §2.1) or chunked
trailer section (RFC 9112 §7.1.2) is larger than the limit is refused with a message that
names the limit, the size and how to raise it; it is not reported as malformed.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import pytest

from aiohttp_asgi_fast._framing import (
    LARGE_BODY,
    MAX_HEAD_SIZE,
    PARSE_ERROR_PREFIX,
    head_too_large_message,
    trailers_too_large_message,
)
from aiohttp_asgi_fast.exceptions import RequestParseError


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def on_request(self, scope: dict[str, Any], expect_continue: bool, keep_alive: bool) -> None:
        self.calls.append(("request", scope))

    def on_body(self, body: bytes | memoryview) -> None:
        self.calls.append(("body", bytes(body)))

    def on_request_complete(self) -> None:
        self.calls.append(("complete",))

    def on_upgrade(self, data: bytes) -> None:
        self.calls.append(("upgrade", data))


def parse(hotpath: ModuleType, *feeds: bytes, **options: Any) -> list[tuple[Any, ...]]:
    sink = Recorder()
    parser = hotpath.RequestParser(
        sink, scheme="http", server=("t", 80), client=None, root_path="", **options
    )
    for data in feeds:
        parser.feed_data(data)
    return sink.calls


def refused(hotpath: ModuleType, *feeds: bytes, **options: Any) -> str:
    with pytest.raises(RequestParseError) as info:
        parse(hotpath, *feeds, **options)
    message = str(info.value)
    assert not message.startswith(PARSE_ERROR_PREFIX)  # not a malformed request
    assert "max_request_head_size" in message  # says how to raise the limit
    return message


def get(*fields: bytes) -> bytes:
    return b"GET / HTTP/1.1\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


def sized(size: int) -> bytes:
    """A GET head of exactly ``size`` bytes."""
    head = get(b"X-Big: " + b"a" * (size - len(get(b"X-Big: "))))
    assert len(head) == size
    return head


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_default_limit(hotpath: ModuleType) -> None:
    assert [c[0] for c in parse(hotpath, sized(MAX_HEAD_SIZE))] == ["request", "complete"]
    message = refused(hotpath, sized(MAX_HEAD_SIZE + 1))
    assert message == head_too_large_message(MAX_HEAD_SIZE + 1, MAX_HEAD_SIZE, complete=True)
    assert message == (
        f"request head of {MAX_HEAD_SIZE + 1} bytes exceeds the limit of {MAX_HEAD_SIZE} "
        "bytes (request line and header fields, RFC 9112 §2.1); raise it with "
        "ASGIApplicationConnector(max_request_head_size=...)"
    )


@pytest.mark.parametrize(
    "head",
    [
        get(b"X-Token: " + b"t" * (64 * 1024)),  # one 64 KiB field value
        get(*[b"X-F-%d: v" % i for i in range(10_000)]),  # 10,000 fields
    ],
    ids=["64-KiB-value", "10000-fields"],
)
def test_large_valid_heads_need_a_larger_limit(hotpath: ModuleType, head: bytes) -> None:
    # Refused with the size (whole head in one feed) ...
    assert refused(hotpath, head) == head_too_large_message(
        len(head), MAX_HEAD_SIZE, complete=True
    )
    # ... or "more than" the bytes received when the head is still incomplete.
    message = refused(hotpath, *pieces(head, 4096))
    assert re.fullmatch(
        r"request head of (more than )?\d+ bytes exceeds the limit of 65536 bytes .*", message
    )
    # With a larger limit the same request parses, in one feed or many.
    for feeds in ([head], pieces(head, 4096), pieces(head, 70_000)):
        calls = parse(hotpath, *feeds, max_head_size=len(head))
        assert [c[0] for c in calls] == ["request", "complete"]
        assert calls[0][1]["headers"] == [
            (name.lower(), value)
            for name, value in (line.split(b": ") for line in head.split(b"\r\n")[1:-2])
        ]


@pytest.mark.parametrize("limit", [100, 1000])
def test_limit_parameter_exact_and_split(hotpath: ModuleType, limit: int) -> None:
    fits, over = sized(limit), sized(limit + 1)
    for feeds in ([fits], pieces(fits, 1), pieces(fits, 7)):
        assert [c[0] for c in parse(hotpath, *feeds, max_head_size=limit)] == [
            "request", "complete",
        ]
    complete = head_too_large_message(limit + 1, limit, complete=True)
    assert refused(hotpath, over, max_head_size=limit) == complete
    # Byte by byte the head is whole when it passes the limit (its last byte does).
    assert refused(hotpath, *pieces(over, 1), max_head_size=limit) == complete
    # A head that is still incomplete when it passes the limit: "more than".
    longer = sized(limit + 50)
    assert refused(hotpath, *pieces(longer, 1), max_head_size=limit) == head_too_large_message(
        limit + 1, limit, complete=False
    )
    assert refused(hotpath, longer[:limit + 10], max_head_size=limit) == head_too_large_message(
        limit + 10, limit, complete=False
    )


def test_limit_is_per_head(hotpath: ModuleType) -> None:
    # Each pipelined request's head counts alone; leading CR/LF (RFC 9112 §2.2) and bodies
    # do not count.
    body = b"b" * 500
    post = b"POST / HTTP/1.1\r\nContent-Length: 500\r\n\r\n" + body
    data = b"\r\n" * 40 + sized(80) + post + b"\r\n\r\n" + sized(80)
    for feeds in ([data], pieces(data, 1), pieces(data, 33)):
        calls = parse(hotpath, *feeds, max_head_size=80)
        assert [c[0] for c in calls if c[0] != "body"] == ["request", "complete"] * 3
    assert refused(hotpath, data + sized(81), max_head_size=80) == head_too_large_message(
        81, 80, complete=True
    )


def test_limit_above_the_large_body_threshold(hotpath: ModuleType) -> None:
    # A head larger than LARGE_BODY with a large body, in one feed (the compiled twin's
    # large-feed path), parses under a limit that allows it.
    head = get(b"X-Big: " + b"h" * (LARGE_BODY + 10))[:-2]
    body = bytes(range(256)) * 1024
    data = head + b"Content-Length: %d\r\n\r\n" % len(body) + body + get()
    limit = len(data) - len(body) - len(get())
    calls = parse(hotpath, data, max_head_size=limit)
    assert [c[0] for c in calls if c[0] != "body"] == ["request", "complete"] * 2
    assert b"".join(c[1] for c in calls if c[0] == "body") == body
    assert refused(hotpath, data, max_head_size=limit - 1) == head_too_large_message(
        limit, limit - 1, complete=True
    )


def test_trailer_section_limit(hotpath: ModuleType) -> None:
    head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    trailers = b"".join(b"X-T%d: %s\r\n" % (i, b"v" * 20) for i in range(10))  # 10 x 28 bytes
    data = head + b"3\r\nabc\r\n0\r\n" + trailers + b"\r\n"
    for feeds in ([data], pieces(data, 1)):
        calls = parse(hotpath, *feeds, max_head_size=280)
        assert [c[0] for c in calls if c[0] != "body"] == ["request", "complete"]
        assert b"".join(c[1] for c in calls if c[0] == "body") == b"abc"
    assert refused(hotpath, data, max_head_size=279) == trailers_too_large_message(280, 279)
    # A trailer line still incomplete when it passes the limit.
    assert refused(
        hotpath, head + b"0\r\nX: " + b"v" * 300, max_head_size=280
    ) == trailers_too_large_message(303, 280)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("1024", TypeError, "max_head_size must be an int (bytes), got '1024'"),
        (1024.0, TypeError, "max_head_size must be an int (bytes), got 1024.0"),
        (None, TypeError, "max_head_size must be an int (bytes), got None"),
        (True, TypeError, "max_head_size must be an int (bytes), got True"),
        (0, ValueError, "max_head_size must be a positive number of bytes, got 0"),
        (-1, ValueError, "max_head_size must be a positive number of bytes, got -1"),
    ],
)
def test_max_head_size_is_checked(
    hotpath: ModuleType, value: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        parse(hotpath, max_head_size=value)
    assert str(info.value) == message


def test_huge_limit(hotpath: ModuleType) -> None:
    calls = parse(hotpath, get(b"A: b"), max_head_size=2**80)
    assert [c[0] for c in calls] == ["request", "complete"]
