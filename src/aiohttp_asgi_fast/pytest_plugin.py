"""pytest plugin: fixtures that test an ASGI app through ``aiohttp.ClientSession``.

Loaded through the ``pytest11`` entry point when aiohttp-asgi-fast is installed;
``-p no:aiohttp_asgi_fast`` disables it. It does nothing for tests that use none of
its fixtures.

Which app (first found wins):

1. the marker ``@pytest.mark.asgi_app("pkg.admin:app")`` (``factory=True`` calls it),
   on a test, class or module (``pytestmark``);
2. the command-line option ``--asgi-app pkg.module:app``;
3. the ini option ``asgi_app = pkg.module:app``.

``module:attribute`` as uvicorn (the attribute may be dotted: ``main:api.app``), with
the rootdir and the current directory importable (prepended to ``sys.path``).
``asgi_app_factory = true`` (ini) makes the object named by 2 or 3 a factory called
with no arguments. Or override the
``asgi_app`` fixture in a conftest.py. An app is loaded once per session (a factory is
called once); a bad one is a one-line setup error naming the option it came from.

Fixtures (async ones run in the test's event loop, with pytest-asyncio in strict or
auto mode, or with anyio's plugin in strict mode on its asyncio backend; another anyio
backend, e.g. trio, is skipped: aiohttp runs on asyncio only). Built for
pytest-asyncio >= 0.24 (``loop_scope``; tested with 1.x); with 0.23, which wraps async
fixtures at collection, only ``asgi_lifespan_scope = function`` and no anyio tests in
the same run:

``asgi_app``
    the app. FastAPI's ``app.dependency_overrides`` is restored after each test.
``asgi_connector``
    the :class:`~aiohttp_asgi_fast.ASGIApplicationConnector` running it, its lifespan
    started (``asgi_lifespan``). One connector per app per ``asgi_lifespan_scope``.
``asgi_client``
    an ``aiohttp.ClientSession`` with ``base_url="http://testserver"`` on that
    connector, closed at teardown.
``asgi_client_factory``
    ``await asgi_client_factory(headers=..., cookies=...)`` (any ClientSession keyword
    but ``connector``): more sessions on the same app and lifespan, closed at teardown.
``asgi_lifespan_state``
    the lifespan state dict the app's startup filled (``asgi_connector.state``).
``asgi_worker_id``
    the pytest-xdist worker id (``"gw0"``...), ``"master"`` without xdist.

ini options:

``asgi_lifespan = auto | on | off`` (default auto)
    auto runs the app's lifespan when it supports it; on also fails the test when it
    does not; off never runs it (for an app already wrapped in a LifespanManager).
``asgi_lifespan_scope = function | module | session`` (default function)
    how long a connector and its lifespan live: one startup per test, module or
    session (per xdist worker). With pytest-asyncio, tests using the fixtures must run
    in an event loop at least that wide (``asyncio_default_test_loop_scope``); with
    anyio, ``anyio_backend`` must be at least that wide. Collection fails otherwise,
    naming the line to add. Tests sharing one connector must share its event loop:
    a pytest-asyncio test and an anyio test in one module/session scope is a setup
    error (function scope mixes them freely). With ``asgi_app`` overridden by a
    function-scoped fixture that builds a new app per test, each test gets its own
    connector and lifespan whatever this scope.
``asgi_root_path`` (default ""), ``asgi_propagate_exceptions`` (default true)
    the connector's ``root_path`` and ``propagate_exceptions``. For any other connector
    option, override ``asgi_connector`` in a conftest.py (an async fixture of your async
    plugin that yields your own connector and closes it); ``asgi_client`` and
    ``asgi_client_factory`` then use it, and still check responses at teardown.

At teardown a test fails (an error at teardown) when a response from the plugin's
sessions was never read or released, or when an app call is still running a second
after the sessions closed; both name the requests. An app call whose client gave up
(a timeout, a cancelled request, a response released early) is not a failure: it had
``http.disconnect``, and 0.1 s later it is cancelled, as closing the connector does.

``--asgi-pure`` runs the suite on the pure-Python hot path, as
``AIOHTTP_ASGI_NO_EXTENSIONS=1`` does (set before the hot path is first imported; if
something imported it earlier, the option is a usage error asking for the variable);
pytest's header shows the hot path in use.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

import pytest

from ._pytest_appload import AppLoadError, load_app
from ._pytest_loops import SCOPES, async_fixture, check_loop_scopes, prepare_async_fixture
from ._pytest_sessions import SessionBooks, restoring_dependency_overrides

if TYPE_CHECKING:
    from aiohttp import ClientSession

    from .connector import ASGIApplicationConnector

_NO_EXTENSIONS: Final = "AIOHTTP_ASGI_NO_EXTENSIONS"
_LIFESPAN_MODES: Final = ("auto", "on", "off")
_LIFESPAN_SCOPES: Final = ("function", "module", "session")
_ASYNC_FIXTURES: Final = frozenset(
    {"_asgi_connectors", "asgi_connector", "asgi_client", "asgi_client_factory",
     "asgi_lifespan_state"}
)
_NO_APP: Final = (
    "no ASGI app configured for the aiohttp-asgi-fast fixtures: mark the test "
    "@pytest.mark.asgi_app(\"module:app\"), pass --asgi-app module:app, or set "
    "`asgi_app = module:app` in the pytest ini options (or override the asgi_app fixture)"
)

_apps_key: Final = pytest.StashKey[dict[tuple[str, bool], Any]]()
_sessions_key: Final = pytest.StashKey[SessionBooks]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiohttp_asgi_fast", "aiohttp-asgi-fast ASGI test client")
    group.addoption("--asgi-app", metavar="MODULE:APP", default=None,
                    help="the ASGI app the asgi_* fixtures test (overrides the asgi_app ini "
                         "option; the asgi_app marker overrides it)")
    group.addoption("--asgi-pure", action="store_true", default=False,
                    help="use the pure-Python hot path (as AIOHTTP_ASGI_NO_EXTENSIONS=1)")
    parser.addini("asgi_app", "the ASGI app the asgi_* fixtures test, as module:attribute",
                  default="")
    parser.addini("asgi_app_factory", "the asgi_app option names a factory to call",
                  type="bool", default=False)
    parser.addini("asgi_lifespan", "run the app's lifespan: auto|on|off", default="auto")
    parser.addini("asgi_lifespan_scope", "one app lifespan per function|module|session",
                  default="function")
    parser.addini("asgi_root_path", "the connector's root_path", default="")
    parser.addini("asgi_propagate_exceptions",
                  "raise the app's exceptions in the test (else a 500 response)",
                  type="bool", default=True)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    if not getattr(early_config.known_args_namespace, "asgi_pure", False):
        return
    hotpath = sys.modules.get("aiohttp_asgi_fast._hotpath")
    if hotpath is not None and getattr(hotpath, "IMPLEMENTATION", None) != "python":
        raise pytest.UsageError(
            "--asgi-pure: the compiled hot path was already chosen (aiohttp_asgi_fast was "
            f"imported before the option was read); set {_NO_EXTENSIONS}=1 in the "
            "environment instead"
        )
    os.environ[_NO_EXTENSIONS] = "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "asgi_app(spec, factory=False): the ASGI app (module:attribute) the asgi_* "
        "fixtures test",
    )
    for name, allowed in (("asgi_lifespan", _LIFESPAN_MODES),
                          ("asgi_lifespan_scope", _LIFESPAN_SCOPES)):
        value = config.getini(name)
        if value not in allowed:
            raise pytest.UsageError(f"ini option {name} = {value!r}: expected one of "
                                    f"{', '.join(allowed)}")
    config.stash[_apps_key] = {}


def pytest_report_header(config: pytest.Config) -> str:
    from . import _hotpath
    from ._version import __version__

    how = " (--asgi-pure)" if config.getoption("asgi_pure") else ""
    return f"aiohttp-asgi-fast {__version__}: hot path {_hotpath.IMPLEMENTATION}{how}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    check_loop_scopes(items, _ASYNC_FIXTURES, config.getini("asgi_lifespan_scope"))


# An old-style wrapper (pluggy < 1.2 has no wrapper=True), first of all wrappers so
# pytest-asyncio's and anyio's see the function it puts in place.
@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Iterator[None]:
    replacement = prepare_async_fixture(fixturedef, request)
    if replacement is None:
        yield
        return
    original = fixturedef.func
    fixturedef.func = replacement
    try:
        yield
    finally:
        fixturedef.func = original


def _app_spec(request: pytest.FixtureRequest) -> tuple[str, bool, str]:
    """(spec, factory, the option it came from)."""
    marker = request.node.get_closest_marker("asgi_app")
    if marker is not None:
        if len(marker.args) != 1 or not isinstance(marker.args[0], str) or (
                set(marker.kwargs) - {"factory"}):
            raise AppLoadError(
                f"@pytest.mark.asgi_app{marker.args!r}: expected one 'module:attribute' "
                "string and optionally factory=True"
            )
        return marker.args[0], bool(marker.kwargs.get("factory", False)), "@pytest.mark.asgi_app"
    config = request.config
    factory = bool(config.getini("asgi_app_factory"))
    option = config.getoption("asgi_app")
    if option:
        return option, factory, "--asgi-app"
    ini = config.getini("asgi_app")
    if ini:
        return ini, factory, "ini option asgi_app"
    raise AppLoadError(_NO_APP)


def _load(request: pytest.FixtureRequest) -> Any:
    spec, factory, source = _app_spec(request)
    apps = request.config.stash[_apps_key]
    key = (spec, factory)
    if key not in apps:
        for directory in (os.getcwd(), str(request.config.rootpath)):
            if directory not in sys.path:
                sys.path.insert(0, directory)
        try:
            apps[key] = load_app(spec, source, factory, str(request.config.rootpath))
        except AppLoadError as exc:
            apps[key] = exc
    app = apps[key]
    if isinstance(app, AppLoadError):
        raise AppLoadError(str(app))  # a new one each test: no traceback growing on it
    return app


@pytest.fixture
def asgi_app(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The ASGI app under test (marker, ``--asgi-app``, or the ``asgi_app`` ini option)."""
    failure = None
    try:
        app = _load(request)
    except AppLoadError as exc:
        failure = str(exc)
    if failure is not None:  # failed outside the except: one line, no chained error
        pytest.fail(failure, pytrace=False)
    with restoring_dependency_overrides(app):
        yield app


