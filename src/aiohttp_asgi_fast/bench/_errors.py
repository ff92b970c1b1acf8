"""The bench command's exit codes, the error that ends it with code 2, and where an
exception was raised (for one-line messages)."""

from __future__ import annotations

import os
import traceback
from typing import Final

__all__ = (
    "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "RunFailed", "UsageError",
    "origin",
    "short_path",
)

EXIT_OK: Final = 0
#: some requests failed, or a --fail-on gate was breached
EXIT_FAILED: Final = 1
#: anything wrong with the command line or the APP
EXIT_USAGE: Final = 2
#: Ctrl-C: the load stopped, the partial report was printed
EXIT_INTERRUPTED: Final = 130


class UsageError(Exception):
    """Something wrong with the command or the app: one line, exit code 2."""


class RunFailed(Exception):
    """The load could not finish (a worker process failed): one line, exit code 1."""


def short_path(filename: str) -> str:
    """A source file as the user knows it: relative to the current directory when inside
    it, else its last two path parts (``pkg/module.py``)."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        relative = filename
    if not relative.startswith(".."):
        return relative
    return os.path.join(*filename.replace("\\", "/").split("/")[-2:])


def origin(exc: BaseException) -> str:
    """`` at file:line`` of the innermost frame of ``exc``'s traceback, or ""."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" at {short_path(last.filename)}:{last.lineno}"
