"""ASGI 2 / ASGI 3 detection (``_interface.as_asgi3``): real middleware and endpoint classes,
partials, bound methods, ASGI 2 classes and closures, and the explicit ``interface`` option,
checked directly and end to end through ``ASGIApplicationConnector(as_asgi3(app))``."""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket

import aiohttp_asgi_fast.connector as connector_module
from aiohttp_asgi_fast._interface import INTERFACES, as_asgi3, detect_interface
from helpers import make_session

Scope = dict[str, Any]


# -- apps -----------------------------------------------------------------------------------


async def _respond(send: Any, body: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def asgi3_function(scope: Scope, receive: Any, send: Any) -> None:
    await _respond(send, b"asgi3 function")


async def _tagged(tag: bytes, scope: Scope, receive: Any, send: Any) -> None:
    await _respond(send, tag)


def plain_def_returning_coroutine(scope: Scope, receive: Any, send: Any) -> Awaitable[None]:
    return _tagged(b"plain def", scope, receive, send)


def _sync_tagged(tag: bytes, scope: Scope, receive: Any, send: Any) -> Awaitable[None]:
    return _tagged(tag, scope, receive, send)


class AsyncCallable:
    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        await _respond(send, b"async __call__")


class SyncCallableReturningAwaitable:
    """Like asgi-tools' middleware: ``__call__`` is a plain method returning an awaitable."""

    def __call__(self, scope: Scope, receive: Any, send: Any) -> Awaitable[None]:
        return _tagged(b"sync __call__", scope, receive, send)


class Handlers:
    async def async_method(self, scope: Scope, receive: Any, send: Any) -> None:
        await _respond(send, b"bound async method")

    def sync_method(self, scope: Scope, receive: Any, send: Any) -> Awaitable[None]:
        return _tagged(b"bound sync method", scope, receive, send)

    def asgi2_method(self, scope: Scope) -> Callable[[Any, Any], Awaitable[None]]:
        return functools.partial(_asgi2_instance, b"bound asgi2 method", scope)


def wrapped_with_args(*args: Any, **kwargs: Any) -> Awaitable[None]:
    return asgi3_function(*args, **kwargs)


wrapped_with_args = functools.wraps(asgi3_function)(wrapped_with_args)


class ASGI2Class:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        await _respond(send, b"asgi2 class")


async def _asgi2_instance(tag: bytes, scope: Scope, receive: Any, send: Any) -> None:
    await _respond(send, tag)


def asgi2_closure(scope: Scope) -> Callable[[Any, Any], Awaitable[None]]:
    async def instance(receive: Any, send: Any) -> None:
        await _respond(send, b"asgi2 closure " + scope["path"].encode())

    return instance


def _asgi2_factory(tag: bytes, scope: Scope) -> Callable[[Any, Any], Awaitable[None]]:
    return functools.partial(_asgi2_instance, tag, scope)


class ASGI2CallableInstance:
    def __call__(self, scope: Scope) -> Callable[[Any, Any], Awaitable[None]]:
        return functools.partial(_asgi2_instance, b"asgi2 instance", scope)


def star_args_asgi2(*args: Any) -> Callable[[Any, Any], Awaitable[None]]:
    """Undecidable by signature; it is in fact ASGI 2."""
    if len(args) != 1:  # a TypeError, as a real signature gives (uvicorn probes with 0)
        raise TypeError(f"expected (scope), got {len(args)} arguments")
    return functools.partial(_asgi2_instance, b"star args asgi2", args[0])


async def _tagged_any(tag: bytes, *args: Any) -> None:
    await _respond(args[2], tag)


def star_args_asgi3(*args: Any) -> Awaitable[None]:
    """Undecidable by signature; it is in fact ASGI 3 (needs interface='asgi3')."""
    return _tagged_any(b"star args asgi3", *args)


def defaults_asgi2(scope: Scope, receive: Any = None, send: Any = None) -> Any:
    """Takes one and three arguments: undecidable."""
    return functools.partial(_asgi2_instance, b"defaults", scope)


class Greeting(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return PlainTextResponse(f"endpoint {request.url.path}")


class Echo(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"echo: {data}")


class Tagging(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["x-tag"] = "base"
        return response


def _marked(name: str, value: bool, app: Any) -> Any:
    setattr(app, name, value)
    return app


def _single_marked() -> Any:
    # Takes (scope) only, so the signature would say ASGI 2: the marker wins.
    def app(scope: Scope, *rest: Any) -> Awaitable[None]:
        return _tagged(b"single marker", scope, *rest)

    app._asgi_single_callable = True  # type: ignore[attr-defined]
    return app


def _asgiref_marked() -> Any:
    sync = pytest.importorskip("asgiref.sync")

    def app(*args: Any) -> Awaitable[None]:  # undecidable by signature
        return _tagged(b"asgiref marked", *args)

    return sync.markcoroutinefunction(app)


def _inspect_marked() -> Any:
    if sys.version_info < (3, 12):
        pytest.skip("inspect.markcoroutinefunction is new in Python 3.12")

    def app(*args: Any) -> Awaitable[None]:
        return _tagged(b"inspect marked", *args)

    return inspect.markcoroutinefunction(app)  # type: ignore[attr-defined]


def _asgi_tools_lifespan() -> Any:
    from asgi_tools import LifespanMiddleware

    return LifespanMiddleware(functools.partial(_tagged, b"asgi-tools lifespan"))


def _asgi_tools_request() -> Any:
    from asgi_tools import RequestMiddleware

    async def app(request: Any, receive: Any, send: Any) -> None:
        await _respond(send, f"asgi-tools request {request.url.path}".encode())

    return RequestMiddleware(app)


def _asgi_tools_response() -> Any:
    from asgi_tools import ResponseMiddleware

    async def app(scope: Scope, receive: Any, send: Any) -> str:
        return "asgi-tools response"

    return ResponseMiddleware(app)


def _asgi_tools_app() -> Any:
    from asgi_tools import App

    app = App()

    @app.route("/{path:path}")
    async def index(request: Any) -> str:
        return "asgi-tools app"

    return app


# (id, factory, body for GET /x — or None for a WebSocket echo app)
ASGI3_CASES: list[tuple[str, Callable[[], Any], bytes | None]] = [
    ("async-def", lambda: asgi3_function, b"asgi3 function"),
    ("partial-of-async-def", lambda: functools.partial(_tagged, b"partial"), b"partial"),
    ("nested-partial", lambda: functools.partial(functools.partial(_tagged), b"nested"),
     b"nested"),
    ("plain-def-returning-coroutine", lambda: plain_def_returning_coroutine, b"plain def"),
    ("partial-of-plain-def", lambda: functools.partial(_sync_tagged, b"partial def"),
     b"partial def"),
    ("async-__call__", AsyncCallable, b"async __call__"),
    ("sync-__call__-returning-awaitable", SyncCallableReturningAwaitable, b"sync __call__"),
    ("bound-async-method", lambda: Handlers().async_method, b"bound async method"),
    ("bound-sync-method", lambda: Handlers().sync_method, b"bound sync method"),
    ("wraps-with-star-args", lambda: wrapped_with_args, b"asgi3 function"),
    ("single-callable-marker", _single_marked, b"single marker"),
    ("asgiref-markcoroutinefunction", _asgiref_marked, b"asgiref marked"),
    ("inspect-markcoroutinefunction", _inspect_marked, b"inspect marked"),
    ("starlette-httpendpoint-class", lambda: Greeting, b"endpoint /x"),
    ("starlette-websocketendpoint-class", lambda: Echo, None),
    ("starlette-gzip", lambda: GZipMiddleware(asgi3_function), b"asgi3 function"),
    ("starlette-cors", lambda: CORSMiddleware(asgi3_function, allow_origins=["*"]),
     b"asgi3 function"),
    ("starlette-trustedhost",
     lambda: TrustedHostMiddleware(asgi3_function, allowed_hosts=["testserver"]),
     b"asgi3 function"),
    ("starlette-basehttpmiddleware", lambda: Tagging(asgi3_function), b"asgi3 function"),
    ("starlette-middleware-around-plain-def",
     lambda: GZipMiddleware(plain_def_returning_coroutine), b"plain def"),
    ("asgi-tools-lifespan-middleware", _asgi_tools_lifespan, b"asgi-tools lifespan"),
    ("asgi-tools-request-middleware", _asgi_tools_request, b"asgi-tools request /x"),
    ("asgi-tools-response-middleware", _asgi_tools_response, b"asgi-tools response"),
    ("asgi-tools-app", _asgi_tools_app, b"asgi-tools app"),
]

ASGI2_CASES: list[tuple[str, Callable[[], Any], bytes]] = [
    ("class-with-init-scope", lambda: ASGI2Class, b"asgi2 class"),
    ("closure", lambda: asgi2_closure, b"asgi2 closure /x"),
    ("partial-of-factory", lambda: functools.partial(_asgi2_factory, b"partial factory"),
     b"partial factory"),
    ("callable-instance", ASGI2CallableInstance, b"asgi2 instance"),
    ("bound-method", lambda: Handlers().asgi2_method, b"bound asgi2 method"),
    ("star-args-undecidable", lambda: star_args_asgi2, b"star args asgi2"),
    ("defaults-undecidable", lambda: defaults_asgi2, b"defaults"),
    ("double-callable-marker",
     lambda: _marked("_asgi_double_callable", True, functools.partial(_asgi2_factory, b"m")),
     b"m"),
]


def _ids(cases: list[Any]) -> list[str]:
    return [case[0] for case in cases]


# -- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "factory", "body"), ASGI3_CASES, ids=_ids(ASGI3_CASES))
def test_asgi3_detected_and_used_as_is(name: str, factory: Callable[[], Any], body: Any) -> None:
    app = factory()
    assert detect_interface(app) == "asgi3"
    assert as_asgi3(app) is app
    assert as_asgi3(app, "asgi3") is app


@pytest.mark.parametrize(("name", "factory", "body"), ASGI2_CASES, ids=_ids(ASGI2_CASES))
def test_asgi2_detected_and_adapted(name: str, factory: Callable[[], Any], body: Any) -> None:
    app = factory()
    assert detect_interface(app) == "asgi2"
    app3 = as_asgi3(app)
    assert app3 is not app
    assert inspect.iscoroutinefunction(app3)
    assert as_asgi3(app3) is app3  # adapting twice is harmless
    assert as_asgi3(app, "asgi3") is app


def test_single_marker_wins_over_double_marker() -> None:
    app = _marked("_asgi_double_callable", True, _single_marked())
    assert detect_interface(app) == "asgi3"


def test_double_marker_wins_over_coroutine_function() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        raise AssertionError("never called as ASGI 3")

    app._asgi_double_callable = True  # type: ignore[attr-defined]
    assert detect_interface(app) == "asgi2"


@pytest.mark.parametrize(
    "app",
    [star_args_asgi2, defaults_asgi2, ASGI2Class, asgi2_closure, AsyncCallable(), asgi3_function,
     Greeting],
    ids=["star-args", "defaults", "asgi2-class", "closure", "async-call", "async-def",
         "endpoint-class"],
)
def test_agrees_with_uvicorn_where_uvicorn_decides_right(app: Any) -> None:
    # Undecidable cases follow uvicorn's interface="auto"; uvicorn is wrong for sync
    # callables and partials that return awaitables, which the cases above cover.
    uvicorn = pytest.importorskip("uvicorn")
    config = uvicorn.Config(app, lifespan="off", ws="none", log_level="critical")
    config.load()
    assert detect_interface(app) == config.interface


@pytest.mark.parametrize("interface", ["wsgi", "ASGI3", "", None, 3, "auto "])
def test_unknown_interface_is_a_value_error(interface: Any) -> None:
    with pytest.raises(ValueError, match=r"'auto', 'asgi3', 'asgi2', got") as info:
        as_asgi3(asgi3_function, interface)
    assert repr(interface) in str(info.value)
    assert INTERFACES == ("auto", "asgi3", "asgi2")


@pytest.mark.parametrize("interface", INTERFACES)
@pytest.mark.parametrize("app", [None, "app:main", 42, object()])
def test_non_callable_app_is_a_type_error(app: Any, interface: Any) -> None:
    with pytest.raises(TypeError, match=r"app must be an ASGI application \(a callable\)"):
        as_asgi3(app, interface)


async def test_asgi2_first_call_not_returning_a_callable() -> None:
    def app(scope: Scope) -> Any:
        return {"not": "callable"}

    with pytest.raises(TypeError, match=r"returned \{'not': 'callable'\} for a scope; expected "
                                        r"a callable of \(receive, send\)"):
        await as_asgi3(app)({"type": "http"}, None, None)  # type: ignore[arg-type]


async def test_asgi2_instance_not_returning_an_awaitable() -> None:
    def app(scope: Scope) -> Any:
        return lambda receive, send: None

    with pytest.raises(TypeError, match=r"returned None for \(receive, send\); expected an "
                                        r"awaitable"):
        await as_asgi3(app)({"type": "http"}, None, None)  # type: ignore[arg-type]


# -- end to end --------------------------------------------------------------------------


def adapted(app: Any, interface: Any = "auto") -> Any:
    """``as_asgi3(app, interface)`` wrapped in an ``async def``: the connector's own
    detection (interface="auto") takes it for ASGI 3 whatever ``app`` was."""
    app3 = as_asgi3(app, interface)

    async def shim(scope: Scope, receive: Any, send: Any) -> None:
        await app3(scope, receive, send)

    return shim


async def _check_http(app: Any, body: bytes) -> None:
    async with make_session(app) as session:
        async with session.get("/x") as resp:
            assert resp.status == 200
            assert await resp.read() == body


async def _check_websocket(app: Any) -> None:
    async with make_session(app) as session:
        async with session.ws_connect("/ws") as ws:
            await ws.send_str("hi")
            assert (await ws.receive(timeout=5)).data == "echo: hi"


@pytest.mark.parametrize("through", ["as_asgi3", "connector"])
@pytest.mark.parametrize(
    ("name", "factory", "body"), ASGI3_CASES + ASGI2_CASES, ids=_ids(ASGI3_CASES + ASGI2_CASES)
)
async def test_end_to_end(
    name: str, factory: Callable[[], Any], body: bytes | None, through: str
) -> None:
    app = factory()
    if through == "as_asgi3":
        app = adapted(app)
    if body is None:
        await _check_websocket(app)
    else:
        await _check_http(app, body)


async def test_asgi_tools_lifespan_middleware_runs_lifespan() -> None:
    from asgi_tools import LifespanMiddleware

    events: list[str] = []
    app = LifespanMiddleware(functools.partial(_tagged, b"served"))
    app.on_startup(lambda: events.append("startup"))
    app.on_shutdown(lambda: events.append("shutdown"))
    async with make_session(adapted(app), lifespan=True) as session:
        async with session.get("/") as resp:
            assert await resp.read() == b"served"
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


async def test_starlette_endpoint_class_dispatches_methods() -> None:
    async with make_session(adapted(Greeting)) as session:
        async with session.post("/y") as resp:
            assert resp.status == 405
        async with session.head("/y") as resp:
            assert resp.status == 200


@pytest.mark.parametrize(
    ("app", "interface", "body"),
    [
        (star_args_asgi3, "asgi3", b"star args asgi3"),
        (star_args_asgi2, "asgi2", b"star args asgi2"),
        (functools.partial(_asgi2_factory, b"forced"), "asgi2", b"forced"),
        (asgi3_function, "asgi3", b"asgi3 function"),
    ],
    ids=["star-args-forced-asgi3", "star-args-forced-asgi2", "partial-forced-asgi2",
         "async-def-forced-asgi3"],
)
async def test_explicit_interface(app: Any, interface: Any, body: bytes) -> None:
    await _check_http(adapted(app, interface), body)


@pytest.mark.parametrize(
    ("app", "interface", "body"),
    [
        (star_args_asgi3, "asgi3", b"star args asgi3"),
        (star_args_asgi2, "asgi2", b"star args asgi2"),
        (star_args_asgi2, "auto", b"star args asgi2"),
        (SyncCallableReturningAwaitable(), "auto", b"sync __call__"),
        (Greeting, "auto", b"endpoint /x"),
    ],
    ids=["star-args-asgi3", "star-args-asgi2", "star-args-auto", "sync-call-auto",
         "endpoint-auto"],
)
async def test_connector_interface_option(app: Any, interface: Any, body: bytes) -> None:
    async with make_session(app, interface=interface) as session:
        async with session.get("/x") as resp:
            assert await resp.read() == body
    with pytest.raises(ValueError, match="'auto', 'asgi3', 'asgi2'"):
        connector_module.ASGIApplicationConnector(app, interface="wsgi")


async def test_explicit_interface_overrides_detection() -> None:
    # "asgi2" forces the adapter even on an ASGI 3 callable: its first call gets only the
    # scope, so it fails clearly rather than being second-guessed.
    with pytest.raises(TypeError):
        await as_asgi3(asgi3_function, "asgi2")({"type": "http"}, None, None)  # type: ignore[arg-type]
    # "auto" takes star_args_asgi3 for ASGI 2, as uvicorn would: its first call returns a
    # coroutine, which is not a callable.
    wrong = as_asgi3(star_args_asgi3)
    with pytest.raises(TypeError, match="pass interface='asgi3'"):
        await wrong({"type": "http", "path": "/"}, None, None)  # type: ignore[arg-type]
