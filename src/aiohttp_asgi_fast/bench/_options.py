"""``aiohttp-asgi-fast bench``'s command line, parsed and checked into ``BenchOptions``.

Every bad value is a ``UsageError`` naming the option and what was wrong (exit 2).
``BenchOptions`` is a frozen, picklable dataclass: worker processes get the same one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from ._errors import UsageError

__all__ = ("DEMO_APP", "BenchOptions", "build_parser", "options_from_args", "parse_command_line",
           "parse_duration")

DEMO_APP: Final = "aiohttp_asgi_fast.demo:app"
DEFAULT_REQUESTS: Final = 10_000

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_MIN_RATE: Final = 0.001
_MAX_RATE: Final = 10_000_000.0
_MAX_MESSAGE: Final = 64 * 1024 * 1024
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str, option: str) -> float:
    """``10``, ``2.5s``, ``500ms``, ``1m``, ``1h`` in seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(
            f"{option}: expected a duration such as 10, 2.5s, 500ms or 1m, got {text!r}"
        )
    return float(match[1]) * _UNITS[match[2]]


@dataclass(frozen=True)
class BenchOptions:
    app: str = DEMO_APP
    paths: tuple[str, ...] = ("/",)
    factory: bool = False
    app_dir: str = "."
    lifespan: str = "auto"  # auto | on | off
    requests: int | None = DEFAULT_REQUESTS  # None: run for `duration`
    duration: float | None = None
    concurrency: int = 10
    rate: float | None = None
    warmup: float = 0.0
    timeout: float | None = 30.0
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    json_body: bool = False
    targets: str | None = None
    order: str = "sequential"
    expect_status: frozenset[int] = field(default_factory=frozenset)  # empty: 2xx and 3xx
    websocket: bool = False
    message_size: int = 32
    scenario: str | None = None
    mode: str = "current"  # current | compiled | pure | both
    rounds: int = 3
    workers: int = 1
    loop: str = "asyncio"
    quiet: bool = False
    json_path: str | None = None
    fail_on: tuple[str, ...] = ()
    debug: bool = False
    progress_interval: float = 1.0

    @property
    def ok_statuses(self) -> frozenset[int]:
        """Every status is_ok_status accepts (a set is quicker to ask per request)."""
        return frozenset(status for status in range(100, 1000) if self.is_ok_status(status))

    def is_ok_status(self, status: int) -> bool:
        if self.expect_status:
            return status in self.expect_status
        return 200 <= status < 400


