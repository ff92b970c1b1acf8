"""Every use of aiohttp internals lives here, each one commented.

Supported: aiohttp 3.8 through 3.14. aiohttp is never monkey-patched; the
connector subclasses BaseConnector and overrides ``_create_connection`` (the
documented way custom connectors such as UnixConnector plug in).
"""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Final

import aiohttp
from aiohttp import BaseConnector, ClientPayloadError, client_proto

if TYPE_CHECKING:
    from aiohttp.client_proto import ResponseHandler

__all__ = (
    "HAS_TIMEOUT_CEIL_THRESHOLD",
    "client_parses_trailers",
    "fail_pending_response",
    "fail_response_body",
    "new_response_protocol",
)

# Public option, but only from 3.9: BaseConnector(timeout_ceil_threshold=...) is
# refused by 3.8. Read once at import, not on every connector built.
HAS_TIMEOUT_CEIL_THRESHOLD: Final = (
    "timeout_ceil_threshold" in inspect.signature(BaseConnector).parameters
)


def new_response_protocol(connector: object) -> ResponseHandler:
    # Internal: BaseConnector._factory is functools.partial(ResponseHandler, loop=...)
    # in every supported release; it is how TCPConnector/UnixConnector make the
    # protocol they hand back from _create_connection.
    protocol: ResponseHandler = connector._factory()  # type: ignore[attr-defined]
    return protocol


def fail_pending_response(protocol: ResponseHandler, exc: BaseException) -> None:
    """Make the client's pending ``resp.start()`` raise ``exc`` itself."""
    # ResponseHandler is a DataQueue of (message, payload); set_exception() makes the
    # awaiting read() raise exc unchanged and marks the connection should_close.
    # Signature: set_exception(exc) on 3.8, set_exception(exc, exc_cause=...) on 3.14.
    protocol.set_exception(exc)


def fail_response_body(protocol: ResponseHandler, exc: BaseException, message: str) -> None:
    """Fail the body the client is reading with ClientPayloadError caused by ``exc``.

    Closes the connection (calls ``connection_lost``) as a dropped socket would.
    """
    # Internal: ResponseHandler._payload is the StreamReader of the response being
    # read (resp.content); present under this name in 3.8 through 3.14.
    payload = getattr(protocol, "_payload", None)
    error = ClientPayloadError(message)
    error.__cause__ = exc
    if payload is not None:
        # Wakes a reader already waiting with our error ...
        payload.set_exception(error)
    protocol.connection_lost(None)
    if payload is not None:
        # ... and connection_lost() just replaced it with aiohttp's generic
        # "payload is not completed" error: put ours back for later reads.
        payload.set_exception(error)


def client_parses_trailers() -> bool:
    """Whether this process's aiohttp client reads a chunked trailer section."""
    # Internal: aiohttp.client_proto imports the response parser it uses under this
    # name; its pure-Python twin lives in aiohttp.http_parser, llhttp's elsewhere.
    # Before 3.12.14 the pure parser's lax mode splits lines on LF alone, takes the
    # CRLF ending a trailer section for one more trailer line and never finishes the
    # body (checked on 3.8.6, 3.9.5, 3.11.18, 3.12.13; fixed by aiohttp PR #11269).
    # Trailers are optional (RFC 9110 §6.5), so they are dropped for such a client.
    parser = getattr(client_proto, "HttpResponseParser", None)
    if getattr(parser, "__module__", "") != "aiohttp.http_parser":
        return True
    version = tuple(int(part) for part in re.findall(r"\d+", aiohttp.__version__)[:3])
    return version >= (3, 12, 14)
