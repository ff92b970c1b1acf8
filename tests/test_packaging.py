"""The installed distribution's metadata agrees with the package (what PyPI will show)."""

from __future__ import annotations

import importlib.metadata
import re

import aiohttp_asgi_fast

DIST = "aiohttp-asgi-fast"


def test_version_is_single_sourced() -> None:
    # pyproject.toml reads the version from aiohttp_asgi_fast/_version.py
    assert aiohttp_asgi_fast.__version__ == importlib.metadata.version(DIST)


def test_license_and_project_urls_in_metadata() -> None:
    meta = importlib.metadata.metadata(DIST)
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    urls = dict(url.split(", ", 1) for url in meta.get_all("Project-URL") or [])
    home = "https://github.com/aiohttp-asgi-fast/aiohttp-asgi-fast"
    assert urls["Homepage"] == home
    assert {"Documentation", "Changelog", "Issues"} <= urls.keys()
    assert all(url.startswith(home) for url in urls.values())
    # PEP 639: no License :: classifier beside a license expression
    assert not any(c.startswith("License ::") for c in meta.get_all("Classifier") or [])
    assert "Typing :: Typed" in (meta.get_all("Classifier") or [])


def test_license_file_is_installed() -> None:
    dist = importlib.metadata.distribution(DIST)
    files = [f for f in dist.files or () if f.name == "LICENSE"]
    assert files, "LICENSE not in the installed distribution"
    assert "BSD" in files[0].read_text()


def test_long_description_links_work_on_the_index_page() -> None:
    # PyPI shows README.md without the repository: every link must be absolute.
    description = importlib.metadata.metadata(DIST)["Description"] or ""
    assert "ASGIApplicationConnector" in description
    links = re.findall(r"\]\(([^)\s]+)\)", description)
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://"))]
    assert relative == []