def _positive_int(option: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
        return value

    convert.__name__ = option
    return convert


def _bounded_int(most: int) -> Callable[[str], int]:
    at_least_one = _positive_int("size")

    def convert(text: str) -> int:
        value = at_least_one(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}, got {value:,}")
        return value

    return convert


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not _MIN_RATE <= value <= _MAX_RATE:
        raise argparse.ArgumentTypeError(
            f"must be between {_MIN_RATE:g} and {_MAX_RATE:,.0f} requests per second, "
            f"got {text!r}")
    return value


def add_arguments(bench: argparse.ArgumentParser) -> None:
    a = bench.add_argument
    a("app", nargs="?", default=None, metavar="APP",
      help="the ASGI app as module:attribute (attribute may be dotted); "
           f"default: the bundled demo app ({DEMO_APP})")
    a("paths", nargs="*", metavar="PATH", help="request path(s), default /; several are "
      "taken in turn (--order)")
    g = bench.add_argument_group("app")
    g.add_argument("--factory", action="store_true",
                   help="APP names a factory: call it (no arguments) to get the app")
    g.add_argument("--app-dir", default=".", metavar="DIR",
                   help="put DIR first on sys.path to import APP (default: the current directory)")
    g.add_argument("--lifespan", choices=("auto", "on", "off"), default="auto",
                   help="run the app's ASGI lifespan before the load (auto: when the app "
                        "supports it, as uvicorn does)")
    g = bench.add_argument_group("load")
    g.add_argument("-n", "--requests", type=_positive_int("requests"), default=None,
                   help=f"requests to send (default {DEFAULT_REQUESTS:,} unless -z is given); "
                        "scenario iterations or WebSocket round trips with --scenario/--ws")
    g.add_argument("-z", "--duration", default=None, metavar="TIME",
                   help="run for this long instead (10, 30s, 500ms, 2m)")
    g.add_argument("-c", "--concurrency", type=_positive_int("concurrency"), default=10,
                   help="virtual users: requests in flight at most (default 10; the total "
                        "across --workers)")
    g.add_argument("--rate", type=_rate, default=None, metavar="R",
                   help="open model: start R requests per second on a fixed schedule; latency "
                        "counts from each scheduled time (no coordinated omission)")
    g.add_argument("--warmup", default="0", metavar="TIME",
                   help="send load for this long first, left out of every figure")
    g.add_argument("--timeout", default="30", metavar="TIME",
                   help="per request (default 30s; 0 for none)")
    g.add_argument("--workers", type=_positive_int("workers"), default=1,
                   help="N processes, each with its own app instance, lifespan and event loop; "
                        "one merged report (app state is per worker)")
    g.add_argument("--mode", choices=("compiled", "pure", "both"), default=None,
                   help="the connector's hot path; both: alternating rounds of each, with "
                        "their ratio (default: the one this install loads)")
    g.add_argument("--rounds", type=_positive_int("rounds"), default=None,
                   help="rounds per mode with --mode both (default 3)")
    g.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    g = bench.add_argument_group("request")
    g.add_argument("-m", "--method", default=None, help="HTTP method (default GET, or POST "
                   "with a body)")
    g.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="add a request header (repeatable)")
    g.add_argument("--json-body", default=None, metavar="TEXT|@FILE",
                   help="JSON request body; sets content-type: application/json")
    g.add_argument("-d", "--data", default=None, metavar="TEXT|@FILE", help="request body")
    g.add_argument("--targets", default=None, metavar="FILE",
                   help="requests to send, one per line: 'METHOD PATH [@BODYFILE]' or a JSON "
                        "object {method, path, headers, body|json|body_file}")
    g.add_argument("--order", choices=("sequential", "random"), default="sequential",
                   help="how to take several paths or targets (random is seeded: repeatable)")
    g.add_argument("--expect-status", default=None, metavar="CODES",
                   help="statuses that count as success, e.g. 200,404 (default: 2xx and 3xx)")
    g.add_argument("--ws", action="store_true",
                   help="WebSocket round trips on PATH: each virtual user holds one "
                        "connection and sends a message, then awaits the echo")
    g.add_argument("--message-size", type=_bounded_int(_MAX_MESSAGE), default=None,
                   metavar="BYTES", help="WebSocket message size (default 32)")
    g.add_argument("--scenario", default=None, metavar="MODULE:FUNCTION",
                   help="async def scenario(session) run by each virtual user per iteration; "
                        "each step (request) is reported on its own")
    g = bench.add_argument_group("output")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress, only the report")
    g.add_argument("--json", dest="json_path", default=None, metavar="FILE|-",
                   help="write the report as JSON (schema: aiohttp_asgi_fast/bench/"
                        "report.schema.json); - for stdout, which replaces the text report")
    g.add_argument("--fail-on", action="append", default=[], metavar="EXPR",
                   help="CI gate, repeatable: 'p99<20ms', 'errors<0.1%%', 'rps>1000'; a "
                        "breach exits 1")
    g.add_argument("--debug", action="store_true", help="tracebacks for errors in the "
                   "command or the app")


def _read_text_or_file(value: str, option: str) -> bytes:
    if value.startswith("@"):
        path = value[1:]
        try:
            with open(path, "rb") as file:
                return file.read()
        except OSError as exc:
            raise UsageError(f"{option}: cannot read {path!r}: {exc.strerror or exc}") from None
    return value.encode()


def check_header(name: str, value: str, where: str) -> None:
    """A field name must be a token (RFC 9110 §5.1), a value free of CR, LF and NUL (§5.5)."""
    if not _TOKEN.fullmatch(name):
        raise UsageError(f"{where}: the header name must be a token (RFC 9110 §5.1), got {name!r}")
    if any(ch in value for ch in "\r\n\x00"):
        raise UsageError(f"{where}: the value of {name} may not contain CR, LF or NUL")


