"""The card keeper: posts each job's card once and edits it on each change of its row.

Edits are coalesced per card (Discord allows about 5 edits of a message per 5 s: at most one
per interval, showing the newest row); a lost edit is retried, and a sweep re-syncs any card
whose recorded state fell behind its job (lost edits, restarts).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from bot.cards.lines import CardView, card_view
from bot.cards.repository import CardRecord, CardRepository
from bot.cards.surface import CardForbiddenError, CardGoneError, CardSurface
from bot.clock import utcnow
from bot.errors import QuietError
from bot.jobs.events import JobEvent
from bot.jobs.forecast import Spot
from bot.jobs.models import Job
from bot.jobs.repository import JobRepository
from bot.jobs.states import JobState
from bot.media.cache import MediaCache
from bot.retry import Backoff, retrying
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

MIN_EDIT_INTERVAL = 1.5
# After the edge's own retries (discord.py sleeps through a 429 up to five times), ours.
EDIT_ATTEMPTS = 6
EDIT_BACKOFF = Backoff(first=2.0, factor=2.0, cap=40.0)
SWEEP_INTERVAL = 60.0
SWEEP_REACH = timedelta(days=2)
FORECAST_REUSE = timedelta(seconds=1)

Forecast = Callable[[], Awaitable[dict[int, Spot]]]
Paused = Callable[[Job], Awaitable[bool]]
"""Whether the job's submissions are paused (its account's problem)."""


def _retry_edit(error: Exception) -> bool:
    return not isinstance(error, CardGoneError | CardForbiddenError)


class CardKeeper:
    """Owns the card workers (one per job with a change pending) and the sweep."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        cards: CardRepository,
        forecast: Forecast,
        paused: Paused,
        cache: MediaCache | None = None,
    ) -> None:
        self._jobs = jobs
        self._cards = cards
        self._cache = cache  # where each job's crop is (None: cards show none)
        self._surface: CardSurface | None = None
        self._forecast_source = forecast
        self._paused = paused
        self._pending: set[int] = set()
        self._workers: dict[int, asyncio.Task[object]] = {}
        self._tasks = BackgroundTasks()
        self._refresh_guilds: set[int | None] = set()
        self._posted: dict[int, asyncio.Event] = {}
        self._last_forecast: dict[int, Spot] = {}
        self._forecast_at: datetime | None = None

    @property
    def cards(self) -> CardRepository:
        return self._cards

    def attach(self, surface: CardSurface) -> None:
        """Where cards are shown (without one, nothing is)."""
        self._surface = surface

    async def close(self) -> None:
        await self._tasks.cancel_all()

    async def on_event(self, event: JobEvent) -> None:
        """A job changed: the queue's forecast is out of date, and so is its card."""
        job = event.after
        if event.entered(JobState.DELIVERED) and job.message_id is not None:
            await self._cards.result(job.id, job.message_id)
        self._forecast_at = None
        self.show(job.id)
        if event.entered(JobState.SUBMITTING) or event.entered(*_FINAL):
            self.refresh_queue(job.guild_id)

    def show(self, job_id: int) -> None:
        """Bring ``job_id``'s card up to date soon (coalesced with other changes)."""
        self._pending.add(job_id)
        if job_id not in self._workers:
            self._workers[job_id] = self._tasks.spawn(self._work(job_id), name=f"card-{job_id}")

    async def wait_for_card(self, job_id: int, seconds: float) -> CardRecord | None:
        """The job's card once it is posted (or as it is after ``seconds``)."""
        posted = self._posted.setdefault(job_id, asyncio.Event())
        try:
            record = await self._cards.get(job_id)
            if record is None or record.message_id is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(seconds):  # not wait_for: see Wakeup.sleep
                        await posted.wait()
        finally:
            self._posted.pop(job_id, None)
        return await self._cards.get(job_id)

    def refresh_queue(self, guild_id: int | None) -> None:
        """Someone left the queue: the places on this server's queued cards changed."""
        if guild_id in self._refresh_guilds:
            return
        self._refresh_guilds.add(guild_id)
        self._tasks.spawn(self._refresh_queue(guild_id), name=f"queue-cards-{guild_id}")

    async def _refresh_queue(self, guild_id: int | None) -> None:
        try:
            await asyncio.sleep(MIN_EDIT_INTERVAL * 2)  # gather a burst of moves into one pass
        finally:
            self._refresh_guilds.discard(guild_id)
        for job in await self._jobs.in_states((JobState.QUEUED,)):
            if job.guild_id == guild_id:
                record = await self._cards.get(job.id)
                if record is not None and record.message_id is not None:
                    self.show(job.id)

    async def _work(self, job_id: int) -> None:
        try:
            while job_id in self._pending:
                self._pending.discard(job_id)
                await self._sync(job_id)
                await asyncio.sleep(MIN_EDIT_INTERVAL)
        finally:
            self._workers.pop(job_id, None)

    async def _sync(self, job_id: int) -> None:
        try:
            await retrying(
                lambda: self._show(job_id),
                attempts=EDIT_ATTEMPTS,
                backoff=EDIT_BACKOFF,
                retry_if=_retry_edit,
                what=f"job {job_id} card update",
                level=logging.INFO,
            )
        except CardGoneError:
            log.info("job %d: its card was deleted; not posting another", job_id)
            await self._cards.deleted(job_id)
        except CardForbiddenError:
            log.warning("job %d: may not post or edit its card", job_id)
        except Exception as error:
            log.warning("job %d: card update gave up (%s); the sweep will try again", job_id, error)

    async def _show(self, job_id: int) -> None:
        surface = self._surface
        if surface is None:
            return
        job = await self._jobs.get(job_id)  # the newest row, not the event's copy
        record = await self._cards.get(job_id)
        if record is not None and record.deleted:
            return  # deleted by someone: leave it be
        view = await self._view(job)
        carried = record is not None and record.preview
        if carried and job.inputs_purged_at is not None:
            view = dataclasses.replace(view, drop_preview=True)  # retention, /emo forget
        elif not carried:
            view = dataclasses.replace(view, preview=await self._preview(job))
        uploaded = False if view.drop_preview else (True if view.preview else None)
        if record is None or record.message_id is None:
            message_id = await surface.post(job, view)
            await self._cards.shown(
                job.id, message_id=message_id, state=job.state, preview=uploaded
            )
            log.info("job %d: status card %d posted", job.id, message_id)
            waiting = self._posted.get(job.id)
            if waiting is not None:
                waiting.set()
            return
        await surface.edit(job, record.message_id, view)
        await self._cards.shown(
            job.id, message_id=record.message_id, state=job.state, preview=uploaded
        )

    async def _preview(self, job: Job) -> Path | None:
        """The crop to upload onto the card: once the face check passed, while the job's
        inputs are kept (retention and /emo forget delete it with them)."""
        if self._cache is None or job.ext_box is None or job.inputs_purged_at is not None:
            return None
        path = self._cache.preview(job.id)
        return path if await asyncio.to_thread(path.is_file) else None

    async def _view(self, job: Job) -> CardView:
        spot = (await self._forecast()).get(job.id) if not job.state.is_terminal else None
        return card_view(job, spot=spot, paused=await self._paused(job))

    async def _forecast(self) -> dict[int, Spot]:
        """The queue's forecast, shared by the cards rendered within a second (a queue move
        re-renders every queued card of the server)."""
        now = utcnow()
        if self._forecast_at is None or now - self._forecast_at > FORECAST_REUSE:
            self._last_forecast, self._forecast_at = await self._forecast_source(), now
        return self._last_forecast

    async def sweep_forever(self) -> None:
        """Re-sync the cards every minute (a duty: one process at a time runs it)."""
        while True:
            try:
                await self.sweep()
            except QuietError:
                pass  # the database is away: said once where it happened
            except Exception:
                log.exception("card sweep failed; trying again later")
            await asyncio.sleep(SWEEP_INTERVAL)

    async def sweep(self) -> None:
        """Re-sync every card whose recorded state is not its job's, and take the crop off
        the cards of jobs whose inputs were deleted."""
        for record in await self._cards.live(utcnow() - SWEEP_REACH):
            if record.job_id in self._workers:
                continue
            job = await self._jobs.get(record.job_id)
            if record.shown is not job.state:
                self.show(job.id)
        for job_id in await self._cards.purged_previews():
            self.show(job_id)


_FINAL = tuple(state for state in JobState if state.is_terminal)
