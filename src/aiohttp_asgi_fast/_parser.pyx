# cython: language_level=3, auto_pickle=False
"""Compiled hot path: the HTTP/1.1 request parser and the response-head encoder.

Cython over httptools.HttpRequestParser (llhttp in strict mode); the twin of the
pure-Python ``_parser_py`` with the same names, signatures, sink calls and
exceptions. llhttp reads the common requests' heads and Content-Length bodies; this
module adds the checks llhttp leaves to its caller (HTTP/1.0 or 1.1 only,
request-target forms, Transfer-Encoding) before the sink hears of a request, and
encodes response heads with C lookup tables. It parses chunked bodies itself with
the pure twin's checks, and a head llhttp (or those checks) rejects is re-read by the
pure twin's parser from its first byte: errors and their messages are the pure twin's
by construction (see RequestParser).
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytearray cimport PyByteArray_Check
from cpython.bytes cimport (
    PyBytes_AS_STRING,
    PyBytes_Check,
    PyBytes_FromStringAndSize,
    PyBytes_GET_SIZE,
)
from cpython.exc cimport PyErr_Restore
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from libc.stdio cimport snprintf
from libc.string cimport memchr, memcmp, memcpy

from urllib.parse import unquote

from httptools import HttpRequestParser
from httptools.parser.errors import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
)

from ._framing import (
    ASGI_SPEC_VERSION,
    ASGI_VERSION,
    AUTHORITY_CHARS,
    BODY_CHUNKED,
    BODY_NONE,
    LARGE_BODY,
    MAX_HEAD_SIZE,
    MAX_STATUS,
    MAX_UINT64,
    MIN_STATUS,
    DATA_AFTER_CLOSE_MESSAGE,
    PARSE_ERROR_PREFIX,
    PARSER_CLOSED_MESSAGE,
    REQUEST_METHODS,
    STATUS_LINES,
    TARGET_CHARS,
    TCHAR,
    VALUE_FORBIDDEN,
    check_max_head_size,
    websocket_scope,
)
from ._parser_py import _F_CLOSE as _PY_F_CLOSE, _F_KEEP_ALIVE as _PY_F_KEEP_ALIVE
from ._parser_py import RequestParser as _PureRequestParser
from ._parser_py import (
    _check_trailer_size as _py_check_trailer_size,
    _chunk_end_error as _py_chunk_end_error,
    _chunk_size as _py_chunk_size,
    _partial_chunk_size_line as _py_partial_chunk_size_line,
    _partial_trailer_line as _py_partial_trailer_line,
    _trailer_field as _py_trailer_field,
)
from .exceptions import ASGIProtocolError, RequestParseError

cdef extern from "Python.h":
    bint PyMemoryView_Check(object obj)

__all__ = ("RequestParser", "encode_chunk", "encode_response_head")

# C lookup tables, filled once from the shared _framing sets.
cdef unsigned char _TCHAR_T[256]
cdef unsigned char _VALUE_BAD_T[256]
cdef unsigned char _TARGET_T[256]
cdef unsigned char _LOWER_T[256]
cdef signed char _HEX_T[256]  # a hex digit's value, else -1


cdef void _fill_tables():
    cdef int c
    for c in range(256):
        _TCHAR_T[c] = c in TCHAR
        _VALUE_BAD_T[c] = c in VALUE_FORBIDDEN
        _TARGET_T[c] = c in TARGET_CHARS
        _LOWER_T[c] = c + 32 if 65 <= c <= 90 else c
        _HEX_T[c] = int(chr(c), 16) if chr(c) in "0123456789abcdefABCDEF" else -1


_fill_tables()

# Module globals bound once.
cdef object _unquote = unquote
cdef str _ASGI_VERSION = ASGI_VERSION
cdef str _ASGI_SPEC_VERSION = ASGI_SPEC_VERSION
cdef bytes _AUTHORITY_BYTES = bytes(sorted(AUTHORITY_CHARS))
cdef bytes _TARGET_BYTES = bytes(sorted(TARGET_CHARS))
cdef tuple _STATUS_LINES = STATUS_LINES
cdef Py_ssize_t _LARGE_BODY = LARGE_BODY
cdef Py_ssize_t _MIN_STATUS = MIN_STATUS
cdef Py_ssize_t _MAX_STATUS = MAX_STATUS
cdef dict _METHODS = {m.encode("ascii"): m for m in REQUEST_METHODS}
cdef str _V11 = "1.1"
cdef str _GET = _METHODS[b"GET"]
cdef str _POST = _METHODS[b"POST"]
cdef str _CONNECT = _METHODS[b"CONNECT"]
# What llhttp reads in place of a method it does not know: one without a special
# meaning in requests (unlike CONNECT, HEAD, OPTIONS, PRI), for HTTP/1.x only (not
# RTSP or ICE), as the pure twin allows other tokens.
cdef bytes _PLACEHOLDER = b"PUT"
cdef object _websocket_scope = websocket_scope
cdef str _V10 = "1.0"
cdef int _F_CLOSE = _PY_F_CLOSE
cdef int _F_KEEP_ALIVE = _PY_F_KEEP_ALIVE
cdef dict _SCOPE_TEMPLATE = dict.fromkeys(
    ("type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string",
     "root_path", "headers", "client", "server", "extensions")
)
_SCOPE_TEMPLATE["type"] = "http"

cdef enum:
    _TE_NONE = 0
    _TE_OTHER = 1
    _TE_CHUNKED = 2

cdef enum:  # RequestParser states
    _PARSING = 0  # llhttp reads the requests
    _UPGRADED = 1
    _DEAD = 2
    _CLOSED = 3  # after a request that closes the connection (RFC 9112 §9.6)
    _DELEGATED = 4  # the pure twin's parser reads them (see RequestParser)
    _CHUNKED = 5  # in a chunked body, parsed here

cdef enum:  # what an exception raised in a callback means
    _E_SINK = 0  # the sink's (or the unknown): re-raised unchanged
    _E_HEAD = 1  # llhttp or a check here rejected the head
    _E_NEXT = 2  # a second request began in this feed: stop at it
    _E_BODY = 3  # the body is parsed here (chunked; after an upgrade head we refuse)


class _Stop(Exception):
    """Raised in a callback to stop llhttp; never leaves this module."""


cdef inline object _error(str detail):
    return RequestParseError(PARSE_ERROR_PREFIX + detail)


cdef int _reraise(object exc) except -1:
    """Raise ``exc`` as is: no implicit chaining onto whatever is being handled."""
    cdef object exc_type = type(exc)
    cdef object tb = exc.__traceback__
    Py_INCREF(exc_type)
    Py_INCREF(exc)
    if tb is None:
        PyErr_Restore(<PyObject*>exc_type, <PyObject*>exc, NULL)
    else:
        Py_INCREF(tb)
        PyErr_Restore(<PyObject*>exc_type, <PyObject*>exc, <PyObject*>tb)
    return -1


cdef bytes _lower(bytes name):
    """ASCII-lowercase ``name``; the same object when it has no upper-case byte."""
    cdef Py_ssize_t i, j, n = PyBytes_GET_SIZE(name)
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(name)
    cdef unsigned char* d
    for i in range(n):
        if 65 <= s[i] <= 90:
            break
    else:
        return name
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    d = <unsigned char*>PyBytes_AS_STRING(out)
    memcpy(d, s, i)
    for j in range(i, n):
        d[j] = _LOWER_T[s[j]]
    return out


cdef bint _is_lower(bytes name, const char* lower, Py_ssize_t n):
    """Whether ``name`` equals the lower-case ASCII ``lower`` of length ``n``, any case."""
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(name)
    cdef Py_ssize_t i
    if PyBytes_GET_SIZE(name) != n:
        return False
    for i in range(n):
        if _LOWER_T[s[i]] != <unsigned char>lower[i]:
            return False
    return True


cdef int _transfer_coding(bytes value, int te) except -1:
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


cdef str _version_hint(const char* s, Py_ssize_t n):
    """The version of the request line that begins ``s`` if it ends within ``n`` bytes
    (llhttp checks it): spares httptools' get_http_version(), a str.format."""
    cdef const char* lf = <const char*>memchr(s, b"\n", n)
    cdef Py_ssize_t end = lf - s if lf != NULL else 0  # "HTTP/1.x" CR LF ends the line
    if end < 10 or s[end - 1] != b"\r" or memcmp(s + end - 10, b" HTTP/1.", 8):
        return None
    if s[end - 2] == b"1":
        return _V11
    if s[end - 2] == b"0":
        return _V10
    return None


