"""The exceptions this package raises, shared by the compiled and pure hot paths."""

from __future__ import annotations

__all__ = (
    "ASGIAppError",
    "ASGIProtocolError",
    "ClientDisconnectedError",
    "LifespanError",
    "RequestParseError",
)


class ASGIProtocolError(RuntimeError):
    """The application sent a message that breaks the ASGI HTTP spec.

    Raised from the application's ``send()``; nothing malformed reaches the client.
    """


class ASGIAppError(RuntimeError):
    """The application ended without producing a complete response.

    For example it returned before ``http.response.start``, or before the final
    ``http.response.body`` of a response it had started. Also raised, with the app's
    exception as ``__cause__``, for an exception that aiohttp's client would take for
    one of its own: an ``OSError`` (``FileNotFoundError``, ``ConnectionResetError``,
    ``TimeoutError``), ``asyncio.TimeoutError`` or an ``aiohttp.ClientError``.
    """


class ClientDisconnectedError(OSError):
    """Raised from ``send()`` once the client has gone away (ASGI HTTP spec 2.4).

    Like uvicorn's ``ClientDisconnected``: the connector swallows it when the
    application lets it escape, and does not log it as an error.
    """


class LifespanError(RuntimeError):
    """The application's ASGI lifespan startup or shutdown failed (lifespan spec 2.0).

    The message carries the application's ``lifespan.*.failed`` message, or says what
    went wrong (an exception, which is then ``__cause__``; a timeout; a missing
    answer). A startup failure is raised from every request the connector is asked
    for and from ``connector.startup()``; a shutdown failure from ``connector.close()``
    (and so from ``ClientSession.close()``).
    """


class RequestParseError(ValueError):
    """The request bytes aiohttp wrote could not be parsed as HTTP/1.1 (RFC 9112).

    A request head (request line and header fields), or chunked trailer section, larger
    than the connector's ``max_request_head_size`` (64 KiB by default) is refused with a
    message naming the limit and the size: not a bug, raise the limit to send such
    requests. Every other case starts "malformed HTTP/1.1 request from aiohttp": aiohttp
    writes well-formed requests, so that signals a bug in aiohttp or here.
    """
