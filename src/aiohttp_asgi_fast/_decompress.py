"""Request body decoding for the connector's ``decompress_requests`` option.

RFC 9110 §8.4: Content-Encoding lists the codings in the order they were applied,
so they are undone in reverse. Decoding is incremental: each received piece is
decoded when the app asks for it, and a stage whose library can cap its output
yields at most MAX_OUTPUT bytes per call (brotli: under twice that), so a small
compressed piece cannot expand into an unbounded buffer.

Supported: gzip and x-gzip (RFC 9110 §8.4.1.3), deflate (§8.4.1.2; raw deflate is
accepted too, as aiohttp's own decompressor does), br (RFC 7932) with ``brotli`` or
``brotlicffi``, and zstd (RFC 8878) with ``compression.zstd`` (Python 3.14),
``backports.zstd`` or ``zstandard``.
"""

from __future__ import annotations

import functools
import importlib
import sys
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Final, Protocol

from .exceptions import RequestParseError

__all__ = ("MAX_OUTPUT", "RequestDecoder", "request_decoder", "supported_codings")

MAX_OUTPUT: Final = 256 * 1024

_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


@functools.cache
def _brotli() -> Any:
    return _import("brotli") or _import("brotlicffi")


@functools.cache
def _zstd() -> tuple[Any, bool]:
    """The zstd module and whether it has the ``compression.zstd`` API."""
    if sys.version_info >= (3, 14):
        module = _import("compression.zstd")
        if module is not None:
            return module, True
    module = _import("backports.zstd")
    if module is not None:
        return module, True
    return _import("zstandard"), False


def supported_codings() -> frozenset[str]:
    codings = {"gzip", "x-gzip", "deflate"}
    if _brotli() is not None:
        codings.add("br")
    if _zstd()[0] is not None:
        codings.add("zstd")
    return frozenset(codings)


class _Stage(Protocol):
    #: More output may come without more input: call decompress(b"") first.
    pending: bool

    def decompress(self, data: bytes) -> bytes: ...

    def flush(self) -> bytes: ...


def _truncated(coding: str) -> RequestParseError:
    return RequestParseError(
        f"truncated {coding!r} request body (Content-Encoding): the compressed data "
        f"ended before the end of its stream"
    )


class _ZlibStage:
    """gzip (any number of members, RFC 1952 §2.2) or deflate (zlib or raw)."""

    __slots__ = ("_coding", "_obj", "_tail", "pending")

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._obj: Any = None
        self._tail = b""
        self.pending = False

    def decompress(self, data: bytes) -> bytes:
        if self._tail:
            data = self._tail + data
            self._tail = b""
        if not data and not self.pending:
            return b""
        obj = self._obj
        if obj is None or obj.eof:
            if self._coding == "deflate":
                if obj is not None:
                    raise RequestParseError(
                        "corrupt 'deflate' request body (Content-Encoding): data after "
                        "the end of the deflate stream"
                    )
                # A zlib stream starts with CM=8 in the low nibble (RFC 1950); anything
                # else is taken for raw deflate (RFC 1951), like aiohttp's DeflateBuffer.
                wbits = zlib.MAX_WBITS if data[0] & 0x0F == 8 else -zlib.MAX_WBITS
            else:
                if obj is not None:
                    data = data.lstrip(b"\x00")  # zero padding after the last member
                    if not data:
                        self.pending = False
                        return b""
                wbits = _GZIP_WBITS
            obj = self._obj = zlib.decompressobj(wbits)
        out: bytes = obj.decompress(data, MAX_OUTPUT)
        self._tail = obj.unconsumed_tail or (obj.unused_data if obj.eof else b"")
        self.pending = bool(self._tail) or len(out) >= MAX_OUTPUT
        return out

    def flush(self) -> bytes:
        obj = self._obj
        if obj is None:
            return b""  # an empty body: nothing was encoded
        out: bytes = obj.flush()
        if not obj.eof:
            raise _truncated(self._coding)
        return out


class _BrotliStage:
    __slots__ = ("_limited", "_obj", "_started", "pending")

    def __init__(self, module: Any) -> None:
        self._obj = module.Decompressor()
        self._limited = True  # output_buffer_limit: brotli and brotlicffi >= 1.2
        self._started = False
        self.pending = False

    def decompress(self, data: bytes) -> bytes:
        if not data and not self.pending:
            return b""
        self._started = True
        obj = self._obj
        out: bytes = b""
        if self._limited:
            try:
                out = obj.process(data, output_buffer_limit=MAX_OUTPUT)
            except TypeError:  # an older release: no output limit
                self._limited = False
        if not self._limited:
            out = obj.process(data)
        # With a limit, output may remain: drain with empty input (brotli's process()).
        can_accept = getattr(obj, "can_accept_more_data", None)
        self.pending = (
            self._limited
            and not obj.is_finished()
            and (len(out) >= MAX_OUTPUT or (can_accept is not None and not can_accept()))
        )
        return out

    def flush(self) -> bytes:
        if self._started and not self._obj.is_finished():
            raise _truncated("br")
        return b""