cdef tuple _split_target(str method, bytes target):
    """Return ``(raw_path, query_string)`` of a request-target (RFC 9112 §3.2)."""
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(target)
    cdef Py_ssize_t i, q = -1, n = PyBytes_GET_SIZE(target)
    if method == "CONNECT":  # authority-form only (RFC 9112 §3.2.3)
        if n and not target.translate(None, _AUTHORITY_BYTES) and target.count(b"@") < 2:
            return target, b""
    elif n and s[0] == b"/":  # origin-form (RFC 9112 §3.2.1)
        for i in range(n):
            if not _TARGET_T[s[i]]:
                break
            if s[i] == b"?" and q < 0:
                q = i
        else:
            if q < 0:
                return target, b""
            return target[:q], target[q + 1:]
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


@cython.final
cdef class _Callbacks:
    """The httptools protocol: holds no reference to the parser that calls it."""

    cdef object hp  # the httptools parser, only while RequestParser._feed_httptools runs
    cdef object error  # what a callback raised ...
    cdef int error_kind  # ... and what it means (_E_*)
    cdef object sink_on_request, sink_on_body, sink_on_request_complete
    cdef object scheme, server, client, root_path
    cdef bytes url
    cdef list headers
    cdef bint at_start  # between requests: the next byte llhttp gets begins one
    cdef bint in_body  # the head is done
    cdef bint expect_continue
    cdef bint connection_field  # a Connection or Proxy-Connection field was seen ...
    cdef bint connection_other  # ... with a value other than exactly "keep-alive"
    cdef bint upgrade_field  # an Upgrade field was seen
    # The request's method (read at its start) and its version when its request line
    # was whole in the feed it began in; None: ask httptools.
    cdef str method_hint, version_hint
    cdef int te
    cdef object content_length  # this request's Content-Length (llhttp checked it), or None
    cdef Py_ssize_t body_seen  # body bytes httptools passed on for this request
    cdef Py_ssize_t completed  # requests llhttp completed during the current feed
    # The last head's Content-Length (or None), framing, version and keep-alive.
    cdef object length
    cdef bint chunked, http11, keep_alive

    def on_url(self, bytes url):
        try:
            if self.completed:  # a second request began in this feed: stop at it
                self.error_kind = _E_NEXT
                raise _Stop()
            self.url = url if self.url is None else self.url + url
        except BaseException as exc:
            self.error = exc
            raise

    def on_header(self, bytes name, bytes value):
        cdef Py_ssize_t n = PyBytes_GET_SIZE(name)
        try:
            name = _lower(name)
            self.headers.append((name, value))
            if n == 6:
                # RFC 9110 §10.1.1; trailing OWS (kept by llhttp) is not part of the value
                if name == b"expect" and value.rstrip(b" \t").lower() == b"100-continue":
                    self.expect_continue = True
            elif n == 17 and name == b"transfer-encoding":
                self.te = _transfer_coding(value, self.te)
            elif (n == 10 and name == b"connection") or (n == 16 and name == b"proxy-connection"):
                self.connection_field = True
                if value != b"keep-alive":
                    self.connection_other = True
            elif n == 7 and name == b"upgrade":
                self.upgrade_field = True
            elif n == 14 and name == b"content-length":
                self.content_length = int(value)  # 1*DIGIT and OWS: llhttp checked it
        except BaseException as exc:
            self.error_kind = _E_HEAD
            self.error = exc
            raise

    def on_headers_complete(self):
        cdef bytes url, raw_path, query
        cdef bint upgrade = False, keep_alive, chunked, switch
        try:
            method = self.method_hint
            version = self.version_hint
            self.method_hint = self.version_hint = None
            try:
                if method is None:  # (each request start sets it)
                    method = _METHODS.get(self.hp.get_method())
                    if method is None:
                        raise _error("unsupported method")
                if version is None:
                    # Without Connection options llhttp_should_keep_alive() is true only
                    # for HTTP/1.1 (of the 0.9, 1.0, 1.1, 2.0 llhttp takes).
                    if not self.connection_field and self.hp.should_keep_alive():
                        version = _V11
                    else:
                        version = self.hp.get_http_version()
                        if version == _V11:
                            version = _V11
                        elif version == _V10:
                            version = _V10
                        else:
                            raise _error(f"unsupported HTTP version {version}")
                if self.te == _TE_OTHER:  # RFC 9112 §6.3 (4): the body length is unknown
                    raise _error("Transfer-Encoding whose final coding is not chunked")
                url = self.url
                raw_path, query = _split_target(method, url if url is not None else b"")
            except BaseException:
                self.error_kind = _E_HEAD  # the pure twin's parser says what is wrong
                raise
            # llhttp_should_keep_alive() (RFC 9112 §9.3): without Connection options it is
            # the version's default, with only "keep-alive" true for 1.0 and 1.1 alike, so
            # httptools is asked only about other options.
            if self.connection_field:
                keep_alive = self.hp.should_keep_alive() if self.connection_other else True
                if self.upgrade_field:
                    upgrade = self.hp.should_upgrade()
            else:
                keep_alive = version is _V11
            # Copying a template keeps the key order and beats a 13-item dict literal.
            scope = _SCOPE_TEMPLATE.copy()
            scope["asgi"] = {"version": _ASGI_VERSION, "spec_version": _ASGI_SPEC_VERSION}
            scope["http_version"] = version
            scope["method"] = method
            scope["scheme"] = self.scheme
            scope["path"] = (
                _unquote(raw_path.decode("ascii")) if b"%" in raw_path else raw_path.decode("ascii")
            )
            scope["raw_path"] = raw_path
            scope["query_string"] = query
            scope["root_path"] = self.root_path
            scope["headers"] = self.headers
            scope["client"] = self.client
            scope["server"] = self.server
            scope["extensions"] = {}
            expect_continue = self.expect_continue
            chunked = self.te == _TE_CHUNKED
            self.length = self.content_length
            self.chunked = chunked
            self.http11 = version is _V11
            self.keep_alive = keep_alive
            self.url = None
            self.headers = []
            self.expect_continue = self.connection_field = self.upgrade_field = False
            self.connection_other = False
            self.te = _TE_NONE
            self.in_body = True
            # RFC 9110 §7.8: switch protocols only for CONNECT and a WebSocket opening
            # handshake (RFC 6455 §4.1), a GET with an Upgrade head (llhttp sets upgrade
            # before this callback runs) listing websocket. llhttp then stops after the
            # head and the rest is the new protocol's.
            switch = method is _CONNECT
            if upgrade and method is _GET:
                ws_scope = _websocket_scope(scope)
                if ws_scope is not None:
                    scope, expect_continue, switch = ws_scope, False, True
            self.sink_on_request(scope, expect_continue, keep_alive)
            if (chunked or upgrade) and not switch:
                # RequestParser reads the body itself (_body_here): a chunked one, or any
                # after an upgrade head we do not switch for (llhttp skips that body).
                self.error_kind = _E_BODY
                raise _Stop()
        except BaseException as exc:
            self.error = exc
            raise

    def on_body(self, bytes body):
        try:
            if PyBytes_GET_SIZE(body):
                self.body_seen += PyBytes_GET_SIZE(body)
                self.sink_on_body(body)
        except BaseException as exc:
            self.error = exc
            raise

    def on_message_complete(self):
        try:
            self.in_body = False
            self.at_start = True
            self.completed += 1
            self.content_length = None
            self.body_seen = 0
            self.sink_on_request_complete()
        except BaseException as exc:
            self.error = exc
            raise


