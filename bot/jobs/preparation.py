"""Turning a member's two attachments into provider-ready inputs, before any money is spent."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from bot.clock import utcnow
from bot.errors import UserFacingError
from bot.jobs.models import AnimateRequest, Box, InputRef, Job, JobChanges
from bot.media.audio import PreparedAudio
from bot.media.cache import Kind, MediaCache
from bot.media.download import DownloadError, DownloadTooLargeError, download_to_file
from bot.media.hosting import MediaHost, MediaHostError
from bot.media.image import PreparedImage
from bot.media.pool import MediaPool
from bot.media.preview import try_write_preview
from bot.media.sources import SourcePolicy
from bot.messages import MessageKey, Phrase
from bot.provider.client import DashScopeClient, with_retries
from bot.provider.errors import (
    ProviderError,
    ProviderInputError,
    ProviderOperatorError,
    ProviderTransientError,
)
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL, Detection

log = logging.getLogger(__name__)

_WORDS: dict[Kind, Phrase] = {
    "image": Phrase(key=MessageKey.WORD_IMAGE),
    "audio": Phrase(key=MessageKey.WORD_AUDIO),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# What the detector's refusal codes mean for the member (spec section 1).
_DETECTION_MESSAGES: dict[str, MessageKey] = {
    "InvalidFile.NoHuman": MessageKey.NO_FACE,
    "InvalidFile.MultiHuman": MessageKey.SEVERAL_FACES,
    "InvalidFile.BodyProportion": MessageKey.FACE_FRAMING,
    "InvalidFile.FacePose": MessageKey.FACE_FRAMING,
    "InvalidFile.FullFace": MessageKey.FACE_FRAMING,
    "InvalidFile.FrontBody": MessageKey.FACE_FRAMING,
    "InvalidFile.Value": MessageKey.FACE_FRAMING,
    "InvalidFile.FullBody": MessageKey.NEEDS_HALF_BODY,
    "DataInspectionFailed": MessageKey.CONTENT_REFUSED,
}


def refusal_for(error: ProviderInputError) -> UserFacingError:
    """The member-facing refusal for a provider's input error."""
    key = _DETECTION_MESSAGES.get(error.code)
    if key is None:
        return UserFacingError(MessageKey.IMAGE_REFUSED, reason=error.code)
    return UserFacingError(key)


@dataclass(frozen=True)
class PreparedInputs:
    image_sha256: str  # of the files as received, for the audit
    audio_sha256: str
    audio_seconds: float
    image_url: str  # for emo-v1
    audio_url: str
    face_box: Box
    ext_box: Box
    inputs_account: str | None = None  # the account the oss:// links work for (None: any)

    def queued(self, estimate_usd: float) -> JobChanges:
        """The row's new columns as the job enters the queue."""
        return JobChanges(
            image_sha256=self.image_sha256,
            audio_sha256=self.audio_sha256,
            audio_seconds=self.audio_seconds,
            image_url=self.image_url,
            audio_url=self.audio_url,
            face_box=self.face_box,
            ext_box=self.ext_box,
            estimate_usd=estimate_usd,
            queued_at=utcnow(),
            inputs_account=self.inputs_account,
        )


@dataclass(frozen=True)
class PreparationLimits:
    sources: SourcePolicy  # where attachments may be downloaded from
    max_input_bytes: int
    max_pixels: int = 50_000_000
    max_image_side: int = 2048
    provider_retries: int = 4
    retry_base_delay: float = 1.0
    # Only the command line reads local files; URLs from Discord never may.
    allow_local_files: bool = False
    # Preparations at once in this process; as many media workers convert their files.
    max_preparations: int = 2


@dataclass(frozen=True)
class PreparationTarget:
    """The provider account a preparation uploads for and checks the face with. ``account``
    is None when the host's links work for any account (or there is only one)."""

    account: str | None
    client: DashScopeClient
    host: MediaHost
    name: str = ""  # the account's name, to pause it when it refuses


Refused = Callable[[PreparationTarget, ProviderOperatorError], Awaitable[None]]
TargetFor = Callable[[Job], Awaitable[PreparationTarget]]
"""The account to prepare ``job`` with: its server's own, or one of the operator's."""