class _ZstdStage:
    """zstd frames one after another (RFC 8878 §3.1)."""

    __slots__ = ("_api", "_module", "_obj", "_tail", "pending")

    def __init__(self, module: Any, stdlib_api: bool) -> None:
        self._module = module
        self._api = stdlib_api  # compression.zstd: max_length, needs_input
        self._obj: Any = None
        self._tail = b""
        self.pending = False

    def decompress(self, data: bytes) -> bytes:
        if self._tail:
            data = self._tail + data
            self._tail = b""
        if not data and not self.pending:
            return b""
        obj = self._obj
        if obj is None or obj.eof:
            obj = self._obj = (
                self._module.ZstdDecompressor()
                if self._api
                else self._module.ZstdDecompressor().decompressobj()
            )
        out: bytes
        if self._api:
            out = obj.decompress(data, MAX_OUTPUT)
            self.pending = not obj.eof and not obj.needs_input
        else:
            out = obj.decompress(data)
            self.pending = False
        if obj.eof and obj.unused_data:
            self._tail = obj.unused_data
            self.pending = True
        return out

    def flush(self) -> bytes:
        obj = self._obj
        if obj is not None and not obj.eof:
            raise _truncated("zstd")
        return b""


class RequestDecoder:
    """Undo a request's content codings piece by piece; errors are RequestParseError.

    Call ``decompress(b"")`` while ``pending`` before passing the next piece.
    """

    __slots__ = ("_codings", "_stages")

    def __init__(self, codings: list[str]) -> None:
        self._codings = codings  # in the order they are undone
        self._stages = [_stage(coding) for coding in codings]

    @property
    def pending(self) -> bool:
        return any(stage.pending for stage in self._stages)

    def decompress(self, data: bytes) -> bytes:
        stages = self._stages
        start = 0
        for i in range(len(stages) - 1, 0, -1):
            if stages[i].pending:
                # Drain the innermost pending stage before feeding it more input, so
                # no intermediate buffer grows past a few MAX_OUTPUT.
                start, data = i, b""
                break
        for i in range(start, len(stages)):
            data = _call(self._codings[i], stages[i].decompress, data)
        return data

    def flush(self) -> bytes:
        """End of the body: the rest of the output; raises if the data was truncated."""
        data = b""
        for stage, coding in zip(self._stages, self._codings, strict=True):
            data = _call(coding, stage.decompress, data) if data else b""
            while stage.pending:
                data += _call(coding, stage.decompress, b"")
            data += _call(coding, stage.flush)
        return data


def _call(coding: str, step: Callable[..., bytes], *args: bytes) -> bytes:
    try:
        return step(*args)
    except RequestParseError:
        raise
    except Exception as exc:  # zlib.error, brotli.error, ZstdError, ...
        raise RequestParseError(
            f"corrupt {coding!r} request body (Content-Encoding): {exc}"
        ) from exc


def _stage(coding: str) -> _Stage:
    if coding == "br":
        return _BrotliStage(_brotli())
    if coding == "zstd":
        return _ZstdStage(*_zstd())
    return _ZlibStage("deflate" if coding == "deflate" else "gzip")


def request_decoder(
    headers: Iterable[tuple[bytes, bytes]],
) -> tuple[RequestDecoder, list[tuple[bytes, bytes]]] | None:
    """A decoder for the request's Content-Encoding and the headers the app should see.

    None when there is nothing to decode or a coding is not supported: the body and
    headers then pass through unchanged. Otherwise the headers lose Content-Encoding
    and Content-Length (the decoded length is unknown until the end).
    """
    codings: list[str] = []
    for name, value in headers:
        if name == b"content-encoding":
            for item in value.split(b","):
                coding = item.strip(b" \t").lower().decode("latin-1")
                if coding and coding != "identity":
                    codings.append(coding)
    if not codings or not supported_codings().issuperset(codings):
        return None
    kept = [
        (name, value)
        for name, value in headers
        if name != b"content-encoding" and name != b"content-length"
    ]
    return RequestDecoder(codings[::-1]), kept