cdef inline bint _clean_end(data):
    """Whether llhttp, after a request that ended in ``data``, can only have read CR/LF
    (RFC 9112 §2.2) past it: the first bytes of a next request line (llhttp's method
    letters, "-", "_", then SP) never end in any other byte, and its URL stops us."""
    cdef unsigned char c
    if PyBytes_Check(data):
        c = PyBytes_AS_STRING(data)[PyBytes_GET_SIZE(data) - 1]
    else:
        c = bytes(memoryview(data).cast("B")[-1:])[0]
    return not (65 <= c <= 90 or c == 45 or c == 95 or c == 32)


cdef bytes _tail(data, Py_ssize_t k):
    """``data[k:]`` as bytes, for bytes, bytearray or any contiguous buffer."""
    if PyBytes_Check(data):
        return data[k:] if k else data
    return bytes(memoryview(data).cast("B")[k:])


cdef Py_ssize_t _find_crlf(const char* s, Py_ssize_t pos, Py_ssize_t n):
    """``data.find(b"\\r\\n", pos)`` on the bytes ``s`` of length ``n``."""
    cdef const char* cr
    while pos < n - 1:
        cr = <const char*>memchr(s + pos, b"\r", n - 1 - pos)
        if cr == NULL:
            return -1
        pos = cr - s
        if s[pos + 1] == b"\n":
            return pos
        pos += 1
    return -1


