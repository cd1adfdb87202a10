"""The jobs' rows behind a typed interface: what the engine, the guilds and the ops ask of them.

``SqliteJobRepository`` (``bot/jobs/sqlite.py``) implements it; a second backend is another
module implementing the same Protocol. Nothing outside a repository writes SQL on ``jobs``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.db.database import StaleRowError
from bot.jobs.ledger import Totals
from bot.jobs.models import AnimateRequest, Job, JobChanges
from bot.jobs.own_accounts import TaskHolder
from bot.jobs.planning import Usage
from bot.jobs.states import JobState


class JobNotFoundError(LookupError):
    """No job has this id."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"no job {job_id}")
        self.job_id = job_id


class StaleJobStateError(StaleRowError):
    """The row was no longer in the expected state: another worker moved it first."""

    def __init__(self, job_id: int, expected: JobState) -> None:
        super().__init__(f"job {job_id} is no longer {expected.value}")
        self.job_id = job_id
        self.expected = expected


@dataclass(frozen=True)
class Lease:
    """A process's hold on a job it works on: ``owner`` is its name."""

    owner: str
    until: datetime


@dataclass(frozen=True)
class Caps:
    """Limits checked when a job is created (None: no limit)."""

    active_per_member: int | None = None
    queued_per_server: int | None = None


class CapExceededError(Exception):
    """A new job would break a cap: ``scope`` is "member" or "server"."""

    def __init__(self, scope: str, count: int, limit: int) -> None:
        super().__init__(f"{scope} cap: {count} of {limit}")
        self.scope = scope
        self.count = count
        self.limit = limit


class RetryPendingError(Exception):
    """A retry of this job is already on its way: a second one would only pay twice."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"a retry of job {job_id} is already on its way")
        self.job_id = job_id


class LedgerView(Protocol):
    """What a transition's guard may read, inside the transition's own transaction."""

    async def totals(
        self,
        *,
        guild_id: int,
        since: datetime,
        until: datetime,
        user_id: int | None = None,
        excluding: int | None = None,
    ) -> Totals:
        """What ``guild_id`` (or one member there) used in ``[since, until)``, leaving out
        the job ``excluding`` (the one being admitted)."""
        ...

    async def servers_totals(
        self,
        *,
        since: datetime,
        until: datetime,
        excluding_guilds: Collection[int] = (),
        excluding: int | None = None,
    ) -> Totals:
        """What every server but ``excluding_guilds`` used together in ``[since, until)``
        on the operator's accounts (jobs outside a server, or pinned to their server's own
        account, not counted), leaving out the job ``excluding``."""
        ...


Guard = Callable[[LedgerView], Awaitable[None]]
"""Checked inside a transition's transaction; raises to refuse it (nothing is written)."""


class ClaimView(Protocol):
    """What the dispatcher reads to choose a job, inside the claim's own transaction."""

    async def loads(self) -> dict[str, int]:
        """Tasks in flight per account, every account's."""
        ...

    async def in_flight(self) -> list[Job]:
        """Jobs whose task is being submitted or is at the provider, oldest first."""
        ...

    async def queue_heads(self, now: datetime) -> list[Job]:
        """The oldest eligible queued job of each server."""
        ...

    async def next_not_before(self) -> datetime | None:
        """When the earliest backed-off queued job becomes eligible."""
        ...

    async def usage(self, since: datetime) -> Usage:
        """Each server's demand since ``since`` and its latest submission."""
        ...


Choose = Callable[[ClaimView], Awaitable[Job | None]]
"""Picks the queued job to submit from the rows as the claim's transaction sees them."""


@dataclass(frozen=True)
class Claimed:
    """A queued job taken with a free provider slot: it is SUBMITTING now."""

    before: Job
    after: Job
    slot: int


@dataclass(frozen=True)
class JobSearch:
    """A server's jobs, filtered, newest first, one page."""

    guild_id: int
    user_id: int | None = None
    state: JobState | None = None
    created_since: datetime | None = None
    created_before: datetime | None = None
    limit: int = 10
    offset: int = 0


@dataclass(frozen=True)
class MediaOwner:
    """Whose media an erasure is about: one member (in every server) or one server."""

    user_id: int | None = None
    guild_id: int | None = None


