"""Cancel: stop a job while stopping it still saves the charge.

Waiting with us: removed at once. Waiting at the provider (PENDING): cancelled there first,
and only then marked cancelled. Rendering: never shown as cancelled, since it runs on and is
billed; it is still delivered.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from bot.clock import utcnow
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.models import Job, JobChanges
from bot.jobs.repository import JobNotFoundError, JobRepository, StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.timeline import IN_FLIGHT
from bot.jobs.writer import JobWriter
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError
from bot.provider.models import TaskStatus
from bot.retry import Backoff, retrying

log = logging.getLogger(__name__)

LOOKS = 10  # the row may move under us (the dispatcher, another process): look again
LOOK_AGAIN = Backoff(first=0.2, factor=1.0, jitter=0.0)


_WITH_US = (
    JobState.RECEIVED,
    JobState.PREPARING,
    JobState.AWAITING_CONFIRMATION,
    JobState.QUEUED,
)
"""Not at the provider yet: a cancel removes the job at once."""


class CancelOutcome(enum.StrEnum):
    """What a cancel request achieved; the edge words it for the member."""

    REMOVED = "removed"  # it never reached the provider: nothing is billed
    CANCELED = "canceled"  # cancelled at the provider while it waited there: nothing is billed
    RUNNING = "running"  # already rendering: it cannot be stopped and will be billed
    FINISHED = "finished"  # already over (or being posted)
    FORBIDDEN = "forbidden"  # only the requester or a server manager may cancel it
    NOT_FOUND = "not_found"


class _LookAgainError(Exception):
    """The row moved, or the provider's answer was a hiccup: read the row again."""


AccountLookup = Callable[[str], tuple[DashScopeClient, Dispatcher] | None]
"""The client and dispatcher of the account named (the operator's, or a server's own)."""


class Cancellation:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        writer: JobWriter,
        client: DashScopeClient,
        dispatcher: Dispatcher,
        wake_dispatch: Callable[[], None],
        poll_soon: Callable[[int], None],
        account_named: AccountLookup | None = None,
    ) -> None:
        self._jobs = jobs
        self._writer = writer
        self._client = client
        self._dispatcher = dispatcher
        # Several accounts: a task id answers only to the key of the account that submitted it.
        self._account_named = account_named
        # The dispatcher and the poller may run in another process: these reach them there.
        self._wake_dispatch = wake_dispatch
        self._poll_soon = poll_soon

    async def cancel(
        self, job_id: int, *, guild_id: int | None, actor_id: int, actor_manages_server: bool
    ) -> tuple[CancelOutcome, Job | None]:
        """Stop ``job_id`` for ``actor_id``, if they may; say what it achieved."""
        try:
            job = await self._jobs.get(job_id)
        except JobNotFoundError:
            return CancelOutcome.NOT_FOUND, None
        if job.guild_id != guild_id:
            return CancelOutcome.NOT_FOUND, None  # another server's job is none of theirs
        if actor_id != job.user_id and not actor_manages_server:
            return CancelOutcome.FORBIDDEN, job

        async def attempt() -> CancelOutcome:
            row = await self._jobs.get(job_id)
            try:
                outcome = await self._cancel_once(row)
            except StaleJobStateError:
                outcome = None
            if outcome is None:
                row = await self._jobs.get(job_id)
                if row.state is not JobState.CANCELED:
                    raise _LookAgainError
                # Someone else (the poller, another process) wrote it first.
                outcome = CancelOutcome.CANCELED if row.task_id else CancelOutcome.REMOVED
            return outcome

        try:
            outcome = await retrying(
                attempt,
                attempts=LOOKS,
                backoff=LOOK_AGAIN,
                retry_if=lambda error: isinstance(error, _LookAgainError),
                what=f"job {job_id} cancel",
                level=logging.DEBUG,
            )
        except _LookAgainError:
            job = await self._jobs.get(job_id)
            outcome = CancelOutcome.RUNNING if job.state in IN_FLIGHT else CancelOutcome.FINISHED
        log.info("job %d cancel by %d: %s", job_id, actor_id, outcome.value)
        return outcome, await self._jobs.get(job_id)

    async def _cancel_once(self, job: Job) -> CancelOutcome | None:
        """One try at cancelling ``job`` as its row stands; None: look at the row again."""
        client, dispatcher = self._client, self._dispatcher
        found = self._account_named(job.account) if self._account_named and job.account else None
        if found is not None:
            client, dispatcher = found
        if job.state in _WITH_US:
            await self._writer.end(job, JobState.CANCELED, None)
            self._wake_dispatch()
            return CancelOutcome.REMOVED
        if job.state is JobState.SUBMITTING:
            # A submit of this process holds the lock until the task id is stored: wait for
            # it (another process's finishes within a look or two).
            async with dispatcher.submits_held():
                return None
        if job.state is not JobState.SUBMITTED:
            return CancelOutcome.FINISHED
        assert job.task_id is not None
        if job.started_at is None:
            try:
                await client.cancel_task(job.task_id)
            except ProviderError as error:
                # Refused: it started meanwhile (or finished). The query below says which.
                log.info("job %d: the provider refused the cancel (%s)", job.id, error.code)
            else:
                await self._writer.end(job, JobState.CANCELED, None)
                self._wake_dispatch()
                return CancelOutcome.CANCELED
        try:
            task = await client.get_task(job.task_id)
        except ProviderError:
            task = None
        if task is not None and task.output.task_status is TaskStatus.PENDING:
            return None  # the refusal was a hiccup: try again
        await self._writer.annotate(job, JobChanges(cancel_requested_at=utcnow()))
        if task is not None and task.output.task_status is not TaskStatus.RUNNING:
            self._poll_soon(job.id)  # it ended: let the poller take it from here
            return CancelOutcome.FINISHED
        return CancelOutcome.RUNNING
