"""What each provider account is doing now, for the operator (``/emo-operator accounts``) and
the metrics: its slots in use, the queue it could take, its pause and why, its spend.

The accounts are read from the engine at every call: servers' own keys join the list while
the bot runs. Everything else comes from rows (slots, the queue, the costs) and the ``meta``
pauses, so every process sharing the database reports the same. Never a key: an account is
its label and its slots' name (``default``, or the ``acct-…`` fingerprint).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock, month_start, next_month, system_clock
from bot.jobs.account_work import AccountWork
from bot.jobs.repository import JobRepository

NO_ACCOUNT = "none"
"""How a job no account took yet (it failed before its submit) is labelled."""


@dataclass(frozen=True)
class PauseReason:
    """Why an account is paused: the provider's error code that paused it (``Arrearage``,
    ``InvalidApiKey``…), and since when."""

    code: str
    since: datetime


@dataclass(frozen=True)
class AccountStatus:
    """One account, as the operator sees it."""

    name: str  # its slots', duty's and pause's name: ``default``, or its ``acct-…`` id
    label: str
    slots_busy: int  # slots holding a task being submitted or at the provider
    slots_total: int  # its concurrency plus its look-ahead
    waiting: int  # queued jobs it could take (the operator's accounts share theirs)
    pause: PauseReason | None
    spent_month_usd: float  # billed on jobs it rendered, created this UTC calendar month

    @property
    def paused(self) -> bool:
        return self.pause is not None


class AccountReport:
    """Reads every account's status; ``accounts`` gives the engine's list as it is now."""

    def __init__(
        self,
        accounts: Callable[[], Sequence[AccountWork]],
        jobs: JobRepository,
        clock: Clock = system_clock,
    ) -> None:
        self._accounts = accounts
        self._jobs = jobs
        self._clock = clock

    async def statuses(self) -> list[AccountStatus]:
        """Every account now, in the engine's order."""
        accounts = list(self._accounts())
        now = self._clock()
        queued = await self._jobs.queued_by_lane()
        spent = await self._jobs.spend_by_account(since=month_start(now), until=next_month(now))
        busy = await self._jobs.busy_slots()
        found: list[AccountStatus] = []
        for account in accounts:
            pause = await account.prober.gate.current()
            found.append(
                AccountStatus(
                    name=account.name,
                    label=account.label,
                    slots_busy=busy.get(account.name, 0),
                    slots_total=account.limits.max_in_flight,
                    # A server's own account takes only its jobs; the operator's, the rest.
                    waiting=queued.get(account.name if account.guild_id else None, 0),
                    pause=None if pause is None else PauseReason(pause.code, pause.since),
                    spent_month_usd=spent.get(account.name, 0.0),
                )
            )
        return found

    def label_of(self, name: str | None) -> str:
        """The label of the account named ``name`` (a job's ``account``); an account no
        longer configured keeps its name, a job of none is ``none``."""
        if name is None:
            return NO_ACCOUNT
        for account in self._accounts():
            if account.name == name:
                return account.label
        return name
