"""ASGI type aliases used across the package (ASGI 3.0)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ("ASGIApp", "AppTimer", "Message", "Receive", "Scope", "Send")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: (status, microseconds from the app call to http.response.start, and to the response's
#: last byte reaching the client)
AppTimer = Callable[[tuple[int, int, int]], None]
