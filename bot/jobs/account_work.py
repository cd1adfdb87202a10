"""One provider account's work: its pause and prober, its timeline, its poller, its
dispatcher, its key's identity and its settlement of crash-cut submits.

Each account renders one task at a time and has its own rate limits, so everything that
speaks to the provider for an account is built once per account and runs as the duty
``provider:<account>`` in the one process holding its lease. An account that pauses
(arrears, a revoked key) pauses alone: the others' dispatchers go on taking the queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.cluster.duties import Duty
from bot.db.meta import MetaStore
from bot.errors import QuietError
from bot.jobs.custody import JobCustody
from bot.jobs.dispatcher import Dispatcher, Rehost
from bot.jobs.events import OperatorAlert
from bot.jobs.gate import ProviderGate
from bot.jobs.identity import KeyIdentity
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job
from bot.jobs.poller import Poller
from bot.jobs.prober import Prober
from bot.jobs.repository import JobRepository
from bot.jobs.settlement import Settlement
from bot.jobs.timeline import Timeline
from bot.jobs.writer import JobWriter
from bot.messages import MessageKey, UserMessage
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError
from bot.provider.pricing import Prices
from bot.tasks import BackgroundTasks, Wakeup
from bot.topic import Topic

log = logging.getLogger(__name__)

RESCAN_SECONDS = 30.0  # the provider duty looks for tasks in flight it does not poll yet


@dataclass(frozen=True)
class AccountSetup:
    """One account as the engine is given it."""

    name: str  # its slots', duty's and pause's name (``default`` when it is the only one)
    label: str
    client: DashScopeClient
    concurrency: int
    lookahead: int
    rehost: Rehost | None = None  # several accounts on bound storage: upload again for it
    guild_id: int | None = None  # a server's own account: only its jobs, its alerts to it


IdleCheck = Callable[[str], Awaitable[dict[str, int]]]
"""The accounts other than the one named, not paused, with their render concurrency."""


@dataclass(frozen=True)
class Shared:
    """What every account's parts share with the rest of the engine."""

    jobs: JobRepository
    meta: MetaStore
    writer: JobWriter
    custody: JobCustody
    alerts: Topic[OperatorAlert]
    prices: Prices
    on_finished: Callable[[Job], None]
    wake_dispatch: Callable[[], None]  # every process's dispatchers (a signal)
    idle_peers: IdleCheck | None  # several accounts: which others could render now
    ring_dispatchers: Callable[[], None]  # this process's dispatchers, every account's