cdef enum:  # where a chunked body (RFC 9112 §7.1) parsed here is
    _C_SIZE = 0  # at a chunk-size line
    _C_DATA = 1  # in chunk data
    _C_END = 2  # at the CRLF after chunk data
    _C_TRAILERS = 3  # in the trailer section


@cython.final
cdef class RequestParser:
    """Parse the request bytes aiohttp writes on one in-memory connection.

    llhttp (through httptools) reads the heads and small Content-Length bodies, one
    request per ``feed_data`` of httptools' parser, so this class knows where each
    request starts and ends: it reads each method at a request's start (llhttp reads a
    placeholder for methods it does not know), parses chunked bodies, large
    Content-Length bodies and the bodies of upgrade requests it does not switch for
    itself (llhttp's parser is replaced after them), and hands the stream to the pure
    twin's parser (``_parser_py``) from a request's first byte where llhttp cannot read
    the head: one llhttp or a check here rejects (so the pure twin's error and message
    are raised), a method split across feeds, a head that may pass the limit. The pure
    parser hands the stream back between requests.
    """

    cdef object _hp
    cdef _Callbacks _callbacks
    cdef object _sink, _on_upgrade
    cdef object _pure  # the pure twin's parser while _DELEGATED
    cdef int _state
    cdef unsigned long long _body_left  # of a Content-Length body parsed here ...
    cdef bint _keep_alive_after  # ... and whether the connection stays open after it
    cdef list _head  # the bytes so far of a head split across feeds (for a hand-over)
    cdef Py_ssize_t _head_len
    cdef Py_ssize_t _max_head  # the largest head (and trailer section) parsed, in bytes
    cdef Py_ssize_t _method_end  # _begin found a method llhttp does not know, ending here
    # A chunked body parsed here (_CHUNKED), with the pure twin's checks and messages.
    cdef int _chunk_state
    cdef unsigned long long _chunk_left  # bytes of the current chunk's data still due
    cdef bytes _pending  # a partial chunk-size or trailer line, or the CR of a chunk's CRLF
    cdef Py_ssize_t _trailer_size
    cdef bint _http11
    cdef int _connection  # Connection option flags (_parser_py's) of head and trailers

    def __init__(
        self, sink, *, scheme, server, client, root_path, max_head_size=MAX_HEAD_SIZE
    ):
        self._max_head = check_max_head_size(max_head_size)
        cdef _Callbacks callbacks = _Callbacks.__new__(_Callbacks)
        callbacks.sink_on_request = sink.on_request
        callbacks.sink_on_body = sink.on_body
        callbacks.sink_on_request_complete = sink.on_request_complete
        callbacks.scheme = scheme
        callbacks.server = server
        callbacks.client = client
        callbacks.root_path = root_path
        callbacks.headers = []
        callbacks.at_start = True
        self._sink = sink
        self._on_upgrade = sink.on_upgrade
        self._callbacks = callbacks
        self._hp = HttpRequestParser(callbacks)
        self._state = _PARSING
        self._method_end = -1

    def feed_data(self, data):
        """Parse ``data``, calling the sink; any exception leaves the parser dead."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t k = 0
        if self._state == _PARSING and not self._body_left and (
            not callbacks.at_start or len(data) < _LARGE_BODY
        ):
            k = self._feed_httptools(data)  # the common path
            if k < 0:
                return
        elif self._state == _DEAD:
            raise RequestParseError(PARSER_CLOSED_MESSAGE)
        elif self._state == _UPGRADED:
            try:
                self._on_upgrade(bytes(data))
            except BaseException:
                self._state = _DEAD
                raise
            return
        self._feed_from(data, k)

    cdef int _feed_from(self, data, Py_ssize_t pos) except -1:
        """Parse ``data[pos:]`` with whatever reads the stream: llhttp one head (and small
        Content-Length body) at a time, a body parsed here, the pure twin's parser."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t n, term, k, size
        try:
            if not PyBytes_Check(data):
                data = _tail(data, 0)  # views of it are kept: it must be immutable
            n = PyBytes_GET_SIZE(data)
            while True:
                if self._state == _UPGRADED:  # the rest is the new protocol's, even b""
                    self._on_upgrade(data[pos:] if pos else data)
                    return 0
                if self._state == _DELEGATED:
                    self._feed_pure(data[pos:] if pos else data)
                    return 0
                if pos >= n:
                    return 0
                if self._state == _CLOSED:
                    self._check_closed(data[pos:])
                    return 0
                if self._state == _CHUNKED:
                    pos = self._feed_chunked(data, pos)
                elif self._body_left:
                    pos = self._feed_body(data, pos)
                else:
                    if callbacks.at_start:
                        term = data.find(b"\r\n\r\n", pos)
                        piece = data[pos:] if term < 0 else data[pos:term + 4]
                    elif callbacks.in_body:  # a small Content-Length body: just its bytes
                        size = min(n - pos, callbacks.content_length - callbacks.body_seen)
                        piece = data[pos:pos + size]
                    else:
                        piece = data[pos:]
                    k = self._feed_httptools(piece)
                    pos += PyBytes_GET_SIZE(piece) if k < 0 else k
        except BaseException:
            self._state = _DEAD
            raise

    cdef int _check_closed(self, data) except -1:
        # RFC 9112 §9.6: nothing follows a request that closes the connection; llhttp
        # (and the pure twin) tolerate stray CR/LF only.
        if bytes(data).strip(b"\r\n"):
            raise RequestParseError(DATA_AFTER_CLOSE_MESSAGE)
        return 0

    cdef int _request_done(self, bint keep_alive) except -1:
        """A body parsed here ended: a fresh httptools parser (the old one still waits
        for that body) reads on, unless the request closes the connection (RFC 9112 §9.3)."""
        cdef _Callbacks callbacks = self._callbacks
        callbacks.in_body = False
        callbacks.at_start = True
        callbacks.content_length = None
        callbacks.body_seen = 0
        if keep_alive:
            self._state = _PARSING
            self._hp = HttpRequestParser(callbacks)
        else:
            self._state = _CLOSED
        callbacks.sink_on_request_complete()
        return 0

    cdef Py_ssize_t _feed_body(self, bytes data, Py_ssize_t pos) except -1:
        """Pass on the part of a Content-Length body parsed here in ``data[pos:]``: the
        feed itself when it is all body, a read-only view of it for a large piece."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef Py_ssize_t size = n - pos
        if <unsigned long long>size > self._body_left:
            size = <Py_ssize_t>self._body_left
        if size == n:
            piece = data  # the feed is all body
        elif size >= _LARGE_BODY:
            piece = memoryview(data)[pos:pos + size]
        else:
            piece = data[pos:pos + size]
        self._body_left -= size
        callbacks.sink_on_body(piece)
        if not self._body_left:
            self._request_done(self._keep_alive_after)
        return pos + size

    cdef Py_ssize_t _feed_chunked(self, bytes data, Py_ssize_t pos) except -1:
        """Parse the chunked body (RFC 9112 §7.1) in ``data[pos:]`` as the pure twin does
        (its helpers check every line and word the errors); return where it ended, or
        len(data) if it goes on."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t n, eol, size, i, shift = 0
        cdef unsigned long long chunk
        cdef const char* s
        cdef int digit
        if self._pending is not None:  # a line (or CRLF) begun in the previous feed
            shift = pos - PyBytes_GET_SIZE(self._pending)
            data = self._pending + data[pos:]
            pos = 0
            self._pending = None
        s = PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
        while pos < n:
            if self._chunk_state == _C_DATA:
                size = n - pos
                if <unsigned long long>size > self._chunk_left:
                    size = <Py_ssize_t>self._chunk_left
                piece = data[pos:pos + size]
                pos += size
                self._chunk_left -= size
                if not self._chunk_left:
                    self._chunk_state = _C_END
                callbacks.sink_on_body(piece)
            elif self._chunk_state == _C_SIZE:
                eol = _find_crlf(s, pos, n)
                if eol < 0:
                    self._pending = _py_partial_chunk_size_line(data[pos:], self._max_head)
                    return n + shift
                chunk = 0
                size = eol - pos
                if 0 < size < 16:  # hex digits only: read here (no overflow)
                    for i in range(pos, eol):
                        digit = _HEX_T[<unsigned char>s[i]]
                        if digit < 0:
                            chunk = _py_chunk_size(data[pos:eol])  # extensions, or an error
                            break
                        chunk = chunk * 16 + digit
                else:
                    chunk = _py_chunk_size(data[pos:eol])
                pos = eol + 2
                if chunk:
                    self._chunk_state = _C_DATA
                    self._chunk_left = chunk
                else:
                    self._chunk_state = _C_TRAILERS
                    self._trailer_size = 0
            elif self._chunk_state == _C_END:
                if s[pos] != b"\r" or (pos + 1 < n and s[pos + 1] != b"\n"):
                    raise _py_chunk_end_error()
                if pos + 1 == n:
                    self._pending = b"\r"
                    return n + shift
                pos += 2
                self._chunk_state = _C_SIZE
            else:  # _C_TRAILERS
                eol = _find_crlf(s, pos, n)
                if eol < 0:
                    self._pending = _py_partial_trailer_line(
                        data[pos:], self._trailer_size, self._max_head
                    )
                    return n + shift
                if eol > pos:
                    self._trailer_size += eol - pos + 2
                    _py_check_trailer_size(self._trailer_size, self._max_head)
                    self._connection |= _py_trailer_field(data[pos:eol])
                    pos = eol + 2
                else:
                    # The empty line ends the body: keep-alive as llhttp_should_keep_alive()
                    # with the trailers' Connection options too (RFC 9112 §9.3).
                    self._request_done(
                        not self._connection & _F_CLOSE if self._http11
                        else <bint>(self._connection & _F_KEEP_ALIVE)
                    )
                    return eol + 2 + shift
        return n + shift

    # -- the pure twin's parser --------------------------------------------------------

    cdef int _delegate(self, list pieces) except -1:
        """Let the pure twin's parser read the stream from a request's first byte on:
        ``pieces`` (that request's bytes from earlier feeds) here, the rest after."""
        cdef _Callbacks callbacks = self._callbacks
        self._pure = _PureRequestParser(
            self._sink, scheme=callbacks.scheme, server=callbacks.server,
            client=callbacks.client, root_path=callbacks.root_path,
            max_head_size=self._max_head,
        )
        self._state = _DELEGATED
        self._hp = None
        self._head = None
        self._head_len = 0
        if pieces is not None:
            try:
                for piece in pieces:
                    self._pure.feed_data(piece)
            except BaseException:
                self._state = _DEAD
                raise
        return 0

    cdef int _feed_pure(self, data) except -1:
        self._pure.feed_data(data)
        if self._pure._idle():  # between requests again: back to llhttp
            self._resume_llhttp()
        return 0

    cdef int _resume_llhttp(self) except -1:
        """A fresh httptools parser at a request's start."""
        cdef _Callbacks callbacks = self._callbacks
        self._pure = None
        self._state = _PARSING
        self._head = None
        self._head_len = 0
        callbacks.at_start = True
        callbacks.in_body = False
        callbacks.url = None
        callbacks.headers = []
        callbacks.expect_continue = callbacks.connection_field = callbacks.upgrade_field = False
        callbacks.connection_other = False
        callbacks.te = _TE_NONE
        callbacks.method_hint = callbacks.version_hint = None
        callbacks.content_length = None
        callbacks.body_seen = 0
        self._hp = HttpRequestParser(callbacks)
        return 0

    # -- llhttp ------------------------------------------------------------------------

    cdef Py_ssize_t _head_end(self, data, Py_ssize_t start) except -2:
        """Where the head that began at ``start`` (or, with start 0, in an earlier feed)
        ends in ``data``: after its first CRLF CRLF (llhttp accepted it: no bare LF)."""
        carry = b"".join(self._head)[-3:] if self._head is not None else b""
        return start + (carry + _tail(data, start)).find(b"\r\n\r\n") + 4 - len(carry)

    cdef Py_ssize_t _body_here(self, data, Py_ssize_t start) except -2:
        """llhttp stopped after a head (the sink has it) whose body is parsed here: a
        chunked one, or any after an upgrade head we do not switch for. Return where
        the body begins in ``data``."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t end = self._head_end(data, start)
        self._head = None
        self._head_len = 0
        self._hp = None  # it stopped for good: a fresh one after the body
        if callbacks.chunked:
            self._state = _CHUNKED
            self._chunk_state = _C_SIZE
            self._pending = None
            self._http11 = callbacks.http11
            # Connection flags giving the head's keep-alive, to which trailers may add.
            if callbacks.http11:
                self._connection = 0 if callbacks.keep_alive else _F_CLOSE
            else:
                self._connection = _F_KEEP_ALIVE if callbacks.keep_alive else 0
        elif callbacks.length:
            self._body_left = callbacks.length
            self._keep_alive_after = callbacks.keep_alive
        else:
            self._request_done(callbacks.keep_alive)
        return end

    cdef Py_ssize_t _after_request(
        self, data, Py_ssize_t start, bint began_in_body, Py_ssize_t seen_before, bint failed
    ) except -2:
        """A request ended in ``data`` and llhttp read on past it: return where it ended
        (llhttp reads on from there with a fresh parser), or -1 if llhttp only skipped
        CR/LF."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t end
        if began_in_body:
            end = callbacks.length - seen_before
        else:
            end = self._head_end(data, start) + (callbacks.length or 0)
        self._head = None
        self._head_len = 0
        if not callbacks.keep_alive:  # RFC 9112 §9.6: only CR/LF may follow
            self._state = _CLOSED
            return end
        if not failed and not _tail(data, end).strip(b"\r\n"):
            return -1
        self._resume_llhttp()
        return end

    cdef Py_ssize_t _begin(self, bytes data) except -2:
        """At a request's start: skip CR/LF (RFC 9112 §2.2), read the method and, if the
        request line is whole here, the version. Return where the request begins (the
        pure twin's parser has it if llhttp cannot read it), or -1 if it does not yet."""
        cdef _Callbacks callbacks = self._callbacks
        cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(data)
        cdef Py_ssize_t i = 0, j = -1, term, n = PyBytes_GET_SIZE(data)
        cdef str method
        while i < n and (s[i] == 13 or s[i] == 10):
            i += 1
        if i == n:
            return -1
        if n - i >= 4 and memcmp(s + i, b"GET ", 4) == 0:
            method = _GET
        elif n - i >= 5 and memcmp(s + i, b"POST ", 5) == 0:
            method = _POST
        else:
            j = i
            while j < n and _TCHAR_T[s[j]]:
                j += 1
            if j == i or j == n or s[j] != 32:
                # A byte no method has (the pure twin's parser says which) or a method that
                # goes on in the next feed: the pure twin's parser reads this request.
                self._delegate(None)
                return i
            method = _METHODS.get(data[i:j])
            if method is None:
                # Any other token is a method too (RFC 9110 §9.1): llhttp reads a
                # placeholder in its place (_feed_httptools), the scope gets this one.
                method = data[i:j].decode("ascii")
            else:
                j = -1
        if n - i > self._max_head:  # the pure twin's parser says how large the head is
            term = data.find(b"\r\n\r\n", i)
            if term < 0 or term + 4 - i > self._max_head:
                self._delegate(None)
                return i
        self._method_end = j
        callbacks.method_hint = method
        callbacks.version_hint = _version_hint(<const char*>s + i, n - i)
        callbacks.at_start = False
        return i

    cdef Py_ssize_t _feed_httptools(self, data) except -2:
        """Feed ``data`` to llhttp. Return -1 when it took all of it, else the offset
        where llhttp stopped, from which _feed_from goes on."""
        cdef _Callbacks callbacks = self._callbacks
        cdef Py_ssize_t start = 0, seen_before = 0, shift = 0
        cdef bint began_in_body = callbacks.in_body
        cdef int kind = _E_SINK
        cdef object error = None
        cdef object upgrade_at = None
        cdef object fed = data  # what llhttp reads
        if callbacks.at_start:
            if not PyBytes_Check(data):
                data = fed = bytes(data)
            start = self._begin(<bytes>data)
            if start < 0 or self._state != _PARSING:
                return start
            if self._method_end >= 0:  # llhttp reads a method it knows instead
                shift = self._method_end - PyBytes_GET_SIZE(_PLACEHOLDER)
                fed = _PLACEHOLDER + (<bytes>data)[self._method_end:]
                self._method_end = -1
        elif began_in_body:
            seen_before = callbacks.body_seen
        elif self._head_len + (
            PyBytes_GET_SIZE(data) if PyBytes_Check(data) else memoryview(data).nbytes
        ) > self._max_head:
            # A head split across feeds may pass the limit: the pure twin's parser
            # counts it exactly and says so.
            self._delegate(self._head)
            return 0
        callbacks.completed = 0
        callbacks.hp = self._hp
        try:
            self._hp.feed_data(fed)
        except HttpParserUpgrade as exc:
            upgrade_at = exc.args[0]
        except HttpParserCallbackError as exc:
            error = callbacks.error
            kind = callbacks.error_kind
            if error is None:
                error, kind = exc, _E_HEAD
        except HttpParserError as exc:
            error, kind = exc, _E_HEAD
        except BaseException:
            self._state = _DEAD
            raise
        finally:
            callbacks.hp = None
            callbacks.error = None
            callbacks.error_kind = _E_SINK
        if upgrade_at is not None:
            self._state = _UPGRADED
            self._head = None
            return upgrade_at + shift  # (an offset in what llhttp read)
        if error is not None and kind == _E_SINK:
            # Outside the except clauses: a sink's exception leaves as it came in.
            self._state = _DEAD
            _reraise(error)
        try:
            if error is not None:
                if callbacks.completed:
                    return self._after_request(data, start, began_in_body, seen_before, True)
                if kind == _E_BODY:
                    return self._body_here(data, start)
                # llhttp or a check here rejected the head: the pure twin's parser reads
                # it from its first byte, so the error (and its text) is the pure twin's.
                self._delegate(self._head)
                return start
            if callbacks.completed:
                if not _clean_end(data):
                    return self._after_request(data, start, began_in_body, seen_before, False)
                self._head = None
                self._head_len = 0
                if not callbacks.keep_alive:
                    self._state = _CLOSED
            elif not callbacks.in_body:  # the head goes on in the next feed
                piece = _tail(data, start)
                if self._head is None:
                    self._head = [piece]
                else:
                    self._head.append(piece)
                self._head_len += PyBytes_GET_SIZE(piece)
            else:
                self._head = None
                self._head_len = 0
                if (
                    callbacks.content_length is not None
                    and callbacks.content_length >= _LARGE_BODY
                ):
                    # A large Content-Length body: the rest of it is parsed here (no copies).
                    self._body_left = callbacks.content_length - callbacks.body_seen
                    self._keep_alive_after = callbacks.keep_alive
            return -1
        except BaseException:
            self._state = _DEAD
            raise


