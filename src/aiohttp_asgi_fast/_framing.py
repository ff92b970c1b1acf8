"""Constants shared by the compiled (``_parser.pyx``) and pure (``_parser_py.py``) hot paths.

Imports nothing from this package, so both twins can use it without cycles.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Final

__all__ = (
    "ASGI_SPEC_VERSION",
    "ASGI_VERSION",
    "BODY_CHUNKED",
    "BODY_NONE",
    "CONTINUE_RESPONSE",
    "LAST_CHUNK",
    "MAX_STATUS",
    "MIN_STATUS",
    "PARSE_ERROR_PREFIX",
    "STATUS_LINES",
    "TCHAR",
    "VALUE_FORBIDDEN",
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
        # RFC 9112 §4: reason-phrase is optional; an unknown code gets none.
        reason = b""
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

PARSE_ERROR_PREFIX: Final = "malformed HTTP/1.1 request from aiohttp: "
