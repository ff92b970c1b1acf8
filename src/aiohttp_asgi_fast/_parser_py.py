"""Pure-Python hot path: the HTTP/1.1 request parser and the response-head encoder.

The fallback twin of ``_parser.pyx`` (Cython over httptools/llhttp): no httptools,
no compiled code, the same names, signatures, sink calls and exceptions. Where the
compiled twin cannot see the raw bytes (request-line spacing, header-line syntax,
chunk extensions, Connection tokens, keep-alive) this module reproduces llhttp's
strict mode; everything else (request-target forms, Transfer-Encoding, versions)
both twins check with the same stricter rules. tests/test_parity.py holds them to it.
The compiled twin runs this parser itself on a request llhttp cannot read (a head
llhttp rejects, ...) and parses chunked bodies with this module's checks: the error
messages are this module's in both twins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from typing import Any, Final, Protocol, cast
from urllib.parse import unquote

from ._framing import (
    ASGI_SPEC_VERSION,
    ASGI_VERSION,
    AUTHORITY_CHARS,
    BODY_CHUNKED,
    BODY_NONE,
    DATA_AFTER_CLOSE_MESSAGE,
    LARGE_BODY,
    MAX_HEAD_SIZE,
    MAX_STATUS,
    MAX_UINT64,
    MIN_STATUS,
    PARSE_ERROR_PREFIX,
    PARSER_CLOSED_MESSAGE,
    REQUEST_METHODS,
    STATUS_LINES,
    TARGET_CHARS,
    TCHAR,
    VALUE_FORBIDDEN,
    check_max_head_size,
    head_too_large_message,
    trailers_too_large_message,
    websocket_scope,
)
from .exceptions import ASGIProtocolError, RequestParseError

__all__ = ("RequestParser", "encode_chunk", "encode_response_head", "unmask")


class _Sink(Protocol):
    def on_request(
        self, scope: dict[str, Any], expect_continue: bool, keep_alive: bool, /
    ) -> None: ...
    def on_body(self, body: bytes | memoryview, /) -> None: ...
    def on_request_complete(self) -> None: ...
    def on_upgrade(self, data: bytes, /) -> None: ...


# bytes.translate(None, ALLOWED) leaves exactly the disallowed bytes: a C-speed check.
_TCHAR_BYTES: Final = bytes(sorted(TCHAR))
_TARGET_BYTES: Final = bytes(sorted(TARGET_CHARS))
_AUTHORITY_BYTES: Final = bytes(sorted(AUTHORITY_CHARS))
_HEX_BYTES: Final = b"0123456789abcdefABCDEF"
_VALUE_BAD: Final = re.compile(
    b"[" + b"".join(b"\\x%02x" % c for c in sorted(VALUE_FORBIDDEN)) + b"]"
).search

# RFC 9112 §7.1.1 chunk-ext as llhttp checks it: ";" may be followed by an empty name
# but not by SP or the end; a value is token chars then an optional quoted-string.
_T: Final = b"".join(re.escape(bytes((c,))) for c in sorted(TCHAR))
_CHUNK_EXT: Final = re.compile(
    rb'(?:;(?![ ]|\Z)[' + _T + rb']*(?:=[' + _T + rb']*'
    rb'(?:"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*")?)?)*'
).fullmatch

# The common methods' str objects, shared by all scopes (any other token is decoded).
_METHODS: Final = {m.encode("ascii"): m for m in REQUEST_METHODS}
_URL_BYTES: Final = bytes(range(0x21, 0x7F))  # llhttp strict mode's URL bytes
# HTTP-version -> (scope's http_version, methods allowed with it or None for any). llhttp
# also takes RTSP/1.x after GET, POST or OPTIONS and ICE/1.x after SOURCE, and httptools
# does not say which protocol was named: accept them too so that the twins agree.
_RTSP, _ICE = frozenset(("GET", "POST", "OPTIONS")), frozenset(("SOURCE",))
_VERSIONS: Final[dict[bytes, tuple[str, frozenset[str] | None]]] = {
    b"HTTP/1.1": ("1.1", None), b"HTTP/1.0": ("1.0", None), b"RTSP/1.1": ("1.1", _RTSP),
    b"RTSP/1.0": ("1.0", _RTSP), b"ICE/1.1": ("1.1", _ICE), b"ICE/1.0": ("1.0", _ICE),
}

_CONTENT_LENGTH: Final = b"content-length"
_TRANSFER_ENCODING: Final = b"transfer-encoding"
_SPECIAL: Final = frozenset(
    (_CONTENT_LENGTH, _TRANSFER_ENCODING, b"connection", b"proxy-connection", b"upgrade", b"expect")
)

# Connection option flags (RFC 9110 §7.6.1); llhttp also honours Proxy-Connection.
_F_CLOSE, _F_KEEP_ALIVE, _F_UPGRADE = 1, 2, 4
_CONNECTION_OPTIONS: Final = {b"close": 1, b"keep-alive": 2, b"upgrade": 4}

_TE_NONE, _TE_OTHER, _TE_CHUNKED = range(3)  # no Transfer-Encoding, not chunked, chunked

# Parser states: before a request line, a request head split across feeds (buffered),
# a Content-Length body, the chunked body's parts (_CHUNK_END: the CRLF after data),
# after a request that ends the connection, after an upgrade, after an error.
_START, _HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS = range(7)
_CLOSED, _UPGRADED, _DEAD = range(7, 10)


def _error(detail: str) -> RequestParseError:
    return RequestParseError(PARSE_ERROR_PREFIX + detail)


def _request_line(line: bytes) -> tuple[str, bytes, str]:
    """Split ``method SP request-target SP HTTP-version`` (RFC 9112 §3)."""
    # llhttp (the compiled twin) accepts several SPs between the parts; so do we.
    method_b, sp, rest = line.partition(b" ")
    method = _METHODS.get(method_b)
    if method is None or not sp:
        # RFC 9110 §9.1: a method is any token, case-sensitive ("get" is not GET).
        if not sp or not method_b or method_b.translate(None, _TCHAR_BYTES):
            raise _error(f"bad method in request line {line!r}")
        method = method_b.decode("ascii")
    target, sp, proto = rest.lstrip(b" ").partition(b" ")
    version, methods = _VERSIONS.get(proto.lstrip(b" "), ("", None))
    if not version or (methods is not None and method not in methods):
        raise _error(f"bad HTTP version in request line {line!r}")
    return method, target, version


def _split_target(method: str, target: bytes) -> tuple[bytes, bytes]:
    """Return ``(raw_path, query_string)`` of a request-target (RFC 9112 §3.2)."""
    if method == "CONNECT":  # authority-form only (RFC 9112 §3.2.3)
        if target and not target.translate(None, _AUTHORITY_BYTES) and target.count(b"@") < 2:
            return target, b""
    elif target[:1] == b"/":  # origin-form (RFC 9112 §3.2.1)
        if not target.translate(None, _TARGET_BYTES):
            raw_path, _, query = target.partition(b"?")
            return raw_path, query
    elif target == b"*":  # asterisk-form, OPTIONS only (RFC 9112 §3.2.4)
        if method == "OPTIONS":
            return target, b""
    else:  # absolute-form (RFC 9112 §3.2.2): scheme "://" authority path-abempty ["?" query]
        scheme, sep, rest = target.partition(b"://")
        if sep and scheme.isalpha():
            cut = len(rest)
            for delimiter in (b"/", b"?"):
                i = rest.find(delimiter)
                if 0 <= i < cut:
                    cut = i
            authority = rest[:cut]
            tail = rest[cut:]
            if (
                authority
                and not authority.translate(None, _AUTHORITY_BYTES)
                and authority.count(b"@") < 2  # userinfo "@" host; llhttp rejects "@@"
                and not tail.translate(None, _TARGET_BYTES)
            ):
                raw_path, _, query = tail.partition(b"?")
                return raw_path or b"/", query
    raise _error(f"bad request-target {target!r} for {method}")


def _transfer_coding(value: bytes, te: int) -> int:
    """Fold one Transfer-Encoding field into the state so far (RFC 9112 §6.1)."""
    # chunked must be the final coding and applied once; llhttp rejects the same and,
    # like it, only trailing SP (not HTAB) may follow the final "chunked".
    if te == _TE_CHUNKED or not value:
        raise _error(f"bad Transfer-Encoding {value!r}")
    codings = value.lower().split(b",")
    final = codings.pop()
    for coding in codings:
        if coding.strip(b" \t") == b"chunked":
            raise _error(f"Transfer-Encoding {value!r}: chunked is not the final coding")
    return _TE_CHUNKED if final.lstrip(b" \t").rstrip(b" ") == b"chunked" else _TE_OTHER


def _connection_flags(value: bytes) -> int:
    flags = 0
    for option in value.lower().split(b","):
        flags |= _CONNECTION_OPTIONS.get(option.strip(b" \t"), 0)
    return flags


def _check_field_line(line: bytes) -> tuple[bytes, bytes]:
    """Validate one ``field-name ":" OWS field-value`` line (RFC 9112 §5)."""
    name, sep, value = line.partition(b":")
    value = value.lstrip(b" \t")
    if not sep or not name or name.translate(None, _TCHAR_BYTES) or _VALUE_BAD(value):
        raise _error(f"bad header line {line!r}")
    return name.lower(), value


def _check_crlf(partial: bytes) -> bytes:
    """``partial`` (a line so far) without a final CR; a CR or LF elsewhere is an error."""
    if partial[-1:] == b"\r":
        partial = partial[:-1]
    if b"\r" in partial or b"\n" in partial:
        raise _error(f"bare CR or LF in {partial!r}")
    return partial


def _check_request_line_prefix(line: bytes) -> None:
    """Reject a (partial) request line: a method that is no token, a bad URL byte."""
    line = _check_crlf(line)
    method, sp, rest = line.partition(b" ")
    if method.translate(None, _TCHAR_BYTES) or (sp and not method):
        raise _error(f"bad method in request line {line!r}")
    if rest.lstrip(b" ").partition(b" ")[0].translate(None, _URL_BYTES):
        raise _error(f"bad byte in request-target {line!r}")


def _check_field_prefix(partial: bytes) -> bytes:
    """Reject a partial field line llhttp rejects: bad name or value byte; return it."""
    if len(partial) <= 4096:  # only an early check: keep byte-by-byte feeds linear
        name, sep, value = _check_crlf(partial).partition(b":")
        if name.translate(None, _TCHAR_BYTES) or (sep and (not name or _VALUE_BAD(value))):
            raise _error(f"bad header line {partial!r}")
    return partial


def _check_chunk_size_prefix(partial: bytes) -> bytes:
    """Reject a partial chunk-size line llhttp rejects: bad size byte, CTL; return it."""
    digits, semicolon, ext = _check_crlf(partial).partition(b";")
    if digits.translate(None, _HEX_BYTES) or (semicolon and not digits) or _VALUE_BAD(ext):
        raise _error(f"bad chunk-size line {partial!r}")
    return partial


def _partial_chunk_size_line(partial: bytes, limit: int) -> bytes:
    """Check a chunk-size line that goes on in the next feed; return it."""
    _check_chunk_size_prefix(partial)
    if len(partial) > limit:
        raise _error(f"chunk-size line longer than {limit} bytes")
    return partial


def _chunk_end_error() -> RequestParseError:
    return _error("chunk data not followed by CRLF")


def _check_trailer_size(size: int, limit: int) -> None:
    """``size`` bytes of the trailer section so far (there are more): within the limit?"""
    if size > limit:
        raise RequestParseError(trailers_too_large_message(size, limit))


def _partial_trailer_line(partial: bytes, size: int, limit: int) -> bytes:
    """Check a trailer line that goes on in the next feed, after ``size`` bytes of
    trailer section; return it."""
    _check_field_prefix(partial)
    # (a CR may begin the empty line that ends the section: not counted)
    _check_trailer_size(size + len(partial) - (partial[-1:] == b"\r"), limit)
    return partial


def _trailer_field(line: bytes) -> int:
    """Check one trailer field line; return its Connection option flags."""
    name, value = _check_field_line(line)
    # RFC 9110 §6.5.1: framing fields are not allowed in trailers (llhttp agrees);
    # ASGI has no request trailers, but llhttp honours Connection in them.
    if name in (_CONTENT_LENGTH, _TRANSFER_ENCODING):
        raise _error(f"{name.decode()} in the trailer section")
    if name in (b"connection", b"proxy-connection"):
        return _connection_flags(value)
    return 0


def _chunk_size(line: bytes) -> int:
    """Parse ``chunk-size [ chunk-ext ]`` (RFC 9112 §7.1)."""
    size, semicolon, ext = line.partition(b";")
    if not size or size.translate(None, _HEX_BYTES) or (semicolon and not _CHUNK_EXT(b";" + ext)):
        raise _error(f"bad chunk-size line {line!r}")
    n = int(size, 16)
    if n > MAX_UINT64:
        raise _error(f"chunk size {size!r} overflows")
    return n


class RequestParser:
    """Parse the request bytes aiohttp writes on one in-memory connection."""

    __slots__ = (
        "_buffer", "_checked", "_client", "_connection", "_http11", "_max_head", "_on_body",
        "_on_request", "_on_request_complete", "_on_upgrade", "_pending", "_remaining",
        "_root_path", "_scheme", "_server", "_state", "_trailer_size",
    )

    def __init__(
        self, sink: _Sink, *, scheme: str, server: tuple[str, int | None] | None,
        client: tuple[str, int] | None, root_path: str, max_head_size: int = MAX_HEAD_SIZE,
    ) -> None:
        # The largest request head, and chunked trailer section, parsed (bytes).
        self._max_head = check_max_head_size(max_head_size)
        self._on_request = sink.on_request
        self._on_body = sink.on_body
        self._on_request_complete = sink.on_request_complete
        self._on_upgrade = sink.on_upgrade
        self._scheme, self._server = scheme, server
        self._client, self._root_path = client, root_path
        self._state = _START
        self._buffer = bytearray()  # a request head split across feeds
        self._checked = 0  # how much of _buffer has been validated line by line
        self._pending = b""  # a partial chunk-size/trailer line, or the CR of a chunk's CRLF
        self._remaining = self._connection = self._trailer_size = 0
        self._http11 = True

    def feed_data(self, data: bytes | bytearray | memoryview) -> None:
        """Parse ``data``, calling the sink; any exception leaves the parser dead."""
        state = self._state
        if state == _DEAD:
            raise RequestParseError(PARSER_CLOSED_MESSAGE)
        try:
            if state == _UPGRADED:
                self._on_upgrade(bytes(data))
            else:
                self._feed(data if isinstance(data, bytes) else bytes(data))
        except BaseException:
            self._state = _DEAD
            raise

    # -- for the compiled twin: it hands a fresh parser the stream at a request's
    # start and takes it back once this one is idle.

    def _idle(self) -> bool:
        """Whether the parser is between requests with nothing buffered."""
        return self._state == _START

    def _feed(self, data: bytes) -> None:
        if self._pending:
            data = self._pending + data
            self._pending = b""
        pos = 0
        end = len(data)
        while pos < end:
            state = self._state
            if state in (_BODY, _CHUNK_DATA):
                remaining = self._remaining
                size = min(end - pos, remaining)
                self._remaining = remaining - size
                if state == _BODY and size >= LARGE_BODY and size < end:
                    # A large Content-Length body is not copied here: a read-only view
                    # of this (immutable) feed, cut into bytes as the app reads it.
                    piece: bytes | memoryview = memoryview(data)[pos : pos + size]
                else:
                    piece = data[pos : pos + size]  # the feed itself when it is all body
                pos += size
                if remaining > size:
                    self._on_body(piece)
                    return
                if state == _CHUNK_DATA:
                    self._state = _CHUNK_END
                    self._on_body(piece)
                else:
                    self._on_body(piece)
                    self._message_done()
            elif state == _START:
                if data[pos] in b"\r\n":  # RFC 9112 §2.2: skip empty lines before a request
                    pos += 1
                    continue
                term = data.find(b"\r\n\r\n", pos)
                if term < 0:
                    self._state = _HEAD
                    self._buffer = bytearray(data[pos:])
                    self._checked = 0
                    self._check_partial_head(0)
                    return
                pos = self._on_head(data, pos, term)
            elif state == _HEAD:
                buffer = self._buffer
                old = len(buffer)
                buffer += data  # only ever the first state of a feed: pos == 0
                term = buffer.find(b"\r\n\r\n", max(old - 3, 0))
                if term < 0:
                    self._check_partial_head(old)
                    return
                data = bytes(buffer)
                end = len(data)
                self._buffer = bytearray()
                pos = self._on_head(data, 0, term)
            elif state == _CHUNK_SIZE:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    self._pending = _partial_chunk_size_line(data[pos:], self._max_head)
                    return
                size = _chunk_size(data[pos:eol])
                pos = eol + 2
                if size:
                    self._state = _CHUNK_DATA
                    self._remaining = size
                else:
                    self._state = _TRAILERS
                    self._trailer_size = 0
            elif state == _CHUNK_END:
                if data[pos] != 13 or (pos + 1 < end and data[pos + 1] != 10):
                    raise _chunk_end_error()
                if pos + 1 == end:
                    self._pending = b"\r"
                    return
                pos += 2
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    self._pending = _partial_trailer_line(
                        data[pos:], self._trailer_size, self._max_head
                    )
                    return
                line = data[pos:eol]
                pos = eol + 2
                if line:
                    self._trailer(line)
                else:
                    self._message_done()
            else:  # _CLOSED
                if data[pos] not in b"\r\n":
                    raise RequestParseError(DATA_AFTER_CLOSE_MESSAGE)
                pos += 1

    def _on_head(self, data: bytes, start: int, term: int) -> int:
        """Handle the head ``data[start:term]`` (its CRLFCRLF follows); return the new pos."""
        size = term + 4 - start
        if size > self._max_head:
            raise RequestParseError(head_too_large_message(size, self._max_head, complete=True))
        lines = data[start:term].split(b"\r\n")
        method, target, version = _request_line(lines[0])
        headers: list[tuple[bytes, bytes]] = []
        names: list[bytes] = []
        values: list[bytes] = []
        connection = 0
        upgrade_field = expect_continue = False
        length = -1
        te = _TE_NONE
        for line in islice(lines, 1, None):
            name, sep, value = line.partition(b":")
            if not sep:
                raise _error(f"header line without a colon {line!r}")
            name = name.lower()
            value = value.lstrip(b" \t")  # RFC 9112 §5.1: OWS before the value is not part of it
            headers.append((name, value))
            names.append(name)
            values.append(value)
            if name in _SPECIAL:
                if name == _CONTENT_LENGTH:
                    # RFC 9112 §6.3: a single 1*DIGIT value (llhttp allows trailing OWS),
                    # never next to Transfer-Encoding.
                    digits = value.rstrip(b" \t")
                    if length >= 0 or te or not digits.isdigit():
                        raise _error(f"bad or repeated Content-Length {value!r}")
                    length = int(digits)
                    if length > MAX_UINT64:
                        raise _error(f"Content-Length {value!r} overflows")
                elif name == _TRANSFER_ENCODING:
                    if length >= 0:
                        raise _error("both Content-Length and Transfer-Encoding")
                    te = _transfer_coding(value, te)
                elif name == b"upgrade":
                    upgrade_field = upgrade_field or bool(value)
                elif name == b"expect":  # RFC 9110 §10.1.1; trailing OWS is not the value
                    expect_continue |= value.rstrip(b" \t").lower() == b"100-continue"
                else:  # connection, proxy-connection
                    connection |= _connection_flags(value)
        # RFC 9110 §5.1, §5.5: names are tokens, values free of CTLs (checked in one go).
        if b"" in names or b"".join(names).translate(None, _TCHAR_BYTES):
            bad = next(n for n in names if not n or n.translate(None, _TCHAR_BYTES))
            raise _error(f"bad header name {bad!r}")
        if _VALUE_BAD(b"".join(values)):
            name, value = next((n, v) for n, v in headers if _VALUE_BAD(v))
            raise _error(f"control character in the value of header {name!r}: {value!r}")
        if te == _TE_OTHER:  # RFC 9112 §6.3 (4): the body length cannot be determined
            raise _error("Transfer-Encoding whose final coding is not chunked")
        raw_path, query = _split_target(method, target)
        scope = {
            "type": "http",
            "asgi": {"version": ASGI_VERSION, "spec_version": ASGI_SPEC_VERSION},
            "http_version": version,
            "method": method,
            "scheme": self._scheme,
            "path": unquote(raw_path.decode()) if b"%" in raw_path else raw_path.decode(),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": self._root_path,
            "headers": headers,
            "client": self._client,
            "server": self._server,
            "extensions": {},
        }
        self._connection = connection
        self._http11 = http11 = version == "1.1"
        # llhttp_should_keep_alive() as of the head (RFC 9112 §9.3): HTTP/1.1 unless a
        # "close" option, HTTP/1.0 only with "keep-alive"; trailers may still add "close".
        keep_alive = not connection & _F_CLOSE if http11 else bool(connection & _F_KEEP_ALIVE)
        pos = term + 4
        # RFC 9110 §7.8: the server picks whether to switch protocols, and the connector
        # only ever switches for CONNECT (RFC 9110 §9.3.6) and a WebSocket opening
        # handshake (RFC 6455 §4.1: a GET with "Connection: upgrade" whose Upgrade lists
        # websocket). The rest of the stream then belongs to the new protocol, right after
        # the head. Any other upgrade request is an HTTP/1.1 request like any other.
        switch = method == "CONNECT"
        if method == "GET" and upgrade_field and connection & _F_UPGRADE:
            ws_scope = websocket_scope(scope)
            if ws_scope is not None:
                scope, expect_continue, switch = ws_scope, False, True
        if switch:
            self._state = _UPGRADED
            self._on_request(scope, expect_continue, keep_alive)
            self._on_request_complete()
            self._on_upgrade(data[pos:])
            return len(data)
        if te:
            self._state = _CHUNK_SIZE
            self._on_request(scope, expect_continue, keep_alive)
        elif length > 0:
            self._state = _BODY
            self._remaining = length
            self._on_request(scope, expect_continue, keep_alive)
        else:
            self._on_request(scope, expect_continue, keep_alive)
            self._message_done()
        return pos

    def _message_done(self) -> None:
        # llhttp_should_keep_alive(): HTTP/1.1 unless "close", HTTP/1.0 only if "keep-alive"
        # (RFC 9112 §9.3); afterwards only stray CR/LF may follow.
        if self._http11:
            keep_alive = not self._connection & _F_CLOSE
        else:
            keep_alive = bool(self._connection & _F_KEEP_ALIVE)
        self._state = _START if keep_alive else _CLOSED
        self._on_request_complete()

    def _check_partial_head(self, old: int) -> None:
        """Reject a head split across feeds early where llhttp surely rejects it too.

        Only llhttp's own rules apply here: the stricter ones (versions, request-target
        forms, Transfer-Encoding) wait for the whole head, as in the compiled twin.
        """
        buffer = self._buffer
        if len(buffer) > self._max_head:  # the head has more than this
            raise RequestParseError(
                head_too_large_message(len(buffer), self._max_head, complete=False)
            )
        checked = self._checked
        last = buffer.rfind(b"\r\n", max(checked, old - 1))
        if last >= 0:
            lines = bytes(buffer[checked:last]).split(b"\r\n")
            if checked == 0:
                _check_request_line_prefix(lines.pop(0))
            for line in lines:
                _check_field_line(line)
            checked = self._checked = last + 2
        partial = bytes(buffer[checked:])
        if checked:
            _check_field_prefix(partial)
        else:
            _check_request_line_prefix(partial)

    def _trailer(self, line: bytes) -> None:
        self._trailer_size += len(line) + 2
        _check_trailer_size(self._trailer_size, self._max_head)
        self._connection |= _trailer_field(line)


def _status_error(status: object) -> ASGIProtocolError:
    return ASGIProtocolError(
        f"http.response.start status must be an int between {MIN_STATUS} and "
        f"{MAX_STATUS}, got {status!r}"
    )


def _header_error(names: list[bytes], values: list[bytes]) -> ASGIProtocolError:
    for name, value in zip(names, values, strict=True):
        if not name or name.translate(None, _TCHAR_BYTES):
            return ASGIProtocolError(
                f"invalid response header name {name!r}: not an RFC 9110 §5.6.2 token"
            )
        if _VALUE_BAD(value):
            return ASGIProtocolError(
                f"invalid value for response header {name!r}: CR, LF, NUL and other "
                f"control characters are not allowed (RFC 9110 §5.5)"
            )
    raise AssertionError("no bad header found")  # pragma: no cover


def _content_length(lengths: list[bytes]) -> int:
    """The value of the app's Content-Length field(s): equal 1*DIGIT (RFC 9110 §8.6)."""
    first = -1
    for value in lengths:
        digits = value.lstrip(b"0")
        if not value.isdigit() or len(digits) > 20 or int(digits or b"0") > MAX_UINT64:
            raise ASGIProtocolError(
                f"invalid content-length {value!r}: must be ASCII digits "
                f"(RFC 9110 §8.6) no larger than 2**64-1"
            )
        n = int(digits or b"0")
        if first < 0:
            first = n
        elif n != first:
            raise ASGIProtocolError(
                f"conflicting content-length headers {lengths[0]!r} and {value!r} "
                f"(RFC 9110 §8.6)"
            )
    return first


