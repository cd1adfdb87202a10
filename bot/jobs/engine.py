"""The engine, assembled: its parts, the loops they run, their start and their stop."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

from bot.db.meta import MetaStore
from bot.jobs.admission import Admission
from bot.jobs.cancel import Cancellation
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
from bot.provider.client import DashScopeClient
from bot.provider.pricing import Prices
from bot.tasks import BackgroundTasks, Wakeup
from bot.topic import Topic

log = logging.getLogger(__name__)


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


class Engine:
    """Every part of the job engine, wired once. The parts keep their own state."""

    def __init__(self, parts: EngineParts) -> None:
        """Build every part once, in the order they depend on each other. Long on purpose:
        this is the one place the parts meet, so each one's collaborators are visible here
        and nowhere else."""
        limits = parts.limits
        self.jobs = parts.jobs
        self.writer = JobWriter(parts.jobs, parts.events)
        self.timeline = Timeline(
            parts.jobs,
            concurrency=limits.provider_concurrency,
            prior_rate=limits.render_seconds_per_audio_second,
        )
        # First to hear of every change: the others plan with what it knows.
        parts.events.subscribe(self.timeline.on_event)
        dispatch = Wakeup()
        self.prober = Prober(
            gate=ProviderGate(parts.meta),
            client=parts.client,
            alerts=parts.alerts,
            interval=limits.probe_interval_seconds,
            rescan=limits.rescan_seconds,
            on_resume=dispatch.ring,
        )
        self.delivery = Delivery(
            writer=self.writer,
            session=parts.session,
            cache=parts.cache,
            limits=DeliveryLimits(
                attempts=limits.delivery_attempts,
                retry_base_delay=limits.retry_base_delay,
                max_result_bytes=limits.max_result_bytes,
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
            wake_dispatcher=dispatch.ring,
        )
        self.dispatcher = Dispatcher(
            jobs=parts.jobs,
            writer=self.writer,
            client=parts.client,
            prober=self.prober,
            timeline=self.timeline,
            poller=self.poller,
            limits=limits,
            wakeup=dispatch,
        )
        self.identity = KeyIdentity(meta=parts.meta, client=parts.client, pace=self.poller.pace)
        self.poller.on_succeeded(self.identity.learn_soon)
        self.forecaster = Forecaster(parts.jobs, self.timeline, limits)
        self.intake = Intake(
            jobs=parts.jobs,
            writer=self.writer,
            preparer=parts.preparer,
            admission=parts.admission,
            prober=self.prober,
            forecaster=self.forecaster,
            cache=parts.cache,
            dispatch=dispatch,
        )
        self.cancellation = Cancellation(
            jobs=parts.jobs,
            writer=self.writer,
            client=parts.client,
            dispatcher=self.dispatcher,
            poller=self.poller,
        )
        self.recovery = Recovery(
            jobs=parts.jobs,
            intake=self.intake,
            settlement=Settlement(
                jobs=parts.jobs,
                writer=self.writer,
                client=parts.client,
                dispatcher=self.dispatcher,
                poller=self.poller,
                identity=self.identity,
                pace=self.poller.pace,
                limits=limits,
            ),
            poller=self.poller,
            delivery=self.delivery,
        )
        self._loops = BackgroundTasks()
        self._started = False

    def attach(self, channel: ResultChannel) -> None:
        """Where results go: the edge's channel."""
        self.delivery.attach(channel)

    async def start(self) -> None:
        """Resume every unfinished job from its row, then start taking new ones."""
        if self._started:
            return
        self._started = True
        await self.timeline.learn()
        resumed = await self.recovery.resume()
        log.info("engine started: %d unfinished jobs resumed", resumed)
        self._loops.spawn(self.dispatcher.run_forever(), name="dispatcher")
        self._loops.spawn(self.poller.run_forever(), name="poller")
        self._loops.spawn(self.prober.run_forever(), name="prober")

    async def close(self) -> None:
        """Stop every loop; let row writes already under way finish."""
        await self._loops.cancel_all()
        await self.recovery.close()
        await self.intake.close()
        await self.delivery.close()
        await self.identity.close()
        await self.writer.drain()
        self._started = False
