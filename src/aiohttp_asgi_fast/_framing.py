"""Constants shared by the compiled (``_parser.pyx``) and pure (``_parser_py.py``) hot paths.

Imports nothing from this package, so both twins can use it without cycles.
"""

from __future__ import annotations

import sys
from http import HTTPStatus
from typing import Any, Final

__all__ = (
    "ASGI_SPEC_VERSION",
    "ASGI_VERSION",
    "AUTHORITY_CHARS",
    "BODY_CHUNKED",
    "BODY_NONE",
    "CONTINUE_RESPONSE",
    "DATA_AFTER_CLOSE_MESSAGE",
    "INTERNAL_ERROR_RESPONSE",
    "LAST_CHUNK",
    "LARGE_BODY",
    "MAX_HEAD_SIZE",
    "MAX_STATUS",
    "MAX_UINT64",
    "MIN_STATUS",
    "PARSER_CLOSED_MESSAGE",
    "PARSE_ERROR_PREFIX",
    "REQUEST_METHODS",
    "STATUS_LINES",
    "TARGET_CHARS",
    "TCHAR",
    "VALUE_FORBIDDEN",
    "check_max_head_size",
    "head_too_large_message",
    "trailers_too_large_message",
    "websocket_scope",
)

ASGI_VERSION: Final = "3.0"
# HTTP/WebSocket message format 2.5 (2024-06-05): send() raises after close (2.4).
ASGI_SPEC_VERSION: Final = "2.5"

# RFC 9112 §4: status-code is three digits; we accept 100..999 like any HTTP/1.1 peer.
MIN_STATUS: Final = 100
MAX_STATUS: Final = 999


def _status_line(code: int) -> bytes:
    try:
        reason = HTTPStatus(code).phrase.encode("ascii")
    except ValueError:
        # RFC 9112 §4 makes reason-phrase optional, but aiohttp 3.8's pure-Python
        # response parser rejects "HTTP/1.1 599 " (empty reason): give a generic one.
        reason = b"Unknown"
    return b"HTTP/1.1 %d %s\r\n" % (code, reason)


# Index by status code; entries below MIN_STATUS are unused.
STATUS_LINES: Final[tuple[bytes, ...]] = tuple(
    _status_line(code) if code >= MIN_STATUS else b"" for code in range(MAX_STATUS + 1)
)

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
#                          / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TCHAR: Final[frozenset[int]] = frozenset(
    b"!#$%&'*+-.^_`|~0123456789"
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

# RFC 9110 §5.5: a field value must not contain CR, LF or NUL; other CTLs (but HTAB)
# are invalid too. obs-text (0x80-0xFF) is allowed and passes through untouched.
VALUE_FORBIDDEN: Final[frozenset[int]] = frozenset((*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F))

# Framing modes returned by encode_response_head next to the head bytes.
BODY_NONE: Final = -2  # HEAD, 1xx, 204, 304: no body bytes at all (RFC 9110 §6.4.1)
BODY_CHUNKED: Final = -1  # unknown length: Transfer-Encoding: chunked (RFC 9112 §7.1)

LAST_CHUNK: Final = b"0\r\n\r\n"
CONTINUE_RESPONSE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
INTERNAL_ERROR_RESPONSE: Final = (
    b"HTTP/1.1 500 Internal Server Error\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\n\r\n"
    b"Internal Server Error"
)

PARSE_ERROR_PREFIX: Final = "malformed HTTP/1.1 request from aiohttp: "
PARSER_CLOSED_MESSAGE: Final = PARSE_ERROR_PREFIX + "parser is closed after an earlier error"
# RFC 9112 §9.6: nothing but stray CR/LF may follow a request that closes the connection.
DATA_AFTER_CLOSE_MESSAGE: Final = (
    PARSE_ERROR_PREFIX + "data after a request that closes the connection"
)

# Default upper bound on a request head (request line + header fields, RFC 9112 §2.1)
# and on a chunked trailer section (RFC 9112 §7.1.2): RequestParser's max_head_size, the
# connector's max_request_head_size. A parser must not buffer without bound.
MAX_HEAD_SIZE: Final = 64 * 1024

_RAISE_IT: Final = "; raise it with ASGIApplicationConnector(max_request_head_size=...)"


def check_max_head_size(value: object, name: str = "max_head_size") -> int:
    """``value`` if it is a valid head limit (a positive int of bytes), else raise an
    error naming the parameter ``name``."""
    if value.__class__ is bool or not isinstance(value, int):
        raise TypeError(f"{name} must be an int (bytes), got {value!r:.100}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of bytes, got {value}")
    return min(int(value), sys.maxsize)  # no head is larger: the limits behave the same


