"""Which event loop runs the pytest plugin's async fixtures: the test's own.

The plugin's async fixtures are plain ``async def`` functions tagged with
:func:`async_fixture`. When one is set up, :func:`prepare_async_fixture` hands it to the
async plugin that runs the test:

- anyio (the test uses the ``anyio_backend`` fixture): an unmarked copy, which anyio's
  plugin runs in its runner, as any async fixture of an anyio test; a backend other
  than asyncio is skipped here (aiohttp runs on asyncio only). (pytest-asyncio's auto
  mode claims every async fixture and test, so anyio tests want its strict mode.)
- pytest-asyncio otherwise: a copy of the function, marked as a ``pytest_asyncio``
  fixture whose ``loop_scope`` is the test's own loop scope, so fixture and test share
  one loop whatever ``asyncio_default_fixture_loop_scope`` says.

:func:`check_loop_scopes` runs at collection: a lifespan scope wider than a test's
event loop would otherwise end in ScopeMismatch or "attached to a different loop".
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from typing import Any, Final

import pytest

__all__ = ("SCOPES", "async_fixture", "check_loop_scopes", "prepare_async_fixture")

#: fixture scopes, narrowest first
SCOPES: Final = ("function", "class", "module", "package", "session")

_TAG: Final = "_aiohttp_asgi_fast_async_fixture"

_copies: dict[tuple[Callable[..., Any], str], Callable[..., Any]] = {}


def async_fixture(func: Callable[..., Any]) -> Callable[..., Any]:
    """Tag one of the plugin's async fixture functions (applied under ``pytest.fixture``).

    It is also marked as a pytest-asyncio fixture, so pytest-asyncio's strict mode sees
    an asyncio fixture when it inspects the test's fixtures; which copy actually runs
    is chosen per test by :func:`prepare_async_fixture`.
    """
    setattr(func, _TAG, True)
    _mark_for_pytest_asyncio(func, None)
    return func


def _mark_for_pytest_asyncio(func: Callable[..., Any], loop_scope: str | None) -> None:
    # What pytest_asyncio.fixture(loop_scope=...) sets on the function it marks
    # (pytest-asyncio >= 0.24); its public decorator returns a pytest fixture
    # definition, not a function we could put on the FixtureDef.
    func._force_asyncio_fixture = True  # type: ignore[attr-defined]
    func._loop_scope = loop_scope  # type: ignore[attr-defined]


def _copy(func: Callable[..., Any], loop_scope: str | None) -> Callable[..., Any]:
    """A copy of ``func``: marked for pytest-asyncio with ``loop_scope``, or (None)
    unmarked, for anyio's plugin."""
    key = (func, loop_scope or "")
    copy = _copies.get(key)
    if copy is None:
        assert isinstance(func, types.FunctionType)
        new = types.FunctionType(func.__code__, func.__globals__, func.__name__,
                                 func.__defaults__, func.__closure__)
        new.__kwdefaults__ = func.__kwdefaults__
        new.__qualname__ = func.__qualname__
        if loop_scope is not None:
            _mark_for_pytest_asyncio(new, loop_scope)
        copy = _copies[key] = new
    return copy


def _backend_name(backend: Any) -> str:
    return backend if isinstance(backend, str) else str(backend[0])


def _test_loop_scope(item: pytest.Item) -> str:
    """The scope of the pytest-asyncio loop ``item`` runs in."""
    marker = item.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        try:
            scope = item.config.getini("asyncio_default_test_loop_scope")
        except ValueError:  # pytest-asyncio < 0.24: one loop per test
            scope = None
    return str(scope or "function")


def _item_of(request: pytest.FixtureRequest) -> pytest.Item:
    # A wider-scoped fixture's request.node is its module or session; the test that
    # set it up is the private _pyfuncitem (pytest has no public name for it).
    item = getattr(request, "_pyfuncitem", None)
    return item if isinstance(item, pytest.Item) else request.node


def prepare_async_fixture(fixturedef: Any, request: pytest.FixtureRequest) -> Any | None:
    """The function to put on ``fixturedef`` while it is set up, or None to leave it."""
    func = fixturedef.func
    if not getattr(func, _TAG, False):
        return None
    if "anyio_backend" in request.fixturenames:
        name = _backend_name(request.getfixturevalue("anyio_backend"))
        if name != "asyncio":
            message = (f"{fixturedef.argname}: aiohttp runs on asyncio only, and this "
                       f"test's anyio backend is {name!r}")
            return _raising(lambda: pytest.skip(message))
        return _copy(func, None)  # unmarked: anyio's plugin runs it in the test's runner
    if not request.config.pluginmanager.has_plugin("asyncio"):
        message = (f"{fixturedef.argname} is an async fixture: run the test with "
                   "pytest-asyncio (@pytest.mark.asyncio or asyncio_mode = auto) or anyio "
                   "(@pytest.mark.anyio)")
        return _raising(lambda: pytest.fail(message, pytrace=False))
    return _copy(func, _test_loop_scope(_item_of(request)))


def _raising(outcome: Callable[[], Any]) -> Callable[..., Any]:
    """A (sync) fixture function that raises ``outcome``'s skip or fail when pytest
    calls it: raised in the setup hook itself, pytest would neither cache the outcome
    nor drop the finalizer it registered, and the fixture's next setup would fail."""
    def fixture_outcome(**_kwargs: Any) -> Any:
        outcome()
    return fixture_outcome


def _wider(scope: str, than: str) -> bool:
    return SCOPES.index(scope) > SCOPES.index(than)


def check_loop_scopes(items: Iterable[pytest.Item], fixture_names: frozenset[str],
                      lifespan_scope: str) -> None:
    """Raise a UsageError naming the ini line to add when a test's event loop is
    narrower than ``asgi_lifespan_scope``."""
    if lifespan_scope == "function":
        return
    for item in items:
        names = getattr(item, "fixturenames", ())
        if not fixture_names.intersection(names):
            continue
        if "anyio_backend" in names:
            fixturedefs = item._fixtureinfo.name2fixturedefs.get("anyio_backend")  # type: ignore[attr-defined]
            backend_scope = fixturedefs[-1].scope if fixturedefs else "module"
            if _wider(lifespan_scope, backend_scope):
                raise pytest.UsageError(
                    f"{item.nodeid}: asgi_lifespan_scope = {lifespan_scope} needs an "
                    f"anyio_backend fixture of scope {lifespan_scope!r} (it is "
                    f"{backend_scope!r}): in conftest.py, @pytest.fixture(scope="
                    f"\"{lifespan_scope}\") def anyio_backend(): return \"asyncio\""
                )
            continue
        if item.get_closest_marker("asyncio") is None:
            continue
        loop_scope = _test_loop_scope(item)
        if _wider(lifespan_scope, loop_scope):
            raise pytest.UsageError(
                f"{item.nodeid}: asgi_lifespan_scope = {lifespan_scope} needs the tests "
                f"that use it to run in a {lifespan_scope}-scoped event loop, and this one "
                f"runs in a {loop_scope}-scoped loop: add the ini line "
                f"`asyncio_default_test_loop_scope = {lifespan_scope}` (and "
                f"`asyncio_default_fixture_loop_scope = {lifespan_scope}` for your own "
                f"async fixtures), or mark the tests "
                f"@pytest.mark.asyncio(loop_scope=\"{lifespan_scope}\")"
            )
