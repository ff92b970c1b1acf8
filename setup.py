"""Build the compiled hot path (src/aiohttp_asgi_fast/_parser.pyx).

AIOHTTP_ASGI_NO_EXTENSIONS (non-empty and not "0") at build time, or a Python
other than CPython, gives a pure install. Otherwise a failed compile fails the
build loudly: no silent fallback (compare aiohttp #3828).
"""

from __future__ import annotations

import os
import platform
import sys

from setuptools import Extension, setup


def _no_extensions() -> bool:
    value = os.environ.get("AIOHTTP_ASGI_NO_EXTENSIONS", "")
    return bool(value) and value != "0"


def _banner(text: str) -> None:
    print(f"*** aiohttp-asgi-fast: {text} ***", file=sys.stderr, flush=True)


if _no_extensions() or platform.python_implementation() != "CPython":
    _banner("Pure build (AIOHTTP_ASGI_NO_EXTENSIONS set or not CPython): no compiled hot path")
    ext_modules: list[Extension] = []
else:
    from Cython.Build import cythonize

    _banner("Accelerated build: compiling src/aiohttp_asgi_fast/_parser.pyx")
    trace = os.environ.get("AIOHTTP_ASGI_CYTHON_TRACE", "") not in ("", "0")
    ext_modules = cythonize(
        [
            Extension(
                "aiohttp_asgi_fast._parser",
                ["src/aiohttp_asgi_fast/_parser.pyx"],
                define_macros=[("CYTHON_TRACE", "1")] if trace else [],
                extra_compile_args=["-O2"],
            )
        ],
        compiler_directives={
            "language_level": "3",
            "embedsignature": True,
            "boundscheck": False,
            "wraparound": False,
            "linetrace": trace,
        },
    )

setup(ext_modules=ext_modules)