class _Connectors:
    """One lifespan scope's connectors (by ``id(app)``), all in its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.by_app: dict[int, tuple[Any, ASGIApplicationConnector]] = {}
        #: the setup error of an app whose startup failed, for every test sharing it
        self.failures: dict[int, str] = {}


def _lifespan_scope(fixture_name: str, config: pytest.Config) -> Any:
    scope = config.getini("asgi_lifespan_scope")
    return scope if scope in SCOPES else "function"


@pytest.fixture(scope=_lifespan_scope)
@async_fixture
async def _asgi_connectors() -> AsyncIterator[_Connectors]:
    """The connectors of this lifespan scope, one per app; closed (lifespan shutdown)
    when the scope ends."""
    connectors = _Connectors(asyncio.get_running_loop())
    yield connectors
    failures = []
    for _app, connector in connectors.by_app.values():
        try:
            await connector.close()
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
    if failures:
        pytest.fail("closing the app's connector (lifespan shutdown) failed: "
                    + "; ".join(failures), pytrace=False)


async def _connector_for(app: Any, connectors: _Connectors,
                         config: pytest.Config) -> ASGIApplicationConnector:
    if asyncio.get_running_loop() is not connectors.loop:
        scope = config.getini("asgi_lifespan_scope")
        pytest.fail(
            f"asgi_lifespan_scope = {scope}: the app's connector (and lifespan) of this "
            f"{scope} lives in another event loop than this test's (pytest-asyncio and "
            "anyio, or different asyncio loop scopes, in one scope): run the tests that "
            "share it with one async plugin and one loop scope, or set "
            "asgi_lifespan_scope = function", pytrace=False)
    failure = connectors.failures.get(id(app))
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    entry = connectors.by_app.get(id(app))
    if entry is not None:
        return entry[1]
    from .connector import ASGIApplicationConnector
    from .exceptions import LifespanError

    mode = config.getini("asgi_lifespan")
    connector = ASGIApplicationConnector(
        app,
        lifespan=mode != "off",
        root_path=config.getini("asgi_root_path"),
        propagate_exceptions=bool(config.getini("asgi_propagate_exceptions")),
    )
    connectors.by_app[id(app)] = (app, connector)
    if mode != "off":
        try:
            await connector.startup()
        except LifespanError as exc:
            failure = f"the app's lifespan startup failed: {exc}"
        if failure is None and mode == "on" and connector.state is None:
            failure = ("asgi_lifespan = on, but the app does not support the ASGI lifespan "
                       "protocol (set asgi_lifespan = auto or off)")
    if failure is not None:
        connectors.failures[id(app)] = failure
        pytest.fail(failure, pytrace=False)
    return connector


@pytest.fixture
@async_fixture
async def asgi_connector(
    request: pytest.FixtureRequest, asgi_app: Any,
    _asgi_connectors: _Connectors,
) -> AsyncIterator[ASGIApplicationConnector]:
    """The ``ASGIApplicationConnector`` running ``asgi_app``, lifespan started."""
    connector = await _connector_for(asgi_app, _asgi_connectors, request.config)
    already_running = connector.running_app_calls
    sessions = SessionBooks(connector)
    request.node.stash[_sessions_key] = sessions
    with restoring_dependency_overrides(asgi_app):
        yield connector
        problems = await sessions.close()
        await sessions.end_abandoned_app_calls()
        running = await sessions.app_calls_running() - already_running
        if running > 0:
            problems.append(f"{running} app call(s) still running at teardown "
                            f"({sessions.requests_text()})")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
@async_fixture
async def asgi_client_factory(
    request: pytest.FixtureRequest, asgi_connector: ASGIApplicationConnector,
) -> AsyncIterator[Callable[..., Awaitable[ClientSession]]]:
    """``await asgi_client_factory(**ClientSession_kwargs)``: another session on the app."""
    stashed: SessionBooks | None = request.node.stash.get(_sessions_key, None)
    own = stashed is None  # asgi_connector overridden: keep the books here
    sessions = SessionBooks(asgi_connector) if stashed is None else stashed

    async def make(**kwargs: Any) -> ClientSession:
        return sessions.session(kwargs)

    yield make
    if own:
        problems = await sessions.close()
        if problems:
            pytest.fail("; ".join(problems), pytrace=False)


@pytest.fixture
@async_fixture
async def asgi_client(
    asgi_client_factory: Callable[..., Awaitable[ClientSession]],
) -> ClientSession:
    """An ``aiohttp.ClientSession`` (base_url http://testserver) on the app."""
    session: ClientSession = await asgi_client_factory()
    return session


@pytest.fixture
def asgi_lifespan_state(request: pytest.FixtureRequest,
                        asgi_connector: ASGIApplicationConnector) -> dict[str, Any]:
    """The lifespan state dict the app's startup filled."""
    state = asgi_connector.state
    if state is None:
        why = ("asgi_lifespan = off" if request.config.getini("asgi_lifespan") == "off"
               else "the app does not support the ASGI lifespan protocol")
        pytest.fail(f"asgi_lifespan_state: no lifespan state ({why})", pytrace=False)
    return state


@pytest.fixture(scope="session")
def asgi_worker_id(request: pytest.FixtureRequest) -> str:
    """The pytest-xdist worker id (``gw0``, ``gw1``...), or ``master`` without xdist."""
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput["workerid"])
    return "master"
