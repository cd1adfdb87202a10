"""The bot's Prometheus metrics, in a registry of their own (several cores may share a process).

Counters move as things happen (the jobs' change events, the provider client's request
observer); the gauges of jobs by state, queue depth and the provider pause are read from the
database just before each scrape, so every process sharing it reports the same.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.jobs.events import JobEvent
from bot.jobs.gate import PauseReader
from bot.jobs.repository import JobRepository
from bot.jobs.states import JobState

# What generate_latest writes: the classic text format (newer clients label theirs 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Provider requests range from a quick task query to a face check or an upload of megabytes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Owns its registry; listens to the jobs' changes and implements the client's
    RequestObserver."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.transitions = Counter(
            "emo_job_transitions",
            "Job state changes written, by the state entered.",
            ["to_state"],
            registry=registry,
        )
        self.jobs = Gauge(
            "emo_jobs", "Jobs in the database, by state.", ["state"], registry=registry
        )
        self.queue_depth = Gauge(
            "emo_queue_depth", "Jobs queued, waiting to be submitted.", registry=registry
        )
        self.provider_seconds = Histogram(
            "emo_provider_request_seconds",
            "Duration of provider requests, by endpoint.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.provider_requests = Counter(
            "emo_provider_requests",
            "Provider requests by endpoint and HTTP status (status none: no answer); "
            'task queries are endpoint="task_query".',
            ["endpoint", "status"],
            registry=registry,
        )
        self.provider_errors = Counter(
            "emo_provider_errors",
            "Provider errors, by the provider's (or the client's) error code.",
            ["code"],
            registry=registry,
        )
        self.rendered_seconds = Counter(
            "emo_rendered_seconds", "Seconds of video rendered by the provider.", registry=registry
        )
        self.cost = Counter(
            "emo_cost_usd", "Estimated provider cost of rendered videos, in USD.", registry=registry
        )
        self.provider_paused = Gauge(
            "emo_provider_paused",
            "1 while submissions are paused on a provider account problem, else 0.",
            registry=registry,
        )
        for state in JobState:
            # Every series exists from the start, so rates work from the first scrape.
            self.transitions.labels(to_state=state.value)
            self.jobs.labels(state=state.value)

    async def job_changed(self, event: JobEvent) -> None:
        """A subscriber of the jobs' changes: count each state entered."""
        if not event.state_changed:
            return
        after = event.after
        self.transitions.labels(to_state=after.state.value).inc()
        if after.state is JobState.SUCCEEDED:
            if after.video_seconds is not None:
                self.rendered_seconds.inc(after.video_seconds)
            if after.cost_usd is not None:
                self.cost.inc(after.cost_usd)

    def request(self, endpoint: str, status: int | None, seconds: float, code: str | None) -> None:
        """The provider client's RequestObserver."""
        self.provider_seconds.labels(endpoint=endpoint).observe(seconds)
        label = "none" if status is None else str(status)
        self.provider_requests.labels(endpoint=endpoint, status=label).inc()
        if code is not None:
            self.provider_errors.labels(code=code).inc()

    async def refresh(self, jobs: JobRepository, gate: PauseReader) -> None:
        """Read the gauges that live in the database."""
        counts = await jobs.count_by_state()
        for state in JobState:
            self.jobs.labels(state=state.value).set(counts.get(state, 0))
        self.queue_depth.set(counts.get(JobState.QUEUED, 0))
        self.provider_paused.set(0 if await gate.current() is None else 1)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
