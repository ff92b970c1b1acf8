"""aiohttp-asgi-fast: an aiohttp connector that runs an ASGI application in-process.

>>> from aiohttp import ClientSession
>>> from aiohttp_asgi_fast import ASGIApplicationConnector
>>> session = ClientSession(base_url="http://testserver",
...                         connector=ASGIApplicationConnector(app))  # doctest: +SKIP
"""

from __future__ import annotations

from ._hotpath import IMPLEMENTATION
from .connector import ASGIApplicationConnector
from .exceptions import (
    ASGIAppError,
    ASGIProtocolError,
    ClientDisconnectedError,
    LifespanError,
    RequestParseError,
)

__version__ = "0.1.0"

__all__ = (
    "IMPLEMENTATION",
    "ASGIAppError",
    "ASGIApplicationConnector",
    "ASGIProtocolError",
    "ClientDisconnectedError",
    "LifespanError",
    "RequestParseError",
    "__version__",
)