class JobRepository(LedgerView, Protocol):
    """Every read and write of job rows. Writes are compare-and-sets on the row's state."""

    # -- rows and their states -------------------------------------------------------------

    async def create(
        self,
        request: AnimateRequest,
        caps: Caps,
        lease: Lease | None = None,
        own_account: str | None = None,
    ) -> Job:
        """Write a new job in RECEIVED (held by ``lease``; pinned to ``own_account``, its
        server's own provider account, if any), checking ``caps`` and pending retries in the
        same transaction. Raises CapExceededError, RetryPendingError."""
        ...

    async def get(self, job_id: int) -> Job:
        """The row; raises JobNotFoundError."""
        ...

    async def in_states(self, states: Sequence[JobState]) -> list[Job]:
        """Jobs in any of ``states``, oldest first."""
        ...

    async def transition(
        self,
        job: Job,
        target: JobState,
        changes: JobChanges | None = None,
        guard: Guard | None = None,
    ) -> Job:
        """Move ``job`` to ``target`` if its row is still in ``job.state``; return the new row.
        Raises StaleJobStateError, or whatever ``guard`` raises."""
        ...

    async def annotate(self, job: Job, changes: JobChanges) -> Job:
        """Change columns, not the state (still a compare-and-set on the state)."""
        ...

    # -- custody: which process works on a job ------------------------------------------------

    async def renew_leases(self, owner: str, job_ids: Collection[int], until: datetime) -> set[int]:
        """Extend ``owner``'s leases on ``job_ids`` to ``until``; return those still its."""
        ...

    async def lapsed(
        self, states: Sequence[JobState], now: datetime, *, owner: str | None = None
    ) -> list[Job]:
        """Jobs in ``states`` whose lease lapsed before ``now`` (or that have none), and
        ``owner``'s own when given; oldest first."""
        ...

    async def take_lease(self, job: Job, lease: Lease, now: datetime) -> Job | None:
        """Hold ``job`` with ``lease`` if it is still in its state and its lease lapsed (or is
        ``lease.owner``'s already); the row, or None when another process has it."""
        ...

    # -- the provider's slots -----------------------------------------------------------------

    async def ensure_slots(
        self, account: str, capacity: int, adopt_besides: Collection[str] | None = None
    ) -> None:
        """Give ``account`` slots 0..capacity-1; a task in flight of it without a slot (an
        older database, a lowered capacity) gets one, past the capacity if need be. With
        ``adopt_besides`` (the other accounts configured), tasks in flight of no configured
        account become this account's first."""
        ...

    async def claim(
        self,
        account: str,
        capacity: int,
        choose: Choose,
        changes: JobChanges,
        *,
        own: bool = False,
    ) -> Claimed | None:
        """In one transaction: take a free slot of ``account`` below ``capacity`` (rows
        locked, others skipped), let ``choose`` pick a queued job (``own``: of the jobs
        pinned to ``account``, a server's own; else of those pinned to none), move it to SUBMITTING
        (one more attempt, ``changes``, the job's ``account``) and put it in the slot.
        None: no slot is free, or nothing was chosen. A slot is free when no task of its
        job can be at the provider: the job is neither SUBMITTING nor SUBMITTED and its
        ``slot_held_until`` has passed."""
        ...

    async def slot_holders(self, account: str) -> dict[int, int | None]:
        """Each slot of ``account`` and the job holding it (None: free)."""
        ...

    async def busy_slots(self) -> dict[str, int]:
        """How many slots each account has taken now (accounts with none are left out)."""
        ...

    async def queued_by_lane(self) -> dict[str | None, int]:
        """Queued jobs by the own account they are pinned to (None: the operator's)."""
        ...

    async def history(self, job_id: int) -> list[JobState]:
        """The states a job went through, in order."""
        ...

    # -- what the engine reads ------------------------------------------------------------

    async def usage(self, since: datetime) -> Usage:
        """Each server's demand since ``since`` and its latest submission (the fair share)."""
        ...

    async def queue_heads(self, now: datetime) -> list[Job]:
        """The oldest eligible queued job of each server."""
        ...

    async def next_not_before(self) -> datetime | None:
        """When the earliest backed-off queued job becomes eligible."""
        ...

    async def render_history(self, limit: int = 50) -> list[tuple[float, float]]:
        """(audio seconds, render seconds) of the latest renders."""
        ...

    async def known_task_ids(self) -> set[str]:
        """Every provider task id a job holds or held (a retried one too)."""
        ...

    async def tasks_since(self, since: datetime, *, account: str) -> dict[str, datetime]:
        """Task id -> when it was submitted, for the tasks ``account`` holds that were submitted
        since ``since`` (another account's tasks are never in this account's list)."""
        ...

    async def task_holders(self, since: datetime) -> dict[str, TaskHolder]:
        """Task id -> whose account it ran on, for the jobs' tasks submitted since ``since``."""
        ...

    async def recent(self, *, user_id: int | None, guild_id: int | None, limit: int) -> list[Job]:
        """The newest jobs of a member (``user_id``) or of a whole server, newest first."""
        ...

    async def count_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state."""
        ...

    async def unfinished_on(self, own_account: str) -> int:
        """How many jobs pinned to ``own_account`` (a server's own) have not ended."""
        ...

    # -- money and the audit ----------------------------------------------------------------

    async def totals_by_member(
        self, *, guild_id: int, since: datetime, until: datetime
    ) -> list[tuple[int, Totals]]:
        """Each member's use of ``guild_id`` in ``[since, until)``, the most expensive first."""
        ...

    async def totals_by_month(
        self, *, guild_id: int, since: datetime, until: datetime
    ) -> list[tuple[str, Totals]]:
        """``guild_id``'s use per UTC month (``YYYY-MM``) in ``[since, until)``, latest first."""
        ...

    async def spend_by_account(self, *, since: datetime, until: datetime) -> dict[str, float]:
        """What the provider billed (``cost_usd``) per account (the job's ``account``, its
        slots' name) for the jobs created in ``[since, until)``; accounts billed nothing are
        left out."""
        ...

    async def search(self, search: JobSearch) -> tuple[int, list[Job]]:
        """How many jobs match, and the page asked for."""
        ...

    # -- retention --------------------------------------------------------------------------

    async def inputs_due(self, before: datetime) -> list[int]:
        """Finished jobs created before ``before`` whose inputs are still kept."""
        ...

    async def outputs_due(self, before: datetime) -> list[int]:
        """Finished jobs that ended before ``before`` whose result is still kept."""
        ...

    async def mark_purged(self, job_id: int, *, inputs: bool, outputs: bool, at: datetime) -> None:
        """Record that a finished job's media went, and forget the links to them."""
        ...

    async def last_id(self) -> int:
        """The newest job's id (0 when there is none)."""
        ...

    async def media_kept(self, owner: MediaOwner, up_to: int) -> list[int]:
        """Finished jobs of ``owner`` up to job ``up_to`` with media still kept."""
        ...

    async def unfinished(self, owner: MediaOwner, up_to: int) -> int:
        """How many jobs of ``owner`` up to job ``up_to`` are still on their way."""
        ...

    async def existing(self, job_ids: Sequence[int]) -> set[int]:
        """Which of ``job_ids`` have a row."""
        ...
