"""The pytest plugin (aiohttp_asgi_fast.pytest_plugin), run the way users run it: inner
pytest runs (pytester) over real apps written into a temporary directory."""

from __future__ import annotations

import os

import pytest

import aiohttp_asgi_fast
from aiohttp_asgi_fast import _hotpath  # chosen in this process before any inner run

pytest_plugins = ("pytester",)

SUBPROCESS_TIMEOUT = 60

# A raw ASGI app: /who answers its NAME; the lifespan counts startups in starts.txt.
RAW_APP = '''
import asyncio, json, os

def make(name):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    with open("starts.txt", "a") as f:
                        f.write(f"{name} {os.getpid()}\\n")
                    scope["state"]["name"] = name
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/stream":  # a body bigger than any buffer: never all sent
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(1000):
                await send({"type": "http.response.body", "body": b"x" * 65536,
                            "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        body = json.dumps({"name": name, "state": scope.get("state", {}).get("name"),
                           "headers": {k.decode(): v.decode() for k, v in scope["headers"]}})
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})
        if scope["path"] == "/linger":  # the app goes on after its response
            await asyncio.sleep(30)
    return app

app = make("raw")
other = make("other")
third = make("third")

def create_app():
    return make("factory")
'''

FASTAPI_APP = '''
from contextlib import asynccontextmanager
from fastapi import Depends, FastAPI

@asynccontextmanager
async def lifespan(app):
    yield {"db": "connected"}

app = FastAPI(lifespan=lifespan)

def current_user():
    return "alice"

@app.get("/me")
async def me(user: str = Depends(current_user)):
    return {"user": user}
'''


def _setup(pytester: pytest.Pytester, ini: str, **tests: str) -> None:
    pytester.makepyfile(rawapp=RAW_APP, fastapp=FASTAPI_APP)
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile(**tests)