def encode_response_head(
    status: object, headers: object, *, head_request: bool, body_length: int
) -> tuple[bytes, int]:
    """Validate an ASGI ``http.response.start``; return ``(head, framing)``.

    ``framing`` is the Content-Length, BODY_CHUNKED or BODY_NONE. Errors are checked
    in this order: status, each header's shape and types, every header's name and
    value bytes, then the content-length values.
    """
    if status.__class__ is bool or not isinstance(status, int) or not (
        MIN_STATUS <= status <= MAX_STATUS
    ):
        raise _status_error(status)
    code = int(status)
    try:
        items = iter(cast(Iterable[Any], headers))
    except TypeError:
        raise ASGIProtocolError(
            f"http.response.start 'headers' must be an iterable of [name, value] pairs, "
            f"got {headers!r}"
        ) from None
    # RFC 9110 §8.6: no Content-Length in a 1xx or 204 response.
    drop_length = code < 200 or code == 204
    parts = [STATUS_LINES[code]]
    names: list[bytes] = []
    values: list[bytes] = []
    lengths: list[bytes] = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ASGIProtocolError(
                f"http.response.start header must be a [name, value] pair, got {item!r}"
            )
        name, value = item
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise ASGIProtocolError(
                f"http.response.start header names and values must be bytes, "
                f"got {name!r}: {value!r}"
            )
        names.append(name)
        values.append(value)
        size = len(name)
        if size == 14 or size == 17:
            lower = name.lower()
            if lower == _CONTENT_LENGTH:
                if not lengths and not drop_length:
                    parts += (name, b": ", value, b"\r\n")
                lengths.append(value)
                continue
            if lower == _TRANSFER_ENCODING:  # ASGI: framing is the server's business
                continue
        parts += (name, b": ", value, b"\r\n")
    if (
        b"" in names
        or b"".join(names).translate(None, _TCHAR_BYTES)
        or _VALUE_BAD(b"".join(values))
    ):
        raise _header_error(names, values)
    framing = _content_length(lengths) if lengths else -1
    if head_request or drop_length or code == 304:  # RFC 9110 §6.4.1: no content
        framing = BODY_NONE
    elif framing < 0:
        if body_length >= 0:
            parts.append(b"content-length: %d\r\n" % body_length)
            framing = body_length
        else:  # RFC 9112 §7.1
            parts.append(b"transfer-encoding: chunked\r\n")
            framing = BODY_CHUNKED
    parts.append(b"\r\n")
    return b"".join(parts), framing


