"""Find the app named on the command line, as uvicorn does, with one clear error line.

``module:attribute`` (the attribute may be dotted), imported with ``--app-dir`` (the
current directory by default) first on ``sys.path``; ``--factory`` calls it. Every way
this can fail is a ``UsageError`` saying what was wrong: a bad APP string, a module
that is missing or raises on import, a missing attribute, something that is not an
ASGI app (not callable, a WSGI app, a factory without ``--factory``).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
import traceback
from typing import Any

from .._interface import _takes
from ._errors import UsageError, origin

__all__ = ("load_app", "load_callable")


def _split(spec: str, what: str) -> tuple[str, str]:
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr or ":" in attr:
        raise UsageError(f"{what} must look like 'module:attribute' (e.g. main:app), got {spec!r}")
    return module_name, attr


def _where(exc: BaseException) -> str:
    where = origin(exc)  # " at file:line"
    return f" ({where.strip()})" if where else ""


def _import(module_name: str, app_dir: str, debug: bool) -> Any:
    directory = os.path.abspath(app_dir)
    if not os.path.isdir(directory):
        raise UsageError(f"--app-dir {app_dir!r} is not a directory")
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if debug:
            traceback.print_exc()
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise UsageError(
                f"cannot import {module_name!r}: no module named {missing!r} in {directory} or "
                "on sys.path (run from the app's directory or pass --app-dir DIR)"
            ) from None
        raise UsageError(
            f"importing {module_name!r} failed: it imports {missing!r}, which is not installed"
            f"{_where(exc)}"
        ) from None
    except BaseException as exc:  # the module raised while importing
        if isinstance(exc, KeyboardInterrupt):
            raise
        if debug:
            traceback.print_exc()
        raise UsageError(
            f"importing {module_name!r} raised {type(exc).__name__}: {exc}{_where(exc)}"
            + ("" if debug else " (--debug for the traceback)")
        ) from None


def load_callable(spec: str, app_dir: str, what: str, debug: bool = False) -> Any:
    """The object ``module:attribute`` names (``what`` names the option in errors)."""
    module_name, attr = _split(spec, what)
    obj: Any = _import(module_name, app_dir, debug)
    walked = module_name
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            names = [n for n in dir(obj) if not n.startswith("_")]
            close = difflib.get_close_matches(part, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{walked!r} has no attribute {part!r}{hint}") from None
        walked = f"{walked}.{part}" if walked != module_name else f"{module_name}:{part}"
    return obj


def _check_asgi(app: Any, spec: str) -> None:
    if not callable(app):
        raise UsageError(
            f"{spec} is {type(app).__name__} {app!r:.60}, not an ASGI app (a callable)"
        )
    plain = inspect.isfunction(app) or inspect.isclass(app)
    target = app if plain else getattr(app, "__call__", app)  # noqa: B004 - the method
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return  # no signature to read (a builtin): let the connector try it
    if _takes(signature, 3) or _takes(signature, 1):
        return
    if _takes(signature, 2):
        raise UsageError(
            f"{spec} takes 2 arguments {tuple(signature.parameters)}: it looks like a WSGI app, "
            "not an ASGI app; wrap it in an ASGI adapter (e.g. a2wsgi's WSGIMiddleware)"
        )
    if _takes(signature, 0):
        raise UsageError(f"{spec} takes no arguments: if it is an app factory, add --factory")
    raise UsageError(f"{spec} is not an ASGI app: its signature is {signature}, expected "
                     "(scope, receive, send)")


def load_app(spec: str, app_dir: str, factory: bool, debug: bool = False) -> Any:
    """The ASGI app ``spec`` names (called first with ``factory``)."""
    app = load_callable(spec, app_dir, "APP", debug)
    if factory:
        if not callable(app):
            raise UsageError(f"--factory: {spec} is {type(app).__name__}, not callable")
        try:
            app = app()
        except Exception as exc:
            if debug:
                traceback.print_exc()
            raise UsageError(
                f"--factory: calling {spec}() raised {type(exc).__name__}: {exc}{_where(exc)}"
            ) from None
        if inspect.isawaitable(app):
            if inspect.iscoroutine(app):
                app.close()
            raise UsageError(f"--factory: {spec}() returned an awaitable; the factory must "
                             "return the app (a plain def)")
        spec = f"{spec}()"
    _check_asgi(app, spec)
    return app
