"""The animate service: what the edges (Discord, the command line) may ask of the engine."""

from __future__ import annotations

from bot.jobs.account_report import AccountReport
from bot.jobs.budget import QueryBudget
from bot.jobs.cancel import CancelOutcome
from bot.jobs.confirmation import ConfirmOutcome
from bot.jobs.engine import Engine
from bot.jobs.forecast import Spot
from bot.jobs.gate import PauseReader, PoolGate
from bot.jobs.intake import Accepted
from bot.jobs.models import AnimateRequest, Framing, Job
from bot.jobs.planning import DurationModel


class AnimateService:
    """A thin façade over the engine: start, retry and cancel jobs, see the queue."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # Read at every call: accounts may join the engine while the bot runs.
        self.accounts = AccountReport(engine.every_account, engine.jobs)

    async def request(self, request: AnimateRequest) -> Accepted:
        """Start a job (see ``Intake.request``)."""
        return await self._engine.intake.request(request)

    async def retry(
        self,
        job_id: int,
        *,
        guild_id: int | None,
        actor_id: int,
        actor_manages_server: bool,
        framing: Framing | None = None,
    ) -> Accepted:
        """Run a finished job of ``guild_id`` again, at ``framing`` if given (see
        ``Intake.retry``)."""
        return await self._engine.intake.retry(
            job_id,
            guild_id=guild_id,
            actor_id=actor_id,
            actor_manages_server=actor_manages_server,
            framing=framing,
        )

    async def confirm(
        self, job_id: int, *, guild_id: int | None, actor_id: int, actor_manages_server: bool
    ) -> tuple[ConfirmOutcome, Job | None]:
        """Queue a job that waits for a Confirm (see ``Confirmation.confirm``)."""
        return await self._engine.confirmation.confirm(
            job_id,
            guild_id=guild_id,
            actor_id=actor_id,
            actor_manages_server=actor_manages_server,
        )

    async def cancel(
        self, job_id: int, *, guild_id: int | None, actor_id: int, actor_manages_server: bool
    ) -> tuple[CancelOutcome, Job | None]:
        """Stop a job if that still saves the charge (see ``Cancellation.cancel``)."""
        return await self._engine.cancellation.cancel(
            job_id,
            guild_id=guild_id,
            actor_id=actor_id,
            actor_manages_server=actor_manages_server,
        )

    async def forecast(self) -> dict[int, Spot]:
        """Every waiting job's place and expected ready time."""
        return await self._engine.forecaster.forecast()

    async def ahead_of(self, job: Job) -> int:
        return await self._engine.forecaster.ahead_of(job)

    async def resume_provider(self, reason: str) -> bool:
        """Lift an operator pause; True when there was one."""
        if len(self._engine.accounts) > 1:
            return await self._engine.pool.resume(reason)
        return await self._engine.prober.resume(reason)

    def wake(self) -> None:
        """Look at the queue now (a row was added from outside the service)."""
        self._engine.ring_dispatchers()

    @property
    def gate(self) -> PauseReader:
        """The pause /readyz and the metrics show: with several accounts, every one's."""
        if len(self._engine.accounts) > 1:
            return PoolGate([account.prober.gate for account in self._engine.accounts])
        return self._engine.prober.gate

    @property
    def durations(self) -> DurationModel:
        return self._engine.timeline.model

    @property
    def budget(self) -> QueryBudget:
        return self._engine.poller.budget
