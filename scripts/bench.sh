#!/usr/bin/env bash
# The main job: the in-process load test of the bundled demo app, compiled and pure
# hot paths in alternating rounds, with their ratio. Builds the package (with the
# [bench] extra only) into .venvs/bench the first time, and again only when the
# sources changed. Extra arguments go to `aiohttp-asgi-fast bench`, e.g.
#   bash scripts/bench.sh -n 50000 -c 50
#   bash scripts/bench.sh /slow --rate 200 -z 10s
#   REBUILD=1 bash scripts/bench.sh      # force a fresh build
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

VENV="${VENVS:-$ROOT/.venvs}/bench"
# What the build depends on; the venv is rebuilt when this changes.
stamp="$(cd "$ROOT" && { git ls-files -s src setup.py pyproject.toml 2>/dev/null; \
    find src setup.py pyproject.toml -type f \( -name '*.py' -o -name '*.pyx' -o -name '*.pxd' \
    -o -name '*.pxi' -o -name '*.json' -o -name '*.toml' \) -exec cksum {} + ; } | cksum)"
if [[ "${REBUILD:-0}" == 1 || ! -x "$VENV/bin/aiohttp-asgi-fast" \
        || "$(cat "$VENV/.source-stamp" 2>/dev/null)" != "$stamp" ]]; then
    echo "=== building into $VENV (about a minute, once)"
    EXTRAS=bench make_venv "$VENV"
    echo "$stamp" > "$VENV/.source-stamp"
fi
cd "$ROOT"
if [[ $# -eq 0 ]]; then
    set -- -n 20000 --mode both
fi
exec "$VENV/bin/aiohttp-asgi-fast" bench "$@"
