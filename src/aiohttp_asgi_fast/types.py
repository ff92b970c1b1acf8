"""ASGI types for users of the connector: the application, scopes, ``receive``/``send``
and every message the connector exchanges (ASGI 3.0, HTTP/WebSocket spec 2.5, lifespan 2.0).

>>> from aiohttp_asgi_fast.types import Receive, Scope, Send
>>> async def app(scope: Scope, receive: Receive, send: Send) -> None: ...

``ASGIApp`` is what ``ASGIApplicationConnector(app)`` accepts: any ``(scope, receive,
send)`` callable returning an awaitable (a plain ``async def``, a Starlette, FastAPI, Quart,
Litestar, Django or Falcon app object, whatever scope types its own annotations use) or an
ASGI 2 double callable. The scope and message types follow asgiref's ``asgiref.typing``
(TypedDicts, told apart by ``"type"``); optional keys are marked in each class's base.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, Protocol, TypedDict

__all__ = (
    "ASGI2App",
    "ASGI2Instance",
    "ASGI3App",
    "ASGIApp",
    "ASGIVersions",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseEarlyHintEvent",
    "HTTPResponsePathsendEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPScope",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Receive",
    "ReceiveEvent",
    "Scope",
    "Send",
    "SendEvent",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
)


class ASGIVersions(TypedDict, total=False):
    version: str  # "3.0" (or "2.0" for an adapted ASGI 2 app)
    spec_version: str


# Scopes -----------------------------------------------------------------------------


class _ConnectionScopeOptional(TypedDict, total=False):
    scheme: str
    raw_path: bytes | None
    root_path: str
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    state: dict[str, Any]
    extensions: dict[str, dict[object, object]] | None


class HTTPScope(_ConnectionScopeOptional):
    type: Literal["http"]
    asgi: ASGIVersions
    http_version: str
    method: str
    path: str
    query_string: bytes
    headers: Iterable[tuple[bytes, bytes]]


class _WebSocketScopeOptional(_ConnectionScopeOptional, total=False):
    subprotocols: Iterable[str]


class WebSocketScope(_WebSocketScopeOptional):
    type: Literal["websocket"]
    asgi: ASGIVersions
    http_version: str
    path: str
    query_string: bytes
    headers: Iterable[tuple[bytes, bytes]]


class _LifespanScopeOptional(TypedDict, total=False):
    state: dict[str, Any]


class LifespanScope(_LifespanScopeOptional):
    type: Literal["lifespan"]
    asgi: ASGIVersions


Scope = HTTPScope | WebSocketScope | LifespanScope

# HTTP messages ----------------------------------------------------------------------


class HTTPRequestEvent(TypedDict):
    type: Literal["http.request"]
    body: bytes
    more_body: bool


class HTTPDisconnectEvent(TypedDict):
    type: Literal["http.disconnect"]


class _HTTPResponseStartOptional(TypedDict, total=False):
    headers: Iterable[tuple[bytes, bytes]]
    trailers: bool


class HTTPResponseStartEvent(_HTTPResponseStartOptional):
    type: Literal["http.response.start"]
    status: int


class _HTTPResponseBodyOptional(TypedDict, total=False):
    body: bytes
    more_body: bool


class HTTPResponseBodyEvent(_HTTPResponseBodyOptional):
    type: Literal["http.response.body"]


class _HTTPResponseTrailersOptional(TypedDict, total=False):
    headers: Iterable[tuple[bytes, bytes]]
    more_trailers: bool


class HTTPResponseTrailersEvent(_HTTPResponseTrailersOptional):
    type: Literal["http.response.trailers"]


class HTTPResponsePathsendEvent(TypedDict):
    type: Literal["http.response.pathsend"]
    path: str


class HTTPResponseEarlyHintEvent(TypedDict):
    type: Literal["http.response.early_hint"]
    links: Iterable[bytes]


# WebSocket messages -----------------------------------------------------------------


class WebSocketConnectEvent(TypedDict):
    type: Literal["websocket.connect"]


class _WebSocketAcceptOptional(TypedDict, total=False):
    subprotocol: str | None
    headers: Iterable[tuple[bytes, bytes]]


class WebSocketAcceptEvent(_WebSocketAcceptOptional):
    type: Literal["websocket.accept"]


class _WebSocketDataOptional(TypedDict, total=False):
    bytes: bytes | None
    text: str | None


class WebSocketReceiveEvent(_WebSocketDataOptional):
    type: Literal["websocket.receive"]


class WebSocketSendEvent(_WebSocketDataOptional):
    type: Literal["websocket.send"]


class _WebSocketDisconnectOptional(TypedDict, total=False):
    reason: str | None


class WebSocketDisconnectEvent(_WebSocketDisconnectOptional):
    type: Literal["websocket.disconnect"]
    code: int


class _WebSocketCloseOptional(TypedDict, total=False):
    code: int
    reason: str | None


class WebSocketCloseEvent(_WebSocketCloseOptional):
    type: Literal["websocket.close"]


# Lifespan messages ------------------------------------------------------------------


class LifespanStartupEvent(TypedDict):
    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    type: Literal["lifespan.startup.complete"]


class _LifespanFailedOptional(TypedDict, total=False):
    message: str


class LifespanStartupFailedEvent(_LifespanFailedOptional):
    type: Literal["lifespan.startup.failed"]


class LifespanShutdownCompleteEvent(TypedDict):
    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(_LifespanFailedOptional):
    type: Literal["lifespan.shutdown.failed"]


ReceiveEvent = (
    HTTPRequestEvent
    | HTTPDisconnectEvent
    | WebSocketConnectEvent
    | WebSocketReceiveEvent
    | WebSocketDisconnectEvent
    | LifespanStartupEvent
    | LifespanShutdownEvent
)

SendEvent = (
    HTTPResponseStartEvent
    | HTTPResponseBodyEvent
    | HTTPResponseTrailersEvent
    | HTTPResponsePathsendEvent
    | HTTPResponseEarlyHintEvent
    | WebSocketAcceptEvent
    | WebSocketSendEvent
    | WebSocketCloseEvent
    | LifespanStartupCompleteEvent
    | LifespanStartupFailedEvent
    | LifespanShutdownCompleteEvent
    | LifespanShutdownFailedEvent
)

Receive = Callable[[], Awaitable[ReceiveEvent]]
Send = Callable[[SendEvent], Awaitable[None]]

# Applications -----------------------------------------------------------------------
# The parameters are Any on purpose: frameworks annotate their own scope types
# (MutableMapping[str, Any] in Starlette, TypedDict unions in Litestar and Quart), and
# a parameter type stricter than theirs would reject their apps. What is checked is the
# shape: three positional parameters and an awaitable result (ASGI 3), or one parameter
# returning a (receive, send) callable (ASGI 2).


class ASGI3App(Protocol):
    """``await app(scope, receive, send)``."""

    def __call__(self, scope: Any, receive: Any, send: Any, /) -> Awaitable[None]: ...


class ASGI2Instance(Protocol):
    """What an ASGI 2 app returns for a scope: ``await instance(receive, send)``."""

    def __call__(self, receive: Any, send: Any, /) -> Awaitable[None]: ...


class ASGI2App(Protocol):
    """``await app(scope)(receive, send)`` (legacy double callable)."""

    def __call__(self, scope: Any, /) -> ASGI2Instance: ...


#: What ``ASGIApplicationConnector(app)`` accepts.
ASGIApp = ASGI3App | ASGI2App
