"""Test harness: async tests with a hard time bound, and a leaked-task check.

Every ``async def`` test runs in a fresh event loop under ``asyncio.wait_for`` with
ASYNC_TEST_TIMEOUT seconds, so a broken connector fails instead of freezing CI. After
the test body, any task still alive in the loop fails the test: the app task must
never outlive the session.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import os
import warnings
from types import ModuleType
from typing import Any

import pytest

ASYNC_TEST_TIMEOUT = float(os.environ.get("ASYNC_TEST_TIMEOUT", "20"))

NO_EXTENSIONS = os.environ.get("AIOHTTP_ASGI_NO_EXTENSIONS", "") not in ("", "0")


def pytest_report_header(config: pytest.Config) -> list[str]:
    import aiohttp

    import aiohttp_asgi_fast
    from aiohttp_asgi_fast import _hotpath

    lines = [
        f"aiohttp-asgi-fast {aiohttp_asgi_fast.__version__}: hot path "
        f"{aiohttp_asgi_fast.IMPLEMENTATION} (AIOHTTP_ASGI_NO_EXTENSIONS="
        f"{os.environ.get('AIOHTTP_ASGI_NO_EXTENSIONS', '')!r}), aiohttp {aiohttp.__version__}",
    ]
    if _hotpath.IMPORT_ERROR is not None:
        lines.append(f"compiled hot path import error: {_hotpath.IMPORT_ERROR!r}")
    return lines


async def _run_bounded(func: Any, kwargs: dict[str, Any]) -> None:
    current = asyncio.current_task()
    await asyncio.wait_for(func(**kwargs), ASYNC_TEST_TIMEOUT)
    # Let finished tasks' callbacks run, then nothing may be left behind.
    for _ in range(3):
        await asyncio.sleep(0)
    leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if leftover:
        for task in leftover:
            task.cancel()
        await asyncio.gather(*leftover, return_exceptions=True)
        pytest.fail(f"tasks outlived the test: {leftover!r}")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        loop = asyncio.new_event_loop()
        loop.set_debug(False)
        try:
            loop.run_until_complete(_run_bounded(func, kwargs))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            gc.collect()
    return True


@pytest.fixture(params=[pytest.param("compiled", marks=pytest.mark.c_extension), "pure"])
def hotpath(request: pytest.FixtureRequest) -> ModuleType:
    """Each hot-path twin in turn, imported directly (whatever the mode selects)."""
    if request.param == "pure":
        return importlib.import_module("aiohttp_asgi_fast._parser_py")
    try:
        return importlib.import_module("aiohttp_asgi_fast._parser")
    except ImportError as exc:
        if NO_EXTENSIONS:
            pytest.skip(f"compiled hot path not built (AIOHTTP_ASGI_NO_EXTENSIONS set): {exc}")
        pytest.fail(f"compiled hot path failed to import: {exc!r}")
