# Mistakes mypy must catch: each line marked "E:" must fail with the text after it.
from aiohttp_asgi_fast import ASGIApplicationConnector
from aiohttp_asgi_fast.types import Receive, Scope, Send


async def app(scope: Scope, receive: Receive, send: Send) -> None: ...


def not_async(scope: Scope, receive: Receive, send: Send) -> None: ...


async def two_args(scope: Scope, receive: Receive) -> None: ...


async def bad_send(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": "200"})  # E: [typeddict-item]


ASGIApplicationConnector(app, lifespn=True)  # E: Unexpected keyword argument "lifespn"
ASGIApplicationConnector(app, limit="10")  # E: Argument "limit" to "ASGIApplicationConnector"
ASGIApplicationConnector("main:app")  # E: Argument 1 to "ASGIApplicationConnector"
ASGIApplicationConnector(not_async)  # E: Argument 1 to "ASGIApplicationConnector"
ASGIApplicationConnector(two_args)  # E: Argument 1 to "ASGIApplicationConnector"
ASGIApplicationConnector(app, interface="wsgi")  # E: Argument "interface"
