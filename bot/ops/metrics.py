"""The bot's Prometheus metrics, in a registry of their own (several cores may share a process).

Counters move as things happen (the jobs' change events, the provider client's request
observer); the gauges of jobs by state, queue depth, the provider pause and each account's
slots, pause and spend are read from the database just before each scrape, so every process
sharing it reports the same. Accounts are labelled by their label, never by their key.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.jobs.account_report import AccountReport
from bot.jobs.events import JobEvent
from bot.jobs.gate import PauseReader
from bot.jobs.repository import JobRepository
from bot.jobs.states import JobState

# What generate_latest writes: the classic text format (newer clients label theirs 1.0.0).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Provider requests range from a quick task query to a face check or an upload of megabytes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# A render, from the submit's answer to the result: a PENDING wait plus minutes of rendering.
RENDER_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
_FAILED = (JobState.FAILED, JobState.REJECTED)


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
        self.render_duration = Histogram(
            "emo_render_duration_seconds",
            "Seconds from a job's SUBMITTED to its SUCCEEDED, by account label.",
            ["account"],
            buckets=RENDER_BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "emo_job_failures",
            "Jobs ended FAILED or REJECTED, by state, by code (the message key the member was"
            " told) and by account label (none: no account took it).",
            ["state", "code", "account"],
            registry=registry,
        )
        self.account_slots_busy = Gauge(
            "emo_account_slots_busy",
            "Provider slots holding a task being submitted or at the provider, by account.",
            ["account"],
            registry=registry,
        )
        self.account_slots = Gauge(
            "emo_account_slots",
            "Provider slots of an account (its concurrency plus look-ahead), by account.",
            ["account"],
            registry=registry,
        )
        self.account_paused = Gauge(
            "emo_account_paused",
            "1 while an account's submissions are paused on a provider refusal, else 0.",
            ["account"],
            registry=registry,
        )
        self.account_spend = Gauge(
            "emo_account_month_spend_usd",
            "Billed cost of the jobs an account rendered, created this UTC calendar month.",
            ["account"],
            registry=registry,
        )
        self._accounts: AccountReport | None = None
        for state in JobState:
            # Every series exists from the start, so rates work from the first scrape.
            self.transitions.labels(to_state=state.value)
            self.jobs.labels(state=state.value)

    def use_accounts(self, accounts: AccountReport) -> None:
        """Where the per-account gauges and the accounts' labels come from."""
        self._accounts = accounts

    def _label(self, name: str | None) -> str:
        if self._accounts is None:
            return name or "none"
        return self._accounts.label_of(name)

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
            if after.submitted_at is not None:
                ended = after.finished_at or after.updated_at
                seconds = (ended - after.submitted_at).total_seconds()
                if seconds >= 0:
                    self.render_duration.labels(account=self._label(after.account)).observe(seconds)
        elif after.state in _FAILED:
            self.failures.labels(
                state=after.state.value,
                code=after.error_key or "unknown",
                account=self._label(after.account),
            ).inc()

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
        if self._accounts is None:
            return
        statuses = await self._accounts.statuses()
        # Read whole first, then set at once: a scrape meanwhile sees no half-written set.
        for gauge in (
            self.account_slots_busy,
            self.account_slots,
            self.account_paused,
            self.account_spend,
        ):
            gauge.clear()
        for status in statuses:
            self.account_slots_busy.labels(account=status.label).set(status.slots_busy)
            self.account_slots.labels(account=status.label).set(status.slots_total)
            self.account_paused.labels(account=status.label).set(1 if status.paused else 0)
            self.account_spend.labels(account=status.label).set(status.spent_month_usd)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
