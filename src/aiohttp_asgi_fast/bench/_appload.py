"""Find the app named on the command line, as uvicorn does, with one clear error line.

``module:attribute`` (the attribute may be dotted), imported with ``--app-dir`` (the
current directory by default) first on ``sys.path``; ``--factory`` calls it. The
loading is :mod:`.._appload`'s; here is bench's wording, and every failure becomes a
``UsageError`` (exit code 2); ``--debug`` prints the traceback behind it.
"""

from __future__ import annotations

import os
from typing import Any

from .. import _appload
from .._appload import AppLoadError
from ._errors import UsageError, short_path

__all__ = ("load_app", "load_callable")


class _BenchWording(_appload.Wording):
    import_catches = (BaseException,)  # SystemExit too (KeyboardInterrupt never)
    wsgi_hint = "; wrap it in an ASGI adapter (e.g. a2wsgi's WSGIMiddleware)"
    factory_hint = "add --factory"

    def __init__(self, what: str, debug: bool) -> None:
        self.what = what  # the APP argument or the option (--scenario)
        self.debug = debug
        self.raised_hint = "" if debug else " (--debug for the traceback)"

    def show_path(self, filename: str) -> str:
        return short_path(filename)

    def bad_spec(self, spec: str) -> str:
        return f"{self.what} must look like 'module:attribute' (e.g. main:app), got {spec!r}"

    def looked_in(self, directory: str) -> str:
        return (f" in {directory} or on sys.path (run from the app's directory or pass "
                "--app-dir DIR)")

    def factory_not_callable(self, spec: str, kind: str) -> str:
        return f"--factory: {spec} is {kind}, not callable"

    def factory_raised(self, spec: str, error: str) -> str:
        return f"--factory: calling {spec}() raised {error}"

    def factory_awaitable(self, spec: str) -> str:
        return (f"--factory: {spec}() returned an awaitable; the factory must return the app "
                "(a plain def)")


def load_callable(spec: str, app_dir: str, what: str, debug: bool = False) -> Any:
    """The object ``module:attribute`` names (``what`` names the option in errors)."""
    wording = _BenchWording(what, debug)
    try:
        module_name, attr = _appload.split_spec(spec, wording)
        directory = os.path.abspath(app_dir)
        if not os.path.isdir(directory):
            raise UsageError(f"--app-dir {app_dir!r} is not a directory")
        return _appload.import_attribute(module_name, attr, directory, wording)
    except AppLoadError as exc:
        raise UsageError(str(exc)) from None


def load_app(spec: str, app_dir: str, factory: bool, debug: bool = False) -> Any:
    """The ASGI app ``spec`` names (called first with ``factory``)."""
    app = load_callable(spec, app_dir, "APP", debug)
    try:
        return _appload.make_app(app, spec, factory, _BenchWording("APP", debug))
    except AppLoadError as exc:
        raise UsageError(str(exc)) from None
