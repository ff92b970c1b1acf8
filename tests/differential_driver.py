"""End-to-end differential driver: random requests and ASGI app behaviours through
``ASGIApplicationConnector`` in this process's hot-path mode, outcomes as JSON.

    python tests/differential_driver.py --seed S --cases N --out FILE

``tests/test_differential.py`` runs it twice, with the compiled hot path and with
``AIOHTTP_ASGI_NO_EXTENSIONS=1``, and requires identical outcomes. Case ``i`` of seed
``S`` is generated from its own ``random.Random(f"{S}:{i}")``, so ``--first I --cases 1``
reruns one case alone (``--print`` shows it).

Each case makes a fresh connector (random ``propagate_exceptions`` and ``root_path``)
and session, sends one random request (method, path with %-escapes and query, 0-20
headers, no body / bytes / a chunked async generator / ``expect100``, sometimes
``Connection: close`` or ``TE: trailers``) to a raw ASGI app following a random plan
(read all, part or none of the request body; status, headers, 0-5 body pieces with or
without Content-Length spread over event-loop steps, sometimes trailers, sometimes an
exception at a random point), then a fixed ``GET /__second__`` on the same session.
Recorded: what the caller saw (status, reason, raw headers, body digest, or the
exception's type, message and cause chain, and at which stage), what the app received
(scope fields, every receive() message, send() errors, how it ended), what the
``aiohttp_asgi_fast`` logger logged, the second request's outcome, and tasks left over.

Imports only the installed ``aiohttp_asgi_fast`` (never ``src/`` on ``sys.path``):
``meta`` in the output says which file and which hot path were used.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import random
import re
import sys
import time
from typing import Any

import aiohttp

import aiohttp_asgi_fast
from aiohttp_asgi_fast import ASGIApplicationConnector, RequestParseError
from aiohttp_asgi_fast._framing import PARSE_ERROR_PREFIX

SECOND_PATH = "/__second__"
SECOND_BODY = b"second request fine"
# A request's own timeout: generous for an in-process request (milliseconds), short
# enough that a case which hangs (a bug, recorded as a TimeoutError) costs little.
REQUEST_TIMEOUT = 2.0
CASE_BOUND = 20.0  # seconds for one case, a hard bound

METHODS = (
    ["GET"] * 25 + ["POST"] * 25 + ["HEAD"] * 8 + ["PUT"] * 10 + ["DELETE"] * 8
    + ["OPTIONS"] * 6 + ["PATCH"] * 4 + ["PURGE"] * 2 + ["PROPFIND"] * 2
    + ["FOO"] * 3  # an extension method neither parser accepts (llhttp's table)
)
STATUSES = [200] * 8 + [201, 202, 204, 206, 301, 302, 304, 400, 404, 418, 500, 503, 599]
PATH_PIECES = [
    "a", "b", "item", "Z9", "x-y", "_", "~t", ".", "..", "%20", "%2F", "%25", "%C3%A9",
    "%E2%9C%93", "%FF", "%00", "caf%C3%A9", "!$&'()*+,;=:@", "%7E", "%3F", "%23",
]
QUERY_PIECES = ["a", "b", "1", "%20", "%26", "%3D", "%C3%A9", "%FF", "x+y", "", "~", "/", "?"]
HEADER_NAMES = [
    "x-a", "X-Custom-Header", "x-dup", "accept-language", "cookie", "x-empty", "x-tab",
    "Authorization", "content-type", "x-utf8", "user-agent", "accept", "x-Mixed-CASE",
]
TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
VALUE_CHARS = "abcXYZ0189 -_.,;:=/\"'()[]{}?!@#$%^&*+|~`<>\\"
RESPONSE_HEADER_NAMES = [
    b"content-type", b"x-r", b"x-set", b"cache-control", b"x-dup", b"etag",
    b"location", b"x-Upper", b"vary", b"x-empty",
]
FAIL_POINTS = ["before-start", "start-step", "after-start", "mid-body-same-step",
               "mid-body-later-step", "after-final"]


class AppBoom(Exception):
    """The exception a case's app raises."""


# -- generating a case -------------------------------------------------------------------


