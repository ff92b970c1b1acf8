#!/usr/bin/env bash
# Run the whole test suite from scratch, as a user would get the package:
#   1. build the sdist, a wheel from that sdist, and the pure py3-none-any wheel from the
#      unpacked sdist (AIOHTTP_ASGI_NO_EXTENSIONS=1); `twine check --strict` on all three;
#      validate .github/workflows/*.yml (check-jsonschema's builtin schema, offline);
#   2. newest aiohttp, the compiled wheel: the suite, compiled (and the slow differential),
#      run from the unpacked sdist (so the sdist's tests/ tree is the one tested);
#   3. newest aiohttp, the pure wheel: the suite in pure mode (AIOHTTP_ASGI_NO_EXTENSIONS=1);
#   4. ruff and mypy --strict on the checkout;
#   5. oldest aiohttp, built from the checkout: the suite in both modes and the slow tests.
#   bash scripts/test.sh            # everything (what CI runs)
#   bash scripts/test.sh --quick    # steps 1-3 only
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"

QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1
VENVS="${VENVS:-$ROOT/.venvs}"
DIST="${DIST:-$ROOT/dist}"
OLDEST_AIOHTTP="aiohttp==3.8.6"
NEWEST_AIOHTTP="aiohttp==3.14.5"

run_tests() {  # venv label mode(compiled|pure|slow) dir [pytest args...]
    local venv="$1" label="$2" mode="$3" dir="$4" no_ext="" marker=()
    shift 4
    local aiohttp_version
    aiohttp_version="$("$venv/bin/python" -c 'import aiohttp; print(aiohttp.__version__)')"
    [[ "$mode" == pure ]] && no_ext=1
    [[ "$mode" == slow ]] && marker=(-m slow)
    echo "=== tests: $label (aiohttp $aiohttp_version), $mode, from $dir"
    # -I: a checkout's src/ must not shadow the installed build (-I ignores only
    # PYTHON* variables, so AIOHTTP_ASGI_NO_EXTENSIONS still selects the twin).
    # tests/test_selector.py fails a run that loaded the wrong twin.
    (cd "$dir" && AIOHTTP_ASGI_NO_EXTENSIONS="$no_ext" \
        "$venv/bin/python" -I -m pytest "${marker[@]}" tests -q -p no:cacheprovider "$@")
}

echo "=== building the sdist, a wheel from it and the pure wheel into $DIST"
make_tools_venv "$VENVS/tools"
build_dists "$VENVS/tools" "$DIST"
echo "=== validating .github/workflows/*.yml"
(cd "$ROOT" && "$VENVS/tools/bin/check-jsonschema" --builtin-schema vendor.github-workflows \
    .github/workflows/*.yml)

echo "=== installing the wheel built from the sdist into $VENVS/newest"
PACKAGE="$WHEEL" make_venv "$VENVS/newest" "$NEWEST_AIOHTTP" mypy ruff
run_tests "$VENVS/newest" newest compiled "$SDIST_DIR"
# The compiled vs pure end-to-end differential runs both hot paths itself.
run_tests "$VENVS/newest" newest slow "$SDIST_DIR"

echo "=== installing the pure wheel into $VENVS/pure"
PACKAGE="$PURE_WHEEL" make_venv "$VENVS/pure" "$NEWEST_AIOHTTP"
# The pure wheel has no compiled hot path by design: the tests that need it (marked
# c_extension: the compiled twins, the guard that a normal build loaded it, the load
# tester's compiled mode) cannot apply there.
run_tests "$VENVS/pure" "newest, pure wheel" pure "$SDIST_DIR" -m "not slow and not c_extension"

if [[ "$QUICK" == 0 ]]; then
    echo "=== ruff"
    (cd "$ROOT" && "$VENVS/newest/bin/ruff" check src tests benchmarks)
    echo "=== mypy --strict src"
    (cd "$ROOT" && "$VENVS/newest/bin/mypy" --strict src/aiohttp_asgi_fast)
    echo "=== building the checkout into $VENVS/oldest"
    make_venv "$VENVS/oldest" "$OLDEST_AIOHTTP"
    run_tests "$VENVS/oldest" oldest compiled "$ROOT"
    run_tests "$VENVS/oldest" oldest pure "$ROOT"
    run_tests "$VENVS/oldest" oldest slow "$ROOT"
fi
echo "=== all test runs passed"
