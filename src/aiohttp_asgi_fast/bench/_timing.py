"""Time spent inside the app, per request: what no external load tester can see.

The connector times each HTTP response itself when given a timer
(``ASGIApplicationConnector._app_timer``): when the app was called, when it sent
``http.response.start`` and when the response's last byte reached the client. The
timer is the ``add_app_span`` of the recorder the run is filling now (``time_into``:
the warm-up's, then the measured one's), so a response costs one list append here.

``guarded_app`` wraps the app for two things a load run needs from the app's own task:
an app's SystemExit fails its request instead of ending the run, and exceptions that
came out of the app can be told from the client's own (``APP_CALL_CODE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from ..connector import ASGIApplicationConnector
    from ._recorder import Recorder

__all__ = ("APP_CALL_CODE", "AppSystemExit", "guarded_app", "time_into")


class AppSystemExit(Exception):
    """The app raised SystemExit: carried as an ordinary exception (its ``__cause__``),
    since asyncio would let it end the whole run from the app's task."""


def guarded_app(app: ASGIApp) -> ASGIApp:
    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except SystemExit as exc:
            raise AppSystemExit(f"the app raised SystemExit({exc.code!r})") from exc

    return guarded


def time_into(connector: ASGIApplicationConnector, recorder: Recorder) -> None:
    """From now on the connector's HTTP responses record their app times in ``recorder``."""
    connector._app_timer = recorder.add_app_span


#: the code of the wrapper's frame: an exception whose traceback has it came from the app
APP_CALL_CODE: Final = guarded_app(None).__code__  # type: ignore[arg-type]
