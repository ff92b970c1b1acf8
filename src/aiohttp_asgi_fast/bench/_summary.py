"""A measured run as the report's plain data (the JSON report's ``results[]`` entry).

Everything the text report, the JSON report and the ``--fail-on`` gates read comes
from ``summarize``: one function, so the three never disagree. Times are in
milliseconds; see ``report.schema.json`` for every field.
"""

from __future__ import annotations

import math
from typing import Any, Final

from hdrh.histogram import HdrHistogram

from ._recorder import (
    APP_EXCEPTION,
    CONNECTOR,
    INTERRUPTED,
    LOGGED,
    SCENARIO,
    STATUS,
    TIMEOUT,
    Recorder,
    encode,
)

__all__ = ("distribution", "histogram_buckets", "summarize")

_PERCENTILES: Final = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0),
                       ("p99_9", 99.9))
_KIND_ORDER: Final = {STATUS: 0, APP_EXCEPTION: 1, TIMEOUT: 2, CONNECTOR: 3, SCENARIO: 4,
                      INTERRUPTED: 5, LOGGED: 6}
# Open model: late or never-made sends above this share of the scheduled ones are reported.
_SHARE: Final = 0.01
# Loop lag (timer overshoot) above these says something held the event loop.
_LAG_P99_MS: Final = 10.0
_LAG_MAX_MS: Final = 100.0


def _ms(value_us: float) -> float:
    return round(value_us / 1000.0, 4)


def _recorded(histogram: HdrHistogram) -> list[tuple[int, int, int]]:
    """(lowest, highest equivalent value, count) of each non-empty bucket, in order."""
    counts = histogram.counts[: histogram.counts_len]
    value_of = histogram.get_value_from_index
    low_of = histogram.get_lowest_equivalent_value
    high_of = histogram.get_highest_equivalent_value
    recorded = []
    for index, count in enumerate(counts):
        if count:
            value = value_of(index)
            recorded.append((low_of(value), high_of(value), count))
    return recorded


def distribution(histogram: HdrHistogram) -> dict[str, Any] | None:
    """count, min, mean, stdev, percentiles and max in ms; None when nothing was recorded.

    One pass over the recorded buckets (hdrh's own mean, stdev and percentiles each
    walk every bucket in Python: seconds for a report); the same rules as hdrh:
    percentiles at the bucket's highest equivalent value, the mean at its middle.
    """
    total = histogram.get_total_count()
    if total == 0:
        return None
    recorded = _recorded(histogram)
    mean = sum((low + high) / 2 * count for low, high, count in recorded) / total
    variance = sum(((low + high) / 2 - mean) ** 2 * count for low, high, count in recorded)
    result: dict[str, Any] = {
        "count": total,
        "min": _ms(histogram.get_min_value()),
        "mean": _ms(mean),
        "stdev": _ms(math.sqrt(variance / total)),
    }
    targets = iter(_PERCENTILES)
    name, percentile = next(targets)
    wanted = max(1, int(percentile / 100 * total + 0.5))
    running = 0
    for _, high, count in recorded:
        running += count
        while running >= wanted:
            result[name] = _ms(high)
            following = next(targets, None)
            if following is None:
                break
            name, percentile = following
            wanted = max(1, int(percentile / 100 * total + 0.5))
        else:
            continue
        break
    result["max"] = _ms(histogram.get_max_value())
    return result


def histogram_buckets(histogram: HdrHistogram, buckets: int = 10) -> list[dict[str, Any]]:
    """``buckets`` equal-width latency bands from min to max: upper bound (ms) and count."""
    count = histogram.get_total_count()
    if count == 0:
        return []
    low = histogram.get_min_value()
    high = histogram.get_max_value()
    width = max((high - low) / buckets, 1e-9)
    counts = [0] * buckets
    for _, value, bucket_count in _recorded(histogram):
        index = min(int((min(value, high) - low) / width), buckets - 1)
        counts[index] += bucket_count
    return [
        {"upper_ms": _ms(low + width * (i + 1)), "count": counts[i]} for i in range(buckets)
    ]


