"""The uvicorn column's server: ``APPS[name]`` served by uvicorn (httptools) in its own
process on a free 127.0.0.1 port — the out-of-process alternative.

    python benchmarks/_uvicorn.py APP_NAME LOOP      (prints the port, then serves)

The server exits when its stdin closes, so it never outlives the column process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ("uvicorn_server",)


@contextmanager
def uvicorn_server(app_name: str, loop: str) -> Iterator[tuple[str, int]]:
    """Start the server; yields its base URL and pid."""
    proc = subprocess.Popen([sys.executable, __file__, app_name, loop],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the socket already listens when the port is printed
        if not line.strip().isdigit():
            raise RuntimeError(f"uvicorn server did not start (exit code {proc.poll()})")
        yield f"http://127.0.0.1:{int(line)}", proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _serve(app_name: str, loop: str) -> None:
    import uvicorn

    from _apps import APPS

    # IPPROTO_TCP as getaddrinfo gives it, as when uvicorn binds the port itself: asyncio
    # sets TCP_NODELAY only on sockets whose proto says TCP (with 0, Nagle adds 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(APPS[app_name](), http="httptools", loop=loop,
                            log_level="warning", lifespan="off")

    def exit_on_eof() -> None:
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_on_eof, daemon=True).start()
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    _serve(sys.argv[1], sys.argv[2])
