"""Build the compiled hot path (src/aiohttp_asgi_fast/_parser.pyx) and the long description.

AIOHTTP_ASGI_NO_EXTENSIONS (non-empty and not "0") at build time, or a Python
other than CPython, gives a pure install (a py3-none-any wheel). Otherwise a failed
compile fails the build loudly: no silent fallback (compare aiohttp #3828).

The long description is README.md with its relative links (benchmarks/README.md, docs/,
#sections) made absolute, pointing at this version's tag on GitHub, so they work on the
package index page.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from pathlib import Path

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

HOME = "https://github.com/aiohttp-asgi-fast/aiohttp-asgi-fast"
_HERE = Path(__file__).parent


def _long_description() -> str:
    version_file = (_HERE / "src/aiohttp_asgi_fast/_version.py").read_text(encoding="utf-8")
    version = re.search(r'__version__ = "([^"]+)"', version_file)
    assert version, "src/aiohttp_asgi_fast/_version.py has no __version__"
    tree = f"{HOME}/blob/v{version[1]}/"

    def absolute(match: re.Match[str]) -> str:
        target = match[1]
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # already absolute: https:, mailto:
            return match[0]
        page = f"README.md{target}" if target.startswith("#") else target
        return f"]({tree}{page})"

    readme = (_HERE / "README.md").read_text(encoding="utf-8")
    return re.sub(r"\]\(([^)\s]+)\)", absolute, readme)


setup(
    ext_modules=ext_modules,
    long_description=_long_description(),
    long_description_content_type="text/markdown",
)
