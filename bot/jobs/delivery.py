"""Delivery, as one flow: download the result, check it, fit it to the upload limit, post it.

DELIVERING is written before the post, which carries the job's nonce, so a post retried
after a crash does not appear twice; past the nonce's memory the edge is asked first.

The result is fetched only from where ``DeliveryLimits.sources`` allows (https from the
provider's hosts at public addresses, or the configured provider endpoint itself), through a
session whose resolver refuses private addresses, and it must be an MP4 with a video
stream. Every failure ends the job with a message for the member; only a database away
(or the process dying) leaves it DELIVERING, and recovery's sweep takes it up again once
its lease lapses (``recovery.py``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import aiohttp

from bot.clock import utcnow
from bot.errors import QuietError
from bot.jobs.custody import JobCustody
from bot.jobs.edge import DeliveryError, ResultChannel, ResultPost, UploadTooLargeError
from bot.jobs.models import Job, JobChanges
from bot.jobs.notices import expired, to_member
from bot.jobs.repository import StaleJobStateError
from bot.jobs.states import JobState
from bot.jobs.writer import JobWriter
from bot.media.cache import MediaCache
from bot.media.download import (
    DownloadError,
    DownloadRefusedError,
    DownloadStorageError,
    DownloadTooLargeError,
    download_to_file,
)
from bot.media.playable import NotAVideoError
from bot.media.pool import MediaPool, MediaWorkerError
from bot.media.sources import GuardedResolver, SourcePolicy
from bot.messages import MessageKey, UserMessage
from bot.retry import Backoff, retrying
from bot.settings import DASHSCOPE_RESULT_HOSTS
from bot.tasks import BackgroundTasks

log = logging.getLogger(__name__)

NONCE_WINDOW = timedelta(minutes=4)  # Discord deduplicates a nonce for "a few minutes"
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class DeliveryLimits:
    attempts: int = 5
    retry_base_delay: float = 2.0
    max_result_bytes: int = 200 * MEGABYTE
    sources: SourcePolicy = field(
        default_factory=lambda: SourcePolicy.https_from(DASHSCOPE_RESULT_HOSTS)
    )


def _retry_download(error: Exception) -> bool:
    # 403/404: the signed URL expired or the file is gone; a refused source, a file over
    # the cap, a full disk: no retry can help.
    return isinstance(error, DownloadError) and not error.permanent


def _download_failure(job: Job, error: DownloadError, limit: int) -> tuple[JobState, UserMessage]:
    """How a job whose result could not be fetched ends, and what its member is told."""
    if error.gone:
        return JobState.EXPIRED, expired(job)
    if isinstance(error, DownloadRefusedError):
        return JobState.FAILED, to_member(MessageKey.RESULT_SOURCE_REFUSED, job)
    if isinstance(error, DownloadTooLargeError):
        limit_mb = round(limit / MEGABYTE)
        return JobState.FAILED, to_member(MessageKey.RESULT_OVER_CAP, job, limit_mb=limit_mb)
    if isinstance(error, DownloadStorageError):
        return JobState.FAILED, to_member(MessageKey.RESULT_NOT_STORED, job)
    return JobState.FAILED, to_member(MessageKey.RESULT_UNREACHABLE, job)


class _ResultStorageError(Exception):
    """The result (or its fitted copy) could not be written or read here."""


def _retry_post(error: Exception) -> bool:
    # An unexpected error at the edge counts as a failed try like any other: a bug there
    # must not leave the job stuck in DELIVERING.
    return not (isinstance(error, DeliveryError) and error.permanent)


class Delivery:
    """Owns the deliveries under way (one per job at a time)."""

    def __init__(
        self,
        *,
        writer: JobWriter,
        cache: MediaCache,
        custody: JobCustody,
        limits: DeliveryLimits,
    ) -> None:
        self._writer = writer
        self._custody = custody
        self._session: aiohttp.ClientSession | None = None  # made at the first download
        self._cache = cache
        self._limits = limits
        self._backoff = Backoff(first=limits.retry_base_delay, cap=60.0)
        self._channel: ResultChannel | None = None
        self._delivering: set[int] = set()
        self._tasks = BackgroundTasks()
        # The result's check and any re-encoding run in a worker process of their own, each
        # within its time and memory: a hostile or huge result cannot stall or sink the bot,
        # nor hold up a member's preparation.
        self._media = MediaPool(1)

    def attach(self, channel: ResultChannel) -> None:
        self._channel = channel

    @property
    def channel(self) -> ResultChannel:
        if self._channel is None:
            raise RuntimeError("no ResultChannel attached")
        return self._channel

    def soon(self, job: Job) -> None:
        """Deliver ``job`` (SUCCEEDED, or DELIVERING after a restart) in the background."""
        if job.id in self._delivering:
            return
        self._delivering.add(job.id)
        self._tasks.spawn(self._deliver(job), name=f"deliver-{job.id}")

    async def close(self) -> None:
        await self._tasks.cancel_all()
        await self._media.close()
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    def _results_session(self) -> aiohttp.ClientSession:
        """The session results are fetched with: its resolver refuses private addresses, so
        a name checked before the request cannot lead to one when it connects."""
        if self._session is None:
            resolver = GuardedResolver(self._limits.sources)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=8, resolver=resolver)
            )
        return self._session

    async def _deliver(self, job: Job) -> None:
        try:
            with self._custody.working(job.id):
                await self._deliver_held(job)
        except StaleJobStateError:
            log.info("job %d: delivered meanwhile by another process", job.id)
        finally:
            self._delivering.discard(job.id)

    async def _deliver_held(self, job: Job) -> None:
        if job.state is JobState.SUCCEEDED:
            job = await self._writer.move(job, JobState.DELIVERING)
        try:
            await self._deliver_moved(job)
        except (QuietError, StaleJobStateError):
            raise  # the database is away (the sweep takes the job up again), or it moved on
        except Exception as error:
            # A bug: one traceback and a message, never a job left DELIVERING to loop on it.
            log.error("job %d delivery failed unexpectedly", job.id, exc_info=error)
            failure = to_member(MessageKey.UNEXPECTED, job, reference=f"job-{job.id}")
            await self._writer.end(job, JobState.FAILED, failure)

    async def _deliver_moved(self, job: Job) -> None:
        if utcnow() - job.updated_at > NONCE_WINDOW:
            # A post may have landed just before a crash, beyond Discord's nonce memory.
            found = await self.channel.find_posted(job)
            if found is not None:
                await self._delivered(job, found)
                return
        video = self._cache.result(job.id)
        if not await asyncio.to_thread(video.exists) and not await self._download(job, video):
            return
        if await self._checked(job, video):
            await self._post(job, video)

    async def _download(self, job: Job, video: Path) -> bool:
        url = job.result_url
        if url is None:
            raise RuntimeError(f"job {job.id} succeeded without a result URL")
        limit = self._limits.max_result_bytes

        async def fetch() -> int:
            return await download_to_file(
                self._results_session(), url, video, max_bytes=limit, policy=self._limits.sources
            )

        try:
            await retrying(
                fetch,
                attempts=self._limits.attempts,
                backoff=self._backoff,
                retry_if=_retry_download,
                what=f"job {job.id} result download",
            )
        except DownloadError as error:
            # The reason names a host or an address at most, never the signed query.
            level = logging.ERROR if isinstance(error, DownloadStorageError) else logging.WARNING
            log.log(level, "job %d result download failed: %s", job.id, error.reason)
            await self._writer.end(job, *_download_failure(job, error, limit))
            return False
        return True

    async def _checked(self, job: Job, video: Path) -> bool:
        """Whether the result is an MP4 with a video stream; if not, the job fails."""
        try:
            facts = await self._media.check_video(video)
        except MediaWorkerError as error:  # a bug of ours in the check: not posted unchecked
            log.error("job %d result check failed: %s", job.id, error)
            await self._fail(job, MessageKey.RESULT_NOT_VIDEO)
            return False
        except NotAVideoError as error:
            log.warning("job %d result is not a playable video: %s", job.id, error.reason)
            await asyncio.to_thread(video.unlink, missing_ok=True)
            await self._fail(job, MessageKey.RESULT_NOT_VIDEO)
            return False
        log.debug("job %d result: %dx%d, %.1f s", job.id, facts.width, facts.height, facts.seconds)
        return True

    async def _fit(self, job: Job, video: Path, limit: int) -> ResultPost:
        """The post that fits ``limit``: the video, a re-encoded copy, or a link."""
        seconds = round(job.video_seconds or 0, 1)
        size = (await asyncio.to_thread(video.stat)).st_size
        limit_mb = round(limit / MEGABYTE, 1)
        if size <= limit:
            return ResultPost(to_member(MessageKey.RESULT, job, seconds=seconds), video)
        fitted = self._cache.fitted(job.id)
        try:
            fits = await self._media.fit_video(video, fitted, limit)
        except OSError as error:  # the disk filled up while re-encoding
            raise _ResultStorageError(error.strerror or type(error).__name__) from None
        except MediaWorkerError as error:  # a bug of ours in the re-encode: a link instead
            log.error("job %d result re-encode failed: %s", job.id, error)
            fits = False
        if fits:
            message = to_member(MessageKey.RESULT_SHRUNK, job, seconds=seconds, limit_mb=limit_mb)
            return ResultPost(message, fitted)
        return self._link(job, size, limit)

    def _link(self, job: Job, size: int, limit: int) -> ResultPost:
        message = to_member(
            MessageKey.RESULT_TOO_LARGE,
            job,
            size_mb=round(size / MEGABYTE, 1),
            limit_mb=round(limit / MEGABYTE, 1),
            url=job.result_url or "",
        )
        return ResultPost(message, None)

    async def _post(self, job: Job, video: Path) -> None:
        try:
            message_id = await self._post_fitted(job, video)
        except (QuietError, StaleJobStateError):
            raise
        except _ResultStorageError as error:
            log.error("job %d: the result could not be re-encoded here: %s", job.id, error)
            await self._fail(job, MessageKey.RESULT_NOT_STORED)
            return
        except Exception as error:
            if isinstance(error, DeliveryError):
                log.warning("job %d delivery failed: %s", job.id, error.reason)
            else:
                log.error("job %d delivery failed unexpectedly", job.id, exc_info=error)
            failure = to_member(MessageKey.DELIVERY_FAILED, job)
            await self._writer.end(job, JobState.FAILED, failure)
            return
        await self._delivered(job, message_id)

    async def _post_fitted(self, job: Job, video: Path) -> int:
        channel = self.channel
        limit = await channel.upload_limit(job)
        result = await self._fit(job, video, limit)

        async def post() -> int:
            try:
                return await channel.post(job, result)
            except UploadTooLargeError:
                log.info("job %d: the video is over the upload limit after all: a link", job.id)
                size = (await asyncio.to_thread(video.stat)).st_size
                return await channel.post(job, self._link(job, size, limit))

        return await retrying(
            post,
            attempts=self._limits.attempts,
            backoff=self._backoff,
            retry_if=_retry_post,
            what=f"job {job.id} delivery",
        )

    async def _fail(self, job: Job, key: MessageKey) -> None:
        await self._writer.end(job, JobState.FAILED, to_member(key, job))

    async def _delivered(self, job: Job, message_id: int) -> None:
        # The message exists now: the writer records it even if we are being cancelled.
        await self._writer.move(
            job, JobState.DELIVERED, JobChanges(message_id=message_id, delivered_at=utcnow())
        )
