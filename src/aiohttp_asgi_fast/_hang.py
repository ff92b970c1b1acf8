"""Hang diagnostics: where the app is stuck when the client gives up on a request.

When a request times out (``ClientTimeout`` ``total``, ``sock_read``...) or the task
awaiting it is cancelled while the app still runs, aiohttp closes the connection from
the ``except`` block the exception passes through: ``InMemoryTransport.close()`` then
sees it in ``sys.exc_info()``. For a timeout that is the very exception the caller gets
(aiohttp 3.8 through 3.14); for a cancellation (``asyncio.wait_for``, ``task.cancel()``)
it is the ``CancelledError``, which ``wait_for`` raises its ``TimeoutError`` from. The
app task's stack is attached to it as a note (Python 3.11+) and logged at INFO on the
``aiohttp_asgi_fast`` logger. Nothing here runs for a request that did not fail.
"""

from __future__ import annotations

import asyncio
import functools
import linecache
import logging
import os
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from ._app_steps import run_steps

if TYPE_CHECKING:
    from ._cycle import RequestCycle
    from ._websocket_cycle import WebSocketCycle

__all__ = ("app_stack", "report_abandoned_app")

logger: Final = logging.getLogger("aiohttp_asgi_fast")

# This package's own frames (the cycle's run(), run_steps) are left out of the stack.
_PACKAGE_DIR: Final = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RUN_STEPS_CODE: Final = run_steps.__code__
_MAX_DEPTH: Final = 500  # a cycle of awaitables cannot loop forever
# Installed packages and the standard library: a run of at least this many of their
# frames between the app's own is shown as one line naming the packages (a FastAPI
# request passes ~17 frames of fastapi, starlette and anyio before the endpoint).
_COLLAPSE_AT: Final = 3


@functools.cache
def _library_roots() -> tuple[str, ...]:
    """Where installed packages and the standard library live (read on first use: a
    hang is rare, and sysconfig costs every import of the connector otherwise)."""
    import sysconfig

    paths = sysconfig.get_paths()
    roots = {os.path.abspath(path) + os.sep
             for name in ("purelib", "platlib", "stdlib", "platstdlib")
             if (path := paths.get(name))}
    return tuple(sorted(roots, key=len, reverse=True))


def _frame_of(awaitable: Any) -> FrameType | None:
    for name in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(awaitable, name, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(awaitable: Any, frame: FrameType) -> Any:
    """What the suspended ``awaitable`` (running ``frame``) is waiting on."""
    if frame.f_code is _RUN_STEPS_CODE:
        # run_steps drives the app's awaitable by hand, so no cr_await leads on: its
        # frame holds the awaitable (a coroutine) or the iterator it steps.
        local_vars = frame.f_locals
        app_awaitable = local_vars.get("awaitable")
        if _frame_of(app_awaitable) is not None:
            return app_awaitable
        return local_vars.get("steps")
    for name in ("cr_await", "gi_yieldfrom", "ag_await"):
        target = getattr(awaitable, name, None)
        if target is not None:
            return target
    return None


def app_stack(task: asyncio.Task[Any]) -> list[str]:
    """The suspended ``task``'s stack, outermost first: ``file:line in function`` and
    the source line for each frame, following ``await`` through coroutines,
    generators and this package's ``run_steps``. It ends at the first awaited object
    that is not one of those: a Future, or a Task or ``gather`` the app awaits (their
    ``await`` goes through an iterator that exposes no frame), so it shows the app's
    line that awaits them, not the other task's. Runs of installed packages' and the
    standard library's frames before the innermost one are one line each."""
    frames: list[tuple[str, int, str, str | None]] = []  # file, line, function, package
    awaitable: Any = task.get_coro()
    for _ in range(_MAX_DEPTH):
        if awaitable is None:
            break
        frame = _frame_of(awaitable)
        if frame is None:
            break  # a Future, or an iterator that exposes nothing
        code = frame.f_code
        filename = code.co_filename
        if not filename.startswith(_PACKAGE_DIR):
            name = getattr(code, "co_qualname", code.co_name)
            frames.append((filename, frame.f_lineno, name, _library_package(filename)))
        awaitable = _awaited_by(awaitable, frame)
    return _render(frames)


def _library_package(filename: str) -> str | None:
    """The installed or standard-library package ``filename`` belongs to; None for the
    app's own code."""
    path = os.path.abspath(filename)
    for root in _library_roots():
        if path.startswith(root):
            return path[len(root):].split(os.sep, 1)[0].removesuffix(".py")
    return None


def _render(frames: list[tuple[str, int, str, str | None]]) -> list[str]:
    lines: list[str] = []
    index = 0
    while index < len(frames):
        end = index
        while end < len(frames) and frames[end][3] is not None:
            end += 1
        if end - index >= _COLLAPSE_AT and end < len(frames):  # not the innermost run
            packages = ", ".join(dict.fromkeys(str(frame[3]) for frame in frames[index:end]))
            lines.append(f"  ... {end - index} frames in {packages}")
            index = end
            continue
        filename, lineno, name, _ = frames[index]
        lines.append(f"  {filename}:{lineno} in {name}")
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}")
        index += 1
    return lines


def report_abandoned_app(
    exc: BaseException, cycle: RequestCycle | WebSocketCycle, task: asyncio.Task[Any]
) -> None:
    """The client gave up on ``cycle`` with ``exc`` while its app ``task`` runs: add
    where the app is to ``exc`` (Python 3.11+) and log it."""
    scope = cycle.scope
    what = f"{scope.get('method', 'WebSocket')} {scope.get('path', '')}"
    stack = "\n".join(app_stack(task)) or "  (no Python frames to show)"
    message = (
        f"the ASGI application was still running when the client gave up on {what} "
        f"({type(exc).__name__}); where it is, innermost last:\n{stack}"
    )
    add_note = getattr(exc, "add_note", None)  # Python 3.11+
    if add_note is not None:
        add_note(message)
    # INFO, not WARNING: the caller chose to give up, the app did not fail (README,
    # "Failures": only an app's failure is logged at ERROR).
    logger.info("%s", message[0].upper() + message[1:])
