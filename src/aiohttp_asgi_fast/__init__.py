"""aiohttp-asgi-fast: an aiohttp connector that runs an ASGI application in-process.

>>> from aiohttp import ClientSession
>>> from aiohttp_asgi_fast import ASGIApplicationConnector
>>> session = ClientSession(base_url="http://testserver",
...                         connector=ASGIApplicationConnector(app))  # doctest: +SKIP

The public names are imported on first use (PEP 562), so importing a submodule (the
pytest plugin) does not choose the hot path (``IMPLEMENTATION``) before
``AIOHTTP_ASGI_NO_EXTENSIONS`` can be set.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._hotpath import IMPLEMENTATION
    from .connector import ASGIApplicationConnector
    from .exceptions import (
        ASGIAppError,
        ASGIProtocolError,
        ClientDisconnectedError,
        LifespanError,
        RequestParseError,
    )

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

# public name -> the submodule that defines it
_LAZY = {
    "IMPLEMENTATION": "._hotpath",
    "ASGIApplicationConnector": ".connector",
    "ASGIAppError": ".exceptions",
    "ASGIProtocolError": ".exceptions",
    "ClientDisconnectedError": ".exceptions",
    "LifespanError": ".exceptions",
    "RequestParseError": ".exceptions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
