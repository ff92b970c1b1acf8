"""Load the app the pytest plugin is told about (``module:attribute``, as uvicorn).

The loading is :mod:`._appload`'s; here is the plugin's wording: every
:class:`AppLoadError` line names the option the spec came from (``--asgi-app``, the
``asgi_app`` ini option, the marker).
"""

from __future__ import annotations

from typing import Any

from . import _appload
from ._appload import AppLoadError

__all__ = ("AppLoadError", "load_app")


class _PluginWording(_appload.Wording):
    factory_hint = "set asgi_app_factory = true"

    def __init__(self, source: str) -> None:
        self.prefix = f"{source}: "

    def bad_spec(self, spec: str) -> str:
        return f"{self.prefix}expected 'module:attribute' (e.g. myproject.main:app), got {spec!r}"

    def looked_in(self, directory: str) -> str:
        return f" (looked in {directory} and on sys.path)"

    def factory_not_callable(self, spec: str, kind: str) -> str:
        return (f"{self.prefix}{spec} is {kind}, not callable (asgi_app_factory = true "
                "expects a factory)")

    def factory_raised(self, spec: str, error: str) -> str:
        return f"{self.prefix}{spec}: calling the factory raised {error}"

    def factory_awaitable(self, spec: str) -> str:
        return (f"{self.prefix}{spec}: the factory returned an awaitable; it must return the "
                "app (a plain def)")


def load_app(spec: str, source: str, factory: bool, search_dir: str) -> Any:
    """The ASGI app ``spec`` names; ``source`` names the option it came from."""
    return _appload.load_app(spec, search_dir, factory, _PluginWording(source))
