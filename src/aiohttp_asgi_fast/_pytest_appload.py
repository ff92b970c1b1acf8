"""Load the app the pytest plugin is told about (``module:attribute``, as uvicorn).

Every way this can fail is an :class:`AppLoadError` with one line naming the option
the spec came from (``--asgi-app``, the ``asgi_app`` ini option, the marker): a bad
spec, a module that is missing or raises on import, a missing attribute, a factory
that raises, something that is not an ASGI app.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
import traceback
from typing import Any

from ._interface import _takes

__all__ = ("AppLoadError", "load_app")


class AppLoadError(Exception):
    """The configured app could not be loaded: one line saying why."""


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    try:
        filename = os.path.relpath(last.filename)
    except ValueError:  # another drive (Windows)
        filename = last.filename
    return f" (at {filename}:{last.lineno})"


def _import(module_name: str, source: str, search_dir: str) -> Any:
    if search_dir not in sys.path:
        sys.path.insert(0, search_dir)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise AppLoadError(
                f"{source}: cannot import {module_name!r}: no module named {missing!r} "
                f"(looked in {search_dir} and on sys.path)"
            ) from None
        raise AppLoadError(
            f"{source}: importing {module_name!r} failed: it imports {missing!r}, "
            f"which is not installed{_where(exc)}"
        ) from None
    except Exception as exc:  # the module raised while importing
        raise AppLoadError(
            f"{source}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
            f"{_where(exc)}"
        ) from None


def _resolve(spec: str, source: str, search_dir: str) -> Any:
    module_name, sep, attr = spec.strip().partition(":")
    if not sep or not module_name or not attr or ":" in attr:
        raise AppLoadError(
            f"{source}: expected 'module:attribute' (e.g. myproject.main:app), got {spec!r}"
        )
    obj: Any = _import(module_name, source, search_dir)
    walked = module_name
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AppLoadError(f"{source}: {walked!r} has no attribute {part!r}{hint}") from None
        walked = f"{walked}.{part}" if walked != module_name else f"{module_name}:{part}"
    return obj


def check_asgi_app(app: Any, what: str) -> None:
    """Raise AppLoadError unless ``app`` can be an ASGI (3 or 2) application."""
    if not callable(app):
        raise AppLoadError(f"{what} is {type(app).__name__} {app!r:.60}, not an ASGI app "
                           "(a callable)")
    plain = inspect.isfunction(app) or inspect.isclass(app)
    target = app if plain else getattr(app, "__call__", app)  # noqa: B004 - the method
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return  # no signature to read (a builtin): let the connector try it
    if _takes(signature, 3) or _takes(signature, 1):
        return
    if _takes(signature, 2):
        raise AppLoadError(f"{what} takes 2 arguments {tuple(signature.parameters)}: it looks "
                           "like a WSGI app, not an ASGI app")
    if _takes(signature, 0):
        raise AppLoadError(f"{what} takes no arguments: if it is an app factory, set "
                           "asgi_app_factory = true")
    raise AppLoadError(f"{what} is not an ASGI app: its signature is {signature}, expected "
                       "(scope, receive, send)")


def load_app(spec: str, source: str, factory: bool, search_dir: str) -> Any:
    """The ASGI app ``spec`` names; ``source`` names the option it came from."""
    app = _resolve(spec, source, search_dir)
    what = f"{source}: {spec}"
    if factory:
        if not callable(app):
            raise AppLoadError(f"{what} is {type(app).__name__}, not callable (asgi_app_factory "
                               "= true expects a factory)")
        try:
            app = app()
        except Exception as exc:
            raise AppLoadError(f"{what}: calling the factory raised {type(exc).__name__}: "
                               f"{exc}{_where(exc)}") from None
        if inspect.isawaitable(app):
            if inspect.iscoroutine(app):
                app.close()
            raise AppLoadError(f"{what}: the factory returned an awaitable; it must return "
                               "the app (a plain def)")
        what = f"{what}()"
    check_asgi_app(app, what)
    return app
