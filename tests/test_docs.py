"""Every fenced code block in docs/*.md is executed, so the guides cannot rot.

The convention: the line before each fence is an HTML comment saying how the block runs.

- ``<!-- test: file PATH -->``: written to PATH (a module, ``conftest.py``, ``pytest.ini``);
  files carry over to the later sections of the same document (a later block may replace one).
- ``<!-- test: pytest -->``: a test module. A section's test modules run together in one
  pytest subprocess, in a directory holding the files so far, and must all pass: every module
  has a passing test, nothing fails, errors, skips or warns. ``<!-- test: pytest
  outcome="failed=1" ARGS -->`` runs the module alone, with ARGS on the command line, and
  expects exactly those counts (a block that demonstrates a failure).
- ``<!-- test: python -->``: a script run with this interpreter; it must exit 0.
- ``<!-- test: shell -->``: commands, one a line: ``pytest ARGS`` runs in the section's
  directory (with its test modules) and must pass; ``pip install NAMES`` checks that each
  distribution named is installed here (the docs cannot name a missing extra).
- ``needs=MODULE`` on a ``python`` or ``pytest`` block (a migration guide's "before" side):
  when MODULE is not importable here the block is only compiled, not run.
- ``<!-- test: output -->``: text that must appear in the output of the run just before it
  (pytest's ``fnmatch_lines``: ``*`` is a wildcard, a line ``...`` is skipped).

A fenced block without such a comment fails ``test_every_block_is_executed``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aiohttp_asgi_fast import IMPLEMENTATION

DOCS = Path(__file__).resolve().parent.parent / "docs"
RUN_TIMEOUT = 120.0

MARKER = re.compile(r"^<!--\s*test:\s*(?P<kind>[a-z]+)(?P<args>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>\S*)\s*$")
HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*$")
KINDS = {"file", "pytest", "python", "shell", "output"}


@dataclass
class Block:
    doc: str
    line: int  # 1-based line of the opening fence
    kind: str
    args: list[str]
    text: str
    needs: str | None = None  # a module the block needs; without it, only compiled

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


@dataclass
class Section:
    doc: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class ParsedDoc:
    sections: list[Section]
    errors: list[str]


def parse(path: Path) -> ParsedDoc:
    """The document's sections (split at ``##`` headings) with their marked blocks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    sections = [Section(path.name, "(top)")]
    errors: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = HEADING.match(line)
        if heading:
            sections.append(Section(path.name, heading["title"]))
        fence = FENCE.match(line)
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence["fence"]:
            end += 1
        if end == len(lines):
            errors.append(f"{path.name}:{index + 1}: fenced block never closed")
            break
        previous = index - 1
        while previous >= 0 and not lines[previous].strip():
            previous -= 1
        marker = MARKER.match(lines[previous].strip()) if previous >= 0 else None
        if marker is None:
            errors.append(
                f"{path.name}:{index + 1}: fenced block without a '<!-- test: KIND -->' "
                f"comment on the line before it (kinds: {', '.join(sorted(KINDS))})"
            )
        elif marker["kind"] not in KINDS:
            errors.append(f"{path.name}:{index + 1}: unknown block kind {marker['kind']!r}")
        else:
            args = shlex.split(marker["args"])
            needs = [arg.removeprefix("needs=") for arg in args if arg.startswith("needs=")]
            block = Block(
                path.name,
                index + 1,
                marker["kind"],
                [arg for arg in args if not arg.startswith("needs=")],
                "\n".join(lines[index + 1 : end]) + "\n",
                needs[0] if needs else None,
            )
            if block.kind == "file" and len(block.args) != 1:
                errors.append(f"{block.where}: 'file' takes one PATH, got {block.args!r}")
            else:
                sections[-1].blocks.append(block)
        index = end + 1
    return ParsedDoc(sections, errors)


