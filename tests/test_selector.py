"""The compiled/pure choice: the guard that a normal build runs compiled code."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

import aiohttp_asgi_fast
from aiohttp_asgi_fast import _hotpath

NO_EXTENSIONS = os.environ.get("AIOHTTP_ASGI_NO_EXTENSIONS", "") not in ("", "0")


def test_compiled_module_loaded_unless_disabled() -> None:
    if NO_EXTENSIONS:
        assert aiohttp_asgi_fast.IMPLEMENTATION == "python"
        assert _hotpath.RequestParser.__module__ == "aiohttp_asgi_fast._parser_py"
    else:
        # A normal CPython build must have compiled and loaded _parser.pyx.
        assert _hotpath.IMPORT_ERROR is None, f"compiled hot path failed: {_hotpath.IMPORT_ERROR!r}"
        assert aiohttp_asgi_fast.IMPLEMENTATION == "cython"
        assert _hotpath.RequestParser.__module__ == "aiohttp_asgi_fast._parser"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", "python"), ("yes", "python"), ("0", None), ("", None)],
)
def test_environment_switch(value: str, expected: str | None) -> None:
    env = {**os.environ, "AIOHTTP_ASGI_NO_EXTENSIONS": value}
    out = subprocess.run(
        [sys.executable, "-c", "import aiohttp_asgi_fast as m; print(m.IMPLEMENTATION)"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    if expected is None:  # not disabled: compiled whenever the build has the extension
        built = importlib.util.find_spec("aiohttp_asgi_fast._parser") is not None
        expected = "cython" if built else "python"
    assert out == expected