def random_bytes(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def random_size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.15:
        return 0
    if roll < 0.6:
        return rng.randint(1, 100)
    if roll < 0.95:
        return rng.randint(100, 5000)
    return rng.randint(64 * 1024, 200 * 1024)  # past the large-body threshold


def make_path(rng: random.Random) -> str:
    segments = ["".join(rng.choice(PATH_PIECES) for _ in range(rng.randint(1, 3)))
                for _ in range(rng.randint(1, 4))]
    path = "/" + "/".join(segments)
    if path == SECOND_PATH:
        path += "x"
    roll = rng.random()
    if roll < 0.4:
        return path
    if roll < 0.45:
        return path + "?"
    pairs = ["".join(rng.choice(QUERY_PIECES) for _ in range(rng.randint(0, 3)))
             + ("=" + "".join(rng.choice(QUERY_PIECES) for _ in range(rng.randint(0, 3)))
                if rng.random() < 0.8 else "")
             for _ in range(rng.randint(1, 4))]
    return path + "?" + "&".join(pairs)


def make_header_value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return ""
    value = "".join(rng.choice(VALUE_CHARS) for _ in range(rng.randint(1, 40)))
    if roll < 0.2:
        value = rng.choice([" ", "\t", "  "]) + value + rng.choice([" ", "\t", ""])
    elif roll < 0.3:
        value += " é ✓"  # non-ASCII: aiohttp writes UTF-8
    return value


def make_request(rng: random.Random) -> dict[str, Any]:
    headers: list[list[str]] = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 4, 6, 8, 12, 20])):
        if rng.random() < 0.7:
            name = rng.choice(HEADER_NAMES)
        else:
            name = "x-" + "".join(rng.choice(TCHARS) for _ in range(rng.randint(1, 12)))
        headers.append([name, make_header_value(rng)])
    if rng.random() < 0.15:
        headers.append(["Connection", "close"])
    if rng.random() < 0.2:
        headers.append(["TE", "trailers"])
    roll = rng.random()
    body: dict[str, Any]
    if roll < 0.35:
        body = {"kind": "none"}
    elif roll < 0.7:
        body = {"kind": "bytes", "size": random_size(rng), "seed": rng.getrandbits(32)}
    elif roll < 0.9:
        body = {"kind": "chunked",
                "pieces": [random_size(rng) // rng.choice([1, 1, 4])
                           for _ in range(rng.randint(1, 6))],
                "pauses": [rng.random() < 0.5 for _ in range(6)],
                "seed": rng.getrandbits(32)}
    else:
        body = {"kind": "expect100", "size": random_size(rng), "seed": rng.getrandbits(32)}
    return {"method": rng.choice(METHODS), "path": make_path(rng), "headers": headers,
            "body": body}