DOC_PATHS = sorted(DOCS.glob("*.md"))
PARSED = {path.name: parse(path) for path in DOC_PATHS}


def _mergeable(section: Section) -> bool:
    """Only files and test modules expected to pass: it can share a run with its neighbours."""
    return all(
        block.kind == "file"
        or (block.kind == "pytest" and not any(a.startswith("outcome=") for a in block.args))
        for block in section.blocks
    )


def _section_groups(sections: list[Section]) -> list[list[Section]]:
    groups: list[list[Section]] = []
    for section in sections:
        if groups and _mergeable(section) and _mergeable(groups[-1][-1]):
            groups[-1].append(section)
        else:
            groups.append([section])
    return groups


def _section_params() -> list[object]:
    """Runs of consecutive sections: those with only files and passing test modules share
    one pytest run (the suite's runtime); a section that runs a command, a script or an
    expected failure runs alone. Each run starts with the files written before it."""
    params = []
    for name, parsed in PARSED.items():
        files: dict[str, str] = {}
        for group in _section_groups(parsed.sections):
            if any(block.kind != "file" for section in group for block in section.blocks):
                more = f" (+{len(group) - 1} sections)" if len(group) > 1 else ""
                params.append(
                    pytest.param(group, dict(files), id=f"{name}::{group[0].title}{more}")
                )
            for section in group:
                for block in section.blocks:
                    if block.kind == "file":
                        files[block.args[0]] = block.text
    return params


def test_docs_exist() -> None:
    assert {p.name for p in DOC_PATHS} >= {"testing.md", "migrating.md"}


@pytest.mark.parametrize("name", sorted(PARSED))
def test_every_block_is_executed(name: str) -> None:
    assert PARSED[name].errors == []


def test_parse_rejects_unmarked_blocks(tmp_path: Path) -> None:
    doc = tmp_path / "guide.md"
    doc.write_text(
        "# Guide\n\n<!-- test: file app.py -->\n```python\napp = None\n```\n\n"
        "Text, then a block nobody runs:\n\n```python\nprint('hi')\n```\n\n"
        "<!-- test: frobnicate -->\n```\nx\n```\n\n<!-- test: pytest -->\n```python\n",
        encoding="utf-8",
    )
    parsed = parse(doc)
    assert parsed.errors == [
        "guide.md:10: fenced block without a '<!-- test: KIND -->' comment on the line "
        "before it (kinds: file, output, pytest, python, shell)",
        "guide.md:15: unknown block kind 'frobnicate'",
        "guide.md:20: fenced block never closed",
    ]
    assert [(b.kind, b.args, b.text) for b in parsed.sections[0].blocks] == [
        ("file", ["app.py"], "app = None\n")
    ]


def _pytest_args(args: list[str]) -> list[str]:
    # The guides run under whatever hot-path mode this suite runs in (the subprocess
    # inherits AIOHTTP_ASGI_NO_EXTENSIONS); -rA lists every passing test by name.
    return ["-p", "no:cacheprovider", "-rA", *args]


