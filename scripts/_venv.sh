# Sourced by the other scripts: make_venv DIR [extra pip requirements...]
# EXTRAS (default "test") names the package extras to install.
# Creates a fresh virtualenv and builds+installs this checkout into it from scratch
# (pip builds the Cython extension in an isolated build environment).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"

make_venv() {
    local dir="$1"; shift
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        echo "error: $PYTHON is older than Python 3.10; set PYTHON=python3.X" >&2
        return 1
    fi
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --upgrade pip
    # No stale build artefacts from the work tree may leak into the build.
    rm -rf "$ROOT/build" "$ROOT"/src/*.egg-info
    # Build output (including the "Accelerated build" / "Pure build" banner) is kept
    # in the log; shown on failure.
    if ! "$dir/bin/python" -m pip install --no-cache-dir -v "$ROOT[${EXTRAS:-test}]" "$@" \
            > "$dir/install.log" 2>&1; then
        tail -n 60 "$dir/install.log" >&2
        echo "error: building/installing aiohttp-asgi-fast failed (log: $dir/install.log)" >&2
        return 1
    fi
    grep -h "\*\*\* aiohttp-asgi-fast:" "$dir/install.log" | head -n 1 || true
}