def summarize(
    recorder: Recorder, *, mode: str, rate: float | None, unit: str = "request"
) -> dict[str, Any]:
    """The report data of one run (one mode; workers already merged)."""
    recorder.fold()
    total = recorder.ok + recorder.failed
    duration = recorder.duration
    per_s = (lambda n: round(n / duration, 3)) if duration > 0 else (lambda n: 0.0)
    errors = sorted(recorder.errors.values(), key=lambda g: (_KIND_ORDER.get(g.kind, 9), -g.count))
    result: dict[str, Any] = {
        "mode": mode,
        "unit": unit,
        "requests": {
            "total": total,
            "ok": recorder.ok,
            "failed": recorder.failed,
            "scheduled": recorder.scheduled if rate else None,
            "late": recorder.late if rate else None,
            "dropped": recorder.dropped if rate else None,
        },
        "duration_s": round(duration, 6),
        "rps": per_s(total),
        "ok_rps": per_s(recorder.ok),
        "target_rps": rate,
        "bytes": {
            "in": recorder.bytes_in,
            "out": recorder.bytes_out,
            "in_per_s": per_s(recorder.bytes_in),
            "out_per_s": per_s(recorder.bytes_out),
        },
        "latency_ms": distribution(recorder.latency),
        # The closed model sends each request when it is due: service time is latency.
        "service_time_ms": distribution(recorder.service if rate else recorder.latency),
        "app_time_ms": {
            "to_response_start": distribution(recorder.app_head),
            "to_last_body_byte": distribution(recorder.app_body),
        },
        "histogram": histogram_buckets(recorder.latency),
        "hdr": {
            "latency": encode(recorder.latency),
            "service_time": encode(recorder.service if rate else recorder.latency),
            "app_to_response_start": encode(recorder.app_head),
            "app_to_last_body_byte": encode(recorder.app_body),
        },
        "status_codes": {str(k): v for k, v in sorted(recorder.statuses.items())},
        "errors": [
            {
                "kind": g.kind,
                "label": g.label,
                "count": g.count,
                "percent": round(100.0 * g.count / total, 4) if total else 0.0,
                "example": g.example,
                "traceback": g.traceback,
            }
            for g in errors
        ],
        "steps": [
            {
                "name": name,
                "count": step.count,
                "failed": step.failed,
                "status_codes": {str(k): v for k, v in sorted(step.statuses.items())},
                "latency_ms": distribution(step.latency),
            }
            for name, step in recorder.steps.items()
        ],
        "loop_lag_ms": distribution(recorder.loop_lag),
        "interrupted": recorder.interrupted,
        "warnings": _warnings(recorder, rate),
    }
    return result


def _warnings(recorder: Recorder, rate: float | None) -> list[str]:
    """Say when the figures measure the load generator rather than the app."""
    notes = []
    scheduled = recorder.scheduled
    if rate and scheduled:
        if recorder.dropped > _SHARE * scheduled:
            notes.append(
                f"the scheduled rate was not reached: {recorder.dropped:,} of {scheduled:,} "
                "sends fell due but were never made (all virtual users were busy: raise -c, "
                "or the app and this process cannot keep up)"
            )
        if recorder.late > _SHARE * scheduled:
            notes.append(
                f"{recorder.late:,} of {scheduled:,} sends left more than 1 ms after their "
                "scheduled time: every virtual user was busy or the event loop was held; "
                "latency counts from each scheduled time, so those waits are in it"
            )
    lag = recorder.loop_lag
    if lag.get_total_count():
        p99 = lag.get_value_at_percentile(99.0) / 1000.0
        worst = lag.get_max_value() / 1000.0
        if p99 > _LAG_P99_MS or worst > _LAG_MAX_MS:
            notes.append(
                f"the event loop lagged (timer overshoot p99 {p99:.1f} ms, max {worst:.1f} ms): "
                "something held it (blocking code in the app, the load generator at its "
                "limit, or other processes on a busy machine); latencies include that wait"
            )
    return notes