def make_plan(rng: random.Random) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    headers: list[list[str]] = []
    for _ in range(rng.randint(0, 8)):
        if rng.random() < 0.8:
            name = rng.choice(RESPONSE_HEADER_NAMES).decode()
        else:
            name = "x-" + "".join(rng.choice(TCHARS) for _ in range(rng.randint(1, 10)))
        value = bytes(rng.choice(b"abcXYZ019 -_.,;=/()") for _ in range(rng.randint(0, 30)))
        if rng.random() < 0.15:
            value += bytes(rng.randint(0x80, 0xFF) for _ in range(3))  # obs-text
        headers.append([name, value.strip(b" ").decode("latin-1")])
    if rng.random() < 0.05:
        headers.append(["connection", "close"])
    pieces = [random_size(rng) // rng.choice([1, 2, 8]) for _ in range(rng.randint(0, 5))]
    roll = rng.random()
    read = "all" if roll < 0.7 else ("none" if roll < 0.8 else rng.randint(1, 2))
    fail_at = rng.choice(FAIL_POINTS) if rng.random() < 0.3 else None
    return {
        "status": status,
        "headers": headers,
        "pieces": pieces,
        "content_length": rng.random() < 0.4,
        "pauses": [rng.random() < 0.5 for _ in range(len(pieces) + 1)],
        "trailers": rng.random() < 0.15,
        "read": read,
        "fail_at": fail_at,
        "fail_piece": rng.randint(0, max(0, len(pieces) - 1)),
        "propagate_exceptions": rng.random() < 0.5,
        "root_path": rng.choice(["", "", "", "/mount"]),
    }


def make_case(seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:{index}")
    return {"case": index, "request": make_request(rng), "plan": make_plan(rng)}


# -- describing outcomes as JSON ---------------------------------------------------------


_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def digest(data: bytes) -> str:
    if len(data) <= 48:
        return data.hex()
    return f"{len(data)}:sha256:{hashlib.sha256(data).hexdigest()[:32]}"


def describe_exc(exc: BaseException | None, depth: int = 0) -> Any:
    if exc is None:
        return None
    cause = exc.__cause__ if depth < 3 else None
    message = _ADDRESS.sub("0x?", str(exc))[:300]
    if isinstance(exc, RequestParseError):
        # The twins' parity contract for request bytes is the exception type, not
        # llhttp's wording (tests/test_parity.py): keep the shared prefix only.
        message = message[: len(PARSE_ERROR_PREFIX)]
    return {
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "msg": message,
        "cause": describe_exc(cause, depth + 1),
    }


def describe_message(message: dict[str, Any]) -> Any:
    out: dict[str, Any] = {"type": message.get("type")}
    if "body" in message:
        out["body"] = digest(bytes(message["body"]))
    if "more_body" in message:
        out["more_body"] = message["more_body"]
    return out


def describe_scope(scope: dict[str, Any]) -> Any:
    return {
        "type": scope["type"],
        "asgi": scope.get("asgi"),
        "http_version": scope.get("http_version"),
        "method": scope.get("method"),
        "scheme": scope.get("scheme"),
        "path": scope.get("path"),
        "raw_path": digest(scope.get("raw_path") or b""),
        "query_string": digest(scope.get("query_string") or b""),
        "root_path": scope.get("root_path"),
        "headers": [[bytes(n).hex(), bytes(v).hex()] for n, v in scope.get("headers", [])],
        "server": list(scope["server"]) if scope.get("server") else None,
        "client": list(scope["client"]) if scope.get("client") else None,
        "extensions": sorted(scope.get("extensions") or {}),
        "keys": sorted(scope),
    }


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[Any] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        self.records.append([record.levelname, _ADDRESS.sub("0x?", record.getMessage()),
                             describe_exc(exc)])


# -- running a case ------------------------------------------------------------------------


class CaseApp:
    """A raw ASGI app following a case's plan; records what it saw."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.scope: Any = None
        self.received: list[Any] = []
        self.send_errors: list[Any] = []
        self.ended: Any = None
        self.second_calls = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["path"] == SECOND_PATH:
            self.second_calls += 1
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": SECOND_BODY})
            return
        self.scope = describe_scope(scope)
        try:
            await self.run(receive, send)
        except BaseException as exc:
            self.ended = ["raised", describe_exc(exc)]
            raise
        else:
            self.ended = ["returned"]

    async def run(self, receive: Any, send: Any) -> None:
        plan = self.plan

        async def recv() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            self.received.append(describe_message(message))
            return message

        async def snd(message: dict[str, Any]) -> None:
            try:
                await send(message)
            except BaseException as exc:
                self.send_errors.append([message["type"], describe_exc(exc)])
                raise

        def boom(where: str) -> AppBoom:
            return AppBoom(f"app failed at {where}")

        read = plan["read"]
        if read == "all":
            while True:
                message = await recv()
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        elif read != "none":
            for _ in range(read):
                message = await recv()
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
        fail_at = plan["fail_at"]
        if fail_at == "before-start":
            raise boom(fail_at)
        pieces = [random_bytes(random.Random(i), size) for i, size in enumerate(plan["pieces"])]
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in plan["headers"]]
        if plan["content_length"]:
            headers.append((b"content-length", str(sum(map(len, pieces))).encode()))
        start: dict[str, Any] = {"type": "http.response.start", "status": plan["status"],
                                 "headers": headers}
        if plan["trailers"]:
            start["trailers"] = True
        await snd(start)
        if fail_at == "start-step":
            raise boom(fail_at)
        pauses = plan["pauses"]
        if pauses[-1]:
            await asyncio.sleep(0)
        if fail_at == "after-start":
            await asyncio.sleep(0)
            raise boom(fail_at)
        for i, piece in enumerate(pieces):
            await snd({"type": "http.response.body", "body": piece, "more_body": True})
            if fail_at == "mid-body-same-step" and i == plan["fail_piece"]:
                raise boom(fail_at)
            if pauses[i]:
                await asyncio.sleep(0)
            if fail_at == "mid-body-later-step" and i == plan["fail_piece"]:
                await asyncio.sleep(0)
                raise boom(fail_at)
        await snd({"type": "http.response.body", "body": b"", "more_body": False})
        if plan["trailers"]:
            await snd({"type": "http.response.trailers",
                       "headers": [(b"x-checksum", b"abc123"), (b"x-count", b"%d" % len(pieces))],
                       "more_trailers": False})
        if fail_at == "after-final":
            await asyncio.sleep(0)
            raise boom(fail_at)


def request_kwargs(request: dict[str, Any]) -> dict[str, Any]:
    body = request["body"]
    kwargs: dict[str, Any] = {"headers": [tuple(h) for h in request["headers"]]}
    kind = body["kind"]
    if kind in ("bytes", "expect100"):
        kwargs["data"] = random_bytes(random.Random(body["seed"]), body["size"])
        if kind == "expect100":
            kwargs["expect100"] = True
    elif kind == "chunked":
        rng = random.Random(body["seed"])
        pieces = [random_bytes(rng, size) for size in body["pieces"]]

        async def upload() -> Any:
            for piece, pause in zip(pieces, body["pauses"], strict=False):
                yield piece
                if pause:
                    await asyncio.sleep(0)

        kwargs["data"] = upload()
    return kwargs


async def perform(session: aiohttp.ClientSession, method: str, path: str,
                  **kwargs: Any) -> Any:
    try:
        resp = await session.request(
            method, path, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            allow_redirects=False, **kwargs,
        )
    except Exception as exc:
        return {"stage": "request", "exc": describe_exc(exc)}
    try:
        head = {
            "status": resp.status,
            "reason": resp.reason,
            "version": f"{resp.version.major}.{resp.version.minor}",
            "headers": [[n.hex(), v.hex()] for n, v in resp.raw_headers],
        }
        try:
            data = await resp.read()
        except Exception as exc:
            return {"stage": "read", **head, "exc": describe_exc(exc)}
        return {"stage": "done", **head, "body": digest(data)}
    finally:
        resp.release()


async def run_case(case: dict[str, Any], log: LogCapture) -> dict[str, Any]:
    plan = case["plan"]
    request = case["request"]
    app = CaseApp(plan)
    log.records = []
    connector = ASGIApplicationConnector(
        app, root_path=plan["root_path"], propagate_exceptions=plan["propagate_exceptions"]
    )
    async with aiohttp.ClientSession(base_url="http://testserver", connector=connector) as s:
        first = await perform(s, request["method"], request["path"], **request_kwargs(request))
        second = await perform(s, "GET", SECOND_PATH)
    return {
        "first": first,
        "second": second,
        "app": {"scope": app.scope, "received": app.received, "send_errors": app.send_errors,
                "ended": app.ended, "second_calls": app.second_calls},
        "log": log.records,
    }


async def run_all(seed: int, first: int, count: int) -> list[dict[str, Any]]:
    log = LogCapture()
    logger = logging.getLogger("aiohttp_asgi_fast")
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    loop = asyncio.get_running_loop()
    loop_errors: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(str(ctx.get("message"))))
    results = []
    for index in range(first, first + count):
        case = make_case(seed, index)
        try:
            outcome = await asyncio.wait_for(run_case(case, log), CASE_BOUND)
        except Exception as exc:
            outcome = {"driver_error": describe_exc(exc)}
        # No app task may outlive its session.
        for _ in range(3):
            await asyncio.sleep(0)
        current = asyncio.current_task()
        leftover = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.gather(*leftover, return_exceptions=True)
        outcome["leftover_tasks"] = len(leftover)
        outcome["loop_errors"], loop_errors[:] = list(loop_errors), []
        results.append({"case": index, "request": case["request"], "plan": case["plan"],
                        "outcome": outcome})
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--cases", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    parser.add_argument("--out", required=True, help="JSON file to write ('-': stdout)")
    parser.add_argument("--print", action="store_true", help="also print each case")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(run_all(args.seed, args.first, args.cases))
    document = {
        "meta": {
            "implementation": aiohttp_asgi_fast.IMPLEMENTATION,
            "package_file": aiohttp_asgi_fast.__file__,
            "aiohttp": aiohttp.__version__,
            "python": sys.version.split()[0],
            "seed": args.seed,
            "first": args.first,
            "cases": args.cases,
            "seconds": round(time.perf_counter() - started, 2),
        },
        "cases": results,
    }
    if args.print:
        for result in results:
            print(json.dumps(result, sort_keys=True), file=sys.stderr)
    text = json.dumps(document, sort_keys=True)
    if args.out == "-":
        print(text)
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
