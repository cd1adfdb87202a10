"""The media cache's retention: members' files are deleted when their time is up, on request
(``/emo forget``), and when the bot leaves a server.

A job's files live where ``MediaCache`` says. Files of a job that is still on its way are
never touched: erasing them is recorded and done once it ends. Job rows stay for the audit,
but their links to the media are cleared.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from bot.clock import Clock, system_clock
from bot.errors import QuietError
from bot.guilds.repository import GuildRepository
from bot.jobs.repository import JobRepository, MediaOwner
from bot.media.cache import MediaCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    inputs: timedelta = timedelta(hours=48)
    outputs: timedelta = timedelta(days=7)
    interval: timedelta = timedelta(minutes=10)


class Erased(BaseModel):
    """What one deletion did: jobs whose media went, files and bytes deleted, and jobs
    still on their way whose media will go once they end."""

    model_config = ConfigDict(frozen=True)

    jobs: int = 0
    files: int = 0
    bytes: int = 0
    unfinished: int = 0

    def __add__(self, other: Erased) -> Erased:
        return Erased(
            jobs=self.jobs + other.jobs,
            files=self.files + other.files,
            bytes=self.bytes + other.bytes,
            unfinished=self.unfinished + other.unfinished,
        )


class MediaJanitor:
    """Deletes cached media by age, on request, and when the bot leaves a server."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        guilds: GuildRepository,
        cache: MediaCache,
        policy: RetentionPolicy,
        clock: Clock = system_clock,
    ) -> None:
        self._jobs = jobs
        self._guilds = guilds
        self._cache = cache
        self._policy = policy
        self._clock = clock

    @property
    def policy(self) -> RetentionPolicy:
        return self._policy

    async def run_forever(self) -> None:
        """Sweep now and every ``policy.interval`` (a duty: one process at a time runs it)."""
        while True:
            try:
                await self.sweep()
            except QuietError:
                pass  # the database is away: said once where it happened
            except Exception:
                # A disk or database hiccup must not end retention for good.
                log.exception("media retention sweep failed; trying again later")
            await asyncio.sleep(self._policy.interval.total_seconds())

    async def sweep(self) -> Erased:
        """One pass: media past retention, pending erasures whose jobs ended, orphans."""
        now = self._clock()
        jobs = self._jobs
        done = await self._purge(
            await jobs.inputs_due(now - self._policy.inputs), inputs=True, outputs=False
        )
        done += await self._purge(
            await jobs.outputs_due(now - self._policy.outputs), inputs=False, outputs=True
        )
        done += await self._pending_erasures()
        done += await self._orphans(now)
        if done.files or done.jobs:
            log.info(
                "media retention: %d jobs, %d files, %d bytes deleted",
                done.jobs,
                done.files,
                done.bytes,
            )
        return done

    async def _purge(self, job_ids: Sequence[int], *, inputs: bool, outputs: bool) -> Erased:
        """Delete the media of finished jobs and clear the rows' links to them."""
        files = size = 0
        for job_id in job_ids:
            deleted = await asyncio.to_thread(
                self._cache.delete, job_id, inputs=inputs, outputs=outputs
            )
            files, size = files + deleted.files, size + deleted.bytes
            await self._jobs.mark_purged(job_id, inputs=inputs, outputs=outputs, at=self._clock())
            kinds = (
                "inputs and outputs" if inputs and outputs else "inputs" if inputs else "outputs"
            )
            log.info(
                "job %d %s deleted: %d files, %d bytes", job_id, kinds, deleted.files, deleted.bytes
            )
        return Erased(jobs=len(job_ids), files=files, bytes=size)

    async def forget_member(self, user_id: int) -> Erased:
        """Erase a member's media in every server: now for finished jobs, and for jobs still
        on their way as soon as they end."""
        return await self._erase(MediaOwner(user_id=user_id))

    async def forget_guild(self, guild_id: int) -> Erased:
        """Erase a server's media (the bot was removed from it)."""
        return await self._erase(MediaOwner(guild_id=guild_id))

    async def _erase(self, owner: MediaOwner) -> Erased:
        up_to = await self._jobs.last_id()
        done = await self._purge(
            await self._jobs.media_kept(owner, up_to), inputs=True, outputs=True
        )
        unfinished = await self._jobs.unfinished(owner, up_to)
        if unfinished:
            await self._guilds.add_erasure(owner, up_to, self._clock())
        who = f"member {owner.user_id}" if owner.user_id is not None else f"guild {owner.guild_id}"
        log.info(
            "media of %s erased: %d jobs, %d files; %d jobs still on their way",
            who,
            done.jobs,
            done.files,
            unfinished,
        )
        return done.model_copy(update={"unfinished": unfinished})

    async def _pending_erasures(self) -> Erased:
        """Finish erasures that waited for jobs on their way; drop those with none left."""
        done = Erased()
        for erasure in await self._guilds.erasures():
            done += await self._purge(
                await self._jobs.media_kept(erasure.owner, erasure.up_to_job_id),
                inputs=True,
                outputs=True,
            )
            if not await self._jobs.unfinished(erasure.owner, erasure.up_to_job_id):
                await self._guilds.drop_erasure(erasure.id)
                log.info("media erasure %d complete", erasure.id)
        return done

    async def _orphans(self, now: datetime) -> Erased:
        """Job folders without a row (a database reset, a test): deleted by age alone."""
        cutoff = (now - self._policy.inputs).timestamp()
        folders = await asyncio.to_thread(self._cache.folders)
        known = await self._jobs.existing([folder.job_id for folder in folders])
        files = size = 0
        for folder in folders:
            if folder.job_id in known or folder.modified >= cutoff:
                continue
            deleted = await asyncio.to_thread(self._cache.delete_folder, folder)
            files, size = files + deleted.files, size + deleted.bytes
            log.info("orphan media folder %s deleted: %d files", folder.path.name, deleted.files)
        return Erased(files=files, bytes=size)