cdef object _status_error(object status):
    return ASGIProtocolError(
        f"http.response.start status must be an int between {MIN_STATUS} and "
        f"{MAX_STATUS}, got {status!r}"
    )


cdef object _content_length(list lengths):
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


def encode_response_head(status, headers, *, head_request, Py_ssize_t body_length):
    """Validate an ASGI ``http.response.start``; return ``(head, framing)``.

    ``framing`` is the Content-Length, BODY_CHUNKED or BODY_NONE. Errors are checked
    in this order: status, each header's shape and types, every header's name and
    value bytes, then the content-length values.
    """
    cdef Py_ssize_t code, i, j, n, vn, count, total
    cdef const unsigned char* s
    cdef char* out
    cdef char extra[48]
    cdef int extra_len = 0
    cdef bint drop_length
    cdef bytes status_line, name, value
    cdef list flat = []
    cdef list lengths = None
    if type(status) is bool or not isinstance(status, int) or not (
        _MIN_STATUS <= status <= _MAX_STATUS
    ):
        raise _status_error(status)
    code = status
    try:
        items = iter(headers)
    except TypeError:
        raise ASGIProtocolError(
            f"http.response.start 'headers' must be an iterable of [name, value] pairs, "
            f"got {headers!r}"
        ) from None
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ASGIProtocolError(
                f"http.response.start header must be a [name, value] pair, got {item!r}"
            )
        name_obj = item[0]
        value_obj = item[1]
        if not PyBytes_Check(name_obj) or not PyBytes_Check(value_obj):
            raise ASGIProtocolError(
                f"http.response.start header names and values must be bytes, "
                f"got {name_obj!r}: {value_obj!r}"
            )
        flat.append(name_obj)
        flat.append(value_obj)
    count = len(flat)
    # RFC 9110 §5.6.2 (token names) and §5.5 (no CTLs in values), via lookup tables.
    for i in range(0, count, 2):
        name = <bytes>flat[i]
        n = PyBytes_GET_SIZE(name)
        s = <const unsigned char*>PyBytes_AS_STRING(name)
        for j in range(n):
            if not _TCHAR_T[s[j]]:
                break
        else:
            if n:
                value = <bytes>flat[i + 1]
                s = <const unsigned char*>PyBytes_AS_STRING(value)
                for j in range(PyBytes_GET_SIZE(value)):
                    if _VALUE_BAD_T[s[j]]:
                        raise ASGIProtocolError(
                            f"invalid value for response header {name!r}: CR, LF, NUL and "
                            f"other control characters are not allowed (RFC 9110 §5.5)"
                        )
                continue
        raise ASGIProtocolError(
            f"invalid response header name {name!r}: not an RFC 9110 §5.6.2 token"
        )
    # RFC 9110 §8.6: no Content-Length in a 1xx or 204 response.
    drop_length = code < 200 or code == 204
    status_line = <bytes>_STATUS_LINES[code]
    total = PyBytes_GET_SIZE(status_line) + 2
    for i in range(0, count, 2):
        name = <bytes>flat[i]
        n = PyBytes_GET_SIZE(name)
        if n == 14 and _is_lower(name, b"content-length", 14):
            if lengths is None:
                lengths = [flat[i + 1]]
                if not drop_length:
                    total += n + PyBytes_GET_SIZE(<bytes>flat[i + 1]) + 4
                    continue
            else:
                lengths.append(flat[i + 1])
            flat[i] = None  # kept once, or not at all in a 1xx/204 response
        elif n == 17 and _is_lower(name, b"transfer-encoding", 17):
            flat[i] = None  # ASGI: framing is the server's business
        else:
            total += n + PyBytes_GET_SIZE(<bytes>flat[i + 1]) + 4
    framing = _content_length(lengths) if lengths is not None else -1
    if head_request or drop_length or code == 304:  # RFC 9110 §6.4.1: no content
        framing = BODY_NONE
    elif framing < 0:
        if body_length >= 0:
            extra_len = snprintf(extra, sizeof(extra), "content-length: %zd\r\n", body_length)
            framing = body_length
        else:  # RFC 9112 §7.1
            extra_len = snprintf(extra, sizeof(extra), "transfer-encoding: chunked\r\n")
            framing = BODY_CHUNKED
    result = PyBytes_FromStringAndSize(NULL, total + extra_len)
    out = PyBytes_AS_STRING(result)
    n = PyBytes_GET_SIZE(status_line)
    memcpy(out, PyBytes_AS_STRING(status_line), n)
    out += n
    for i in range(0, count, 2):
        if flat[i] is None:
            continue
        name = <bytes>flat[i]
        value = <bytes>flat[i + 1]
        n = PyBytes_GET_SIZE(name)
        vn = PyBytes_GET_SIZE(value)
        memcpy(out, PyBytes_AS_STRING(name), n)
        out[n] = b":"
        out[n + 1] = b" "
        memcpy(out + n + 2, PyBytes_AS_STRING(value), vn)
        out += n + 2 + vn
        out[0] = b"\r"
        out[1] = b"\n"
        out += 2
    memcpy(out, extra, extra_len)
    out += extra_len
    out[0] = b"\r"
    out[1] = b"\n"
    return result, framing


