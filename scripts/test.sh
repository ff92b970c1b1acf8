#!/usr/bin/env bash
# Run the whole test suite from scratch: builds the package into fresh virtualenvs and
# runs the suite in both hot-path modes (compiled, then AIOHTTP_ASGI_NO_EXTENSIONS=1)
# on the newest and the oldest supported aiohttp, plus ruff and mypy --strict.
#   bash scripts/test.sh            # everything (what CI runs)
#   bash scripts/test.sh --quick    # newest aiohttp only, no lint
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
VENVS="${VENVS:-$ROOT/.venvs}"
OLDEST_AIOHTTP="aiohttp==3.8.6"
NEWEST_AIOHTTP="aiohttp==3.14.5"

run_suite() {  # venv label
    local venv="$1" label="$2"
    local aiohttp_version
    aiohttp_version="$("$venv/bin/python" -c 'import aiohttp; print(aiohttp.__version__)')"
    # -I: the checkout's src/ must not shadow the installed build (-I ignores only
    # PYTHON* variables, so AIOHTTP_ASGI_NO_EXTENSIONS still selects the twin).
    echo "=== tests: $label (aiohttp $aiohttp_version), compiled hot path"
    (cd "$ROOT" && AIOHTTP_ASGI_NO_EXTENSIONS= "$venv/bin/python" -I -m pytest tests -q -p no:cacheprovider)
    echo "=== tests: $label (aiohttp $aiohttp_version), pure hot path"
    (cd "$ROOT" && AIOHTTP_ASGI_NO_EXTENSIONS=1 "$venv/bin/python" -I -m pytest tests -q -p no:cacheprovider)
    # Slow tests (deselected by default): the compiled vs pure end-to-end differential
    # runs both hot paths itself, so once per aiohttp version, from the compiled build.
    echo "=== slow tests: $label (aiohttp $aiohttp_version), compiled build"
    (cd "$ROOT" && AIOHTTP_ASGI_NO_EXTENSIONS= "$venv/bin/python" -I -m pytest -m slow tests -q -p no:cacheprovider)
}

echo "=== building into $VENVS/newest"
make_venv "$VENVS/newest" "$NEWEST_AIOHTTP" mypy ruff
run_suite "$VENVS/newest" newest

if [[ "$QUICK" == 0 ]]; then
    echo "=== ruff"
    (cd "$ROOT" && "$VENVS/newest/bin/ruff" check src tests benchmarks)
    echo "=== mypy --strict src"
    (cd "$ROOT" && "$VENVS/newest/bin/mypy" --strict src/aiohttp_asgi_fast)
    echo "=== building into $VENVS/oldest"
    make_venv "$VENVS/oldest" "$OLDEST_AIOHTTP"
    run_suite "$VENVS/oldest" oldest
fi
echo "=== all test runs passed"
