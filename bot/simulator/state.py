"""Simulator state: the clock, accounts, uploads, tasks and the records tests assert on."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from .accounts import Account, AccountDirectory, AccountEntry, account_id_for
from .injections import Endpoint, InjectedFailure, InjectedTaskFailure, Injections
from .knobs import SimulatorKnobs
from .limiter import RateLimiter
from .records import (
    CancelRecord,
    DetectionRecord,
    PolicyRecord,
    QueryCount,
    SubmissionRecord,
    UploadRecord,
)
from .tasks import (
    TERMINAL_STATUSES,
    BBox,
    Ratio,
    SimTask,
    StatusChange,
    StyleLevel,
    TaskStatus,
)

log = logging.getLogger(__name__)

# The names other modules (and older tests) import from here.
__all__ = [
    "TERMINAL_STATUSES",
    "Account",
    "BBox",
    "CancelRecord",
    "DetectionRecord",
    "Endpoint",
    "InjectedFailure",
    "InjectedTaskFailure",
    "Injections",
    "PolicyRecord",
    "QueryCount",
    "RateLimiter",
    "Ratio",
    "SimClock",
    "SimState",
    "SimTask",
    "StatusChange",
    "StyleLevel",
    "SubmissionRecord",
    "TaskStatus",
    "UploadRecord",
    "account_id_for",
    "format_provider_time",
    "iso_utc",
    "parse_iso_utc",
]

# DashScope reports times in Beijing time.
_BEIJING = timezone(timedelta(hours=8))


def format_provider_time(unix: float) -> str:
    """Format a unix time as DashScope does: UTC+8, 'YYYY-MM-DD HH:MM:SS.mmm'."""
    moment = datetime.fromtimestamp(unix, tz=_BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def epoch_ms(unix: float) -> int:
    """A unix time as milliseconds since the epoch, as the task list reports times."""
    return int(unix * 1000)


def iso_utc(unix: float) -> str:
    """Format a unix time as the ISO 8601 UTC form OSS policies use."""
    moment = datetime.fromtimestamp(unix, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso_utc(text: str) -> float:
    """Parse the form written by `iso_utc` back to a unix time."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


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


@dataclass
class SimState:
    """Everything the simulator remembers; the records are public for test assertions."""

    knobs: SimulatorKnobs
    directory: AccountDirectory = field(default_factory=AccountDirectory)
    clock: SimClock = field(default_factory=SimClock)
    accounts: dict[str, Account] = field(default_factory=dict)
    uploads: dict[str, UploadRecord] = field(default_factory=dict)
    tasks: dict[str, SimTask] = field(default_factory=dict)
    submissions: list[SubmissionRecord] = field(default_factory=list)
    policies: list[PolicyRecord] = field(default_factory=list)
    detections: list[DetectionRecord] = field(default_factory=list)
    cancels: list[CancelRecord] = field(default_factory=list)
    query_count: QueryCount = field(default_factory=QueryCount)
    list_calls: int = 0  # task lists asked for (GET /tasks, once authenticated)
    throttled: dict[str, int] = field(default_factory=dict)  # 429 answers by endpoint
    injections: Injections = field(default_factory=Injections)
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def account_of(self, entry: AccountEntry) -> Account:
        """The state of a configured account, created on first use."""
        found = self.accounts.get(entry.account_id)
        if found is None:
            found = entry.new_account()
            self.accounts[entry.account_id] = found
        for key_id in entry.api_key_ids:
            if key_id not in found.api_key_ids:
                found.api_key_ids.append(key_id)
        return found

    def account(self, api_key: str) -> Account | None:
        """The account of an API key, created on first use; None for a key not accepted."""
        entry = self.directory.entry_for_key(api_key)
        return self.account_of(entry) if entry is not None else None

    def resolve_account_id(self, name: str) -> str:
        """The id of an account named by id, label or API key (unknown: that key's own id)."""
        if name in self.accounts:
            return name
        for account in self.accounts.values():
            if account.label == name:
                return account.account_id
        entry = self.directory.find(name)
        return entry.account_id if entry is not None else account_id_for(name)

    def find_account(self, name: str) -> Account | None:
        """An account named by id, label or API key, created if configured; else None."""
        found = self.accounts.get(self.resolve_account_id(name))
        if found is not None:
            return found
        entry = self.directory.find(name)
        return self.account_of(entry) if entry is not None else None

    def set_arrears(self, name: str, arrears: bool) -> Account:
        """Put an account in arrears or clear it; KeyError for an account not known."""
        found = self.find_account(name)
        if found is None:
            raise KeyError(f"no such account: {name!r}")
        found.arrears = arrears
        log.info("account %s %s", found.label, "in arrears" if arrears else "in good standing")
        return found

    def task_alive(self, task: SimTask) -> bool:
        """Whether a task is still within its life (else it reads as UNKNOWN)."""
        return self.clock.now() - task.submitted_at <= self.knobs.task_ttl_seconds