def check_path(path: str, where: str) -> None:
    """An origin-form request target (RFC 9112 §3.2.1): '/', and not '//' (a host)."""
    if not path.startswith("/") or path.startswith("//") or any(c.isspace() for c in path):
        hint = " (a module:attribute APP must come first)" if ":" in path else ""
        raise UsageError(f"{where} must start with a single '/' and have no spaces, "
                         f"got {path!r}{hint}")


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep:
        raise UsageError(f"-H: expected 'Name: value', got {text!r}")
    name, value = name.strip(), value.strip()
    check_header(name, value, "-H")
    return name, value


def _statuses(text: str) -> frozenset[int]:
    codes: set[int] = set()
    for part in text.split(","):
        part = part.strip().lower()
        if re.fullmatch(r"[1-5]xx", part):
            base = int(part[0]) * 100
            codes.update(range(base, base + 100))
        elif re.fullmatch(r"[1-5]\d\d", part):
            codes.add(int(part))
        else:
            raise UsageError(
                f"--expect-status: expected codes such as 200,404 or 2xx, got {text!r}"
            )
    return frozenset(codes)


def _check_writable(path: str) -> None:
    """Fail before the load, not after it, when the report cannot be written."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--json: {path!r} is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"--json: the directory of {path!r} does not exist")
    if not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"--json: {path!r} is not writable")


def _check_combinations(args: argparse.Namespace, paths_given: bool) -> None:
    """Options that the chosen kind of load would ignore are errors, not silence."""
    exclusive = [name for name, on in (("--ws", args.ws), ("--scenario", args.scenario),
                                       ("--targets", args.targets)) if on]
    if len(exclusive) > 1:
        raise UsageError(f"{' and '.join(exclusive)} cannot be combined")
    request_shape = [name for name, given in (("-m/--method", args.method),
                                              ("-d/--data", args.data is not None),
                                              ("--json-body", args.json_body is not None)) if given]
    if args.scenario and (paths_given or request_shape):
        unused = ", ".join((["PATH"] if paths_given else []) + request_shape)
        raise UsageError(f"--scenario makes its own requests: {unused} would not be used "
                         "(-H headers are sent with every request of the scenario)")
    if args.targets and (paths_given or request_shape):
        unused = ", ".join((["PATH"] if paths_given else []) + request_shape)
        raise UsageError(f"--targets gives each request's method, path and body: {unused} "
                         "would not be used (-H headers are added to every target)")
    path_count = len(args.paths) + (1 if args.app and args.app.startswith("/") else 0)
    if args.ws and (path_count > 1 or request_shape):
        raise UsageError("--ws takes one PATH and sends --message-size messages: "
                         + ", ".join((["a second PATH"] if path_count > 1 else [])
                                     + request_shape) + " would not be used")
    if args.rounds is not None and args.mode != "both":
        raise UsageError("--rounds applies to --mode both only")
    if args.message_size is not None and not args.ws:
        raise UsageError("--message-size applies to --ws only")


def options_from_args(args: argparse.Namespace, current_mode: str) -> BenchOptions:
    """Check the parsed arguments together and build the options."""
    app = args.app or DEMO_APP
    paths = tuple(args.paths)
    if app.startswith("/"):  # only paths given: they are for the demo app
        app, paths = DEMO_APP, (app, *paths)
    paths = paths or ("/",)
    for path in paths:
        check_path(path, "PATH")
    _check_combinations(args, paths_given=bool(args.paths) or app != (args.app or DEMO_APP))
    duration = parse_duration(args.duration, "-z/--duration") if args.duration else None
    if duration is not None and duration <= 0:
        raise UsageError("-z/--duration must be more than 0")
    if args.requests is not None and duration is not None:
        raise UsageError("give -n/--requests or -z/--duration, not both")
    requests = None if duration is not None else (args.requests or DEFAULT_REQUESTS)
    timeout = parse_duration(args.timeout, "--timeout")
    if args.data is not None and args.json_body is not None:
        raise UsageError("give -d/--data or --json-body, not both")
    body = None
    if args.json_body is not None:
        body = _read_text_or_file(args.json_body, "--json-body")
        try:
            json.loads(body)
        except ValueError as exc:
            raise UsageError(f"--json-body is not valid JSON: {exc}") from None
    elif args.data is not None:
        body = _read_text_or_file(args.data, "-d/--data")
    headers = tuple(_header(h) for h in args.header)
    method = (args.method or ("POST" if body is not None else "GET")).upper()
    if not _TOKEN.fullmatch(method):
        raise UsageError(f"-m/--method must be an RFC 9110 token, got {args.method!r}")
    if args.scenario and ":" not in args.scenario:
        raise UsageError(f"--scenario must look like module:function, got {args.scenario!r}")
    mode = args.mode or current_mode
    if args.concurrency < args.workers:
        raise UsageError(f"-c/--concurrency is the total across workers: -c {args.concurrency} "
                         f"cannot give each of --workers {args.workers} a virtual user")
    if args.json_path and args.json_path != "-":
        _check_writable(args.json_path)
    rounds = args.rounds or 3
    if mode == "both" and requests is not None and requests < rounds:
        raise UsageError(f"--mode both needs at least one request per round "
                         f"(-n {requests} < --rounds {rounds})")
    return BenchOptions(
        app=app,
        paths=paths,
        factory=args.factory,
        app_dir=args.app_dir,
        lifespan=args.lifespan,
        requests=requests,
        duration=duration,
        concurrency=args.concurrency,
        rate=args.rate,
        warmup=parse_duration(args.warmup, "--warmup"),
        timeout=timeout or None,
        method=method,
        headers=headers,
        body=body,
        json_body=args.json_body is not None,
        targets=args.targets,
        order=args.order,
        expect_status=_statuses(args.expect_status) if args.expect_status else frozenset(),
        websocket=args.ws,
        message_size=args.message_size or 32,
        scenario=args.scenario,
        mode=mode,
        rounds=rounds,
        workers=args.workers,
        loop=args.loop,
        quiet=args.quiet,
        json_path=args.json_path,
        fail_on=tuple(args.fail_on),
        debug=args.debug,
    )


def parse_command_line(parser: argparse.ArgumentParser,
                       argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, with APP and PATHs allowed after options too.

    argparse fills positionals from one run of them only, so ``bench main:app -m POST
    /items`` would end with "unrecognized arguments: /items"; its parse_intermixed_args,
    which would take them, does not work with subcommands. The positionals argparse left
    over become the APP (when none was given) and PATHs; a left-over option is still
    argparse's own error (exit 2).
    """
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    # After a "--" every token is a positional, even one that starts with "-".
    before, _, after = (extra[:extra.index("--")], "--", extra[extra.index("--") + 1:]
                        ) if "--" in extra else (extra, "", [])
    options = [token for token in before if token.startswith("-") and token != "-"]
    if options or getattr(args, "command", None) != "bench":
        parser.error(f"unrecognized arguments: {' '.join(options or extra)}")  # exits 2
    positionals = [*before, *after]
    if args.app is None and positionals:
        args.app, *positionals = positionals
    args.paths = [*args.paths, *positionals]
    return args


