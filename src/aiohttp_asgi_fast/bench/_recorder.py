"""What a load run records: HDR histograms (constant memory), counts, grouped errors.

One ``Recorder`` per run and per worker process. Latencies are recorded in
microseconds into HdrHistograms (3 significant figures, up to one hour), so a run of
any length keeps the same few hundred kilobytes (plus the values waiting to go in: at
most ``_BATCH`` raw stamps and ``_MAX_KEYS`` distinct values a histogram, a few
megabytes in the worst case); workers' recorders are merged by
adding histograms (``merge``), never by averaging percentiles. ``to_wire`` /
``from_wire`` carry a recorder between processes (histograms in their encoded form).
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import Any, Final

from hdrh.histogram import HdrHistogram

__all__ = ("ErrorGroup", "Recorder", "StepStats", "add_counts", "add_values", "encode",
           "new_histogram")

# Raw stamps buffered before they are turned into counts (see Recorder.fold).
_BATCH: Final = 4096
# Distinct values a histogram's pending counts may hold before they are added into it.
_MAX_KEYS: Final = 8192
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


def add_values(histogram: HdrHistogram, values: list[int]) -> None:
    """``histogram.record_value(v)`` for each v >= 0 of ``values``."""
    add_counts(histogram, Counter(values))


def add_counts(histogram: HdrHistogram, counts: Counter[int]) -> None:
    """``histogram.record_value(v, count)`` for each value (>= 0) and count of
    ``counts`` (values above the histogram's range clamped to its top), one index
    computation per distinct value.

    The index is hdrh's ``_counts_index_for`` written out: bucket ``b`` is how far the
    value reaches past the sub-bucket range (a bit length), the sub-bucket its top bits.
    """
    if not counts:
        return
    top = max(counts)
    if top >= _HIGHEST:
        clamped: Counter[int] = Counter()
        for value, count in counts.items():
            clamped[_clamp(value)] += count
        counts = clamped
        top = _HIGHEST
    histogram_counts = histogram.counts
    mask = histogram.sub_bucket_mask
    unit = histogram.unit_magnitude
    bits = unit + histogram.sub_bucket_half_count_magnitude + 1
    half_magnitude = histogram.sub_bucket_half_count_magnitude
    half = histogram.sub_bucket_half_count
    for value, count in counts.items():
        bucket = (value | mask).bit_length() - bits
        index = ((bucket + 1) << half_magnitude) + (value >> (bucket + unit)) - half
        histogram_counts[index] += count
    histogram.total_count += counts.total()
    low = min(counts)
    if low < histogram.min_value:
        histogram.min_value = low
    if top > histogram.max_value:
        histogram.max_value = top


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
    """Counts and histograms of one measured run (warm-up is never recorded here).

    The per-request path is one ``list.append`` of a tuple of its figures in microseconds
    (``add_response``, ``add_app_span``). Every ``_BATCH`` of them (``fold_if_large``,
    from a timer) becomes counts per value with C-level zip/Counter;
    those counts go into the HdrHistograms, a Python step per *distinct* value, only
    when a histogram is read (``fold``) or holds ``_MAX_KEYS`` distinct values waiting.
    So the load itself pays per request a few C-level steps, and memory stays bounded.
    ``ok``, ``statuses`` and the byte counts fold first when read, so they are always
    current.
    """

    def __init__(self) -> None:
        #: successful requests, from the scheduled send time when a rate is set
        self.latency = new_histogram()
        #: successful requests, from the moment the request was actually sent (open
        #: model only: in the closed model a request is sent when it is due)
        self.service = new_histogram()
        #: inside the app: from the app call to http.response.start / the last body byte
        #: reaching the client (responses with an accepted status)
        self.app_head = new_histogram()
        self.app_body = new_histogram()
        #: how late the event loop ran a timer (sampled every 10 ms)
        self.loop_lag = new_histogram()
        #: whether the service histogram is filled (the open model, --rate)
        self.open_model = False
        #: the statuses whose app times are recorded (those the run counts as ok)
        self.ok_statuses: Container[int] = range(200, 400)
        self._ok = 0
        self.failed = 0
        self.late = 0  # open model: sends that left later than scheduled
        self.dropped = 0  # open model: scheduled sends never made before the end
        self.scheduled = 0  # open model: sends due before the end
        self._bytes_in = 0
        self._bytes_out = 0
        self._statuses: Counter[int] = Counter()
        self.errors: dict[tuple[str, str], ErrorGroup] = {}
        self.steps: dict[str, StepStats] = {}
        self.duration = 0.0  # seconds of measured load
        self.interrupted = False
        # successful responses not yet folded: (latency_us (from the due time), service_us
        # (from the send), status (0: not HTTP), bytes_in, bytes_out)
        self._responses: list[tuple[int, int, int, int, int]] = []
        #: record one successful response: ``add_response((latency_us, service_us,
        #: status, bytes_in, bytes_out))``
        self.add_response = self._responses.append
        # HTTP responses not yet folded: (status, app call to http.response.start, app
        # call to the last byte delivered), microseconds
        self._app_spans: list[tuple[int, int, int]] = []
        #: record one response's app times (the connector's ``_app_timer``)
        self.add_app_span = self._app_spans.append
        # counts per value (us) not yet in their histograms: see fold()
        self._latency_counts: Counter[int] = Counter()
        self._service_counts: Counter[int] = Counter()
        self._head_counts: Counter[int] = Counter()
        self._body_counts: Counter[int] = Counter()
        self._lag_counts: Counter[int] = Counter()
        self._pending = (
            (self._latency_counts, self.latency),
            (self._service_counts, self.service),
            (self._head_counts, self.app_head),
            (self._body_counts, self.app_body),
            (self._lag_counts, self.loop_lag),
        )

    # -- what fold() keeps current ----------------------------------------------

    @property
    def ok(self) -> int:
        return self._ok + len(self._responses)

    @property
    def statuses(self) -> Counter[int]:
        self.fold()
        return self._statuses

    @property
    def bytes_in(self) -> int:
        self.fold()
        return self._bytes_in

    @property
    def bytes_out(self) -> int:
        self.fold()
        return self._bytes_out

    # -- recording ----------------------------------------------------------------

    def record_ok(
        self, status: int, latency_us: int, service_us: int, bytes_in: int, bytes_out: int
    ) -> None:
        """One successful request from its times in microseconds (``add_response`` is
        the quicker form the load uses)."""
        self._ok += 1
        if status:  # 0: not an HTTP response (a WebSocket round trip, a scenario)
            self._statuses[status] += 1
        self._latency_counts[latency_us] += 1
        if service_us >= 0:
            self._service_counts[service_us] += 1
        self._bytes_in += bytes_in
        self._bytes_out += bytes_out

    def count_status(self, status: int) -> None:
        """A status seen without a request of its own to record (a scenario's step)."""
        self._statuses[status] += 1

    def record_app_times(self, head_us: int, body_us: int) -> None:
        if head_us >= 0:
            self._head_counts[head_us] += 1
        if body_us >= 0:
            self._body_counts[body_us] += 1

    def record_loop_lag(self, lag_us: int) -> None:
        """How late the event loop ran a timer (the sampler's, every 10 ms)."""
        self._lag_counts[lag_us] += 1

    def fold_if_large(self) -> None:
        """Count a batch of raw stamps once it has piled up, and add counts holding
        many distinct values into their histograms (called by a timer during the load:
        memory stays bounded, and the per-distinct-value step stays rare)."""
        if len(self._responses) >= _BATCH or len(self._app_spans) >= _BATCH:
            self._count_stamps()
        for counts, histogram in self._pending:
            if len(counts) >= _MAX_KEYS:
                add_counts(histogram, counts)
                counts.clear()

    def fold(self) -> None:
        """Bring the histograms and counts up to date; every reader of a histogram calls
        this first. hdrh's record_value is Python (five calls a value), so values are
        counted in C and each distinct value is added to hdrh's counts once."""
        self._count_stamps()
        for counts, histogram in self._pending:
            if counts:
                add_counts(histogram, counts)
                counts.clear()

    def _count_stamps(self) -> None:
        """Turn the raw stamps waiting into counts per value (all C-level steps)."""
        responses = self._responses
        if responses:
            latencies, services, statuses, ins, outs = zip(*responses, strict=True)
            responses.clear()
            self._ok += len(latencies)
            self._latency_counts.update(latencies)
            if self.open_model:
                self._service_counts.update(services)
            counted = Counter(statuses)
            counted.pop(0, None)
            self._statuses.update(counted)
            self._bytes_in += sum(ins)
            self._bytes_out += sum(outs)
        spans = self._app_spans
        if spans:
            kept = list(compress(spans, map(self.ok_statuses.__contains__,
                                            map(itemgetter(0), spans))))
            spans.clear()
            if kept:
                _, heads, bodies = zip(*kept, strict=True)
                self._head_counts.update(heads)
                self._body_counts.update(bodies)

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
        self._statuses[status] += 1
        self._bytes_in += bytes_in
        self._bytes_out += bytes_out
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
        self._ok += other.ok
        self.failed += other.failed
        self.late += other.late
        self.dropped += other.dropped
        self.scheduled += other.scheduled
        self._bytes_in += other.bytes_in
        self._bytes_out += other.bytes_out
        self._statuses.update(other.statuses)
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
            private = f"_{name}"  # ok, bytes_in, bytes_out: read through properties
            setattr(recorder, private if hasattr(recorder, private) else name, value)
        recorder._statuses.update({int(k): v for k, v in data["statuses"].items()})
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
