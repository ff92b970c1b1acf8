"""``aiohttp-asgi-fast`` / ``python -m aiohttp_asgi_fast``: the command line.

    aiohttp-asgi-fast bench [APP] [PATH ...] [options]

See ``aiohttp-asgi-fast bench --help`` and the README's "Load testing" section.
"""

from __future__ import annotations

import sys

from .bench._cli import main

__all__ = ("main",)

if __name__ == "__main__":
    sys.exit(main(prog="python -m aiohttp_asgi_fast"))
