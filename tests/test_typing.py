"""What mypy tells a user of the connector: the samples in tests/typing_samples/ are
checked with mypy --strict against the installed package.

user_ok.py must pass: plain ``async def`` apps, apps typed with aiohttp_asgi_fast.types,
ASGI 2 double callables, and FastAPI, Starlette, Quart, Litestar, Falcon and Django app
objects. user_errors.py must fail on exactly the lines marked ``# E: <text>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

SAMPLES = Path(__file__).parent / "typing_samples"


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    # One run for both samples (mypy's start-up is most of the cost).
    cache = tmp_path_factory.mktemp("mypy_cache")
    stdout, stderr, _ = mypy_api.run(
        [
            "--strict", "--no-error-summary", "--show-error-codes",
            "--hide-error-context", "--no-pretty",
            f"--cache-dir={cache}",
            str(SAMPLES / "user_ok.py"), str(SAMPLES / "user_errors.py"),
        ]
    )
    assert not stderr, stderr
    errors: dict[str, list[str]] = {"user_ok.py": [], "user_errors.py": []}
    for line in stdout.splitlines():
        match = re.match(r".*?(user_\w+\.py):(\d+): error: (.*)$", line)
        if match:
            errors[match[1]].append(f"{match[2]}: {match[3]}")
    return errors


def test_user_code_type_checks(mypy_output: dict[str, list[str]]) -> None:
    assert mypy_output["user_ok.py"] == []


def test_user_mistakes_are_type_errors(mypy_output: dict[str, list[str]]) -> None:
    expected = {}
    for number, line in enumerate((SAMPLES / "user_errors.py").read_text().splitlines(), 1):
        if "# E: " in line:
            expected[number] = line.split("# E: ", 1)[1]
    assert expected, "no expected errors marked"
    found: dict[int, str] = {}
    for error in mypy_output["user_errors.py"]:
        number, message = error.split(": ", 1)
        found.setdefault(int(number), message)
    assert sorted(found) == sorted(expected), mypy_output["user_errors.py"]
    for number, text in expected.items():
        assert text in found[number], (number, found[number])


async def _app(scope: object, receive: object, send: object) -> None: ...


async def test_misspelt_option_is_a_type_error_at_run_time_too() -> None:
    from aiohttp_asgi_fast import ASGIApplicationConnector

    with pytest.raises(TypeError, match="lifespn"):
        ASGIApplicationConnector(_app, lifespn=True)  # type: ignore[call-arg]


async def test_timeout_ceil_threshold_forwarded_or_refused_by_aiohttp_version() -> None:
    import inspect

    from aiohttp import BaseConnector

    from aiohttp_asgi_fast import ASGIApplicationConnector

    if "timeout_ceil_threshold" in inspect.signature(BaseConnector).parameters:  # >= 3.9
        connector = ASGIApplicationConnector(_app, timeout_ceil_threshold=1.5)
        try:
            # aiohttp keeps it for ceil_timeout() in connect(); no public getter
            assert connector._timeout_ceil_threshold == 1.5
        finally:
            await connector.close()
    else:
        with pytest.raises(TypeError, match=r"timeout_ceil_threshold needs aiohttp >= 3\.9"):
            ASGIApplicationConnector(_app, timeout_ceil_threshold=1.5)
