"""An aiohttp client for DashScope's EMO endpoints, temporary storage and task API."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

import aiohttp
from pydantic import BaseModel, SecretStr, ValidationError

from bot.provider.errors import (
    ProviderError,
    ProviderInputError,
    ProviderTransientError,
    error_for,
)
from bot.provider.models import (
    DETECT_MODEL,
    PROVIDER_TIMEZONE,
    SYNTHESIS_MODEL,
    DetectInput,
    Detection,
    DetectParameters,
    DetectRequest,
    DetectResponse,
    ErrorBody,
    ListedTask,
    SubmitResponse,
    SynthesisInput,
    SynthesisParameters,
    SynthesisRequest,
    TaskListResponse,
    TaskResponse,
    UploadPolicyResponse,
)
from bot.retry import Backoff, retrying

log = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=BaseModel)
ResultT = TypeVar("ResultT")

RESOLVE_HEADER = "X-DashScope-OssResourceResolve"
ASYNC_HEADER = "X-DashScope-Async"


class RequestObserver(Protocol):
    """Told of every provider request once it ends (for metrics); must not block.

    ``endpoint`` is one of policy, upload, detect, submit, task_query, task_list, cancel;
    ``status`` is None when no HTTP answer came; ``code`` names the error, None on success.
    """

    def request(self, endpoint: str, status: int | None, seconds: float, code: str | None) -> None:
        """Record one finished request."""


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
        self._session = session
        self._observer = observer
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    def _headers(self, *, json_body: bool = False, oss: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if oss:
            headers[RESOLVE_HEADER] = "enable"
        return headers

    def _observe(self, endpoint: str, status: int | None, started: float, code: str | None) -> None:
        if self._observer is None:
            return
        try:
            self._observer.request(endpoint, status, time.monotonic() - started, code)
        except Exception:
            log.exception("request observer failed")

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        answer: type[PayloadT],
        *,
        body: BaseModel | None = None,
        headers: dict[str, str],
        params: dict[str, str] | None = None,
        creates_task: bool = False,
    ) -> PayloadT:
        started = time.monotonic()
        try:
            status, payload = await self._send(
                method,
                path,
                answer,
                body=body,
                headers=headers,
                params=params,
                creates_task=creates_task,
            )
        except ProviderError as error:
            self._observe(endpoint, error.status, started, error.code)
            raise
        self._observe(endpoint, status, started, None)
        return payload

    async def _send(
        self,
        method: str,
        path: str,
        answer: type[PayloadT],
        *,
        body: BaseModel | None,
        headers: dict[str, str],
        params: dict[str, str] | None,
        creates_task: bool,
    ) -> tuple[int, PayloadT]:
        data = body.model_dump_json().encode() if body is not None else None
        try:
            async with self._session.request(
                method,
                f"{self._base}{path}",
                data=data,
                headers=headers,
                params=params,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                status = response.status
        except aiohttp.ClientConnectorError as error:
            # No connection was made, so nothing was sent: certainly not accepted.
            raise ProviderTransientError("NetworkError", type(error).__name__) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            # A request that left the machine may have been acted on: a submit is then ambiguous.
            raise ProviderTransientError(
                "NetworkError", type(error).__name__, maybe_accepted=creates_task
            ) from None
        if status >= 400:
            raise self._error(status, raw)
        try:
            return status, answer.model_validate_json(raw)
        except ValidationError:
            raise ProviderTransientError(
                "MalformedAnswer",
                f"unexpected answer to {method} {path} (HTTP {status})",
                status=status,
                maybe_accepted=creates_task,
            ) from None

    @staticmethod
    def _error(status: int, raw: bytes) -> ProviderError:
        try:
            body = ErrorBody.model_validate_json(raw)
        except ValidationError:
            body = ErrorBody(code=f"HTTP{status}", message="")
        return error_for(status, body.code or f"HTTP{status}", body.message, body.request_id)

    async def upload_temporary(
        self, data: bytes, *, model: str, filename: str, content_type: str
    ) -> str:
        """Store ``data`` in DashScope's temporary storage for ``model``; return its oss:// URL."""
        answer = await self._call(
            "policy",
            "GET",
            "/uploads",
            UploadPolicyResponse,
            headers=self._headers(),
            params={"action": "getPolicy", "model": model},
        )
        policy = answer.data
        key = f"{policy.upload_dir}/{filename}"
        form = aiohttp.FormData()
        form.add_field("OSSAccessKeyId", policy.oss_access_key_id)
        form.add_field("Signature", policy.signature)
        form.add_field("policy", policy.policy)
        form.add_field("key", key)
        form.add_field("x-oss-object-acl", policy.x_oss_object_acl)
        form.add_field("x-oss-forbid-overwrite", policy.x_oss_forbid_overwrite)
        form.add_field("success_action_status", "200")
        form.add_field("x-oss-content-type", content_type)
        # OSS ignores every field after the file: it must come last.
        form.add_field("file", data, filename=filename, content_type=content_type)
        started = time.monotonic()
        try:
            async with self._session.post(
                policy.upload_host, data=form, timeout=self._timeout, allow_redirects=False
            ) as response:
                detail = (await response.read())[:200].decode("utf-8", "replace")
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self._observe("upload", None, started, "UploadFailed")
            raise ProviderTransientError("UploadFailed", type(error).__name__) from None
        self._observe("upload", status, started, None if status == 200 else "UploadFailed")
        if status != 200:
            # A policy expires in minutes; the caller retries with a fresh one.
            raise ProviderTransientError("UploadFailed", detail.strip(), status=status)
        return f"oss://{key}"

    async def detect_face(self, image_url: str, *, ratio: str) -> Detection:
        """Run ``emo-detect-v1``; a refused image raises ProviderInputError with its code."""
        request = DetectRequest(
            model=DETECT_MODEL,
            input=DetectInput(image_url=image_url),
            parameters=DetectParameters(ratio=ratio),
        )
        answer = await self._call(
            "detect",
            "POST",
            "/services/aigc/image2video/face-detect",
            DetectResponse,
            body=request,
            headers=self._headers(json_body=True, oss=image_url.startswith("oss://")),
        )
        output = answer.output
        # The provider may refuse as HTTP 400 (handled in _call) or as 200 with check_pass false.
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
        headers = self._headers(
            json_body=True,
            oss=image_url.startswith("oss://") or audio_url.startswith("oss://"),
        )
        headers[ASYNC_HEADER] = "enable"
        answer = await self._call(
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
        return await self._call(
            "task_query", "GET", f"/tasks/{task_id}", TaskResponse, headers=self._headers()
        )

    async def list_tasks(
        self, *, model: str, start: datetime, end: datetime, max_pages: int = 10
    ) -> TaskListing:
        """The account's tasks of ``model`` submitted between ``start`` and ``end``."""
        page_size = 100
        listed: list[ListedTask] = []
        trustworthy = True
        for page in range(1, max_pages + 1):
            answer = await self._call(
                "task_list",
                "GET",
                "/tasks",
                TaskListResponse,
                headers=self._headers(),
                params={
                    "model_name": model,
                    "start_time": _compact(start),
                    "end_time": _compact(end),
                    "page_no": str(page),
                    "page_size": str(page_size),
                },
            )
            listed.extend(answer.data)
            # Without a total the answer's shape is not the one we know: an empty list then
            # proves nothing.
            trustworthy = trustworthy and answer.total is not None
            if len(answer.data) < page_size:
                return TaskListing(tasks=listed, trustworthy=trustworthy)
        raise ProviderTransientError("TooManyTasks", f"more than {len(listed)} tasks listed")

    async def cancel_task(self, task_id: str) -> None:
        """Cancel a PENDING task; other states answer an error (UnsupportedOperation)."""
        await self._call(
            "cancel", "POST", f"/tasks/{task_id}/cancel", ErrorBody, headers=self._headers()
        )


@dataclass(frozen=True)
class TaskListing:
    tasks: list[ListedTask]
    trustworthy: bool  # the answer had the shape we know, so "not listed" means "not there"


def _compact(moment: datetime) -> str:
    """The task list's time format: Beijing time, ``YYYYMMDDhhmmss``."""
    return moment.astimezone(PROVIDER_TIMEZONE).strftime("%Y%m%d%H%M%S")


def transient(error: Exception) -> bool:
    """Worth another try: a transient error of a request that certainly created nothing."""
    return isinstance(error, ProviderTransientError) and not error.maybe_accepted


async def with_retries(
    attempt: Callable[[], Awaitable[ResultT]],
    *,
    retries: int,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
) -> ResultT:
    """Run ``attempt``, retrying transient provider errors with capped exponential backoff."""
    return await retrying(
        attempt,
        attempts=retries + 1,
        backoff=Backoff(first=base_delay, cap=max_delay),
        retry_if=transient,
        what="provider request",
    )
