#!/usr/bin/env bash
# The main job: build the package into a fresh virtualenv and load-test the bundled
# demo app in-process (compiled hot path, then pure). Extra arguments go to the CLI,
# e.g.  bash scripts/bench.sh --requests 20000 --concurrency 50
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

VENV="${VENVS:-$ROOT/.venvs}/bench"
if [[ ! -x "$VENV/bin/aiohttp-asgi-fast" || "${REBUILD:-1}" == 1 ]]; then
    echo "=== building into $VENV"
    make_venv "$VENV"
fi
cd "$ROOT"
for mode in compiled pure; do
    flag=""
    [[ "$mode" == pure ]] && flag=1
    AIOHTTP_ASGI_NO_EXTENSIONS="$flag" "$VENV/bin/aiohttp-asgi-fast" bench \
        aiohttp_asgi_fast.demo:app "$@"
done
