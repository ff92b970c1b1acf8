"""The bench command's exit codes and the error that ends it with code 2."""

from __future__ import annotations

from typing import Final

__all__ = ("EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "UsageError")

EXIT_OK: Final = 0
#: some requests failed, or a --fail-on gate was breached
EXIT_FAILED: Final = 1
#: anything wrong with the command line or the APP
EXIT_USAGE: Final = 2
#: Ctrl-C: the load stopped, the partial report was printed
EXIT_INTERRUPTED: Final = 130


class UsageError(Exception):
    """Something wrong with the command or the app: one line, exit code 2."""