def build_parser(prog: str, version: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="aiohttp-asgi-fast: an aiohttp connector for ASGI apps."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = sub.add_parser(
        "bench", help="load-test an ASGI app in-process (no socket, no second process)",
        description="Load-test an ASGI app in-process through ASGIApplicationConnector: "
                    "no socket, no port, no second process. Reports throughput, latency "
                    "percentiles, the time spent inside the app, status codes and errors.",
    )
    bench.formatter_class = argparse.RawDescriptionHelpFormatter
    bench.epilog = _EPILOG
    add_arguments(bench)
    return parser


_EPILOG: Final = """\
examples:
  aiohttp-asgi-fast bench                          the bundled demo app, GET /
  aiohttp-asgi-fast bench main:app /items -z 10s   your app, for 10 seconds
  aiohttp-asgi-fast bench main:app /items --json-body '{"name": "x"}'
  aiohttp-asgi-fast bench main:app / --rate 500 -z 30s --fail-on 'p99<20ms'
  aiohttp-asgi-fast bench main:app --scenario flows:checkout -c 20
  aiohttp-asgi-fast bench main:app / --workers 2 --mode both

exit codes: 0 success; 1 failed requests or a breached --fail-on; 2 a bad command or
APP (module, attribute, lifespan startup); 130 interrupted (partial report printed)
"""

