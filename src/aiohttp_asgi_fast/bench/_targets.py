"""The requests a load run sends: from PATH arguments or a ``--targets`` file.

A targets file has one request per line; blank lines and ``#`` comments are skipped:

    GET /items
    POST /echo @payload.bin
    {"method": "POST", "path": "/items", "headers": {"x-token": "t"}, "json": {"a": 1}}

A plain line is ``METHOD PATH [@BODYFILE]`` (the body file relative to the targets
file); a JSON line is an object with ``path`` and optionally ``method`` (GET),
``headers`` (an object or a list of pairs) and one of ``body`` (text), ``json`` (any
JSON value; sets content-type) or ``body_file``. ``-H`` headers apply to every target.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass, field
from typing import Any, Final

from ._errors import UsageError
from ._options import BenchOptions, check_header, check_path

__all__ = ("RequestSpec", "TargetPicker", "build_targets")

_TOKEN: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_JSON_TYPE: Final = ("Content-Type", "application/json")
_KEYS: Final = frozenset({"method", "path", "headers", "body", "json", "body_file"})


@dataclass(frozen=True)
class RequestSpec:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] | None  # None: no headers of its own
    body: bytes | None
    body_size: int = field(init=False, compare=False)  # bytes sent per request

    def __post_init__(self) -> None:
        object.__setattr__(self, "body_size", len(self.body) if self.body else 0)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _with_json_type(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    if any(name.lower() == "content-type" for name, _ in headers):
        return headers
    return (_JSON_TYPE, *headers)


def build_targets(options: BenchOptions) -> list[RequestSpec]:
    if options.targets is not None:
        return _read_targets_file(options.targets, options.headers)
    headers = _with_json_type(options.headers) if options.json_body else options.headers
    return [RequestSpec(options.method, path, headers or None, options.body)
            for path in options.paths]


class TargetPicker:
    """Hands out the targets in turn, or in a seeded random order (repeatable)."""

    def __init__(self, targets: list[RequestSpec], order: str, seed: int = 0) -> None:
        self._targets = targets
        self._index = -1
        self._random = random.Random(seed) if order == "random" and len(targets) > 1 else None
        #: the target when there is only one (the user need not call next())
        self.single = targets[0] if len(targets) == 1 else None

    def next(self) -> RequestSpec:
        if self._random is not None:
            return self._random.choice(self._targets)
        self._index = (self._index + 1) % len(self._targets)
        return self._targets[self._index]


def _read_targets_file(path: str, extra: tuple[tuple[str, str], ...]) -> list[RequestSpec]:
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--targets: cannot read {path!r}: {exc}") from None
    base = os.path.dirname(os.path.abspath(path))
    targets = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"--targets {path}:{number}"
        if text.startswith("{"):
            targets.append(_json_line(text, base, extra, where))
        else:
            targets.append(_plain_line(text, base, extra, where))
    if not targets:
        raise UsageError(f"--targets: {path!r} has no requests (one per line: METHOD PATH)")
    return targets


def _read_body(name: str, base: str, where: str) -> bytes:
    file_path = os.path.join(base, name)
    try:
        with open(file_path, "rb") as file:
            return file.read()
    except OSError as exc:
        reason = exc.strerror or exc
        raise UsageError(f"{where}: cannot read body file {name!r}: {reason}") from None


def _check(method: str, path: str, where: str) -> None:
    if not _TOKEN.match(method):
        raise UsageError(f"{where}: the method must be an RFC 9110 token, got {method!r}")
    check_path(path, f"{where}: the path")


Headers = tuple[tuple[str, str], ...]


def _plain_line(text: str, base: str, extra: Headers, where: str) -> RequestSpec:
    parts = text.split()
    if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].startswith("@")):
        raise UsageError(
            f"{where}: expected 'METHOD PATH [@BODYFILE]' or a JSON object, got {text!r}"
        )
    method, path = parts[0].upper(), parts[1]
    _check(method, path, where)
    body = _read_body(parts[2][1:], base, where) if len(parts) == 3 else None
    return RequestSpec(method, path, extra or None, body)


def _json_line(text: str, base: str, extra: Headers, where: str) -> RequestSpec:
    try:
        item: Any = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{where}: invalid JSON: {exc}") from None
    if not isinstance(item, dict) or not isinstance(item.get("path"), str):
        raise UsageError(f"{where}: a JSON target must be an object with a string 'path'")
    unknown = set(item) - _KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    method = item.get("method", "GET")
    if not isinstance(method, str):
        raise UsageError(f"{where}: 'method' must be a string, got {method!r}")
    method = method.upper()
    path = item["path"]
    _check(method, path, where)
    raw_headers = item.get("headers", {})
    pairs = list(raw_headers.items()) if isinstance(raw_headers, dict) else raw_headers
    if not isinstance(pairs, list) or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(x, str) for x in p)
        for p in pairs
    ):
        raise UsageError(f"{where}: 'headers' must be an object or a list of [name, value] strings")
    for name, value in pairs:
        check_header(name, value, where)
    headers = (*extra, *((str(n), str(v)) for n, v in pairs))
    bodies = [k for k in ("body", "json", "body_file") if k in item]
    if len(bodies) > 1:
        raise UsageError(f"{where}: give one of 'body', 'json', 'body_file', not {bodies}")
    body: bytes | None = None
    if "body" in item:
        if not isinstance(item["body"], str):
            raise UsageError(f"{where}: 'body' must be a string (use 'json' for JSON values)")
        body = item["body"].encode()
    elif "json" in item:
        body = json.dumps(item["json"], separators=(",", ":")).encode()
        headers = _with_json_type(headers)
    elif "body_file" in item:
        body = _read_body(str(item["body_file"]), base, where)
    return RequestSpec(method, path, headers or None, body)