class SectionRun:
    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        self.pending: list[str] = []  # test modules not yet run
        self.last_output: list[str] | None = None
        self.last_block: Block | None = None

    def run_pytest(self, block: Block, args: list[str], modules: list[str]) -> pytest.RunResult:
        result = self.pytester.runpytest_subprocess(
            *_pytest_args(args), *modules, timeout=RUN_TIMEOUT
        )
        self.last_output = result.outlines + result.errlines
        # The plugin's header names the hot path: the guide ran in this suite's mode.
        assert f": hot path {IMPLEMENTATION}" in "\n".join(result.outlines), (
            f"{block.where}: not run on the {IMPLEMENTATION} hot path:\n"
            + "\n".join(self.last_output)
        )
        return result

    def check_passed(self, block: Block, result: pytest.RunResult, modules: list[str]) -> None:
        text = "\n".join(result.outlines + result.errlines)
        outcomes = result.parseoutcomes()
        bad = {k: v for k, v in outcomes.items() if k not in ("passed",)}
        assert result.ret == 0 and not bad, f"{block.where}: run failed ({outcomes}):\n{text}"
        for module in modules:
            assert re.search(rf"^PASSED {re.escape(module)}::", text, re.M), (
                f"{block.where}: no passing test in {module}:\n{text}"
            )

    def flush(self) -> None:
        if not self.pending:
            return
        modules, self.pending = self.pending, []
        block = self.last_block
        assert block is not None
        result = self.run_pytest(block, [], modules)
        self.check_passed(block, result, modules)

    def module_name(self, block: Block) -> str:
        return f"test_l{block.line}.py"

    def run_block(self, block: Block) -> None:
        if block.needs is not None and importlib.util.find_spec(block.needs) is None:
            compile(block.text, block.where, "exec")  # at least valid Python
            return
        if block.kind == "file":
            if (self.pytester.path / block.args[0]).exists():
                self.flush()  # the modules before it run with the file they were written for
            self.write(block.args[0], block.text)
        elif block.kind == "pytest":
            self.run_test_module(block)
        elif block.kind == "python":
            self.flush()
            script = self.write(f"script_l{block.line}.py", block.text)
            result = self.pytester.run(sys.executable, str(script), timeout=RUN_TIMEOUT)
            self.last_output = result.outlines + result.errlines
            assert result.ret == 0, f"{block.where}: script failed:\n" + "\n".join(self.last_output)
        elif block.kind == "shell":
            self.run_shell(block)
        elif block.kind == "output":
            self.flush()
            assert self.last_output is not None, f"{block.where}: no run before this output"
            expected = [ln for ln in block.text.splitlines() if ln.strip() not in ("", "...")]
            matcher = pytest.LineMatcher(self.last_output)
            matcher.fnmatch_lines(expected, consecutive=False)
        self.last_block = block

    def write(self, name: str, text: str) -> Path:
        path = self.pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def run_test_module(self, block: Block) -> None:
        module = self.module_name(block)
        self.write(module, block.text)
        outcome = [arg.removeprefix("outcome=") for arg in block.args if arg.startswith("outcome=")]
        if not outcome:
            self.pending.append(module)
            return
        self.flush()
        extra = [arg for arg in block.args if not arg.startswith("outcome=")]
        result = self.run_pytest(block, extra, [module])
        expected = {k: int(v) for k, v in (p.split("=") for p in outcome[0].split())}
        outcomes = result.parseoutcomes()
        # every non-zero count but warnings (the environment's), not only the listed
        # ones: an unexpected error must fail
        got = {k: v for k, v in outcomes.items() if v and k != "warnings"}
        assert got == expected, f"{block.where}: expected {expected}, got {outcomes}:\n" + (
            "\n".join(self.last_output or [])
        )

    def run_shell(self, block: Block) -> None:
        commands = block.text.replace("\\\n", " ").splitlines()
        for command in commands:
            words = shlex.split(command, comments=True)
            if not words:
                continue
            if words[0] == "pytest":
                modules, self.pending = self.pending, []
                result = self.run_pytest(block, words[1:], [])
                self.check_passed(block, result, modules)
            elif words[:2] == ["pip", "install"]:
                for requirement in words[2:]:
                    name = re.split(r"[\[<>=!~ ]", requirement.strip("'\""), maxsplit=1)[0]
                    importlib.metadata.distribution(name)  # raises if not installed
            else:
                pytest.fail(f"{block.where}: unsupported shell command {command!r}")


@pytest.mark.parametrize(("sections", "files"), _section_params())
def test_sections(
    pytester: pytest.Pytester, sections: list[Section], files: dict[str, str]
) -> None:
    run = SectionRun(pytester)
    for name, text in files.items():
        run.write(name, text)
    for section in sections:
        for block in section.blocks:
            run.run_block(block)
    run.flush()
