"""The engine, assembled: its parts, the loops they run, their start and their stop.

Every process runs intake, delivery, cancel and recovery (its own jobs, and the orphans of
dead processes). The provider account's work (dispatching into its slots, polling its
tasks, probing it when paused, settling crash-cut submits) is one duty: it runs in the one
process holding the account's lease (``bot/cluster/duties.py``), so the account's rate
limits are kept in one place; the slots rows keep the provider's capacity even while a
lease changes hands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp

from bot.cluster.duties import Duty
from bot.cluster.signals import Signals
from bot.db.meta import MetaStore
from bot.jobs.account_work import AccountPool, AccountSetup, AccountWork, Shared
from bot.jobs.admission import Admission
from bot.jobs.cancel import Cancellation
from bot.jobs.confirmation import Confirmation
from bot.jobs.custody import JobCustody
from bot.jobs.delivery import Delivery, DeliveryLimits
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.edge import ResultChannel
from bot.jobs.events import JobEvent, OperatorAlert
from bot.jobs.forecast import Forecaster
from bot.jobs.intake import Intake
from bot.jobs.limits import EngineLimits
from bot.jobs.models import Job
from bot.jobs.own_accounts import NoOwnKeys, OwnKey, OwnKeys
from bot.jobs.own_work import OwnAccountRoster
from bot.jobs.preparation import InputPreparer
from bot.jobs.recovery import Recovery
from bot.jobs.repository import JobRepository
from bot.jobs.timeline import Timeline
from bot.jobs.writer import JobWriter
from bot.media.cache import MediaCache
from bot.media.sources import SourcePolicy
from bot.provider.client import DashScopeClient
from bot.provider.pricing import Prices
from bot.tasks import BackgroundTasks
from bot.topic import Topic

log = logging.getLogger(__name__)

DISPATCH = "dispatch"  # signal: a job was queued, or a slot freed: look at the queue
POLL = "poll"  # signal (argument: a job id): query that job's task now
KEYS = "keys"  # signal: a server's own provider key was set or cleared: sync the roster


@dataclass(frozen=True)
class EngineParts:
    """What the engine is built from."""

    jobs: JobRepository
    meta: MetaStore
    client: DashScopeClient
    preparer: InputPreparer
    session: aiohttp.ClientSession
    cache: MediaCache
    admission: Admission
    prices: Prices
    limits: EngineLimits
    events: Topic[JobEvent]
    alerts: Topic[OperatorAlert]
    signals: Signals
    instance: str  # this process's name among those sharing the database
    # The provider accounts; empty: one, ``client`` with ``limits``' account and slots.
    accounts: tuple[AccountSetup, ...] = ()
    # Servers' own keys, and how one becomes an account (its client, its uploads).
    own_keys: OwnKeys = field(default_factory=NoOwnKeys)
    own_setup: Callable[[OwnKey], AccountSetup] | None = None


class Engine:
    """Every part of the job engine, wired once. The parts keep their own state."""

    def __init__(self, parts: EngineParts) -> None:
        """Build every part once, in the order they depend on each other. Long on purpose:
        this is the one place the parts meet, so each one's collaborators are visible here
        and nowhere else."""
        limits = parts.limits
        self.jobs = parts.jobs
        self.signals = parts.signals
        self.custody = JobCustody(
            parts.jobs, owner=parts.instance, ttl=timedelta(seconds=limits.lease_seconds)
        )
        self.writer = JobWriter(parts.jobs, parts.events, self.custody)
        setups = parts.accounts or (
            AccountSetup(
                name=limits.account,
                label=limits.account_label,
                client=parts.client,
                concurrency=limits.provider_concurrency,
                lookahead=limits.lookahead,
            ),
        )
        self.signals.on(DISPATCH, lambda _: self.ring_dispatchers())
        self.delivery = Delivery(
            writer=self.writer,
            cache=parts.cache,
            custody=self.custody,
            limits=DeliveryLimits(
                attempts=limits.delivery_attempts,
                retry_base_delay=limits.retry_base_delay,
                max_result_bytes=limits.max_result_bytes,
                # The provider's hosts, and the endpoint the bot speaks to as it is.
                sources=SourcePolicy.https_from(
                    limits.result_hosts, trusted_urls=[parts.client.base_url]
                ),
            ),
        )
        shared = Shared(
            jobs=parts.jobs,
            meta=parts.meta,
            writer=self.writer,
            custody=self.custody,
            alerts=parts.alerts,
            prices=parts.prices,
            on_finished=self.delivery.soon,
            wake_dispatch=self.wake_dispatch,
            idle_peers=self._others_unpaused if len(setups) > 1 else None,
            ring_dispatchers=self.ring_dispatchers,
        )
        names = [setup.name for setup in setups]
        self.accounts = [
            AccountWork(setup, limits, shared, names[1:] if number == 0 else None)
            for number, setup in enumerate(setups)
        ]
        first = self.accounts[0]
        # One account: its timeline is the forecast's. Several: the forecast plans the pool
        # as one provider with every account's slots.
        self.timeline = first.timeline
        if len(self.accounts) > 1:
            self.timeline = Timeline(
                parts.jobs,
                concurrency=sum(setup.concurrency for setup in setups),
                slots=sum(setup.concurrency + setup.lookahead for setup in setups),
                prior_rate=limits.render_seconds_per_audio_second,
            )
        # First to hear of every change (nothing else listens yet): the parts plan with them.
        for timeline in dict.fromkeys([self.timeline, *(a.timeline for a in self.accounts)]):
            parts.events.subscribe(timeline.on_event)
        # The first account's parts, by their old names (one account: the only ones).
        self.prober, self.poller, self.dispatcher = first.prober, first.poller, first.dispatcher
        self.identity, self.settlement = first.identity, first.settlement
        self.pool = AccountPool(self.accounts)
        own_setup = parts.own_setup

        def build_own(key: OwnKey) -> AccountWork:
            if own_setup is None:
                raise RuntimeError("own provider keys are stored, but no way to use them")
            return AccountWork(own_setup(key), limits, shared, None)

        self.own = OwnAccountRoster(
            keys=parts.own_keys,
            build=build_own,
            jobs=parts.jobs,
            events=parts.events,
            grace=timedelta(seconds=2 * limits.lease_seconds),
            beat_seconds=limits.heartbeat_seconds,
        )
        self.signals.on(KEYS, lambda _: self.own.wake())
        self.signals.on(POLL, self._poll_signalled)
        self.forecaster = Forecaster(parts.jobs, self.timeline, limits)
        self.confirmation = Confirmation(
            jobs=parts.jobs,
            writer=self.writer,
            admission=parts.admission,
            timeout_seconds=limits.confirm_timeout_seconds,
            wake_dispatch=self.wake_dispatch,
        )
        self.intake = Intake(
            jobs=parts.jobs,
            writer=self.writer,
            preparer=parts.preparer,
            admission=parts.admission,
            prober=self.pool if len(self.accounts) > 1 else self.prober,
            own_keys=parts.own_keys,
            own_trouble=self.own.trouble,
            forecaster=self.forecaster,
            cache=parts.cache,
            custody=self.custody,
            confirmation=self.confirmation,
            wake_dispatch=self.wake_dispatch,
        )
        self.cancellation = Cancellation(
            jobs=parts.jobs,
            writer=self.writer,
            client=first.client,
            dispatcher=self.dispatcher,
            wake_dispatch=self.wake_dispatch,
            poll_soon=lambda job_id: self.signals.send(POLL, str(job_id)),
            account_named=self._client_of,
        )
        self.recovery = Recovery(
            custody=self.custody,
            intake=self.intake,
            delivery=self.delivery,
            beat_seconds=limits.heartbeat_seconds,
        )
        self._limits = limits
        self._loops = BackgroundTasks()
        self._started = False

    async def intake_paused(self, job: Job | None = None) -> bool:
        """Whether ``job``'s submissions wait: for the operator (the account's pause, or
        every one's), or for its server's admins (its own account's pause)."""
        if job is not None and job.own_account is not None:
            own = self.own.get(job.own_account)
            return own is not None and await own.prober.paused()
        if len(self.accounts) > 1:
            return await self.pool.paused()
        return await self.prober.paused()

    def attach(self, channel: ResultChannel) -> None:
        """Where results go: the edge's channel."""
        self.delivery.attach(channel)

    def wake_dispatch(self) -> None:
        """Tell the dispatcher, in whichever process runs it, to look at the queue."""
        self.signals.send(DISPATCH)

    async def _others_unpaused(self, name: str) -> dict[str, int]:
        """The accounts but ``name`` that are not paused, with their render concurrency."""
        return {
            account.name: account.limits.provider_concurrency
            for account in self.accounts
            if account.name != name and not await account.prober.paused()
        }

    def keys_changed(self) -> None:
        """A server's own key was set or cleared: every process syncs its roster."""
        self.signals.send(KEYS)

    def every_account(self) -> list[AccountWork]:
        """The operator's accounts, then the servers' own this process knows now."""
        return [*self.accounts, *self.own.accounts]

    def _account_named(self, name: str) -> AccountWork | None:
        for account in self.every_account():
            if account.name == name:
                return account
        return None

    def _client_of(self, name: str) -> tuple[DashScopeClient, Dispatcher] | None:
        account = self._account_named(name)
        return (account.client, account.dispatcher) if account is not None else None

    def ring_dispatchers(self) -> None:
        """Wake this process's dispatchers, every account's."""
        for account in self.every_account():
            account.wakeup.ring()

    def _poll_signalled(self, argument: str) -> None:
        if argument.isdigit():
            for account in self.every_account():  # only the job's own account's poller asks
                account.poller.track(int(argument), delay=0)

    def duties(self) -> list[Duty]:
        """What must run in one process at a time: each provider account's work, and ending
        the jobs nobody confirmed in time."""
        return [
            *(account.duty() for account in self.accounts),
            Duty("confirm-timeouts", self.confirmation.run_forever),
        ]

    async def start(self) -> None:
        """Take over this process's unfinished jobs (and any nobody works on), then keep
        doing so at every heartbeat."""
        if self._started:
            return
        self._started = True
        await self.timeline.learn()
        taken = await self.recovery.take_over()
        log.info("engine started as %s: %d unfinished jobs taken over", self.custody.owner, taken)
        self._loops.spawn(self.recovery.run_forever(), name="recovery")

    async def close(self) -> None:
        """Stop every loop; let submits and row writes already under way finish."""
        await self._loops.cancel_all()
        await self.intake.close()
        await self.delivery.close()
        for account in self.accounts:
            await account.close()
        await self.own.close()
        await self.writer.drain()
        self._started = False
