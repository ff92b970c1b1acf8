"""Counting the instructions of one window of a run under callgrind.

A load tester's req/s times only its load (from its schedule's start to the last
response); start-up, imports and the report after the clock stops are not in it. To
count what the clock times, the child process runs under ``valgrind --tool=callgrind
--collect-atstart=no`` and calls callgrind's client request ``CALLGRIND_TOGGLE_COLLECT``
at the window's two edges. Python cannot issue a client request itself (it is a magic
instruction sequence), so a two-line C library is compiled on first use with the
system's C compiler and valgrind's header, and loaded with ctypes.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

__all__ = ("ENV", "build", "toggler")

#: the child finds the compiled library here; unset: toggling does nothing
ENV = "BENCH_CALLGRIND_WINDOW"
_HEADER = Path("/usr/include/valgrind/callgrind.h")
_SOURCE = """#include <valgrind/callgrind.h>
void toggle_collect(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def build(directory: Path) -> Path | None:
    """The compiled library in ``directory``; None without a C compiler or the header
    (valgrind's development files: Debian ships them with the valgrind package)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not _HEADER.exists():
        return None
    source = directory / "callgrind_window.c"
    library = directory / "callgrind_window.so"
    source.write_text(_SOURCE)
    done = subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(library),
                           str(source)], capture_output=True, text=True, check=False)
    return library if done.returncode == 0 else None


def toggler() -> Callable[[], None]:
    """Switch callgrind's counting on or off (in a child started with ``ENV`` set)."""
    path = os.environ.get(ENV)
    if not path:
        return lambda: None
    toggle: Callable[[], None] = ctypes.CDLL(path).toggle_collect
    return toggle
