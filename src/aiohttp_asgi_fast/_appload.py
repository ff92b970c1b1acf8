"""Find an ASGI app (or any object) named ``module:attribute``, as uvicorn does.

Shared by the pytest plugin and ``bench``. Every way this can fail is one
:class:`AppLoadError` line: a bad spec, a module that is missing or raises on import,
a missing attribute, a factory that fails, something that is not an ASGI app. The
logic is here once; each caller words the lines its own way with a :class:`Wording`
(the plugin names the option the spec came from, bench its command-line flags).

Imported by every pytest run (through the plugin): the standard library only.
"""

from __future__ import annotations

import abc
import difflib
import importlib
import inspect
import os
import sys
import traceback
from typing import Any, ClassVar

from ._interface import _takes

__all__ = ("AppLoadError", "Wording", "import_attribute", "load_app", "make_app",
           "split_spec")


class AppLoadError(Exception):
    """The app could not be loaded: one line saying why."""


class Wording(abc.ABC):
    """How one caller words the errors: the parts their lines do not share."""

    #: starts every line that names no flag of its own (e.g. "--asgi-app: ")
    prefix: str = ""
    #: print the traceback behind an error as it is turned into one line
    debug: bool = False
    #: what a module raising on import may raise to become an error line
    import_catches: ClassVar[tuple[type[BaseException], ...]] = (Exception,)
    #: ends the line of a module that raised on import
    raised_hint: str = ""
    #: ends the line of an app that looks like a WSGI app
    wsgi_hint: str = ""
    #: how to ask for a factory to be called ("add --factory")
    factory_hint: str = ""

    def show_path(self, filename: str) -> str:
        """A source file as the line names it."""
        try:
            return os.path.relpath(filename)
        except ValueError:  # another drive (Windows)
            return filename

    @abc.abstractmethod
    def bad_spec(self, spec: str) -> str:
        """``spec`` is not ``module:attribute``."""

    @abc.abstractmethod
    def looked_in(self, directory: str) -> str:
        """Ends the line of a module not found: where it was looked for."""

    @abc.abstractmethod
    def factory_not_callable(self, spec: str, kind: str) -> str:
        """The factory ``spec`` names is a ``kind``, not a callable."""

    @abc.abstractmethod
    def factory_raised(self, spec: str, error: str) -> str:
        """Calling the factory raised (``error`` says what, and where)."""

    @abc.abstractmethod
    def factory_awaitable(self, spec: str) -> str:
        """The factory returned an awaitable, not the app."""


def _where(exc: BaseException, wording: Wording) -> str:
    """`` (at file:line)`` of the innermost frame of ``exc``'s traceback, or ""."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    return f" (at {wording.show_path(frames[-1].filename)}:{frames[-1].lineno})"


def _raised(exc: BaseException, wording: Wording) -> str:
    """``Type: message (at file:line)``; the traceback too under ``debug``."""
    if wording.debug:
        traceback.print_exc()
    return f"{type(exc).__name__}: {exc}{_where(exc, wording)}"


def split_spec(spec: str, wording: Wording) -> tuple[str, str]:
    """``(module, attribute)`` of ``module:attribute`` (surrounding space ignored)."""
    module_name, sep, attr = spec.strip().partition(":")
    if not sep or not module_name or not attr or ":" in attr:
        raise AppLoadError(wording.bad_spec(spec))
    return module_name, attr


def _import(module_name: str, directory: str, wording: Wording) -> Any:
    if directory not in sys.path:
        sys.path.insert(0, directory)
    prefix = wording.prefix
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if wording.debug:
            traceback.print_exc()
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise AppLoadError(
                f"{prefix}cannot import {module_name!r}: no module named {missing!r}"
                f"{wording.looked_in(directory)}"
            ) from None
        raise AppLoadError(
            f"{prefix}importing {module_name!r} failed: it imports {missing!r}, which is not "
            f"installed{_where(exc, wording)}"
        ) from None
    except wording.import_catches as exc:  # the module raised while importing
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise AppLoadError(
            f"{prefix}importing {module_name!r} raised {_raised(exc, wording)}"
            f"{wording.raised_hint}"
        ) from None


def import_attribute(module_name: str, attr: str, directory: str, wording: Wording) -> Any:
    """``module_name``'s (dotted) ``attr``, imported with ``directory`` on sys.path."""
    obj: Any = _import(module_name, directory, wording)
    walked = module_name
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AppLoadError(
                f"{wording.prefix}{walked!r} has no attribute {part!r}{hint}"
            ) from None
        walked = f"{walked}.{part}" if walked != module_name else f"{module_name}:{part}"
    return obj


def _check_asgi(app: Any, what: str, wording: Wording) -> None:
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
                           f"like a WSGI app, not an ASGI app{wording.wsgi_hint}")
    if _takes(signature, 0):
        raise AppLoadError(f"{what} takes no arguments: if it is an app factory, "
                           f"{wording.factory_hint}")
    raise AppLoadError(f"{what} is not an ASGI app: its signature is {signature}, expected "
                       "(scope, receive, send)")


def make_app(obj: Any, spec: str, factory: bool, wording: Wording) -> Any:
    """The app ``spec`` names (``obj``): called first if a ``factory``, then checked."""
    what = f"{wording.prefix}{spec}"
    if factory:
        if not callable(obj):
            raise AppLoadError(wording.factory_not_callable(spec, type(obj).__name__))
        try:
            obj = obj()
        except Exception as exc:
            raise AppLoadError(wording.factory_raised(spec, _raised(exc, wording))) from None
        if inspect.isawaitable(obj):
            if inspect.iscoroutine(obj):
                obj.close()  # never awaited: no "was never awaited" warning
            raise AppLoadError(wording.factory_awaitable(spec))
        what = f"{what}()"
    _check_asgi(obj, what, wording)
    return obj


def load_app(spec: str, directory: str, factory: bool, wording: Wording) -> Any:
    """The ASGI app ``spec`` names, its module imported with ``directory`` on sys.path."""
    obj = import_attribute(*split_spec(spec, wording), directory, wording)
    return make_app(obj, spec, factory, wording)
