"""The two floors every column is compared with.

- app-only (``AppClient``): the app called directly with a prebuilt scope; ``receive``
  returns the prebuilt body messages, ``send`` collects.
- aiohttp-only (``_canned.CannedConnector``): a real ``aiohttp.ClientSession`` whose
  connections are fake transports answering every complete request with the bytes an
  HTTP/1.1 server would send for the app's messages, recorded once here (``record``), so no
  app runs: what remains is aiohttp's own client cost.

The ideal column rate is ``1 / (1/app_only + 1/aiohttp_only)``: the app plus the client,
with a transport that costs nothing.
"""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import unquote

from _apps import ASGIApp, Message, Reply, Request, Scope

__all__ = ("AppClient", "build_scope", "frame_response", "record", "record_ws",
           "reply_from_messages")


def build_scope(req: Request, kind: str = "http") -> Scope:
    path, _, query = req.path.partition("?")
    headers = [(b"host", b"testserver")]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers]
    if req.body is not None:
        headers.append((b"content-length", b"%d" % len(req.body)))
    scope: Scope = {
        "type": kind, "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1", "scheme": "http" if kind == "http" else "ws",
        "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 123),
        "server": ("testserver", 80),
    }
    if kind == "http":
        scope["method"] = req.method
    else:
        scope["subprotocols"] = []
    return scope


def reply_from_messages(sent: list[Message], req: Request, counted: int = 0) -> Reply:
    """The client's view of the app's ``send`` messages (plus ``counted`` body bytes not
    kept); raises if they are malformed."""
    if not sent or sent[0]["type"] != "http.response.start":
        raise RuntimeError(f"app sent {[m['type'] for m in sent[:2]]} first")
    if sent[-1].get("more_body", False):
        raise RuntimeError("app returned before its last body message")
    wanted = {name.encode() for name in req.want_headers}
    headers = {name.decode(): value.decode() for name, value in sent[0].get("headers", [])
               if name.lower() in wanted}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    if req.read == "bytes":
        return Reply(sent[0]["status"], body, len(body), headers)
    return Reply(sent[0]["status"], b"", len(body) + counted, headers)


class AppClient:
    """The app-only floor: no client, no transport, no parsing."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._prebuilt: dict[int, tuple[Scope, list[Message]]] = {}

    async def call(self, req: Request, *, keep: bool = True) -> tuple[list[Message], int]:
        """The app's messages; with ``keep=False`` body messages are only counted (as a
        streaming reader drops each piece): the count is returned too."""
        prebuilt = self._prebuilt.get(id(req))
        if prebuilt is None:
            body = {"type": "http.request", "body": req.body or b"", "more_body": False}
            prebuilt = self._prebuilt[id(req)] = (build_scope(req), [body])
        scope, incoming = prebuilt
        messages = iter(incoming)
        sent: list[Message] = []
        counted = 0
        more = True

        async def receive() -> Message:
            return next(messages, {"type": "http.disconnect"})

        async def send(message: Message) -> None:
            nonlocal counted, more
            kind = message["type"]
            if kind == "http.response.body" and sent:
                if not keep:
                    counted += len(message.get("body", b""))
                    more = message.get("more_body", False)
                    return
            elif kind != "http.response.start" or sent:
                raise RuntimeError(f"unexpected message {kind!r}")
            sent.append(message)

        await self._app(dict(scope), receive, send)
        if not keep:
            sent.append({"type": "http.response.body", "body": b"", "more_body": more})
        return sent, counted

    async def request(self, req: Request) -> Reply:
        sent, counted = await self.call(req, keep=req.read == "bytes")
        return reply_from_messages(sent, req, counted)

    async def ws_echo(self, path: str, texts: list[str]) -> list[str]:
        scope = build_scope(Request("GET", path), kind="websocket")
        incoming: list[Message] = [{"type": "websocket.connect"}]
        incoming += [{"type": "websocket.receive", "text": t, "bytes": None} for t in texts]
        incoming.append({"type": "websocket.disconnect", "code": 1000})
        messages = iter(incoming)
        echoed: list[str] = []

        async def receive() -> Message:
            return next(messages)

        async def send(message: Message) -> None:
            if message["type"] == "websocket.send":
                echoed.append(message.get("text") or "")
            elif message["type"] != "websocket.accept":
                raise RuntimeError(f"unexpected message {message['type']!r}")

        await self._app(scope, receive, send)
        return echoed


def frame_response(sent: list[Message]) -> bytes:
    """What an HTTP/1.1 server sends for these messages: the head, then a Content-Length
    body when the app gave a length or a single body message, else one chunk per send."""
    start, bodies = sent[0], [m.get("body", b"") for m in sent[1:]]
    headers = list(start.get("headers", []))
    status = start["status"]
    if any(name.lower() == b"content-length" for name, _ in headers) or len(bodies) == 1:
        payload = b"".join(bodies)
        if not any(name.lower() == b"content-length" for name, _ in headers):
            headers.append((b"content-length", b"%d" % len(payload)))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
        payload = b"".join(b"%x\r\n%s\r\n" % (len(b), b) for b in bodies if b) + b"0\r\n\r\n"
    head = b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return head + b"\r\n" + payload


async def record(app: ASGIApp, req: Request) -> bytes:
    sent, _ = await AppClient(app).call(req)
    return frame_response(sent)


async def record_ws(app: ASGIApp, texts: list[str]) -> list[bytes]:
    """The server frames carrying the app's replies to ``texts`` on one connection."""
    from _canned import ws_frame

    return [ws_frame(0x1, text.encode()) for text in await AppClient(app).ws_echo("/", texts)]
