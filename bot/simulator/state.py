"""Simulator state: accounts, uploads, tasks, records for assertions, clock, throttling."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .knobs import SimulatorKnobs

log = logging.getLogger(__name__)

TaskStatus = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"]
Ratio = Literal["1:1", "3:4"]
StyleLevel = Literal["normal", "calm", "active"]
Endpoint = Literal["policy", "upload", "detect", "submit", "query", "cancel", "result"]
BBox = tuple[int, int, int, int]

TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})

# DashScope reports times in Beijing time.
_BEIJING = timezone(timedelta(hours=8))


def format_provider_time(unix: float) -> str:
    """Format a unix time as DashScope does: UTC+8, 'YYYY-MM-DD HH:MM:SS.mmm'."""
    moment = datetime.fromtimestamp(unix, tz=_BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def iso_utc(unix: float) -> str:
    """Format a unix time as the ISO 8601 UTC form OSS policies use."""
    moment = datetime.fromtimestamp(unix, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_utc(text: str) -> float:
    """Parse the form written by `iso_utc` back to a unix time."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def account_id_for(api_key: str) -> str:
    """Stable, non-secret account id for an API key (records never hold the key itself)."""
    return "acct-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


class SimClock:
    """Wall clock with an adjustable offset, so tests can jump past expiry times."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Current simulated unix time."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move simulated time forward (expiry checks only; render timing stays real)."""
        self.offset += seconds


class StatusChange(BaseModel):
    """One step in a task's life."""

    status: TaskStatus
    at: float


class SimTask(BaseModel):
    """A synthesis task as the simulator tracks it."""

    task_id: str
    account: str
    model: str
    image_url: str
    audio_url: str
    face_bbox: BBox
    ext_bbox: BBox
    style_level: StyleLevel
    ratio: Ratio
    audio_duration: float
    status: TaskStatus = "PENDING"
    history: list[StatusChange] = Field(default_factory=list)
    submitted_at: float
    scheduled_at: float | None = None
    ended_at: float | None = None
    code: str | None = None
    message: str | None = None
    video_url: str | None = None
    video_url_expires: int | None = None
    video_duration: float | None = None
    result_path: Path | None = Field(default=None, exclude=True)

    def set_status(self, status: TaskStatus, at: float) -> None:
        """Change status and remember when."""
        self.status = status
        self.history.append(StatusChange(status=status, at=at))

    @property
    def statuses(self) -> list[TaskStatus]:
        """The statuses this task went through, in order."""
        return [change.status for change in self.history]


class SubmissionRecord(BaseModel):
    """One accepted video-synthesis submission."""

    account: str
    task_id: str
    model: str
    image_url: str
    audio_url: str
    face_bbox: BBox
    ext_bbox: BBox
    style_level: StyleLevel
    submitted_at: float
    oss_resolve: bool


class UploadRecord(BaseModel):
    """One file stored through the temporary-upload flow."""

    account: str
    model: str
    key: str
    url: str
    filename: str
    size: int
    content_type: str | None
    uploaded_at: float
    expires_at: float
    path: Path = Field(exclude=True)


class DetectionRecord(BaseModel):
    """One face-detect call that got as far as running the detector."""

    account: str
    image_url: str
    ratio: Ratio
    faces: list[BBox]
    check_pass: bool
    code: str | None = None
    message: str | None = None
    face_bbox: BBox | None = None
    ext_bbox: BBox | None = None
    at: float


class CancelRecord(BaseModel):
    """One cancel request for a task of the caller's account."""

    account: str
    task_id: str
    previous_status: TaskStatus
    accepted: bool
    at: float


class QueryCount(BaseModel):
    """How many times tasks were polled (every GET /tasks/{id} that passed auth)."""

    total: int = 0
    per_task: dict[str, int] = Field(default_factory=dict)

    def add(self, task_id: str) -> None:
        """Count one poll."""
        self.total += 1
        self.per_task[task_id] = self.per_task.get(task_id, 0) + 1

    def of(self, task_id: str) -> int:
        """Polls of one task."""
        return self.per_task.get(task_id, 0)


class Account(BaseModel):
    """Per-API-key state: its queue, its running tasks, its bill."""

    account_id: str
    dir_hash: str
    queue: list[str] = Field(default_factory=list)
    running: list[str] = Field(default_factory=list)
    billed_seconds: float = 0.0
    billed_usd: float = 0.0
    succeeded: int = 0


class InjectedFailure(BaseModel):
    """An error to answer instead of the normal one, `remaining` more times."""

    status: int
    code: str
    message: str
    remaining: int = Field(ge=1)


class InjectedTaskFailure(BaseModel):
    """A failure the next running task(s) will end with."""

    code: str
    message: str
    remaining: int = Field(ge=1)


class Injections:
    """Queues of forced failures, consumed in FIFO order."""

    def __init__(self) -> None:
        self.endpoints: dict[Endpoint, deque[InjectedFailure]] = {}
        self.tasks: deque[InjectedTaskFailure] = deque()

    def add(self, endpoint: Endpoint, failure: InjectedFailure) -> None:
        """Queue a failure for an endpoint."""
        self.endpoints.setdefault(endpoint, deque()).append(failure)

    def take(self, endpoint: Endpoint) -> InjectedFailure | None:
        """Consume one failure for an endpoint, if any is queued."""
        queue = self.endpoints.get(endpoint)
        if not queue:
            return None
        head = queue[0]
        head.remaining -= 1
        if head.remaining <= 0:
            queue.popleft()
        return head

    def clear(self) -> None:
        """Forget every queued failure (the problem they stood for is fixed)."""
        self.endpoints.clear()
        self.tasks.clear()

    def take_task(self) -> InjectedTaskFailure | None:
        """Consume one task failure, if any is queued."""
        if not self.tasks:
            return None
        head = self.tasks[0]
        head.remaining -= 1
        if head.remaining <= 0:
            self.tasks.popleft()
        return head


class RateLimiter:
    """Sliding-window log limiter: at most `limit` accepted calls per `window` seconds per key."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, ...], deque[float]] = {}

    def allow(self, key: tuple[str, ...], limit: float | None, window: float) -> bool:
        """Record a call and say whether it fits; rejected calls do not use up the window."""
        if limit is None:
            return True
        now = time.monotonic()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) >= limit:
            return False
        calls.append(now)
        return True


@dataclass
class SimState:
    """Everything the simulator remembers; the records are public for test assertions."""

    knobs: SimulatorKnobs
    clock: SimClock = field(default_factory=SimClock)
    accounts: dict[str, Account] = field(default_factory=dict)
    uploads: dict[str, UploadRecord] = field(default_factory=dict)
    tasks: dict[str, SimTask] = field(default_factory=dict)
    submissions: list[SubmissionRecord] = field(default_factory=list)
    detections: list[DetectionRecord] = field(default_factory=list)
    cancels: list[CancelRecord] = field(default_factory=list)
    query_count: QueryCount = field(default_factory=QueryCount)
    throttled: dict[str, int] = field(default_factory=dict)  # 429 answers by endpoint
    injections: Injections = field(default_factory=Injections)
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def account(self, api_key: str) -> Account:
        """The account of an API key, created on first use."""
        account_id = account_id_for(api_key)
        found = self.accounts.get(account_id)
        if found is None:
            found = Account(account_id=account_id, dir_hash=account_id.removeprefix("acct-"))
            self.accounts[account_id] = found
        return found

    def task_alive(self, task: SimTask) -> bool:
        """Whether a task is still within its life (else it reads as UNKNOWN)."""
        return self.clock.now() - task.submitted_at <= self.knobs.task_ttl_seconds
