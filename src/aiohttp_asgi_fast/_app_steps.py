"""Awaiting the app step by step: ``run_steps`` is ``await app(...)`` that notices the
end of each step of the app's task.

A response the app sends is held until its current step ends (ASGI lets a server hold
the head "leaving room to substitute an error response", and pieces sent in one step
are coalesced, as TCP coalesces small writes). The app's task ends a step by yielding
to the event loop; delegating to the app's awaitable here, as ``await`` does (PEP 380
and PEP 492 delegation: send, throw, close), sees each such yield and delivers what the
step held before the loop runs anything else. No loop callback is needed for it.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Generator
from typing import Any, Protocol

__all__ = ("StepObserver", "run_steps")


class StepObserver(Protocol):
    """What ``run_steps`` tells of the app's steps (``RequestCycle``)."""

    _stepping: bool  # True while a step of the app's task runs
    _flush_scheduled: bool  # something is held until the step ends

    def _flush_pending(self) -> None: ...


@types.coroutine
def run_steps(awaitable: Awaitable[None], observer: StepObserver) -> Generator[Any, Any, None]:
    """Await ``awaitable`` as ``await`` would, flushing ``observer`` whenever a step of
    the task running it ends with something held."""
    steps: Any
    if isinstance(awaitable, types.GeneratorType) and (
        awaitable.gi_code.co_flags & inspect.CO_ITERABLE_COROUTINE
    ):
        steps = awaitable  # a @types.coroutine generator, which await accepts too
    else:
        await_method = getattr(type(awaitable), "__await__", None)
        if await_method is None:
            raise TypeError(
                f"the ASGI application returned {awaitable!r:.200}, not an awaitable"
            )
        steps = await_method(awaitable)
    sent: Any = None
    thrown: BaseException | None = None
    while True:
        observer._stepping = True
        try:
            if thrown is None:
                # (an __await__ iterator may have no send(): as with yield from)
                yielded = next(steps) if sent is None else steps.send(sent)
            else:
                error, thrown = thrown, None
                throw = getattr(steps, "throw", None)
                if throw is None:
                    raise error
                yielded = throw(error)
        except StopIteration:
            return
        finally:
            observer._stepping = False
        if observer._flush_scheduled:
            observer._flush_pending()
        try:
            sent = yield yielded
        except GeneratorExit:
            close = getattr(steps, "close", None)
            if close is not None:
                close()
            raise
        except BaseException as exc:  # thrown in by the task: cancellation
            thrown = exc
