"""One DashScope request: authentication, the answer parsed into its model, every error
answer typed (with the provider's request id and retry hints), and each request observed."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

import aiohttp
from pydantic import BaseModel, SecretStr, ValidationError

from bot.provider.errors import ProviderError, ProviderTransientError, error_for
from bot.provider.models import ErrorBody

log = logging.getLogger(__name__)

PayloadT = TypeVar("PayloadT", bound=BaseModel)

RESOLVE_HEADER = "X-DashScope-OssResourceResolve"
ASYNC_HEADER = "X-DashScope-Async"
REQUEST_ID_HEADER = "X-Request-ID"
MAX_RETRY_AFTER = 60.0  # a hint is honoured up to this many seconds


class RequestObserver(Protocol):
    """Told of every provider request once it ends (for metrics); must not block.

    ``endpoint`` is one of policy, upload, detect, submit, task_query, task_list, cancel;
    ``status`` is None when no HTTP answer came; ``code`` names the error, None on success.
    """

    def request(self, endpoint: str, status: int | None, seconds: float, code: str | None) -> None:
        """Record one finished request."""


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The wait the provider asked for (``retry-after-ms``, else ``Retry-After`` in seconds
    or as an HTTP date), within [0, MAX_RETRY_AFTER]; None when it asked for none."""
    seconds: float | None = None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            seconds = float(milliseconds) / 1000
        except ValueError:
            seconds = None
    text = headers.get("Retry-After")
    if seconds is None and text is not None:
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(text).timestamp() - time.time()
            except (TypeError, ValueError):
                seconds = None
    return None if seconds is None else min(max(seconds, 0.0), MAX_RETRY_AFTER)


def should_retry(headers: Mapping[str, str]) -> bool | None:
    """The provider's ``x-should-retry`` verdict, if it gave one."""
    value = headers.get("x-should-retry", "").strip().lower()
    return {"true": True, "false": False}.get(value)


class Transport:
    """Sends requests to one DashScope endpoint with one key."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: SecretStr,
        *,
        timeout_seconds: float = 60.0,
        observer: RequestObserver | None = None,
    ) -> None:
        self.session = session
        self._observer = observer
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    @property
    def base_url(self) -> str:
        """The endpoint's base URL, as configured (without a trailing slash)."""
        return self._base

    def headers(self, *, json_body: bool = False, oss: bool = False) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        if oss:
            headers[RESOLVE_HEADER] = "enable"
        return headers

    def observe(self, endpoint: str, status: int | None, started: float, code: str | None) -> None:
        if self._observer is None:
            return
        try:
            self._observer.request(endpoint, status, time.monotonic() - started, code)
        except Exception:
            log.exception("request observer failed")

    async def call(
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
        """Send one request and parse its answer; raise the typed ProviderError. A request
        without a body carries no Content-Type either (aiohttp would add one)."""
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
            self.observe(endpoint, error.status, started, error.code)
            raise
        self.observe(endpoint, status, started, None)
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
            async with self.session.request(
                method,
                f"{self._base}{path}",
                data=data,
                headers=headers,
                params=params,
                timeout=self.timeout,
                allow_redirects=False,
                skip_auto_headers=() if data is not None else ("Content-Type",),
            ) as response:
                raw = await response.read()
                status = response.status
                answer_headers = response.headers
        except aiohttp.ClientConnectorError as error:
            # No connection was made, so nothing was sent: certainly not accepted.
            raise ProviderTransientError("NetworkError", type(error).__name__) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            # A request that left the machine may have been acted on: a submit is then ambiguous.
            raise ProviderTransientError(
                "NetworkError", type(error).__name__, maybe_accepted=creates_task
            ) from None
        if status >= 400:
            raise _error(status, raw, answer_headers)
        try:
            return status, answer.model_validate_json(raw)
        except ValidationError:
            raise ProviderTransientError(
                "MalformedAnswer",
                f"unexpected answer to {method} {path} (HTTP {status})",
                status=status,
                request_id=answer_headers.get(REQUEST_ID_HEADER, ""),
                maybe_accepted=creates_task,
            ) from None


def _error(status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
    try:
        body = ErrorBody.model_validate_json(raw)
    except ValidationError:
        body = ErrorBody()
    return error_for(
        status,
        body.code or f"HTTP{status}",
        body.text,
        body.request_id or headers.get(REQUEST_ID_HEADER, ""),
        retry_after=retry_after(headers),
        should_retry=should_retry(headers),
    )
