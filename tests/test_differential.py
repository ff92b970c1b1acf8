"""Compiled vs pure hot path, end to end: the same random requests and app behaviours
give the same outcomes (issue 10).

Runs ``tests/differential_driver.py`` in two subprocesses of this interpreter, one with
the compiled hot path (``AIOHTTP_ASGI_NO_EXTENSIONS`` unset) and one with the pure twin
(``=1``), over the same seeded cases, and compares what the callers, the apps and the
logger saw, case by case. Slow: deselected by default; ``pytest -m slow tests`` runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import aiohttp_asgi_fast

pytestmark = [pytest.mark.slow, pytest.mark.c_extension]

DRIVER = Path(__file__).with_name("differential_driver.py")
SEED = 20240610
CASES = 10_000
TIMEOUT = 150.0  # seconds for each driver run (both run at once)
SHOW = 5  # differing cases printed on a mismatch


def _driver_command(out: Path) -> list[str]:
    # Not -I (the driver is a script path), but as isolated as this process is: with
    # -I, PYTHONPATH must not put a checkout's src/ in front of the installed build.
    flags = []
    if sys.flags.ignore_environment:
        flags.append("-E")
    if sys.flags.no_user_site:
        flags.append("-s")
    return [sys.executable, *flags, str(DRIVER), "--seed", str(SEED), "--cases", str(CASES),
            "--out", str(out)]


def _run_both(tmp_path: Path) -> dict[str, dict[str, Any]]:
    procs = {}
    for mode, value in (("compiled", None), ("pure", "1")):
        env = dict(os.environ)
        env.pop("AIOHTTP_ASGI_NO_EXTENSIONS", None)
        if value is not None:
            env["AIOHTTP_ASGI_NO_EXTENSIONS"] = value
        out = tmp_path / f"{mode}.json"
        procs[mode] = (out, subprocess.Popen(
            _driver_command(out), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=tmp_path,
        ))
    results = {}
    try:
        for mode, (out, proc) in procs.items():
            try:
                _stdout, stderr = proc.communicate(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the {mode} driver run took over {TIMEOUT:.0f} s")
            assert proc.returncode == 0, (
                f"the {mode} driver run failed ({proc.returncode}):\n"
                f"{stderr.decode(errors='replace')[-3000:]}"
            )
            results[mode] = json.loads(out.read_text(encoding="utf-8"))
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if type(a) is not type(b) or not isinstance(a, (dict, list)):
        return [] if a == b else [f"{path}: compiled {_short(a)} | pure {_short(b)}"]
    found: list[str] = []
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            found += _differences(a.get(key), b.get(key), f"{path}.{key}")
    else:
        if len(a) != len(b):
            found.append(f"{path}: compiled {len(a)} items | pure {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found += _differences(x, y, f"{path}[{i}]")
    return found


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


def test_compiled_and_pure_agree_end_to_end(tmp_path: Path) -> None:
    results = _run_both(tmp_path)
    compiled, pure = results["compiled"], results["pure"]
    # Each run imported the package this test did (the installed build), in its mode.
    for mode, result in results.items():
        assert result["meta"]["package_file"] == aiohttp_asgi_fast.__file__, (mode, result["meta"])
    assert compiled["meta"]["implementation"] == "cython", (
        f"the compiled hot path did not load: {compiled['meta']}"
    )
    assert pure["meta"]["implementation"] == "python", pure["meta"]
    assert len(compiled["cases"]) == len(pure["cases"]) == CASES
    second_failed = sum(r["outcome"].get("second", {}).get("stage") != "done"
                        for r in compiled["cases"])
    print(f"differential: {CASES} cases, compiled {compiled['meta']['seconds']} s, "
          f"pure {pure['meta']['seconds']} s; the fixed second request failed in "
          f"{second_failed} cases (in both modes alike if they agree)")

    mismatched = [(c, p) for c, p in zip(compiled["cases"], pure["cases"], strict=True)
                  if c != p]
    if mismatched:
        lines = [f"{len(mismatched)} of {CASES} cases differ (seed {SEED}); first {SHOW}, "
                 f"rerun one with: python {DRIVER.name} --seed {SEED} --first N --cases 1 "
                 "--out - --print"]
        for c, p in mismatched[:SHOW]:
            request = c["request"]
            lines.append(f"case {c['case']}: {request['method']} {request['path'][:60]} "
                         f"body={request['body']['kind']} plan={_short(c['plan'])}")
            lines += [f"    {d}" for d in _differences(c, p)[:8]]
        pytest.fail("\n".join(lines), pytrace=False)

    # Nothing was left running and the driver itself never failed, in either mode.
    for mode, result in results.items():
        broken = [r["case"] for r in result["cases"]
                  if "driver_error" in r["outcome"] or r["outcome"]["leftover_tasks"]
                  or r["outcome"]["loop_errors"]]
        assert broken == [], f"{mode}: cases with driver errors, leftover tasks or loop errors"