def encode_chunk(body):
    """Frame ``body`` as one chunk (RFC 9112 §7.1); b"" for an empty body."""
    cdef Py_buffer view
    cdef char size_line[24]
    cdef int size_len
    cdef char* out
    if not (PyBytes_Check(body) or PyByteArray_Check(body) or PyMemoryView_Check(body)):
        raise TypeError(
            f"encode_chunk() needs bytes, bytearray or memoryview, got {type(body).__name__}"
        )
    PyObject_GetBuffer(body, &view, PyBUF_SIMPLE)
    try:
        if view.len == 0:
            return b""
        size_len = snprintf(size_line, sizeof(size_line), "%zx\r\n", <size_t>view.len)
        result = PyBytes_FromStringAndSize(NULL, size_len + view.len + 2)
        out = PyBytes_AS_STRING(result)
        memcpy(out, size_line, size_len)
        memcpy(out + size_len, view.buf, view.len)
        out[size_len + view.len] = b"\r"
        out[size_len + view.len + 1] = b"\n"
        return result
    finally:
        PyBuffer_Release(&view)


def unmask(mask, data, Py_ssize_t start, Py_ssize_t end):
    """``data[start:end]`` XORed with the 4-byte WebSocket ``mask`` (RFC 6455 §5.3)."""
    if not (PyBytes_Check(mask) and PyBytes_Check(data)):
        raise TypeError("unmask() needs bytes")
    if not 0 <= start <= end <= PyBytes_GET_SIZE(data):
        raise ValueError(f"unmask() range {start}:{end} is outside the data")
    cdef Py_ssize_t i = 0, n = end - start
    cdef const unsigned char* key
    cdef const unsigned char* src
    cdef unsigned char* dst
    cdef unsigned char key8[8]
    cdef unsigned long long key64, word
    if PyBytes_GET_SIZE(mask) != 4:
        raise ValueError(f"a WebSocket mask is 4 bytes, got {len(mask)}")
    if n == 0:
        return b""
    key = <const unsigned char*>PyBytes_AS_STRING(mask)
    src = <const unsigned char*>PyBytes_AS_STRING(data) + start
    result = PyBytes_FromStringAndSize(NULL, n)
    dst = <unsigned char*>PyBytes_AS_STRING(result)
    memcpy(key8, key, 4)
    memcpy(key8 + 4, key, 4)
    memcpy(&key64, key8, 8)
    while i + 8 <= n:  # eight bytes at a time; memcpy keeps unaligned access legal
        memcpy(&word, src + i, 8)
        word ^= key64
        memcpy(dst + i, &word, 8)
        i += 8
    while i < n:
        dst[i] = src[i] ^ key[i & 3]
        i += 1
    return result
