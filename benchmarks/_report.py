"""Turning raw per-process results into the printed tables (and the JSON summary)."""

from __future__ import annotations

import statistics
from typing import Any

from _apps import MIB, WORKLOADS

__all__ = ("LABELS", "Footnotes", "format_memory", "format_speed", "summarize")

LABELS = {
    "app": "app-only floor", "aiohttp": "aiohttp-only floor", "ideal": "ideal",
    "compiled": "aiohttp-asgi-fast compiled", "pure": "aiohttp-asgi-fast pure",
    "rival": "aiohttp-asgi-connector", "httpx": "httpx ASGITransport",
    "asgi-tools": "asgi-tools ASGITestClient", "uvicorn": "uvicorn + aiohttp TCP",
}
_WIDTH = max(map(len, LABELS.values())) + 2


class Footnotes:
    """Numbered reasons for ERR and n/a cells, each reason printed once."""

    def __init__(self) -> None:
        self.notes: dict[str, int] = {}

    def mark(self, text: str, reason: str) -> str:
        number = self.notes.setdefault(reason, len(self.notes) + 1)
        return f"{text}[{number}]"

    def render(self) -> str:
        return "\n".join(f"[{n}] {reason}" for reason, n in self.notes.items())


def summarize(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(workload, column) -> median over repeats; any failed repeat makes the cell ERR."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault((result["workload"], result["column"]), []).append(result)
    summary: dict[tuple[str, str], dict[str, Any]] = {}
    for key, runs in groups.items():
        failed = [r for r in runs if r["status"] != "ok"]
        if failed:
            status = "na" if all(r["status"] == "na" for r in failed) else "err"
            reasons = sorted({r["reason"] for r in failed if r["status"] == status})
            summary[key] = {"status": status, "reason": "; ".join(reasons)}
            continue
        rates = [r["rate"] for r in runs]
        median = statistics.median(rates)
        summary[key] = {"status": "ok", "rate": median, "repeats": len(runs),
                        "mib_s": statistics.median(r["mib_s"] for r in runs),
                        "spread": (max(rates) - min(rates)) / median if median else 0.0}
    return summary


def _ideal(summary: dict[tuple[str, str], dict[str, Any]], workload: str) -> float | None:
    floors = [summary.get((workload, column), {}) for column in ("app", "aiohttp")]
    if all(f.get("status") == "ok" and f["rate"] > 0 for f in floors):
        return float(1 / (1 / floors[0]["rate"] + 1 / floors[1]["rate"]))
    return None


def format_speed(summary: dict[tuple[str, str], dict[str, Any]], workloads: list[str],
                 columns: list[str], notes: Footnotes) -> str:
    lines = []
    for name in workloads:
        workload = WORKLOADS[name]
        unit = "echoes/s" if workload.kind == "ws" else "req/s"
        large = workload.bytes_per_op >= MIB
        head = f"{name:<{_WIDTH}}{unit:>12}" + (f"{'MiB/s':>10}" if large else "")
        lines += ["", head + f"{'spread':>8}{'x rival':>9}{'x ideal':>9}"]
        ideal = _ideal(summary, name)
        rival = summary.get((name, "rival"), {})
        rival_rate = rival["rate"] if rival.get("status") == "ok" else None
        rows: list[tuple[str, dict[str, Any]]] = [(c, summary.get((name, c), {}))
                                                  for c in columns]
        if ideal is not None:
            ideal_row = {"status": "ok", "rate": ideal, "spread": None,
                         "mib_s": ideal * workload.bytes_per_op / max(workload.per_op, 1) / MIB}
            rows.insert(sum(1 for c in columns if c in ("app", "aiohttp")), ("ideal", ideal_row))
        for column, cell in rows:
            label = f"  {LABELS[column]:<{_WIDTH - 2}}"
            if cell.get("status") != "ok":
                text = "n/a" if cell.get("status") == "na" else "ERR"
                if cell.get("reason"):
                    text = notes.mark(text, f"{name} / {column}: {cell['reason']}")
                lines.append(label + f"{text:>12}")
                continue
            rate = cell["rate"]
            row = label + f"{rate:>12,.0f}" + (f"{cell['mib_s']:>10,.0f}" if large else "")
            row += f"{'-':>8}" if cell["spread"] is None else f"{cell['spread']:>8.0%}"
            row += f"{rate / rival_rate:>9.2f}" if rival_rate else f"{'-':>9}"
            row += f"{rate / ideal:>9.2f}" if ideal else f"{'-':>9}"
            lines.append(row)
    return "\n".join(lines)


def _memory_cell(result: dict[str, Any] | None, notes: Footnotes, where: str) -> str:
    if result is None:
        return "-"
    if result["status"] != "ok":
        text = "n/a" if result["status"] == "na" else "ERR"
        return notes.mark(text, f"{where}: {result['reason']}")
    if "ttfb" in result:
        return f"{result['ttfb'] * 1e3:,.1f} ms"
    return f"{result['growth'] / MIB:,.1f} MiB {result['ratio']:.2f}x"


def format_memory(results: dict[tuple[str, str], dict[str, Any]], measurements: list[str],
                  columns: list[str], notes: Footnotes) -> str:
    width = 17
    lines = [f"{'':<{_WIDTH}}" + "".join(f"{m:>{width}}" for m in measurements)]
    for column in columns:
        cells = [_memory_cell(results.get((m, column)), notes, f"{m} / {column}")
                 for m in measurements]
        lines.append(f"{LABELS[column]:<{_WIDTH}}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)
