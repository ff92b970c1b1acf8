"""What a load run records: HDR histograms (constant memory), counts, grouped errors.

One ``Recorder`` per run and per worker process. Latencies are recorded in
microseconds into HdrHistograms (3 significant figures, up to one hour), so a run of
any length keeps the same few hundred kilobytes; workers' recorders are merged by
adding histograms (``merge``), never by averaging percentiles. ``to_wire`` /
``from_wire`` carry a recorder between processes (histograms in their encoded form).
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from hdrh.histogram import HdrHistogram

__all__ = ("ErrorGroup", "Recorder", "StepStats", "encode", "new_histogram")

# Values buffered before they are folded into the histograms (see Recorder.fold).
_BATCH: Final = 4096
# 1 us .. 1 hour, 3 significant figures (HdrHistogram's usual choice).
_LOWEST: Final = 1
_HIGHEST: Final = 3_600_000_000
_FIGURES: Final = 3

# Error kinds, in the order the report lists them.
STATUS: Final = "status"
APP_EXCEPTION: Final = "app_exception"
TIMEOUT: Final = "timeout"
CONNECTOR: Final = "connector"
SCENARIO: Final = "scenario"
#: the connector logged an app exception the client could not see (after the response
#: or the WebSocket close): not a failed request, but the app failed
LOGGED: Final = "logged"
#: sent, and still without a response when Ctrl-C's grace ran out
INTERRUPTED: Final = "interrupted"


#: the most step rows a scenario gets; later names are counted under OTHER_STEPS
MAX_STEPS: Final = 50
OTHER_STEPS: Final = "(other requests: more than 50 step names; name them with step())"


def new_histogram() -> HdrHistogram:
    return HdrHistogram(_LOWEST, _HIGHEST, _FIGURES)


def _clamp(value_us: int) -> int:
    return value_us if value_us < _HIGHEST else _HIGHEST


@dataclass
class ErrorGroup:
    """Failed requests of one kind and label (``status 503``, ``app ValueError``...)."""

    kind: str
    label: str
    count: int = 0
    example: str = ""  # the first occurrence's message
    traceback: str | None = None  # the first occurrence's traceback (app exceptions)


@dataclass
class StepStats:
    """One named step of a scenario: its requests, statuses and latency to the head."""

    count: int = 0
    failed: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latency: HdrHistogram = field(default_factory=new_histogram)


class Recorder:
    """Counts and histograms of one measured run (warm-up is never recorded here)."""

    def __init__(self) -> None:
        #: successful requests, from the scheduled send time when a rate is set
        self.latency = new_histogram()
        #: successful requests, from the moment the request was actually sent (open
        #: model only: in the closed model a request is sent when it is due)
        self.service = new_histogram()
        #: inside the app: from the app call to http.response.start / the last body byte
        self.app_head = new_histogram()
        self.app_body = new_histogram()
        #: how late the event loop ran a timer (sampled every 10 ms)
        self.loop_lag = new_histogram()
        self.ok = 0
        self.failed = 0
        self.late = 0  # open model: sends that left later than scheduled
        self.dropped = 0  # open model: scheduled sends never made before the end
        self.scheduled = 0  # open model: sends due before the end
        self.bytes_in = 0
        self.bytes_out = 0
        self.statuses: Counter[int] = Counter()
        self.errors: dict[tuple[str, str], ErrorGroup] = {}
        self.steps: dict[str, StepStats] = {}
        self.duration = 0.0  # seconds of measured load
        self.interrupted = False
        # values (us) not yet in their histograms: see fold()
        self._latency_pending: list[int] = []
        self._service_pending: list[int] = []
        self._head_pending: list[int] = []
        self._body_pending: list[int] = []

    # -- recording (the per-request path: keep it short) --------------------------

    def record_ok(
        self, status: int, latency_us: int, service_us: int, bytes_in: int, bytes_out: int
    ) -> None:
        self.ok += 1
        if status:  # 0: not an HTTP response (a WebSocket round trip, a scenario)
            self.statuses[status] += 1
        pending = self._latency_pending
        pending.append(latency_us)
        if service_us >= 0:
            self._service_pending.append(service_us)
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        if len(pending) >= _BATCH:
            self.fold()

    def record_app_times(self, head_us: int, body_us: int) -> None:
        if head_us >= 0:
            self._head_pending.append(head_us)
        if body_us >= 0:
            self._body_pending.append(body_us)

    def fold(self) -> None:
        """Record the values waiting in the buffers; every reader of a histogram calls this
        first. Values are buffered because hdrh's record_value is Python: one call per
        distinct value of a batch (Counter counts in C) costs a fraction of one per value."""
        for pending, histogram in (
            (self._latency_pending, self.latency),
            (self._service_pending, self.service),
            (self._head_pending, self.app_head),
            (self._body_pending, self.app_body),
        ):
            if pending:
                record = histogram.record_value
                for value, count in Counter(pending).items():
                    record(_clamp(value), count)
                pending.clear()

    def record_failure(
        self, kind: str, label: str, message: str = "", exc: BaseException | None = None
    ) -> ErrorGroup:
        self.failed += 1
        key = (kind, label)
        group = self.errors.get(key)
        if group is None:
            tb = None
            if exc is not None and kind in (APP_EXCEPTION, SCENARIO):
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            group = self.errors[key] = ErrorGroup(kind, label, 0, message[:500], tb)
        group.count += 1
        return group

    def record_logged(self, label: str, message: str, tb: str | None) -> None:
        """An app error the connector logged; the request itself is not failed."""
        key = (LOGGED, label)
        group = self.errors.get(key)
        if group is None:
            group = self.errors[key] = ErrorGroup(LOGGED, label, 0, message[:500], tb)
        group.count += 1

    def record_status_failure(self, status: int, bytes_in: int, bytes_out: int) -> None:
        self.statuses[status] += 1
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        self.record_failure(STATUS, f"status {status}")

    def step(self, name: str) -> StepStats:
        """The step's figures; past MAX_STEPS names (a scenario fetching /items/{id}
        without naming its step) requests share one row, so memory stays bounded."""
        if name not in self.steps and len(self.steps) >= MAX_STEPS:
            name = OTHER_STEPS
        stats = self.steps.get(name)
        if stats is None:
            stats = self.steps[name] = StepStats()
        return stats

    # -- combining and carrying ------------------------------------------------

    def merge(self, other: Recorder) -> None:
        """Add ``other`` into this recorder (histograms added, counts summed)."""
        self.fold()
        other.fold()
        for name in ("latency", "service", "app_head", "app_body", "loop_lag"):
            getattr(self, name).add(getattr(other, name))
        self.ok += other.ok
        self.failed += other.failed
        self.late += other.late
        self.dropped += other.dropped
        self.scheduled += other.scheduled
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.statuses.update(other.statuses)
        for key, group in other.errors.items():
            mine = self.errors.get(key)
            if mine is None:
                self.errors[key] = ErrorGroup(
                    group.kind, group.label, group.count, group.example, group.traceback
                )
            else:
                mine.count += group.count
        for name, step in other.steps.items():
            target = self.step(name)
            target.count += step.count
            target.failed += step.failed
            target.statuses.update(step.statuses)
            target.latency.add(step.latency)
        # Workers run side by side: the merged run lasts as long as the longest.
        self.duration = max(self.duration, other.duration)
        self.interrupted = self.interrupted or other.interrupted

    def to_wire(self) -> dict[str, Any]:
        """A picklable/JSON-able form, for carrying a worker's recorder to the parent."""
        self.fold()
        return {
            "histograms": {
                name: encode(getattr(self, name))
                for name in ("latency", "service", "app_head", "app_body", "loop_lag")
            },
            "counts": {
                name: getattr(self, name)
                for name in ("ok", "failed", "late", "dropped", "scheduled", "bytes_in",
                             "bytes_out", "duration", "interrupted")
            },
            "statuses": dict(self.statuses),
            "errors": [vars(group) for group in self.errors.values()],
            "steps": {
                name: {
                    "count": s.count,
                    "failed": s.failed,
                    "statuses": dict(s.statuses),
                    "latency": encode(s.latency),
                }
                for name, s in self.steps.items()
            },
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Recorder:
        recorder = cls()
        for name, encoded in data["histograms"].items():
            _decode_into(getattr(recorder, name), encoded)
        for name, value in data["counts"].items():
            setattr(recorder, name, value)
        recorder.statuses.update({int(k): v for k, v in data["statuses"].items()})
        for group in data["errors"]:
            error = ErrorGroup(**group)
            recorder.errors[(error.kind, error.label)] = error
        for name, step in data["steps"].items():
            stats = recorder.step(name)
            stats.count = step["count"]
            stats.failed = step["failed"]
            stats.statuses.update({int(k): v for k, v in step["statuses"].items()})
            _decode_into(stats.latency, step["latency"])
        return recorder


def encode(histogram: HdrHistogram) -> str | None:
    """HdrHistogram's compressed base64 form; None for an empty one (hdrh cannot)."""
    if histogram.get_total_count() == 0:
        return None
    encoded = histogram.encode()
    return encoded.decode("ascii") if isinstance(encoded, bytes) else str(encoded)


def _decode_into(histogram: HdrHistogram, encoded: str | None) -> None:
    if encoded is not None:
        histogram.decode_and_add(encoded)
