"""The bot-wide monthly budget: what all servers on the shared accounts may spend together.

``EMO_TOTAL_MONTHLY_BUDGET_USD`` bounds the month's spend (the actual cost, else the
estimate, as a server's own budget counts it) summed over every server not on an account of
its own (``AccountPlans``), and over every job not pinned to one (those are billed there);
jobs outside a server (the command line) neither count nor are refused. The check runs where
a server's own budget does: at once when a member asks, once not even the shortest video
would fit (nothing downloaded yet), and in the transaction that queues a job, against its
estimate (nothing submitted yet). A refusal names the day the budget starts afresh: the
first day of next month, UTC. The operator hears of it once per month in each process: one
warning when the budget is first hit.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import NoReturn

from bot.clock import Clock, month_start, next_month, system_clock
from bot.errors import UserFacingError
from bot.guilds.accounts import AccountPlans
from bot.guilds.money import usd
from bot.jobs.models import Framing, Job
from bot.jobs.repository import Guard, LedgerView
from bot.media.audio import MIN_SECONDS
from bot.messages import MessageKey, Moment, MomentStyle
from bot.provider.pricing import Prices

log = logging.getLogger(__name__)

# Sums of rounded costs must not refuse a job that exactly fills the budget.
_EPSILON = 1e-6


class TotalBudgetExceededError(UserFacingError):
    """A job would take the servers on the shared accounts past the bot-wide budget."""


class BotWideBudget:
    """The bot-wide monthly budget's checks, for ``GuildAdmission``."""

    def __init__(
        self,
        limit_usd: float | None,
        *,
        accounts: AccountPlans,
        prices: Prices,
        clock: Clock = system_clock,
    ) -> None:
        self._limit = limit_usd  # None: no bot-wide budget
        self._accounts = accounts
        # The least any video can cost: the shortest recording accepted, at the lower price.
        self._cheapest = min(prices.cost(MIN_SECONDS, framing.value) for framing in Framing)
        self._clock = clock
        self._reported: datetime | None = None  # the month whose reach was logged

    @property
    def limit_usd(self) -> float | None:
        return self._limit

    async def applies(self, guild_id: int | None) -> bool:
        """Whether ``guild_id``'s jobs are held to the bot-wide budget."""
        if self._limit is None or guild_id is None:
            return False
        return not await self._accounts.own_account(guild_id)

    async def check_not_spent(self, guild_id: int | None, ledger: LedgerView) -> None:
        """Refuse at once (TotalBudgetExceededError) when not even the cheapest video fits."""
        if not await self.applies(guild_id):
            return
        now = self._clock()
        spent = await self._spent(ledger, now, await self._accounts.own_account_guilds())
        if not self._fits(spent, self._cheapest):
            self._refuse(spent, None, now)

    async def guard(self, job: Job, estimate: float) -> Guard | None:
        """The check for ``job`` entering the queue at ``estimate``, run in the queueing
        transaction under the admission lock; None when the budget does not apply (a job
        pinned to its server's own account is billed there, whatever the server does now)."""
        if job.own_account is not None or not await self.applies(job.guild_id):
            return None
        now = self._clock()
        excluded = await self._accounts.own_account_guilds()

        async def within_budget(ledger: LedgerView) -> None:
            spent = await self._spent(ledger, now, excluded, excluding=job.id)
            if not self._fits(spent, estimate):
                log.debug("job %d refused by the bot-wide monthly budget", job.id)
                self._refuse(spent, estimate, now)

        return within_budget

    async def _spent(
        self,
        ledger: LedgerView,
        now: datetime,
        excluded: frozenset[int],
        excluding: int | None = None,
    ) -> float:
        totals = await ledger.servers_totals(
            since=month_start(now),
            until=next_month(now),
            excluding_guilds=excluded,
            excluding=excluding,
        )
        return totals.cost_usd

    def _fits(self, spent: float, cost: float) -> bool:
        assert self._limit is not None
        return spent + cost <= self._limit + _EPSILON

    def _refuse(self, spent: float, estimate: float | None, now: datetime) -> NoReturn:
        assert self._limit is not None
        resets = next_month(now)
        if self._reported != month_start(now):
            self._reported = month_start(now)
            log.warning(
                "bot-wide monthly budget reached: %.4f of %.2f USD spent this month by the "
                "servers on the shared accounts; their new jobs are refused until %s",
                spent,
                self._limit,
                resets.date().isoformat(),
            )
        resets_on = Moment(at=resets, style=MomentStyle.DATE)
        if estimate is None or not self._fits(spent, self._cheapest):
            raise TotalBudgetExceededError(MessageKey.TOTAL_BUDGET_USED_UP, resets_on=resets_on)
        raise TotalBudgetExceededError(
            MessageKey.TOTAL_BUDGET_TOO_LITTLE_LEFT, estimate=usd(estimate), resets_on=resets_on
        )