def encode_chunk(body: bytes | bytearray | memoryview) -> bytes:
    """Frame ``body`` as one chunk (RFC 9112 §7.1); b"" for an empty body."""
    if isinstance(body, memoryview):
        size = body.nbytes
    elif isinstance(body, (bytes, bytearray)):
        size = len(body)
    else:
        raise TypeError(
            f"encode_chunk() needs bytes, bytearray or memoryview, got {type(body).__name__}"
        )
    if not size:
        return b""
    return b"".join((b"%x\r\n" % size, body, b"\r\n"))


def unmask(mask: bytes, data: bytes, start: int, end: int) -> bytes:
    """``data[start:end]`` XORed with the 4-byte WebSocket ``mask`` (RFC 6455 §5.3)."""
    if not isinstance(mask, bytes) or not isinstance(data, bytes):
        raise TypeError("unmask() needs bytes")
    if not 0 <= start <= end <= len(data):
        raise ValueError(f"unmask() range {start}:{end} is outside the data")
    if len(mask) != 4:
        raise ValueError(f"a WebSocket mask is 4 bytes, got {len(mask)}")
    n = end - start
    if not n:
        return b""
    data = data[start:end]
    # One big-integer XOR runs in C; octet i meets mask[i % 4].
    key = (mask * ((n >> 2) + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")
