"""The media cache's retention: members' files are deleted when their time is up, on request
(``/emo forget``), and when the bot leaves a server.

A job's files live where ``MediaCache`` says. Files of a job that is still on its way are
never touched: erasing them is recorded and done once it ends. Job rows stay for the audit,
but their links to the media are cleared.

The copies re-hosted for the provider go with the inputs: S3 objects and the http host's
files are deleted through the ``MediaHost`` before the row forgets their URLs. A copy the
host could not delete now keeps its URL in the row, so the next sweep tries again (a
``/emo forget`` stays recorded until it is done). DashScope's temporary storage cannot
delete: its copies expire there 48 h after the upload.
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
from bot.jobs.models import Job
from bot.jobs.repository import JobNotFoundError, JobRepository, MediaOwner
from bot.media.cache import MediaCache
from bot.media.hosting import MediaHost, MediaHostError, Removal
from bot.provider.errors import ProviderTransientError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    inputs: timedelta = timedelta(hours=48)
    outputs: timedelta = timedelta(days=7)
    interval: timedelta = timedelta(minutes=10)


class Erased(BaseModel):
    """What one deletion did: jobs whose media went, files and bytes deleted, hosted copies
    deleted (and those left for the next sweep), and jobs still on their way whose media
    will go once they end."""

    model_config = ConfigDict(frozen=True)

    jobs: int = 0
    files: int = 0
    bytes: int = 0
    hosted: int = 0
    hosted_left: int = 0
    unfinished: int = 0

    def __add__(self, other: Erased) -> Erased:
        return Erased(
            jobs=self.jobs + other.jobs,
            files=self.files + other.files,
            bytes=self.bytes + other.bytes,
            hosted=self.hosted + other.hosted,
            hosted_left=self.hosted_left + other.hosted_left,
            unfinished=self.unfinished + other.unfinished,
        )


@dataclass
class _Hosted:
    """The hosted copies of one job's inputs: how many went, and why any stayed."""

    deleted: int = 0
    left: int = 0
    problem: str = ""


class MediaJanitor:
    """Deletes cached media by age, on request, and when the bot leaves a server."""

    def __init__(
        self,
        *,
        jobs: JobRepository,
        guilds: GuildRepository,
        cache: MediaCache,
        policy: RetentionPolicy,
        host: MediaHost | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._jobs = jobs
        self._guilds = guilds
        self._cache = cache
        self._policy = policy
        self._host = host  # None: nothing re-hosted to delete (tests of the local files)
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
                "media retention: %d jobs, %d files, %d bytes, %d hosted copies deleted",
                done.jobs,
                done.files,
                done.bytes,
                done.hosted,
            )
        return done

    async def _purge(self, job_ids: Sequence[int], *, inputs: bool, outputs: bool) -> Erased:
        """Delete the media of finished jobs (their hosted copies too) and clear the rows'
        links to them; links to copies the host could not delete yet are kept."""
        done = Erased()
        problems: list[str] = []
        for job_id in job_ids:
            deleted = await asyncio.to_thread(
                self._cache.delete, job_id, inputs=inputs, outputs=outputs
            )
            hosted = await self._delete_hosted(job_id) if inputs else _Hosted()
            if hosted.problem:
                problems.append(f"job {job_id}: {hosted.problem}")
            await self._jobs.mark_purged(
                job_id, inputs=inputs and not hosted.left, outputs=outputs, at=self._clock()
            )
            kinds = (
                "inputs and outputs" if inputs and outputs else "inputs" if inputs else "outputs"
            )
            log.info(
                "job %d %s deleted: %d files, %d bytes, %d hosted copies",
                job_id,
                kinds,
                deleted.files,
                deleted.bytes,
                hosted.deleted,
            )
            done += Erased(
                jobs=1,
                files=deleted.files,
                bytes=deleted.bytes,
                hosted=hosted.deleted,
                hosted_left=hosted.left,
            )
        if problems:
            # One line per pass, not per job: a host refusing every deletion (credentials
            # without DeleteObject) would otherwise repeat itself for each job.
            log.warning(
                "%d hosted copies not deleted, tried again at the next sweep (%s%s)",
                done.hosted_left,
                problems[0],
                f"; and {len(problems) - 1} more jobs" if len(problems) > 1 else "",
            )
        return done

    async def _delete_hosted(self, job_id: int) -> _Hosted:
        """Delete the copies of a job's inputs the media host keeps for the provider."""
        result = _Hosted()
        if self._host is None:
            return result
        try:
            job = await self._jobs.get(job_id)
        except JobNotFoundError:
            return result
        for url in _hosted_urls(job):
            try:
                removal = await self._host.delete(url)
            except (MediaHostError, ProviderTransientError) as error:
                result.left += 1
                result.problem = result.problem or str(error)
                continue
            if removal is Removal.DELETED:
                result.deleted += 1
        return result

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
        if unfinished or done.hosted_left:
            # Finished by the sweep: once those jobs end, or once the host can delete.
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
        """Finish erasures that waited for jobs on their way, or for a media host that could
        not delete yet; drop those with nothing left."""
        done = Erased()
        for erasure in await self._guilds.erasures():
            purged = await self._purge(
                await self._jobs.media_kept(erasure.owner, erasure.up_to_job_id),
                inputs=True,
                outputs=True,
            )
            done += purged
            if not purged.hosted_left and not await self._jobs.unfinished(
                erasure.owner, erasure.up_to_job_id
            ):
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


def _hosted_urls(job: Job) -> list[str]:
    """The URLs of a job's re-hosted inputs (the face check's copy is the same file)."""
    return [url for url in (job.image_url, job.audio_url) if url]
