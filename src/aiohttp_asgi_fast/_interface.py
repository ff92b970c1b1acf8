"""Which ASGI interface an application speaks, and that application as an ASGI 3 callable.

``as_asgi3(app, interface="auto")`` returns an ASGI 3 single callable
``app(scope, receive, send) -> awaitable``. ``interface="asgi3"`` takes ``app`` as it is;
``"asgi2"`` adapts a double callable (``app(scope)`` returns ``instance``, then
``await instance(receive, send)``, ASGI spec "Legacy Applications"). ``"auto"`` decides
by the first rule that applies:

1. asgiref's markers: a true ``_asgi_single_callable`` attribute means ASGI 3, a true
   ``_asgi_double_callable`` means ASGI 2 (as asgiref's ``guarantee_single_callable``).
2. A class is ASGI 3 when its instances are awaitable (``__await__``: Starlette's
   ``HTTPEndpoint`` / ``WebSocketEndpoint`` are built from ``(scope, receive, send)`` and
   awaited), otherwise ASGI 2 (``__init__(self, scope)``, then
   ``await instance(receive, send)``) — as uvicorn and Starlette's ``TestClient`` do.
3. A coroutine function is ASGI 3: an ``async def``, also through ``functools.partial``
   or as a bound method, one marked with ``inspect.markcoroutinefunction`` or asgiref's
   ``markcoroutinefunction``, or an object whose ``__call__`` is one (Starlette's and
   most frameworks' middleware and apps).
4. Otherwise the signature decides (``inspect.signature``, which sees through
   ``functools.partial``, bound methods, an object's ``__call__`` and ``__wrapped__``):
   a callable that takes three positional arguments but not one is ASGI 3 (a plain
   ``def`` returning a coroutine; asgi-tools' middleware, whose ``__call__`` returns an
   awaitable); one that takes one but not three is ASGI 2 (a factory or closure that
   returns the per-connection callable).
5. Undecidable — ``*args``, defaults that let it take both one and three arguments, no
   signature (some builtins) — is ASGI 2, as uvicorn's ``interface="auto"`` and asgiref
   decide for a callable that is not a coroutine function. Pass ``interface="asgi3"``
   for such an app.

A non-callable ``app`` is a ``TypeError``; an ``interface`` other than these three a
``ValueError``. The ASGI 2 adapter raises ``TypeError`` when ``app(scope)`` does not
return a callable, or that callable does not return an awaitable.
"""

from __future__ import annotations

import asyncio.coroutines
import functools
import inspect
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from ._types import ASGIApp, Receive, Scope, Send

__all__ = ("INTERFACES", "Interface", "as_asgi3", "detect_interface")

Interface = Literal["auto", "asgi3", "asgi2"]

#: The values ``as_asgi3`` accepts for ``interface``.
INTERFACES: Final = ("auto", "asgi3", "asgi2")

# asyncio's marker for coroutine functions that are not ``async def`` (Cython's async
# functions, asgiref's markcoroutinefunction before Python 3.12); absent in some versions.
_COROUTINE_MARKER: Final = getattr(asyncio.coroutines, "_is_coroutine", None)


def as_asgi3(app: Any, interface: Interface = "auto") -> ASGIApp:
    """``app`` as an ASGI 3 single callable (see the module docstring for the rules)."""
    if interface not in INTERFACES:
        raise ValueError(
            f"interface must be one of {', '.join(map(repr, INTERFACES))}, got {interface!r:.100}"
        )
    if not callable(app):
        raise TypeError(f"app must be an ASGI application (a callable), got {app!r:.100}")
    if interface == "auto":
        interface = detect_interface(app)
    if interface == "asgi3":
        return app  # type: ignore[no-any-return]
    return _asgi2_adapter(app)


def detect_interface(app: Any) -> Literal["asgi3", "asgi2"]:
    """What ``interface="auto"`` takes the callable ``app`` for."""
    if getattr(app, "_asgi_single_callable", False):
        return "asgi3"
    if getattr(app, "_asgi_double_callable", False):
        return "asgi2"
    if inspect.isclass(app):
        return "asgi3" if hasattr(app, "__await__") else "asgi2"
    call = getattr(app, "__call__", None)  # noqa: B004 - the method, not callable()
    if _is_coroutine_function(app) or _is_coroutine_function(call):
        return "asgi3"
    try:
        signature = inspect.signature(app)
    except (TypeError, ValueError):  # no signature to read: undecidable
        return "asgi2"
    if _takes(signature, 3) and not _takes(signature, 1):
        return "asgi3"
    return "asgi2"  # takes (scope) only, or undecidable: as uvicorn


def _is_coroutine_function(func: Any) -> bool:
    if func is None:
        return False
    if inspect.iscoroutinefunction(func):  # unwraps partial and bound methods
        return True
    while isinstance(func, functools.partial):
        func = func.func
    return _COROUTINE_MARKER is not None and getattr(func, "_is_coroutine", None) is (
        _COROUTINE_MARKER
    )


def _takes(signature: inspect.Signature, count: int) -> bool:
    """Whether a call with ``count`` positional arguments (and nothing else) binds."""
    try:
        signature.bind(*range(count))
    except TypeError:
        return False
    return True


def _asgi2_adapter(app: Any) -> ASGIApp:
    async def asgi3(scope: Scope, receive: Receive, send: Send) -> None:
        instance = app(scope)
        if not callable(instance):
            if inspect.iscoroutine(instance):
                instance.close()  # no "never awaited" warning on top of this error
            raise TypeError(
                f"ASGI 2 application {app!r:.100} returned {instance!r:.100} for a scope; "
                "expected a callable of (receive, send) returning an awaitable "
                "(pass interface='asgi3' if the app is an ASGI 3 callable)"
            )
        awaitable = instance(receive, send)
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"ASGI 2 application instance {instance!r:.100} returned {awaitable!r:.100} "
                "for (receive, send); expected an awaitable"
            )
        await awaitable

    return asgi3
