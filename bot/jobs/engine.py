"""The engine, assembled: its parts, the loops they run, their start and their stop.

Every process runs intake, delivery, cancel and recovery (its own jobs, and the orphans of
dead processes). The provider account's work (dispatching into its slots, polling its
tasks, probing it when paused, settling crash-cut submits) is one duty: it runs in the one
process holding the account's lease (``bot/cluster/duties.py``), so the account's rate
limits are kept in one place; the slots rows keep the provider's capacity even while a
lease changes hands.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from bot.cluster.duties import Duty
from bot.cluster.signals import Signals
from bot.db.meta import MetaStore
from bot.errors import QuietError
from bot.jobs.admission import Admission
from bot.jobs.cancel import Cancellation
from bot.jobs.confirmation import Confirmation
from bot.jobs.custody import JobCustody
from bot.jobs.delivery import Delivery, DeliveryLimits
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.edge import ResultChannel
from bot.jobs.events import JobEvent, OperatorAlert
from bot.jobs.forecast import Forecaster
from bot.jobs.gate import ProviderGate
from bot.jobs.identity import KeyIdentity
from bot.jobs.intake import Intake
from bot.jobs.limits import EngineLimits
from bot.jobs.poller import Poller
from bot.jobs.preparation import InputPreparer
from bot.jobs.prober import Prober
from bot.jobs.recovery import Recovery
from bot.jobs.repository import JobRepository
from bot.jobs.settlement import Settlement
from bot.jobs.timeline import Timeline
from bot.jobs.writer import JobWriter
from bot.media.cache import MediaCache
from bot.media.sources import SourcePolicy
from bot.provider.client import DashScopeClient
from bot.provider.pricing import Prices
from bot.tasks import BackgroundTasks, Wakeup
from bot.topic import Topic

log = logging.getLogger(__name__)

DISPATCH = "dispatch"  # signal: a job was queued, or a slot freed: look at the queue
POLL = "poll"  # signal (argument: a job id): query that job's task now
RESCAN_SECONDS = 30.0  # the provider duty looks for tasks in flight it does not poll yet


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
        self.timeline = Timeline(
            parts.jobs,
            concurrency=limits.provider_concurrency,
            slots=limits.max_in_flight,
            prior_rate=limits.render_seconds_per_audio_second,
        )
        # First to hear of every change: the others plan with what it knows.
        parts.events.subscribe(self.timeline.on_event)
        dispatch = Wakeup()
        self.signals.on(DISPATCH, lambda _: dispatch.ring())
        self.prober = Prober(
            gate=ProviderGate(parts.meta),
            client=parts.client,
            alerts=parts.alerts,
            interval=limits.probe_interval_seconds,
            rescan=limits.rescan_seconds,
            on_resume=self.wake_dispatch,
        )
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
        self.poller = Poller(
            jobs=parts.jobs,
            writer=self.writer,
            client=parts.client,
            timeline=self.timeline,
            alerts=parts.alerts,
            prices=parts.prices,
            limits=limits,
            on_finished=self.delivery.soon,
            wake_dispatcher=dispatch.ring,  # the same process: no signal needed
        )
        self.signals.on(POLL, self._poll_signalled)
        self.dispatcher = Dispatcher(
            writer=self.writer,
            client=parts.client,
            prober=self.prober,
            timeline=self.timeline,
            poller=self.poller,
            limits=limits,
            custody=self.custody,
            wakeup=dispatch,
        )
        self.identity = KeyIdentity(meta=parts.meta, client=parts.client, pace=self.poller.pace)
        self.poller.on_succeeded(self.identity.learn_soon)
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
            prober=self.prober,
            forecaster=self.forecaster,
            cache=parts.cache,
            custody=self.custody,
            confirmation=self.confirmation,
            wake_dispatch=self.wake_dispatch,
        )
        self.cancellation = Cancellation(
            jobs=parts.jobs,
            writer=self.writer,
            client=parts.client,
            dispatcher=self.dispatcher,
            wake_dispatch=self.wake_dispatch,
            poll_soon=lambda job_id: self.signals.send(POLL, str(job_id)),
        )
        self.settlement = Settlement(
            jobs=parts.jobs,
            writer=self.writer,
            client=parts.client,
            dispatcher=self.dispatcher,
            poller=self.poller,
            identity=self.identity,
            timeline=self.timeline,
            custody=self.custody,
            pace=self.poller.pace,
            limits=limits,
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

    def attach(self, channel: ResultChannel) -> None:
        """Where results go: the edge's channel."""
        self.delivery.attach(channel)

    def wake_dispatch(self) -> None:
        """Tell the dispatcher, in whichever process runs it, to look at the queue."""
        self.signals.send(DISPATCH)

    def _poll_signalled(self, argument: str) -> None:
        if argument.isdigit():
            self.poller.track(int(argument), delay=0)

    def duties(self) -> list[Duty]:
        """What must run in one process at a time: the provider account's work, and ending
        the jobs nobody confirmed in time."""
        return [
            Duty(f"provider:{self._limits.account}", self._provider_duty),
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

    async def _provider_duty(self) -> None:
        """The account's work, in the process holding its lease: the slots, the tasks in
        flight (polled), the crash-cut submits (settled), the queue (dispatched)."""
        limits = self._limits
        await self.jobs.ensure_slots(limits.account, limits.max_in_flight)
        await self.timeline.learn()
        self.poller.reset()
        polled = await self.poller.rescan()
        log.info("provider duty %s: %d tasks in flight polled here", limits.account, polled)
        loops = BackgroundTasks()
        try:
            loops.spawn(self.poller.run_forever(), name="poller")
            loops.spawn(self.prober.run_forever(), name="prober")
            loops.spawn(self._settle_forever(), name="settlement")
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
            await asyncio.sleep(min(RESCAN_SECONDS, self._limits.heartbeat_seconds))

    async def close(self) -> None:
        """Stop every loop; let submits and row writes already under way finish."""
        await self._loops.cancel_all()
        await self.intake.close()
        await self.delivery.close()
        await self.identity.close()
        await self.dispatcher.drain()
        await self.writer.drain()
        self._started = False
