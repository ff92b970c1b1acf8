"""``--fail-on`` CI gates (``p99<20ms``, ``errors<0.1%``, ``rps>1000``) checked on a result.

A gate states what must hold; it is breached (``passed`` False) when it does not.
``parse_gate`` reads one expression, raising ``UsageError`` (exit 2) for anything it
cannot read; ``evaluate`` checks gates against one ``summarize()`` result and returns
the report's ``gates[]`` entries. A latency gate on no data (nothing succeeded) fails.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from ._errors import UsageError

__all__ = ("METRICS", "OPS", "Gate", "evaluate", "parse_gate")

# Statistic named in a gate -> its key in a summarize() distribution.
_STATS: Final = {
    "min": "min", "mean": "mean", "p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99",
    "p99.9": "p99_9", "max": "max",
}
# Metric prefix -> where its distribution sits in a result.
_DISTRIBUTIONS: Final = {
    "": ("latency_ms",),
    "service_": ("service_time_ms",),
    "app_": ("app_time_ms", "to_last_body_byte"),
}
# Latency metric -> (path to its distribution, statistic key).
_LATENCY: Final = {
    prefix + stat: (path, key)
    for prefix, path in _DISTRIBUTIONS.items()
    for stat, key in _STATS.items()
}
# ``p99_9`` (the JSON key) is accepted for ``p99.9``.
_ALIASES: Final = {prefix + "p99_9": prefix + "p99.9" for prefix in _DISTRIBUTIONS}
_ERRORS: Final = "errors"
_RATES: Final = ("rps", "ok_rps")
#: every metric a gate may name
METRICS: Final = (*_LATENCY, _ERRORS, *_RATES)

_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
#: the comparisons a gate may use
OPS: Final = tuple(_COMPARE)

# Latency units -> milliseconds (Decimal: 0.0015s is exactly 1.5 ms).
_TIME_UNITS: Final = {
    "": Decimal(1), "ms": Decimal(1), "us": Decimal("0.001"), "\u00b5s": Decimal("0.001"),
    "\u03bcs": Decimal("0.001"), "s": Decimal(1000),
}

_SHAPE: Final = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*([<>=!]*)\s*(.*?)\s*", re.S)
_VALUE: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(.*)", re.S)
_EXAMPLES: Final = "'p99<20ms', 'p99.9 <= 0.5s', 'errors<0.1%', 'errors<=5', 'rps>1000'"


@dataclass(frozen=True)
class Gate:
    """One parsed ``--fail-on`` expression; latency thresholds are in ms."""

    expression: str
    metric: str
    op: str
    threshold: float
    percent: bool  # errors only: a share of all requests (%) rather than a count


def _fail(text: str, why: str) -> UsageError:
    return UsageError(f"--fail-on {text!r}: {why}")


def parse_gate(text: str) -> Gate:
    """``METRIC OP VALUE[UNIT]`` (spaces optional) as a Gate; UsageError when unreadable."""
    shape = _SHAPE.fullmatch(text)
    if shape is None:
        raise _fail(text, f"expected METRIC OP VALUE[UNIT], such as {_EXAMPLES}")
    name, op, rest = shape.groups()
    metric = name.lower()
    metric = _ALIASES.get(metric, metric)
    if metric not in METRICS:
        raise _fail(text, f"unknown metric {name!r}; choose from {', '.join(METRICS)}")
    if not op:
        raise _fail(text, f"missing comparison after {name!r}; use one of {', '.join(OPS)}")
    if op not in _COMPARE:
        raise _fail(text, f"unknown comparison {op!r}; use one of {', '.join(OPS)}")
    value = _VALUE.fullmatch(rest)
    if value is None:
        raise _fail(text, f"expected a non-negative number after {op!r}, got {rest!r}")
    number, unit = value[1], value[2].strip()
    percent = False
    if metric in _LATENCY:
        factor = _TIME_UNITS.get(unit.lower())
        if factor is None:
            hint = "% applies only to errors; " if unit == "%" else f"unknown unit {unit!r}; "
            raise _fail(text, f"{hint}{metric} is a latency: use ms (the default), us or s")
        threshold = float(Decimal(number) * factor)
    elif metric == _ERRORS:
        if unit not in ("", "%"):
            raise _fail(text, f"errors takes % (a share of all requests) or no unit (a count), "
                              f"got {unit!r}")
        percent = unit == "%"
        threshold = float(number)
    else:
        if unit:
            raise _fail(text, f"{metric} takes no unit (requests per second), got {unit!r}")
        threshold = float(number)
    return Gate(text.strip(), metric, op, threshold, percent)


def _actual(gate: Gate, result: dict[str, Any]) -> float | None:
    """The gate's metric in ``result``, in its base unit; None when there is no data."""
    if gate.metric in _LATENCY:
        path, key = _LATENCY[gate.metric]
        node: Any = result
        for part in path:
            node = node[part]
        return None if node is None else float(node[key])
    if gate.metric == _ERRORS:
        requests = result["requests"]
        failed: int = requests["failed"]
        if not gate.percent:
            return failed
        total: int = requests["total"]
        return 100.0 * failed / total if total else None
    return float(result[gate.metric])


def evaluate(gates: Sequence[Gate], result: dict[str, Any]) -> list[dict[str, Any]]:
    """Check each gate against one ``summarize()`` result: the report's ``gates[]``.

    Each entry names the result's ``mode``: under ``--mode both`` every gate is checked
    once per mode.
    """
    checked = []
    for gate in gates:
        actual = _actual(gate, result)
        passed = actual is not None and _COMPARE[gate.op](actual, gate.threshold)
        checked.append({
            "mode": result["mode"],
            "expression": gate.expression,
            "metric": gate.metric,
            "op": gate.op,
            "threshold": gate.threshold,
            "actual": actual,
            "passed": passed,
        })
    return checked
