"""Live progress of a load run: one updating line on a terminal, plain lines otherwise.

The runner calls ``Progress.update`` from the load test's event loop about every 0.25 s,
so it only formats one short line: on a terminal a transient ``rich.live.Live`` line
(erased on ``close``, so the report follows on a clean screen), elsewhere (CI logs, a
pipe) a plain line at most every ``interval`` seconds of the phase's elapsed time.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.text import Text

__all__ = ("Progress", "format_snapshot")


def format_snapshot(snapshot: dict[str, Any]) -> str:
    """``[ 3.0s] load: 12,345 requests, 4,100 req/s, 2 failed, p99 1.234 ms``."""
    p99 = snapshot.get("p99_ms")
    return (
        f"[{snapshot.get('elapsed_s', 0.0):4.1f}s] {snapshot.get('phase', 'load')}: "
        f"{snapshot.get('requests', 0):,} requests, {snapshot.get('rps', 0.0):,.0f} req/s, "
        f"{snapshot.get('failed', 0):,} failed"
        + (f", p99 {p99:,.3f} ms" if p99 is not None else "")
    )


class Progress:
    """Progress lines for the runner's snapshots; nothing at all when ``quiet``."""

    def __init__(self, console: Console, *, quiet: bool, interval: float = 1.0) -> None:
        self._console = console
        self._quiet = quiet
        self._interval = interval
        self._live: Live | None = None
        self._closed = False
        # Plain lines: the phase and the elapsed time at which the next one is due.
        self._phase: str | None = None
        self._last_elapsed = 0.0
        self._due = interval

    def update(self, snapshot: dict[str, Any]) -> None:
        """Show ``snapshot`` (live), or print it if a plain line is due."""
        if self._quiet or self._closed:
            return
        if self._console.is_terminal:
            self._show_live(snapshot)
            return
        phase = snapshot.get("phase")
        elapsed = float(snapshot.get("elapsed_s", 0.0))
        if phase != self._phase or elapsed < self._last_elapsed:
            # A new phase (or round) restarts its clock: the next line is one interval in.
            self._phase = phase
            self._due = self._interval
        self._last_elapsed = elapsed
        if elapsed >= self._due:
            # The next line is due at the next whole multiple of the interval.
            steps = int(elapsed / self._interval) + 1 if self._interval > 0 else 0
            self._due = max(steps * self._interval, elapsed + 1e-9)
            self._console.print(format_snapshot(snapshot), markup=False, highlight=False,
                                soft_wrap=True)

    def _show_live(self, snapshot: dict[str, Any]) -> None:
        text = Text(format_snapshot(snapshot))
        target = snapshot.get("target")
        if target:
            text.append(f"  (target {target})", style="dim")
        if self._live is None:
            # No refresh thread (refreshed here) and stdout left alone: the app's own
            # output keeps its destination; stderr goes above the live line.
            self._live = Live(text, console=self._console, auto_refresh=False,
                              transient=True, redirect_stdout=False, redirect_stderr=True)
            self._live.start(refresh=True)
        else:
            self._live.update(text, refresh=True)

    def close(self) -> None:
        """Erase the live line (if any); later updates are ignored. Idempotent."""
        if self._closed:
            return
        self._closed = True
        live, self._live = self._live, None
        if live is not None:
            live.stop()
