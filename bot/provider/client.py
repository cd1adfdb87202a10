"""An aiohttp client for DashScope's EMO endpoints, temporary storage and task API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import aiohttp
from pydantic import SecretStr

from bot.provider.errors import ProviderInputError
from bot.provider.listing import TaskListing, list_tasks
from bot.provider.models import (
    DETECT_MODEL,
    SYNTHESIS_MODEL,
    DetectInput,
    Detection,
    DetectParameters,
    DetectRequest,
    DetectResponse,
    ErrorBody,
    SubmitResponse,
    SynthesisInput,
    SynthesisParameters,
    SynthesisRequest,
    TaskResponse,
)
from bot.provider.retries import transient, with_retries
from bot.provider.transport import ASYNC_HEADER, RequestObserver, Transport
from bot.provider.uploads import TemporaryStorage

log = logging.getLogger(__name__)

__all__ = ["DashScopeClient", "RequestObserver", "TaskListing", "transient", "with_retries"]


class DashScopeClient:
    """Speaks to one DashScope account. Every error answer becomes a typed ProviderError."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: SecretStr,
        *,
        timeout_seconds: float = 60.0,
        observer: RequestObserver | None = None,
    ) -> None:
        self._transport = Transport(
            session, base_url, api_key, timeout_seconds=timeout_seconds, observer=observer
        )
        self._storage = TemporaryStorage(self._transport)

    @property
    def base_url(self) -> str:
        """The endpoint this client speaks to (its results may come from the same origin)."""
        return self._transport.base_url

    async def upload_temporary(
        self, data: bytes, *, model: str, filename: str, content_type: str
    ) -> str:
        """Store ``data`` in DashScope's temporary storage for ``model``; return its oss:// URL."""
        return await self._storage.upload(
            data, model=model, filename=filename, content_type=content_type
        )

    async def detect_face(self, image_url: str, *, ratio: str) -> Detection:
        """Run ``emo-detect-v1``; a refused image raises ProviderInputError with its code."""
        request = DetectRequest(
            model=DETECT_MODEL,
            input=DetectInput(image_url=image_url),
            parameters=DetectParameters(ratio=ratio),
        )
        transport = self._transport
        answer = await transport.call(
            "detect",
            "POST",
            "/services/aigc/image2video/face-detect",
            DetectResponse,
            body=request,
            headers=transport.headers(json_body=True, oss=image_url.startswith("oss://")),
        )
        output = answer.output
        # The provider may refuse as HTTP 400 (a ProviderError) or as 200 with check_pass false.
        if not output.check_pass or output.face_bbox is None or output.ext_bbox is None:
            raise ProviderInputError(
                output.code or "InvalidFile.CheckFailed",
                output.message or "",
                status=200,
                request_id=answer.request_id,
            )
        return Detection(face_bbox=output.face_bbox, ext_bbox=output.ext_bbox)

    async def submit_synthesis(
        self,
        *,
        image_url: str,
        audio_url: str,
        face_bbox: list[int],
        ext_bbox: list[int],
        style_level: str,
    ) -> str:
        """Create an ``emo-v1`` task; return its id."""
        request = SynthesisRequest(
            model=SYNTHESIS_MODEL,
            input=SynthesisInput(
                image_url=image_url, audio_url=audio_url, face_bbox=face_bbox, ext_bbox=ext_bbox
            ),
            parameters=SynthesisParameters(style_level=style_level),
        )
        transport = self._transport
        headers = transport.headers(
            json_body=True,
            oss=image_url.startswith("oss://") or audio_url.startswith("oss://"),
        )
        headers[ASYNC_HEADER] = "enable"
        answer = await transport.call(
            "submit",
            "POST",
            "/services/aigc/image2video/video-synthesis",
            SubmitResponse,
            body=request,
            headers=headers,
            creates_task=True,
        )
        return answer.output.task_id

    async def get_task(self, task_id: str) -> TaskResponse:
        transport = self._transport
        return await transport.call(
            "task_query", "GET", f"/tasks/{task_id}", TaskResponse, headers=transport.headers()
        )

    async def list_tasks(
        self,
        *,
        model: str,
        start: datetime,
        end: datetime,
        api_key_id: str | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> TaskListing:
        """The account's tasks of ``model`` between ``start`` and ``end``, every page read
        (``pace`` awaited before each); ``complete`` says whether the answer can be trusted
        (``bot/provider/listing.py``)."""
        return await list_tasks(
            self._transport,
            model=model,
            start=start,
            end=end,
            api_key_id=api_key_id,
            pace=pace,
        )

    async def cancel_task(self, task_id: str) -> None:
        """Cancel a PENDING task (no body); other states answer an error (UnsupportedOperation)."""
        transport = self._transport
        await transport.call(
            "cancel", "POST", f"/tasks/{task_id}/cancel", ErrorBody, headers=transport.headers()
        )