def _starts(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "starts.txt"
    return path.read_text().splitlines() if path.exists() else []


AUTO = "asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"


def test_ini_app_fastapi_lifespan_state_and_dependency_overrides(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = fastapp:app\n", test_fast='''
import fastapp

async def test_override(asgi_client, asgi_app):
    asgi_app.dependency_overrides[fastapp.current_user] = lambda: "mallory"
    async with asgi_client.get("/me") as resp:
        assert await resp.json() == {"user": "mallory"}

async def test_not_leaked(asgi_client, asgi_app, asgi_lifespan_state):
    assert asgi_app.dependency_overrides == {}
    assert asgi_lifespan_state == {"db": "connected"}
    async with asgi_client.get("/me") as resp:
        assert await resp.json() == {"user": "alice"}
''')
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


def test_marker_beats_option_beats_ini(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:app\n", test_which='''
import pytest

async def name(client):
    async with client.get("/who") as resp:
        return (await resp.json())["name"]

async def test_option(asgi_client):
    assert await name(asgi_client) == "other"

@pytest.mark.asgi_app("rawapp:third")
async def test_marker(asgi_client):
    assert await name(asgi_client) == "third"

@pytest.mark.asgi_app("rawapp:create_app", factory=True)
async def test_marker_factory(asgi_client):
    assert await name(asgi_client) == "factory"
''')
    pytester.runpytest("--asgi-app", "rawapp:other").assert_outcomes(passed=3)
    # without the option, the ini option
    result = pytester.runpytest("-k", "option")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert 'raw' == 'other'*"])


def test_ini_factory_and_client_factory(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:create_app\nasgi_app_factory = true\n",
           test_factory='''
async def test_two_sessions(asgi_client_factory, asgi_connector):
    alice = await asgi_client_factory(headers={"x-user": "alice"})
    bob = await asgi_client_factory(headers={"x-user": "bob"}, cookies={"k": "v"})
    async with alice.get("/who") as a, bob.get("/who") as b:
        a, b = await a.json(), await b.json()
    assert (a["name"], a["headers"]["x-user"]) == ("factory", "alice")
    assert (b["headers"]["x-user"], b["headers"]["cookie"]) == ("bob", "k=v")
    assert a["state"] == "factory"  # the lifespan ran, once for both sessions
    assert not alice.closed
''')
    pytester.runpytest().assert_outcomes(passed=1)
    assert len(_starts(pytester)) == 1


def test_fixture_override_in_conftest(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO, conftest='''
import pytest, rawapp

@pytest.fixture
def asgi_app():
    return rawapp.make("from-conftest")
''', test_override='''
async def test_it(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert (await resp.json())["name"] == "from-conftest"
''')
    pytester.runpytest().assert_outcomes(passed=1)


BAD_APPS = {
    "missing module": ("nosuchmodule:app", "",
                       "*ini option asgi_app: cannot import 'nosuchmodule': no module named "
                       "'nosuchmodule'*"),
    "module raises": ("broken:app", "raise RuntimeError('no database')",
                      "*ini option asgi_app: importing 'broken' raised RuntimeError: no "
                      "database (at broken.py:1)*"),
    "missing attribute": ("broken:ap", "app = None",
                          "*ini option asgi_app: 'broken' has no attribute 'ap' (did you mean "
                          "'app'?)*"),
    "not callable": ("broken:app", "app = 42",
                     "*ini option asgi_app: broken:app is int 42, not an ASGI app*"),
    "wsgi app": ("broken:app", "def app(environ, start_response): pass",
                 "*ini option asgi_app: broken:app takes 2 arguments ('environ', "
                 "'start_response'): it looks like a WSGI app*"),
    "bad spec": ("broken.app", "", "*ini option asgi_app: expected 'module:attribute'*"),
}


@pytest.mark.parametrize("case", list(BAD_APPS))
def test_bad_app_is_one_line_setup_error(pytester: pytest.Pytester, case: str) -> None:
    spec, source, message = BAD_APPS[case]
    pytester.makepyfile(broken=source)
    pytester.makeini(f"[pytest]\n{AUTO}asgi_app = {spec}\n")
    pytester.makepyfile(test_bad="async def test_it(asgi_client):\n    pass\n\n"
                                 "async def test_again(asgi_client):\n    pass\n")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_it*", message,
                                 "*ERROR at setup of test_again*", message])
    result.stdout.no_fnmatch_line("*importlib*")  # no traceback from deep inside
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_no_app_configured_says_the_three_ways(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO, test_none="async def test_it(asgi_client):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no ASGI app configured*@pytest.mark.asgi_app(*--asgi-app*"
                                 "asgi_app = module:app*"])


LIFESPAN_TESTS = '''
async def test_a(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert (await resp.json())["state"] == "raw"

async def test_b(asgi_client, asgi_lifespan_state):
    assert asgi_lifespan_state["name"] == "raw"
'''


@pytest.mark.parametrize(("scope", "startups"), [("function", 4), ("module", 2), ("session", 1)])
def test_lifespan_scope(pytester: pytest.Pytester, scope: str, startups: int) -> None:
    _setup(pytester, AUTO + "asyncio_default_test_loop_scope = session\n"
           f"asgi_app = rawapp:app\nasgi_lifespan_scope = {scope}\n",
           test_one=LIFESPAN_TESTS, test_two=LIFESPAN_TESTS)
    pytester.runpytest().assert_outcomes(passed=4)
    assert len(_starts(pytester)) == startups


def test_lifespan_off_and_on(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:app\nasgi_lifespan = off\n", test_off='''
async def test_off(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert (await resp.json())["state"] is None

async def test_no_state(asgi_lifespan_state):
    pass
''')
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*asgi_lifespan_state: no lifespan state (asgi_lifespan = off)*"])
    assert _starts(pytester) == []


BROKEN_LIFESPAN_APP = '''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})

async def nolifespan(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
'''

SHARED_STARTUP_TESTS = '''
import pytest

async def test_1(asgi_client):
    async with asgi_client.get("/") as resp:
        assert resp.status == 200

async def test_2(asgi_client):
    async with asgi_client.get("/") as resp:
        assert resp.status == 200

@pytest.mark.asgi_app("brokenapp:nolifespan")
async def test_on1(asgi_client):
    pass

@pytest.mark.asgi_app("brokenapp:nolifespan")
async def test_on2(asgi_client):
    pass
'''


@pytest.mark.parametrize("scope", ["module", "session"])
def test_failed_startup_is_every_sharing_tests_setup_error(pytester: pytest.Pytester,
                                                           scope: str) -> None:
    _setup(pytester, AUTO + "asyncio_default_test_loop_scope = session\n"
           f"asgi_app = brokenapp:app\nasgi_lifespan = on\nasgi_lifespan_scope = {scope}\n",
           brokenapp=BROKEN_LIFESPAN_APP, test_shared=SHARED_STARTUP_TESTS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=4)
    startup = "*the app's lifespan startup failed: *no database*"
    on = "*asgi_lifespan = on, but the app does not support the ASGI lifespan protocol*"
    result.stdout.fnmatch_lines(["*ERROR at setup of test_1*", startup,
                                 "*ERROR at setup of test_2*", startup,
                                 "*ERROR at setup of test_on1*", on,
                                 "*ERROR at setup of test_on2*", on])


def test_scope_mismatch_names_the_ini_line(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:app\nasgi_lifespan_scope = session\n",
           test_one=LIFESPAN_TESTS)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*asgi_lifespan_scope = session needs*"
                                 "`asyncio_default_test_loop_scope = session`*"])


def test_strict_mode(pytester: pytest.Pytester) -> None:
    _setup(pytester, "asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
           "asgi_app = rawapp:app\n", test_strict='''
import pytest

@pytest.mark.asyncio
async def test_it(asgi_client, asgi_lifespan_state):
    async with asgi_client.get("/who") as resp:
        assert (await resp.json())["name"] == asgi_lifespan_state["name"] == "raw"

@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert resp.status == 200
''')
    pytester.runpytest("-W", "error").assert_outcomes(passed=2)


def test_anyio(pytester: pytest.Pytester) -> None:
    _setup(pytester, "asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
           "asgi_app = rawapp:app\nasgi_lifespan_scope = module\n", test_anyio='''
import pytest

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
async def test_it(asgi_client, asgi_lifespan_state):
    async with asgi_client.get("/who") as resp:
        assert (await resp.json())["state"] == asgi_lifespan_state["name"] == "raw"
''')
    # a function-scoped anyio_backend is narrower than the module lifespan scope
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*needs an anyio_backend fixture of scope 'module'*"])
    source = pytester.path.joinpath("test_anyio.py").read_text()
    pytester.makepyfile(test_anyio=source.replace("@pytest.fixture(params",
                                                  '@pytest.fixture(scope="module", params'))
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*aiohttp runs on asyncio only, and this test's anyio "
                                 "backend is 'trio'*"])


def test_anyio_trio_skip_leaves_later_tests_working(pytester: pytest.Pytester) -> None:
    # the standard anyio setup: every test once per backend; a skipped trio setup must
    # leave the fixtures usable by the tests after it
    _setup(pytester, "asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
           "asgi_app = rawapp:app\n", conftest='''
import pytest

@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request):
    return request.param
''', test_backends='''
import pytest

pytestmark = pytest.mark.anyio

async def test_1(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert resp.status == 200

async def test_2(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert resp.status == 200
''')
    result = pytester.runpytest("-rs", "-p", "no:randomly")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.no_fnmatch_line("*AssertionError*")


def test_no_async_plugin_is_a_clear_error_for_every_test(pytester: pytest.Pytester) -> None:
    _setup(pytester, "asgi_app = rawapp:app\n", test_sync='''
def test_1(asgi_client):
    pass

def test_2(asgi_client):
    pass
''')
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:aiohttp", "-p", "no:anyio")
    result.assert_outcomes(errors=2)
    message = "_asgi_connectors is an async fixture: run the test with pytest-asyncio*"
    result.stdout.fnmatch_lines(["*ERROR at setup of test_1*", message,
                                 "*ERROR at setup of test_2*", message])
    result.stdout.no_fnmatch_line("*AssertionError*")


def test_beside_pytest_aiohttp(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:app\n", test_both='''
from aiohttp import web

async def hello(request):
    return web.Response(text="aiohttp")

async def test_both(aiohttp_client, asgi_client):
    app = web.Application()
    app.router.add_get("/", hello)
    native = await aiohttp_client(app)
    async with native.get("/") as resp:
        assert await resp.text() == "aiohttp"
    async with asgi_client.get("/who") as resp:
        assert (await resp.json())["name"] == "raw"
''')
    pytester.runpytest().assert_outcomes(passed=1)


def test_unreleased_response_and_running_app_call_fail_the_test(
        pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:app\n", test_leaks='''
async def test_unreleased(asgi_client):
    resp = await asgi_client.get("/stream")
    assert resp.status == 200

async def test_lingering(asgi_client):
    async with asgi_client.get("/linger") as resp:
        assert resp.status == 200

async def test_clean(asgi_client):
    async with asgi_client.get("/stream") as resp:
        assert resp.status == 200
''')
    result = pytester.runpytest()
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_unreleased*",
        "*1 response(s) never read or released: GET /stream (200)*",
        "*ERROR at teardown of test_lingering*",
        "*1 app call(s) still running at teardown (requests in this test: GET /linger)*",
    ])


WS_APP = '''
async def app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
'''


def test_websocket_left_open_is_named_as_such(pytester: pytest.Pytester) -> None:
    """An open WebSocket is not reported as an unreleased response (its 101 response
    stays open with it); a closed one is no problem."""
    pytester.makepyfile(wsapp=WS_APP)
    _setup(pytester, AUTO + "asgi_app = wsapp:app\n", test_ws='''
async def test_left_open(asgi_client):
    ws = await asgi_client.ws_connect("/ws")
    await ws.send_str("hi")

async def test_closed(asgi_client):
    async with asgi_client.ws_connect("/ws") as ws:
        await ws.send_str("hi")
''')
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_left_open*",
        "*1 WebSocket(s) left open: GET /ws (101) (use `async with client.ws_connect(...) as "
        "ws:` or await ws.close())*",
    ])
    result.stdout.no_fnmatch_line("*never read or released*")


HANG_APP = '''
import asyncio
from fastapi import FastAPI

app = FastAPI()
cancelled = []

@app.get("/hang")
async def hang():
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        cancelled.append("/hang")
        raise

@app.get("/ping")
async def ping():
    return "pong"
'''


def test_app_call_abandoned_by_its_client_is_ended_not_an_error(
        pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asyncio_default_test_loop_scope = module\n"
           "asgi_app = hangapp:app\nasgi_lifespan_scope = module\n",
           hangapp=HANG_APP, test_expect='''
import asyncio, time
import aiohttp, pytest
import hangapp

ended = []

async def test_expect_timeout(asgi_client):
    with pytest.raises(asyncio.TimeoutError):
        await asgi_client.get("/hang", timeout=aiohttp.ClientTimeout(total=0.2))
    ended.append(time.monotonic())

async def test_expect_cancel(asgi_client):
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asgi_client.get("/hang"), 0.2)
    ended.append(time.monotonic())

async def test_later(asgi_client, asgi_connector):
    # the teardowns cancelled both abandoned calls, without the 1 s wait
    assert time.monotonic() - ended[-1] < 0.8
    assert hangapp.cancelled == ["/hang", "/hang"]
    assert asgi_connector.running_app_calls == 0
    async with asgi_client.get("/ping") as resp:
        assert await resp.json() == "pong"
''')
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_header_line(pytester: pytest.Pytester) -> None:
    pytester.makeini(f"[pytest]\n{AUTO}")
    pytester.makepyfile(test_nothing="def test_it():\n    pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [f"aiohttp-asgi-fast {aiohttp_asgi_fast.__version__}: hot path "
         f"{_hotpath.IMPLEMENTATION}"])


def test_asgi_pure_switches_the_mode(pytester: pytest.Pytester,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_mode='''
import os
import aiohttp_asgi_fast

def test_mode():
    assert aiohttp_asgi_fast.IMPLEMENTATION == "python"
    assert os.environ["AIOHTTP_ASGI_NO_EXTENSIONS"] == "1"
''')
    pytester.makeini(f"[pytest]\n{AUTO}")
    monkeypatch.delenv("AIOHTTP_ASGI_NO_EXTENSIONS", raising=False)
    result = pytester.runpytest_subprocess("--asgi-pure", timeout=SUBPROCESS_TIMEOUT)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*: hot path python (--asgi-pure)"])
    if _hotpath.IMPLEMENTATION == "cython":
        # in this process the compiled hot path is already chosen: too late to switch
        result = pytester.runpytest("--asgi-pure")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*--asgi-pure: the compiled hot path was already chosen*"
                                     "set AIOHTTP_ASGI_NO_EXTENSIONS=1*"])
        assert "AIOHTTP_ASGI_NO_EXTENSIONS" not in os.environ


def test_xdist_each_worker_its_own_app(pytester: pytest.Pytester) -> None:
    tests = "\n".join(f'''
async def test_{i}(asgi_client, asgi_worker_id):
    assert asgi_worker_id == os.environ["PYTEST_XDIST_WORKER"]
    async with asgi_client.get("/who") as resp:
        assert resp.status == 200
    with open("workers.txt", "a") as f:
        f.write(f"{{asgi_worker_id}} {{os.getpid()}}\\n")
''' for i in range(6))
    _setup(pytester, AUTO + "asyncio_default_test_loop_scope = session\n"
           "asgi_app = rawapp:app\nasgi_lifespan_scope = session\n",
           test_many="import os, time\n" + tests)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "xdist", timeout=SUBPROCESS_TIMEOUT)
    result.assert_outcomes(passed=6)
    workers = {line.split()[0] for line in (pytester.path / "workers.txt").read_text().splitlines()}
    starts = _starts(pytester)
    # one app and one lifespan per worker process
    assert len(workers) == 2, workers
    assert len(starts) == 2 and len({line.split()[1] for line in starts}) == 2, starts


def test_disabled_with_p_no(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO, test_off="async def test_it(asgi_client):\n    pass\n")
    result = pytester.runpytest("-p", "no:aiohttp_asgi_fast")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'asgi_client' not found*"])
    result.stdout.no_fnmatch_line("*aiohttp-asgi-fast*hot path*")


def test_inert_for_tests_that_do_not_use_it(pytester: pytest.Pytester) -> None:
    # users' own async fixtures (strict mode) and plain tests are left alone
    pytester.makeini("[pytest]\nasyncio_mode = strict\n"
                     "asyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_plain='''
import asyncio, pytest, pytest_asyncio

@pytest_asyncio.fixture
async def loop_id():
    return id(asyncio.get_running_loop())

def test_sync():
    pass

@pytest.mark.asyncio
async def test_async(loop_id):
    assert loop_id == id(asyncio.get_running_loop())
''')
    result = pytester.runpytest("-W", "error")
    result.assert_outcomes(passed=2)


def test_shared_lifespan_across_async_plugins_is_a_clear_error(
        pytester: pytest.Pytester) -> None:
    _setup(pytester, "asyncio_default_fixture_loop_scope = session\n"
           "asyncio_default_test_loop_scope = session\n"
           "asgi_app = rawapp:app\nasgi_lifespan_scope = session\n", test_mixed='''
import pytest

@pytest.fixture(scope="session")
def anyio_backend():
    return "asyncio"

@pytest.mark.asyncio
async def test_asyncio(asgi_client):
    async with asgi_client.get("/who") as resp:
        assert resp.status == 200

@pytest.mark.anyio
async def test_anyio(asgi_client):
    pass
''')
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*asgi_lifespan_scope = session: the app's connector (and "
                                 "lifespan) of this session lives in another event loop*"])


def test_connector_override_keeps_client_and_checks(pytester: pytest.Pytester) -> None:
    _setup(pytester, AUTO + "asgi_app = rawapp:app\n", conftest='''
import pytest
from aiohttp_asgi_fast import ASGIApplicationConnector

@pytest.fixture
async def asgi_connector(asgi_app):
    connector = ASGIApplicationConnector(asgi_app, root_path="/mounted")
    yield connector
    await connector.close()
''', test_override='''
async def test_root_path(asgi_client, asgi_connector):
    assert asgi_connector.root_path == "/mounted"
    async with asgi_client.get("/who") as resp:
        assert resp.status == 200

async def test_unreleased(asgi_client):
    await asgi_client.get("/stream")
''')
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_unreleased*",
                                 "*never read or released: GET /stream (200)*"])


def test_many_requests_keep_no_responses_alive(pytester: pytest.Pytester) -> None:
    """The plugin's books keep neither every response (and its body) nor every request
    line of a test: 400 reads of a 64 KiB body stay far below 400 x 64 KiB."""
    big_app = '''
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"x" * 65536})
'''
    pytester.makepyfile(bigapp=big_app)
    _setup(pytester, AUTO + "asgi_app = bigapp:app\n", test_many='''
import gc, tracemalloc

async def test_many(asgi_client):
    tracemalloc.start()
    try:
        for _ in range(400):
            async with asgi_client.get("/") as resp:
                assert len(await resp.read()) == 65536
        gc.collect()
        current, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert current < 8 * 1024 * 1024, current  # 400 kept bodies would be 25 MiB
''')
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=1)