class AccountWork:
    """Every part that speaks to the provider for one account."""

    def __init__(
        self,
        setup: AccountSetup,
        limits: EngineLimits,
        shared: Shared,
        adopt_besides: Sequence[str] | None,
    ) -> None:
        limits = dataclasses.replace(
            limits,
            account=setup.name,
            account_label=setup.label,
            provider_concurrency=setup.concurrency,
            lookahead=setup.lookahead,
        )
        # Its own: a ring another account's loop consumed must not be lost to this one.
        self.wakeup = Wakeup()
        self.name = setup.name
        self.label = setup.label
        self.guild_id = setup.guild_id
        self.client = setup.client
        self.limits = limits
        self._jobs = shared.jobs
        # The first account: tasks in flight of no account configured now become its own.
        self._adopt = adopt_besides
        self.timeline = Timeline(
            shared.jobs,
            concurrency=limits.provider_concurrency,
            slots=limits.max_in_flight,
            prior_rate=limits.render_seconds_per_audio_second,
            account=setup.name,
        )
        self.prober = Prober(
            gate=ProviderGate(shared.meta, setup.name, setup.label),
            client=setup.client,
            alerts=shared.alerts,
            interval=limits.probe_interval_seconds,
            rescan=limits.rescan_seconds,
            on_resume=shared.wake_dispatch,
            guild_id=setup.guild_id,
        )
        self.poller = Poller(
            jobs=shared.jobs,
            writer=shared.writer,
            client=setup.client,
            timeline=self.timeline,
            alerts=shared.alerts,
            prices=shared.prices,
            limits=limits,
            on_finished=shared.on_finished,
            wake_dispatcher=self.wakeup.ring,  # its slot: the same process, no signal needed
        )
        self.dispatcher = Dispatcher(
            writer=shared.writer,
            client=setup.client,
            prober=self.prober,
            timeline=self.timeline,
            poller=self.poller,
            limits=limits,
            custody=shared.custody,
            wakeup=self.wakeup,
            rehost=setup.rehost,
            # A server's own account takes only its jobs; the operator's share the rest.
            own=setup.guild_id is not None,
            idle_peers=self._peers
            if shared.idle_peers is not None and setup.guild_id is None
            else None,
            wake_peers=shared.ring_dispatchers,
        )
        self._idle_peers = shared.idle_peers
        self.identity = KeyIdentity(
            meta=shared.meta, client=setup.client, pace=self.poller.pace, account=setup.name
        )
        self.poller.on_succeeded(self.identity.learn_soon)
        self.settlement = Settlement(
            jobs=shared.jobs,
            writer=shared.writer,
            client=setup.client,
            dispatcher=self.dispatcher,
            poller=self.poller,
            identity=self.identity,
            timeline=self.timeline,
            custody=shared.custody,
            pace=self.poller.pace,
            limits=limits,
        )

    async def _peers(self) -> dict[str, int]:
        assert self._idle_peers is not None
        return await self._idle_peers(self.name)

    def duty(self) -> Duty:
        return Duty(f"provider:{self.name}", self._provider_duty)

    async def _provider_duty(self) -> None:
        """The account's work, in the process holding its lease: the slots, the tasks in
        flight (polled), the crash-cut submits (settled), the queue (dispatched)."""
        limits = self.limits
        await self._jobs.ensure_slots(self.name, limits.max_in_flight, self._adopt)
        await self.timeline.learn()
        self.poller.reset()
        polled = await self.poller.rescan()
        log.info("provider duty %s: %d tasks in flight polled here", self.label, polled)
        loops = BackgroundTasks()
        try:
            loops.spawn(self.poller.run_forever(), name=f"poller {self.label}")
            loops.spawn(self.prober.run_forever(), name=f"prober {self.label}")
            loops.spawn(self._settle_forever(), name=f"settlement {self.label}")
            await self.dispatcher.run_forever()
        finally:
            await loops.cancel_all()

    async def _settle_forever(self) -> None:
        """Settle the submits no live process is making, and poll what nobody polls."""
        while True:
            try:
                await self.settlement.settle_orphans()
                await self.poller.rescan()
            except QuietError:
                pass
            except Exception:
                log.exception("settling orphaned submits failed; trying again")
            await asyncio.sleep(min(RESCAN_SECONDS, self.limits.heartbeat_seconds))

    async def close(self) -> None:
        await self.identity.close()
        await self.dispatcher.drain()


class AccountPool:
    """The accounts together, as intake, the cards and the operator see them: the bot is
    paused only when every account is; a resume lifts every account's pause."""

    def __init__(self, accounts: Sequence[AccountWork]) -> None:
        self._accounts = list(accounts)

    async def paused(self) -> bool:
        for account in self._accounts:
            if not await account.prober.paused():
                return False
        return True

    async def available(self) -> list[AccountWork]:
        """The accounts not paused now (every account when all are: they are probed)."""
        found = [account for account in self._accounts if not await account.prober.paused()]
        return found or list(self._accounts)

    async def resume(self, reason: str) -> bool:
        resumed = [await account.prober.resume(reason) for account in self._accounts]
        return any(resumed)

    async def trouble(self, job: Job, error: ProviderError) -> UserMessage:
        """What the member hears when preparing failed at the provider. The account is not
        paused here: its own dispatcher pauses it on its next refusal."""
        log.warning("job %d: provider trouble while preparing: %s", job.id, error.reference)
        return UserMessage(key=MessageKey.PROVIDER_BUSY, params={"job": job.id})