def head_too_large_message(size: int, limit: int, *, complete: bool) -> str:
    """RequestParseError's text for a request head over the limit: not a malformed
    request, so without PARSE_ERROR_PREFIX. ``size`` is the head's size, or when the
    head is not complete yet the bytes of it received so far (it has more)."""
    return (
        f"request head of {'' if complete else 'more than '}{size} bytes exceeds the "
        f"limit of {limit} bytes (request line and header fields, RFC 9112 §2.1)"
        + _RAISE_IT
    )


def trailers_too_large_message(size: int, limit: int) -> str:
    """RequestParseError's text for a chunked trailer section over the limit (which
    bounds heads too); the section has more than ``size`` bytes."""
    return (
        f"request trailer section of more than {size} bytes exceeds the limit of {limit} "
        f"bytes (the head limit bounds trailer fields too, RFC 9112 §7.1.2)" + _RAISE_IT
    )

# A Content-Length request body at least this large is handed on without a copy: the
# feed itself when it is all body, else a read-only view of it (the parsers' sink
# cuts bytes from it as the app reads). The compiled twin parses such bodies itself
# instead of through httptools, which copies every body piece.
LARGE_BODY: Final = 64 * 1024

# llhttp stores Content-Length and chunk sizes in a uint64 and rejects larger values.
MAX_UINT64: Final = 0xFFFF_FFFF_FFFF_FFFF

# The request methods the compiled twin lets llhttp read as they are: llhttp's HTTP
# method table minus PRI (the HTTP/2 preface, RFC 9113 §3.4). Both twins accept any
# other token too (RFC 9110 §9.1); llhttp then reads a placeholder in its place.
REQUEST_METHODS: Final[frozenset[str]] = frozenset(
    (
        "ACL", "BIND", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET", "HEAD", "LINK",
        "LOCK", "M-SEARCH", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MOVE", "NOTIFY",
        "OPTIONS", "PATCH", "POST", "PROPFIND", "PROPPATCH", "PURGE", "PUT", "QUERY",
        "REBIND", "REPORT", "SEARCH", "SOURCE", "SUBSCRIBE", "TRACE", "UNBIND", "UNLINK",
        "UNLOCK", "UNSUBSCRIBE",
    )
)

# Bytes accepted in an origin-form or absolute-form path and query (RFC 9112 §3.2):
# visible ASCII, a superset of RFC 3986 pchar that llhttp also accepts (e.g. '"<>{|}'),
# minus '#': a fragment is never sent (RFC 9112 §3.2). Non-ASCII must be %-encoded.
TARGET_CHARS: Final[frozenset[int]] = frozenset(range(0x21, 0x7F)) - {ord("#")}

# RFC 3986 §3.2 authority (absolute-form, and CONNECT's authority-form, RFC 9112 §3.2.3):
# unreserved / pct-encoded / sub-delims / ":" / "@" / "[" / "]".
AUTHORITY_CHARS: Final[frozenset[int]] = frozenset(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:@[]"
)


_WS_SCHEMES: Final = {"http": "ws", "https": "wss"}


def websocket_scope(scope: dict[str, Any]) -> dict[str, Any] | None:
    """The ASGI ``websocket`` scope for an upgrade request, or None if it is not one.

    Both parsers call this for a GET with ``Upgrade`` and ``Connection: upgrade``; it is
    a WebSocket opening handshake when ``Upgrade`` lists the ``websocket`` token
    (RFC 6455 §4.2.1), and only then (or for CONNECT) do they switch protocols (RFC 9110
    §7.8). The scope keeps the HTTP keys but ``method`` (ASGI WebSocket scope), maps the
    scheme to ws/wss and lists the offered subprotocols.
    """
    websocket = False
    subprotocols: list[str] = []
    for name, value in scope["headers"]:
        if name == b"upgrade":
            websocket = websocket or any(
                token.strip(b" \t").lower() == b"websocket" for token in value.split(b",")
            )
        elif name == b"sec-websocket-protocol":
            tokens = value.decode("latin-1").replace("\t", " ").split(",")
            subprotocols.extend(token.strip(" ") for token in tokens if token.strip(" "))
    if not websocket:
        return None
    scheme = scope["scheme"]
    return {
        "type": "websocket",
        "asgi": scope["asgi"],
        "http_version": scope["http_version"],
        "scheme": _WS_SCHEMES.get(scheme, scheme),
        "path": scope["path"],
        "raw_path": scope["raw_path"],
        "query_string": scope["query_string"],
        "root_path": scope["root_path"],
        "headers": scope["headers"],
        "client": scope["client"],
        "server": scope["server"],
        "subprotocols": subprotocols,
        "extensions": scope["extensions"],
    }
