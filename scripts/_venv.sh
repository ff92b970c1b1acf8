# Sourced by the other scripts: make_venv DIR [extra pip requirements...]
# EXTRAS (default "test") names the package extras to install.
# PACKAGE (default: this checkout) is what is installed: the checkout or an sdist is built
# from scratch (pip builds the Cython extension in an isolated build environment); a
# wheel is installed as it is.
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
    if ! "$dir/bin/python" -m pip install --no-cache-dir -v "${PACKAGE:-$ROOT}[${EXTRAS:-test}]" "$@" \
            > "$dir/install.log" 2>&1; then
        tail -n 60 "$dir/install.log" >&2
        echo "error: building/installing aiohttp-asgi-fast failed (log: $dir/install.log)" >&2
        return 1
    fi
    grep -h "\*\*\* aiohttp-asgi-fast:" "$dir/install.log" | head -n 1 || true
}

# make_tools_venv DIR: a fresh virtualenv with the release tools (build, twine,
# check-jsonschema).
make_tools_venv() {
    local dir="$1"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    if ! "$dir/bin/python" -m pip install --quiet --upgrade pip build twine check-jsonschema \
            > "$dir/install.log" 2>&1; then
        cat "$dir/install.log" >&2
        echo "error: installing build, twine, check-jsonschema failed" >&2
        return 1
    fi
}

# build_dists TOOLS_VENV OUTDIR: from this checkout, the sdist and a wheel built from that
# sdist (python -m build does sdist -> wheel), then the pure py3-none-any wheel built from
# the unpacked sdist; `twine check --strict` on all three. Sets SDIST, SDIST_DIR (the
# unpacked sdist, in OUTDIR/src), WHEEL and PURE_WHEEL.
build_dists() {
    local tools="$1" out="$2" log
    rm -rf "$out" "$ROOT/build" "$ROOT"/src/*.egg-info
    mkdir -p "$out/pure" "$out/src"
    log="$out/build.log"
    if ! "$tools/bin/python" -m build --outdir "$out" "$ROOT" > "$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "error: python -m build failed (log: $log)" >&2
        return 1
    fi
    SDIST="$(ls "$out"/*.tar.gz)"
    WHEEL="$(ls "$out"/*.whl)"
    tar -xzf "$SDIST" -C "$out/src"
    SDIST_DIR="$(ls -d "$out"/src/*/)"
    SDIST_DIR="${SDIST_DIR%/}"
    if ! AIOHTTP_ASGI_NO_EXTENSIONS=1 "$tools/bin/python" -m build --wheel \
            --outdir "$out/pure" "$SDIST_DIR" >> "$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "error: building the pure wheel from the sdist failed (log: $log)" >&2
        return 1
    fi
    PURE_WHEEL="$(ls "$out"/pure/*.whl)"
    rm -rf "$SDIST_DIR/build" "$SDIST_DIR"/src/*.egg-info
    case "$WHEEL" in *-none-any.whl) echo "error: $WHEEL is not a compiled wheel" >&2; return 1;; esac
    case "$PURE_WHEEL" in *-py3-none-any.whl) ;; *) echo "error: $PURE_WHEEL is not py3-none-any" >&2; return 1;; esac
    if grep -qi "warning.*deprecat\|SetuptoolsDeprecationWarning" "$log"; then
        grep -i "deprecat" "$log" >&2
        echo "error: the build warns of a deprecation (log: $log)" >&2
        return 1
    fi
    "$tools/bin/twine" check --strict "$SDIST" "$WHEEL" "$PURE_WHEEL"
    echo "sdist: $SDIST"; echo "wheel from the sdist: $WHEEL"; echo "pure wheel: $PURE_WHEEL"
}
