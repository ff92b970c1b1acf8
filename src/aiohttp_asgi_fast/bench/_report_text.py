"""The text report of ``aiohttp-asgi-fast bench``: the JSON report's data, for people.

``render_report`` reads only the report dict (the same data ``--json`` writes), so the
text and JSON reports never disagree. It prints plain rich Text and borderless Tables:
readable on a terminal and in a captured, colourless, fixed-width ``Console``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ("render_report",)

_PERCENTILES: Final = (
    ("min", "min"), ("mean", "mean"), ("p50", "p50"), ("p90", "p90"), ("p95", "p95"),
    ("p99", "p99"), ("p99.9", "p99_9"), ("max", "max"),
)
_APP_TIME_NOTE: Final = (
    "App time is measured inside the app, from the app call to its http.response.start and "
    "to its last body byte reaching the client; the rest of the total is the client, the "
    "connector and waiting for the event loop, which is shared with the other requests in "
    "flight."
)
_KINDS: Final = {"app_exception": "app exception", "logged": "logged by the connector",
                 "interrupted": "interrupted"}
_BAR_WIDTH: Final = 40  # at most, in cells
_TRACEBACK_LINES: Final = 40  # the last lines of a traceback are shown
_LATENCY_METRIC: Final = re.compile(r"(^|[._])(p\d+([._]\d+)?|mean|min|max|stdev)$")


def render_report(report: dict[str, Any], console: Console) -> None:
    """Print the whole report to ``console``: each result, the comparison and the gates."""
    _Renderer(console).report(report)


def _count(value: int | None) -> str:
    return "0" if value is None else f"{value:,}"


def _percent(value: float) -> str:
    if 0 < value < 0.01:
        return "<0.01%"
    return f"{value:.2f}%"


def _seconds(value: float | None) -> str:
    """``30 s``, ``2.5 s``, ``1.234 s``, ``250 ms``."""
    if value is None:
        return "?"
    if 0 < value < 1:
        return f"{value * 1000:.4g} ms"
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def _bytes(value: float) -> str:
    """Binary units: ``512 B``, ``1.50 KiB``, ``12.34 MiB``."""
    power = 0
    while value >= 1024 and power < 3:
        value, power = value / 1024, power + 1
    return f"{value:,.2f} {('B', 'KiB', 'MiB', 'GiB')[power]}" if power else f"{value:,.0f} B"


def _per_s(unit: str) -> str:
    return "req/s" if unit == "request" else f"{unit}s/s"


def _plural(unit: str, count: int | None = None) -> str:
    return unit if count == 1 else f"{unit}s"


def _table(*headers: str, first_left: int = 1) -> Table:
    """A borderless table: the first ``first_left`` columns left, the rest right-aligned."""
    table = Table(box=None, padding=(0, 1, 0, 0), show_edge=False, header_style="bold")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index < first_left else "right")
    return table


class _Renderer:
    """One report's printing: the console, its glyphs, and the tracebacks already shown."""

    def __init__(self, console: Console) -> None:
        self.console = console
        utf = console.encoding.startswith("utf")
        self.dash = "\u2014" if utf else "-"
        self.en_dash = "\u2013" if utf else "-"
        self.bar = "\u25a0" if utf else "#"
        self.shown_tracebacks: set[tuple[str, str]] = set()

    # -- small helpers ---------------------------------------------------------

    def ms(self, value: float | None) -> str:
        if value is None:
            return self.dash
        return f"{value:,.3f}" if value < 1000 else f"{value:,.1f}"

    def line(self, *parts: str | tuple[str, str], indent: int = 0) -> None:
        self.out(Text.assemble(*parts), indent)

    def out(self, renderable: RenderableType, indent: int = 2) -> None:
        if indent:
            renderable = Padding(renderable, (0, 0, 0, indent), expand=False)
        self.console.print(renderable, highlight=False)

    def title(self, text: str) -> None:
        self.console.print()
        self.line((text, "bold"))

    # -- the report --------------------------------------------------------------

    def report(self, report: dict[str, Any]) -> None:
        config: dict[str, Any] = report.get("config") or {}
        results: list[dict[str, Any]] = report.get("results") or []
        self.header(report, config, results)
        if report.get("interrupted") or any(r.get("interrupted") for r in results):
            self.line(("interrupted by Ctrl-C: partial report", "bold yellow"))
        if not results:
            self.line(("no results", "bold red"))
        for result in results:
            if len(results) > 1:
                self.console.print()
                label = f"{result.get('mode')} ({result.get('implementation')})"
                self.console.rule(Text(label, style="bold"))
            self.result(result, config)
        comparison = report.get("comparison")
        if comparison:
            self.comparison(comparison)
        if report.get("gates"):
            self.gates(report["gates"])

    def header(
        self, report: dict[str, Any], config: dict[str, Any], results: list[dict[str, Any]]
    ) -> None:
        tool = report.get("tool") or {}
        about = ", ".join(
            part for part in (
                f"{tool.get('name', 'aiohttp-asgi-fast')} {tool.get('version', '')}".strip(),
                f"Python {tool['python']}" if tool.get("python") else "",
                f"aiohttp {tool['aiohttp']}" if tool.get("aiohttp") else "",
                f"{tool['loop']} loop" if tool.get("loop") else "",
                report.get("started_at") or "",
            ) if part
        )
        self.line(("Benchmark of ", "bold"), (str(config.get("app", "?")), "bold cyan"))
        self.line((about, "dim"), indent=2)
        self.line(self.workload(config), indent=2)
        self.line(self.load(config, results), indent=2)

    def workload(self, config: dict[str, Any]) -> str:
        kind = config.get("kind", "http")
        paths = ", ".join(config.get("paths") or ["/"])
        if kind == "scenario":
            what = f"scenario {config.get('scenario')}"
        elif kind == "websocket":
            size = config.get("message_size")
            what = f"WebSocket round trips on {paths}" + (f", {size:,}-byte messages"
                                                         if size else "")
        elif config.get("targets"):
            what = f"targets from {config['targets']} ({config.get('order', 'sequential')})"
        else:
            what = f"{config.get('method', 'GET')} {paths}"
            if len(config.get("paths") or ()) > 1:
                what += f" ({config.get('order', 'sequential')})"
            if config.get("body_bytes") is not None:
                what += f" with a {config['body_bytes']:,}-byte body"
        headers = config.get("headers") or []
        if headers:
            what += f", {len(headers)} extra {_plural('header', len(headers))}"
        lifespan = config.get("lifespan_ran")
        if lifespan is not None:
            what += "; lifespan ran" if lifespan else "; no lifespan"
        return what

    def load(self, config: dict[str, Any], results: list[dict[str, Any]]) -> str:
        concurrency = config.get("concurrency", 1)
        if config.get("model") == "open":
            model = f"open model: --rate {config.get('rate') or 0:,g}/s, up to " \
                    f"{concurrency:,} in flight"
        else:
            model = f"closed model: -c {concurrency:,}"
        workers = config.get("workers", 1)
        unit = {"websocket": "round trip", "scenario": "iteration"}.get(
            config.get("kind", "http"), "request")
        if config.get("requests") is not None:
            amount = f"{config['requests']:,} {_plural(unit, config['requests'])}"
        else:
            amount = f"for {_seconds(config.get('duration_s'))}"
        parts = [model, f"{workers} {'worker' if workers == 1 else 'worker processes'}", amount]
        if config.get("warmup_s"):
            parts.append(f"warm-up {_seconds(config['warmup_s'])}")
        if config.get("mode") == "both":
            parts.append(f"compiled and pure hot paths, {config.get('rounds')} rounds each")
        elif len(results) == 1:
            parts.append(f"hot path {results[0].get('mode')} "
                         f"({results[0].get('implementation')})")
        return "; ".join(parts)

    # -- one result -----------------------------------------------------------------

    def result(self, result: dict[str, Any], config: dict[str, Any]) -> None:
        unit = result.get("unit", "request")
        open_model = result.get("target_rps") is not None or config.get("model") == "open"
        self.summary(result, unit)
        self.latency(result, unit, open_model)
        self.histogram(result.get("histogram") or [])
        self.statuses(result.get("status_codes") or {})
        self.errors(result.get("errors") or [])
        self.steps(result.get("steps") or [])
        self.workers(result.get("workers") or [], unit)
        self.rounds(result.get("rounds") or [], unit)
        lag = result.get("loop_lag_ms")
        if lag:
            self.console.print()
            self.line(f"Event loop lag (timer overshoot): p99 {self.ms(lag.get('p99'))} ms, "
                      f"max {self.ms(lag.get('max'))} ms")
        warnings = result.get("warnings") or []
        if warnings:
            self.console.print()
        for warning in warnings:
            self.line(("note: ", "bold yellow"), (warning, "yellow"))

    def summary(self, result: dict[str, Any], unit: str) -> None:
        counts = result.get("requests") or {}
        total, failed = counts.get("total", 0), counts.get("failed", 0)
        self.title("Summary")
        grid = Table.grid(padding=(0, 2))
        grid.add_column()
        grid.add_column()
        share = f": {_percent(100.0 * failed / total)}" if total and failed else ""
        grid.add_row(_plural(unit).capitalize(),
                     f"{total:,} ({counts.get('ok', 0):,} ok, {failed:,} failed{share})")
        grid.add_row("Duration", _seconds(result.get("duration_s")))
        rate = f"{result.get('rps', 0):,.1f} {_per_s(unit)}"
        if failed:
            rate += f" (ok: {result.get('ok_rps', 0):,.1f} {_per_s(unit)})"
        grid.add_row("Throughput", rate)
        data = result.get("bytes") or {}
        for key in ("in", "out"):
            grid.add_row(f"Bytes {key}", f"{_bytes(data.get(key, 0))}, "
                                         f"{_bytes(data.get(f'{key}_per_s', 0))}/s")
        target = result.get("target_rps")
        if target is not None:
            grid.add_row("Target rate", f"{target:,g} {_per_s(unit)}: "
                         f"{_count(counts.get('scheduled'))} scheduled, "
                         f"{_count(counts.get('late'))} late, "
                         f"{_count(counts.get('dropped'))} dropped")
        self.out(grid)

    def latency(self, result: dict[str, Any], unit: str, open_model: bool) -> None:
        self.title(f"Latency (ms, {_plural(unit)} that succeeded)")
        table = _table("", *(name for name, _ in _PERCENTILES))
        app = result.get("app_time_ms") or {}
        rows: list[tuple[str, dict[str, Any] | None]] = []
        if open_model:
            rows.append(("from scheduled send (corrected)", result.get("latency_ms")))
            rows.append(("service time (from actual send)", result.get("service_time_ms")))
        else:
            rows.append(("total", result.get("latency_ms")))
        rows.append(("app: to response start", app.get("to_response_start")))
        rows.append(("app: to last body byte", app.get("to_last_body_byte")))
        for label, dist in rows:
            table.add_row(Text(label), *(
                self.ms(dist.get(key)) if dist else self.dash for _, key in _PERCENTILES))
        self.out(table)
        self.out(Text(_APP_TIME_NOTE, style="dim"))

    def histogram(self, buckets: list[dict[str, Any]]) -> None:
        if not buckets:
            return
        self.title("Latency histogram")
        top = max(bucket["count"] for bucket in buckets) or 1
        labels = [self.ms(bucket["upper_ms"]) for bucket in buckets]
        label_width = max(len(label) for label in labels)
        count_width = max(len(f"{bucket['count']:,}") for bucket in buckets)
        room = self.console.width - label_width - count_width - 10
        width = max(10, min(_BAR_WIDTH, room))
        for label, bucket in zip(labels, buckets, strict=True):
            count = bucket["count"]
            length = max(1, round(width * count / top)) if count else 0
            text = Text(f"  {label:>{label_width}} ms [{count:>{count_width},}] ")
            text.append(self.bar * length, style="cyan")
            text.rstrip()
            self.console.print(text, highlight=False, no_wrap=True, overflow="crop")

    def statuses(self, codes: dict[str, int]) -> None:
        if not codes:
            return
        self.title("Status codes")
        table = _table("status", "count", "share")
        total = sum(codes.values()) or 1
        for code, count in codes.items():
            table.add_row(code, f"{count:,}", _percent(100.0 * count / total))
        self.out(table)

    def errors(self, errors: list[dict[str, Any]]) -> None:
        if not errors:
            return
        self.title("Errors")
        table = _table("kind", "error", "count", "share", "first example", first_left=2)
        table.columns[-1].justify = "left"
        table.columns[-1].overflow = "fold"
        for error in errors:
            kind = str(error.get("kind", ""))
            table.add_row(Text(_KINDS.get(kind, kind)), Text(str(error.get("label", ""))),
                          f"{error.get('count', 0):,}", _percent(error.get("percent", 0.0)),
                          Text(str(error.get("example") or "")))
        self.out(table)
        for error in errors:
            key = (str(error.get("kind")), str(error.get("label")))
            if not error.get("traceback") or key in self.shown_tracebacks:
                continue
            self.shown_tracebacks.add(key)
            self.console.print()
            self.line(f"Traceback of the first {key[1]}:", indent=2)
            self.out(Text(self.trim(error["traceback"]), style="dim"), indent=4)

    def trim(self, traceback: str) -> str:
        lines = traceback.rstrip().splitlines()
        if len(lines) <= _TRACEBACK_LINES:
            return "\n".join(lines)
        skipped = len(lines) - _TRACEBACK_LINES
        return "\n".join([lines[0], f"  ... {skipped:,} lines left out ...",
                          *lines[-_TRACEBACK_LINES + 1:]])

    def steps(self, steps: list[dict[str, Any]]) -> None:
        if not steps:
            return
        self.title("Scenario steps (latency in ms)")
        table = _table("step", "count", "failed", "p50", "p99", "mean")
        for step in steps:
            dist = step.get("latency_ms") or {}
            table.add_row(Text(str(step.get("name", ""))), f"{step.get('count', 0):,}",
                          f"{step.get('failed', 0):,}", self.ms(dist.get("p50")),
                          self.ms(dist.get("p99")), self.ms(dist.get("mean")))
        self.out(table)

    def workers(self, workers: list[dict[str, Any]], unit: str) -> None:
        if not workers:
            return
        self.title("Workers")
        table = _table("worker", "pid", "ok", "failed", _per_s(unit), "p50 ms", "p99 ms")
        table.columns[0].justify = "right"
        for worker in workers:
            table.add_row(str(worker.get("index")), str(worker.get("pid")),
                          f"{worker.get('ok', 0):,}", f"{worker.get('failed', 0):,}",
                          f"{worker.get('rps', 0):,.1f}", self.ms(worker.get("p50_ms")),
                          self.ms(worker.get("p99_ms")))
        self.out(table)

    def rounds(self, rounds: list[dict[str, Any]], unit: str) -> None:
        if not rounds:
            return
        self.title("Rounds")
        table = _table("round", _per_s(unit), "ok", "failed", "duration")
        table.columns[0].justify = "right"
        for item in rounds:
            table.add_row(str(item.get("index")), f"{item.get('rps', 0):,.1f}",
                          f"{item.get('ok', 0):,}", f"{item.get('failed', 0):,}",
                          _seconds(item.get("duration_s")))
        self.out(table)

    # -- across results ------------------------------------------------------------

    def comparison(self, comparison: dict[str, Any]) -> None:
        self.console.print()
        ratio = comparison.get("rps_ratio")
        text = (f"{comparison.get('numerator')} / {comparison.get('denominator')}: "
                + (f"{ratio:.2f}x req/s" if ratio is not None else f"{self.dash} req/s"))
        if comparison.get("min") is not None and comparison.get("max") is not None:
            text += f" (rounds {comparison['min']:.2f}{self.en_dash}{comparison['max']:.2f}"
            if comparison.get("stdev") is not None:
                text += f", stdev {comparison['stdev']:.2f}"
            text += ")"
        self.line((text, "bold"))

    def gates(self, gates: list[dict[str, Any]]) -> None:
        self.title("Gates")
        several = len({gate.get("mode") for gate in gates}) > 1  # --mode both: each mode
        table = _table("", *(("mode",) if several else ()), "gate", "actual",
                       first_left=3 if several else 2)
        table.show_header = False
        for gate in gates:
            actual = gate.get("actual")
            if actual is None:
                shown = self.dash
            elif "%" in str(gate.get("expression", "")):
                shown = f"{actual:,.3f}%"
            elif _LATENCY_METRIC.search(str(gate.get("metric", ""))):
                shown = f"{actual:,.3f} ms"
            else:  # a count of errors or a rate
                shown = f"{actual:,.0f}" if actual == int(actual) else f"{actual:,.1f}"
            verdict = Text("PASS", style="bold green") if gate.get("passed") else \
                Text("FAIL", style="bold red")
            mode = (Text(str(gate.get("mode"))),) if several else ()
            table.add_row(verdict, *mode, Text(str(gate.get("expression", ""))), shown)
        self.out(table)
