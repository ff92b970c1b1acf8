"""The single place that chooses the compiled or the pure-Python hot path.

The compiled module (``_parser``, Cython over httptools) is used unless
``AIOHTTP_ASGI_NO_EXTENSIONS`` is non-empty and not ``"0"``, the interpreter is
not CPython, or the extension (or httptools) cannot be imported. Type checkers
always see the pure twin, which has the same names and signatures.
"""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING, Final, Literal

__all__ = (
    "IMPLEMENTATION",
    "IMPORT_ERROR",
    "NO_EXTENSIONS",
    "RequestParser",
    "encode_chunk",
    "encode_response_head",
    "unmask",
)


def _extensions_disabled() -> bool:
    value = os.environ.get("AIOHTTP_ASGI_NO_EXTENSIONS", "")
    return bool(value) and value != "0"


NO_EXTENSIONS: Final = _extensions_disabled() or platform.python_implementation() != "CPython"

#: Why the compiled module could not be imported, for bug reports; None if it was.
IMPORT_ERROR: ImportError | None = None

IMPLEMENTATION: Literal["cython", "python"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from ._parser_py import RequestParser, encode_chunk, encode_response_head, unmask

    IMPLEMENTATION = "python"
else:
    try:
        from ._parser import RequestParser, encode_chunk, encode_response_head, unmask

        IMPLEMENTATION = "cython"
    except ImportError as exc:  # no compiled build, or httptools missing
        IMPORT_ERROR = exc
        from ._parser_py import RequestParser, encode_chunk, encode_response_head, unmask

        IMPLEMENTATION = "python"
