"""The status card: the bot's own channel message per job, kept in step with the job's row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

import discord

from bot.jobs.models import Job
from bot.jobs.states import JobState
from bot.jobs.status import Spot, card_lines
from bot.jobs.store import utcnow
from bot.messages import MessageKey, UserMessage, render
from bot.tasks import BackgroundTasks
from bot.wiring import EmoBot
from cogs.emo.buttons import job_view

log = logging.getLogger(__name__)

# Discord allows about 5 edits of one message per 5 s: one edit per interval at most, and the
# states passed through meanwhile are skipped (the card shows the newest).
MIN_EDIT_INTERVAL = 1.5
# After discord.py's own retries (it sleeps through a 429 up to five times), ours: a lost
# edit would leave the card showing an old state.
RETRY_DELAYS = (2.0, 5.0, 10.0, 20.0, 40.0)
SWEEP_INTERVAL = 60.0  # look for cards that fell behind their row (lost edits, restarts)
SWEEP_REACH = timedelta(days=2)
FORECAST_REUSE = timedelta(seconds=1)


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


class CardKeeper:
    """Posts each job's card once (nonce ``emo-card-<id>``) and edits it on each change."""

    def __init__(self, bot: EmoBot) -> None:
        self._bot = bot
        self._service = bot.core.service
        self._store = bot.core.store
        self._pending: set[int] = set()
        self._workers: dict[int, asyncio.Task[object]] = {}
        self._tasks = BackgroundTasks()
        self._refresh_guilds: set[int | None] = set()
        self._posted: dict[int, asyncio.Event] = {}
        self._last_forecast: dict[int, Spot] = {}
        self._forecast_at: datetime | None = None

    def start(self) -> None:
        self._tasks.spawn(self._sweep_forever(), name="card-sweeper")

    async def close(self) -> None:
        await self._tasks.cancel_all()

    def changed(self, job: Job) -> None:
        """``job`` changed state: the queue's forecast is out of date, and so is its card."""
        self._forecast_at = None
        self.show(job)

    def show(self, job: Job) -> None:
        """Bring ``job``'s card up to date soon (coalesced with other changes)."""
        self._pending.add(job.id)
        if job.id not in self._workers:
            self._workers[job.id] = self._tasks.spawn(self._work(job.id), name=f"card-{job.id}")

    async def wait_for_card(self, job_id: int, seconds: float) -> Job:
        """The job's row once its card is posted (or as it is after ``seconds``)."""
        posted = self._posted.setdefault(job_id, asyncio.Event())
        try:
            if (await self._store.get(job_id)).card_message_id is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(posted.wait(), seconds)
        finally:
            self._posted.pop(job_id, None)
        return await self._store.get(job_id)

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
        for job in await self._store.in_states((JobState.QUEUED,)):
            if job.guild_id == guild_id and job.card_message_id is not None:
                self.show(job)

    async def _work(self, job_id: int) -> None:
        try:
            while job_id in self._pending:
                self._pending.discard(job_id)
                await self._sync(job_id)
                await asyncio.sleep(MIN_EDIT_INTERVAL)
        finally:
            self._workers.pop(job_id, None)

    async def _sync(self, job_id: int) -> None:
        for attempt, delay in enumerate((0.0, *RETRY_DELAYS)):
            if delay:
                await asyncio.sleep(delay)
            job = await self._store.get(job_id)  # the newest row, not the event's copy
            try:
                await self._show(job)
                return
            except discord.NotFound:
                log.info("job %d: its card was deleted; not posting another", job.id)
                await self._store.set_card(job.id, message_id=0, shown=job.state)
                return
            except discord.Forbidden as error:
                log.warning("job %d: may not post or edit its card (%s)", job.id, error.code)
                return
            except (discord.HTTPException, OSError, TimeoutError) as error:
                status = getattr(error, "status", type(error).__name__)
                log.info("job %d: card update failed (%s), try %d", job.id, status, attempt + 1)
        log.warning("job %d: card update gave up; the sweep will try again", job_id)

    async def _show(self, job: Job) -> None:
        if job.card_message_id == 0:
            return  # deleted by someone: leave it be
        content = await self.render(job)
        view = job_view(job)
        channel = self._bot.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        if job.card_message_id is None:
            message = await channel.send(
                content,
                view=view,
                nonce=f"emo-card-{job.id}",
                allowed_mentions=discord.AllowedMentions.none(),
            )
            await self._store.set_card(job.id, message_id=message.id, shown=job.state)
            log.info("job %d: status card %d posted", job.id, message.id)
            waiting = self._posted.get(job.id)
            if waiting is not None:
                waiting.set()
            return
        await channel.get_partial_message(job.card_message_id).edit(
            content=content, view=view, allowed_mentions=discord.AllowedMentions.none()
        )
        await self._store.set_card(job.id, message_id=job.card_message_id, shown=job.state)

    async def _forecast(self) -> dict[int, Spot]:
        """The queue's forecast, shared by the cards rendered within a second (a queue move
        re-renders every queued card of the server)."""
        now = utcnow()
        if self._forecast_at is None or now - self._forecast_at > FORECAST_REUSE:
            self._last_forecast, self._forecast_at = await self._service.forecast(), now
        return self._last_forecast

    async def render(self, job: Job) -> str:
        spot = (await self._forecast()).get(job.id) if not job.state.is_terminal else None
        paused = await self._service.gate.current() is not None
        lines = card_lines(
            job, spot=spot, paused=paused, result_link=self._result_link(job), when=_relative
        )
        return "\n".join(render(line, job.locale) for line in lines)

    def _result_link(self, job: Job) -> str | None:
        if job.message_id is None:
            return None
        if job.deliver_dm:
            return render(UserMessage(key=MessageKey.CARD_SENT_BY_DM), job.locale)
        return message_link(job.guild_id, job.channel_id, job.message_id)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                for job in await self._store.cards_behind(utcnow() - SWEEP_REACH):
                    if job.card_message_id and job.id not in self._workers:
                        self.show(job)
            except Exception:
                log.exception("card sweep failed; trying again later")
            await asyncio.sleep(SWEEP_INTERVAL)


def _relative(moment: datetime) -> str:
    return discord.utils.format_dt(moment, "R")
