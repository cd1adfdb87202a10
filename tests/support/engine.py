"""The job engine without Discord: the real core against the simulator over loopback HTTP.

Jobs can enter through the front door (``request``: download, convert, upload, face check)
or, for scale, as prepared rows that reuse inputs uploaded once (``enqueue_prepared``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.clock import utcnow
from bot.core import Core, Edge, open_core
from bot.jobs.edge import DeliveryError, ResultPost
from bot.jobs.events import JobEvent, OperatorAlert
from bot.jobs.models import AnimateRequest, Box, InputRef, Job, JobChanges
from bot.jobs.preparation import PreparedInputs
from bot.jobs.repository import Caps, JobRepository
from bot.jobs.service import AnimateService
from bot.jobs.sql import SqlJobRepository
from bot.jobs.states import JobState
from bot.messages import UserMessage, render
from bot.provider.client import DashScopeClient
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL
from bot.settings import Settings
from bot.simulator import Simulator, SimulatorKnobs
from tests.support import media


@dataclass
class Delivery:
    job_id: int
    guild_id: int | None
    at: float  # time.monotonic() when posted
    post: ResultPost


@dataclass
class RecordingEdge:
    """An edge that records what a member (and the operator) would have seen."""

    deliveries: list[Delivery] = field(default_factory=list)
    failures: list[tuple[int, UserMessage]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    changes: list[tuple[int, JobState]] = field(default_factory=list)
    refuse_deliveries: int = 0
    upload_limit_bytes: int = 25 * 1024 * 1024
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def edge(self) -> Edge:
        return Edge(results=self, listen=self.job_changed, alerts=self.alert)

    async def job_changed(self, event: JobEvent) -> None:
        job = event.after
        if event.notice is not None:
            self.failures.append((job.id, event.notice))
        if event.state_changed:
            self.changes.append((job.id, job.state))
        if job.state.is_terminal:
            self.finished.set()

    async def upload_limit(self, job: Job) -> int:
        return self.upload_limit_bytes

    async def post(self, job: Job, result: ResultPost) -> int:
        if self.refuse_deliveries:
            self.refuse_deliveries -= 1
            raise DeliveryError("refused by the test", permanent=False)
        self.deliveries.append(Delivery(job.id, job.guild_id, time.monotonic(), result))
        return 10_000 + job.id

    async def find_posted(self, job: Job) -> int | None:
        return next((10_000 + d.job_id for d in self.deliveries if d.job_id == job.id), None)

    async def alert(self, alert: OperatorAlert) -> None:
        self.alerts.append(render(alert.message))


async def upload_sample_inputs(client: DashScopeClient, *, seconds: float = 4.0) -> PreparedInputs:
    """The sample portrait and a voice clip, uploaded and face-checked once for reuse."""
    face = io.BytesIO()
    media.astronaut().save(face, format="JPEG")
    detect_url = await client.upload_temporary(
        face.getvalue(), model=DETECT_MODEL, filename="f.jpg", content_type="image/jpeg"
    )
    image_url = await client.upload_temporary(
        face.getvalue(), model=SYNTHESIS_MODEL, filename="f.jpg", content_type="image/jpeg"
    )
    mp3 = media.encode_audio(media.speech_pcm(seconds), container="mp3", codec="libmp3lame")
    audio_url = await client.upload_temporary(
        mp3, model=SYNTHESIS_MODEL, filename="v.mp3", content_type="audio/mpeg"
    )
    detection = await client.detect_face(detect_url, ratio="1:1")
    return PreparedInputs(
        image_sha256="0" * 64,
        audio_sha256="0" * 64,
        audio_seconds=seconds,
        image_url=image_url,
        audio_url=audio_url,
        face_box=Box.from_list(detection.face_bbox),
        ext_box=Box.from_list(detection.ext_bbox),
    )


class EngineHarness:
    """A running core wired to a simulator and a recording edge."""

    def __init__(self, core: Core, simulator: Simulator, notifier: RecordingEdge) -> None:
        self.core = core
        self.simulator = simulator
        self.notifier = notifier
        self._inputs: PreparedInputs | None = None

    @property
    def service(self) -> AnimateService:
        return self.core.service

    @property
    def jobs(self) -> JobRepository:
        return self.core.jobs

    def jobs_as_of(self, seconds_ago: float) -> SqlJobRepository:
        """The same rows, written by a process whose clock says ``seconds_ago`` earlier (a
        process that died mid-submit, long ago)."""
        return SqlJobRepository(
            self.core.db, clock=lambda: utcnow() - timedelta(seconds=seconds_ago)
        )

    async def request(self, *, guild_id: int, user_id: int, folder: Path) -> Job:
        image, audio = folder / "face.jpg", folder / "voice.ogg"
        if not image.exists():
            image.write_bytes(media.portrait_jpeg())
            audio.write_bytes(media.voice_note())
        request = AnimateRequest(
            guild_id=guild_id,
            channel_id=guild_id * 10,
            user_id=user_id,
            image=InputRef(url=image.resolve().as_uri(), declared_size=0),
            audio=InputRef(url=audio.resolve().as_uri(), declared_size=0),
        )
        return (await self.core.service.request(request)).job

    async def inputs(self) -> PreparedInputs:
        """Upload the sample portrait and voice once; every prepared job reuses them."""
        if self._inputs is None:
            self._inputs = await upload_sample_inputs(self.core.client)
        return self._inputs

    async def enqueue_prepared(
        self, *, guild_id: int, user_id: int, own_account: str | None = None
    ) -> Job:
        """A QUEUED job with ready inputs, as if it had passed preparation (pinned to
        ``own_account``, a server's own, if given)."""
        inputs = await self.inputs()
        writer = self.core.engine.writer
        request = AnimateRequest(
            guild_id=guild_id,
            channel_id=guild_id * 10,
            user_id=user_id,
            image=InputRef(url="file:///prepared", declared_size=0),
            audio=InputRef(url="file:///prepared", declared_size=0),
        )
        job = await writer.create(request, Caps(), own_account)
        job = await writer.move(job, JobState.PREPARING)
        job = await writer.move(job, JobState.QUEUED, inputs.queued(estimate_usd=0.05))
        self.core.service.wake()
        return job

    async def enqueue_unprepared(self, *, guild_id: int, user_id: int) -> Job:
        """A QUEUED job whose inputs never made it into its row (a bug upstream)."""
        writer = self.core.engine.writer
        request = AnimateRequest(
            guild_id=guild_id,
            channel_id=guild_id * 10,
            user_id=user_id,
            image=InputRef(url="file:///prepared", declared_size=0),
            audio=InputRef(url="file:///prepared", declared_size=0),
        )
        job = await writer.create(request, Caps())
        job = await writer.move(job, JobState.PREPARING)
        job = await writer.move(job, JobState.QUEUED, JobChanges(queued_at=utcnow()))
        self.core.service.wake()
        return job

    async def learn_our_key(self) -> str:
        """Deliver one job, after which the bot knows which of the account's keys is its."""
        await self.enqueue_prepared(guild_id=999, user_id=999)
        await self.wait_until(self.all_final, within=30)
        identity = self.core.engine.identity

        async def known() -> bool:
            return await identity.current() is not None

        await self.wait_until(known, within=10)
        key_id = await identity.current()
        assert key_id is not None
        return key_id

    async def history(self, job_id: int) -> list[JobState]:
        """The states the job's row went through, from the database."""
        return await self.core.jobs.history(job_id)

    async def wait_until(
        self, predicate: Callable[[], Awaitable[bool]], within: float = 60.0
    ) -> None:
        deadline = time.monotonic() + within
        while not await predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("condition not reached")
            await asyncio.sleep(0.05)

    async def all_final(self) -> bool:
        live = [state for state in JobState if not state.is_terminal]
        return not await self.core.jobs.in_states(live)


@contextlib.asynccontextmanager
async def fast_simulator(key: str) -> AsyncIterator[Simulator]:
    """A simulator on 127.0.0.1 that renders in a fraction of a second and does not throttle
    submits or face detection; ``key`` is its only API key."""
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.05, render_overhead_seconds=0.3)
    knobs.rate_limits.submit = 100
    knobs.rate_limits.detect = 100
    simulator = Simulator(knobs=knobs, api_keys={key})
    await simulator.start(host="127.0.0.1", port=0)
    try:
        yield simulator
    finally:
        await simulator.close()


@contextlib.asynccontextmanager
async def running_engine(
    simulator: Simulator, data_dir: Path, api_key: str, **settings: object
) -> AsyncIterator[EngineHarness]:
    values: dict[str, object] = {
        "dashscope_api_key": api_key,
        "dashscope_base_url": simulator.base_url,
        "emo_data_dir": data_dir,
        "emo_poll_min_seconds": 0.2,
        "emo_poll_max_seconds": 2.0,
        "emo_render_seconds_per_audio_second": 0.5,
        "emo_max_active_per_member": 1000,
        "emo_max_queued_per_server": 1000,
        **settings,
    }
    core_settings = Settings(**values)  # type: ignore[arg-type]
    notifier = RecordingEdge()
    async with open_core(core_settings, local_files=True) as core:
        core.attach(notifier.edge())
        await core.start()
        yield EngineHarness(core, simulator, notifier)