class InputPreparer:
    """Downloads, converts, re-hosts and checks the face for one job."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession,
        client: DashScopeClient,
        host: MediaHost,
        cache: MediaCache,
        limits: PreparationLimits,
        target: TargetFor | None = None,
    ) -> None:
        self._session = session
        self._client = client
        self._host = host
        self._target = target  # several accounts: which one to prepare with, now
        self._refused: Refused | None = None
        self._tries = 1
        self._cache = cache
        self._limits = limits
        # Every decode and conversion runs there, each file within its time and memory.
        self.media = MediaPool(limits.max_preparations)

    @property
    def max_preparations(self) -> int:
        return self._limits.max_preparations

    @property
    def default_target(self) -> PreparationTarget:
        """The account preparations use unless told otherwise (``use_targets``)."""
        return PreparationTarget(None, self._client, self._host)

    async def close(self) -> None:
        """Stop the media workers."""
        await self.media.close()

    def use_targets(
        self,
        target: TargetFor,
        refused: Refused,
        tries: int,
    ) -> None:
        """Several accounts (or servers' own): ask ``target`` which one to prepare each job
        with; an account that refuses (arrears, a revoked key) is told to ``refused`` (which
        pauses it) and the next one is tried, up to ``tries`` accounts (a job pinned to its
        server's own account: that one only)."""
        self._target = target
        self._refused = refused
        self._tries = tries

    async def prepare(self, job: Job) -> PreparedInputs:
        """Run every check; raise UserFacingError (or a ProviderError) when one fails."""
        cache = self._cache
        # Our own names only: a member's filename never reaches the filesystem.
        image_source, audio_source = cache.source(job.id, "image"), cache.source(job.id, "audio")
        if job.retry_of is not None:
            # A retry starts from the first job's converted files: Discord's links expire.
            if not await asyncio.to_thread(cache.reuse_inputs, job.retry_of, job.id):
                raise UserFacingError(MessageKey.RETRY_INPUTS_GONE, job=job.retry_of)
        else:
            await asyncio.gather(
                self._fetch(job.image_source_url, image_source, what="image"),
                self._fetch(job.audio_source_url, audio_source, what="audio"),
            )
        image_hash, audio_hash = await asyncio.gather(
            asyncio.to_thread(_sha256, image_source), asyncio.to_thread(_sha256, audio_source)
        )
        # One after the other: a refused image never costs an audio decode, and no worker
        # is killed halfway through a file because the other one was refused.
        image = await self.media.prepare_image(
            image_source,
            cache.converted(job.id, "image"),
            max_pixels=self._limits.max_pixels,
            max_side=self._limits.max_image_side,
        )
        audio = await self.media.prepare_audio(
            audio_source, cache.converted(job.id, "audio"), trim=job.trim_audio
        )
        target = self.default_target
        tries = 1
        while True:
            if self._target is not None:
                target = await self._target(job)
            try:
                image_url, audio_url, detection = await self._check(job, image, audio, target)
                break
            except ProviderOperatorError as error:
                if self._refused is None or isinstance(error, MediaHostError):
                    raise
                await self._refused(target, error)
                if tries >= self._tries or job.own_account is not None:
                    raise
                tries += 1
        # The crop the card shows: the region EMO animates, at the output's aspect.
        ext_box = Box.from_list(detection.ext_bbox)
        await asyncio.to_thread(
            try_write_preview,
            image.path,
            ext_box.as_tuple(),
            cache.preview(job.id),
            ratio=job.framing.ratio,
        )
        return PreparedInputs(
            image_sha256=image_hash,
            audio_sha256=audio_hash,
            audio_seconds=audio.seconds,
            image_url=image_url,
            audio_url=audio_url,
            face_box=Box.from_list(detection.face_bbox),
            ext_box=ext_box,
            inputs_account=target.account,
        )

    async def _check(
        self, job: Job, image: PreparedImage, audio: PreparedAudio, target: PreparationTarget
    ) -> tuple[str, str, Detection]:
        """Upload through ``target``'s host and check the face with its account."""
        detect_url, image_url, audio_url = await self._publish(job, image, audio, target.host)
        try:
            detection = await with_retries(
                lambda: target.client.detect_face(detect_url, ratio=job.framing.value),
                retries=self._limits.provider_retries,
                base_delay=self._limits.retry_base_delay,
            )
        except ProviderError as error:
            # The copies were made for this check only: no row will name them, so no sweep
            # would ever delete them. (DashScope's storage keeps them until they expire.)
            await self._discard(job, target.host, (detect_url, image_url, audio_url))
            if isinstance(error, ProviderInputError):
                log.info("job %d face check refused: %s", job.id, error.code)
                raise refusal_for(error) from None
            raise
        return image_url, audio_url, detection

    async def _discard(self, job: Job, host: MediaHost, urls: Sequence[str]) -> None:
        """Delete the hosted copies of a preparation that will not be used (best effort)."""
        for url in dict.fromkeys(urls):
            try:
                await host.delete(url)
            except (MediaHostError, ProviderTransientError) as error:
                log.warning("job %d: a hosted copy was not deleted (%s)", job.id, error)

    async def _fetch(self, url: str, destination: Path, *, what: Kind) -> None:
        if self._limits.allow_local_files and url.startswith("file://"):
            await asyncio.to_thread(self._copy_local, url, destination, what)
            return
        try:
            await download_to_file(
                self._session,
                url,
                destination,
                max_bytes=self._limits.max_input_bytes,
                policy=self._limits.sources,
            )
        except DownloadTooLargeError:
            raise self._too_large(what) from None
        except DownloadError as error:
            log.info("download of the %s failed: %s", what, error)
            raise UserFacingError(MessageKey.ATTACHMENT_UNAVAILABLE, what=_WORDS[what]) from None

    def refuse_declared(self, request: AnimateRequest) -> None:
        """Refuse an attachment whose declared size is already over the limit: before its
        job's row is written or a byte is downloaded (a smaller declared size is not trusted:
        the download is capped all the same)."""
        inputs: tuple[tuple[Kind, InputRef], ...] = (
            ("image", request.image),
            ("audio", request.audio),
        )
        for what, ref in inputs:
            if ref.declared_size > self._limits.max_input_bytes:
                log.info("the %s declares %d bytes: refused unread", what, ref.declared_size)
                raise self._too_large(what)

    def _too_large(self, what: Kind) -> UserFacingError:
        limit_mb = round(self._limits.max_input_bytes / 1024 / 1024)
        return UserFacingError(MessageKey.FILE_TOO_LARGE, what=_WORDS[what], limit_mb=limit_mb)

    def _copy_local(self, url: str, destination: Path, what: Kind) -> None:
        source = Path(unquote(urlsplit(url).path))
        if not source.is_file():
            raise UserFacingError(MessageKey.ATTACHMENT_UNAVAILABLE, what=_WORDS[what])
        if source.stat().st_size > self._limits.max_input_bytes:
            raise self._too_large(what)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)

    async def _publish(
        self, job: Job, image: PreparedImage, audio: PreparedAudio, host: MediaHost
    ) -> tuple[str, str, str]:
        """Upload the image once per model (URLs are bound to one model) and the audio once."""
        image_bytes, audio_bytes = await asyncio.gather(
            asyncio.to_thread(image.path.read_bytes), asyncio.to_thread(audio.path.read_bytes)
        )

        return await asyncio.gather(
            self._publish_one(host, image_bytes, DETECT_MODEL, f"job{job.id}-face.jpg"),
            self._publish_one(host, image_bytes, SYNTHESIS_MODEL, f"job{job.id}-face.jpg"),
            self._publish_one(host, audio_bytes, SYNTHESIS_MODEL, f"job{job.id}-voice.mp3"),
        )

    async def publish_for_synthesis(self, job: Job, host: MediaHost) -> tuple[str, str]:
        """Upload a prepared job's converted files again, through ``host`` (for another
        account than the one they were uploaded for): the new image and audio URLs."""
        cache = self._cache
        image_bytes, audio_bytes = await asyncio.gather(
            asyncio.to_thread(cache.converted(job.id, "image").read_bytes),
            asyncio.to_thread(cache.converted(job.id, "audio").read_bytes),
        )
        image_url, audio_url = await asyncio.gather(
            self._publish_one(host, image_bytes, SYNTHESIS_MODEL, f"job{job.id}-face.jpg"),
            self._publish_one(host, audio_bytes, SYNTHESIS_MODEL, f"job{job.id}-voice.mp3"),
        )
        return image_url, audio_url

    async def _publish_one(self, host: MediaHost, data: bytes, model: str, filename: str) -> str:
        content_type = "image/jpeg" if filename.endswith(".jpg") else "audio/mpeg"
        return await with_retries(
            lambda: host.publish(data, model=model, filename=filename, content_type=content_type),
            retries=self._limits.provider_retries,
            base_delay=self._limits.retry_base_delay,
        )
