"""Request plumbing shared by the routes: JSON bodies, model checks, headers, and the gate
in front of every API call (latency, auth, arrears, injected failures, throttling)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .accounts import Account, Caller, api_key_id_for
from .answers import first_error
from .context import SimContext
from .errors import ApiError
from .injections import Endpoint, InjectedFailure
from .payloads import KNOWN_MODELS

log = logging.getLogger(__name__)

BEIJING = timezone(timedelta(hours=8))
ARREARAGE = "Access denied, please make sure your account is in good standing."

_Model = TypeVar("_Model", bound=BaseModel)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400."""
    if request.content_type != "application/json":
        raise ApiError(400, "InvalidParameter", "Content-Type must be application/json.")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "InvalidParameter", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidParameter", "The request body must be a JSON object.")
    return body


def check_model(body: Mapping[str, Any], expected: str) -> None:
    """Refuse a missing, unknown or wrong model the way the provider does."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "InvalidParameter", "Model not specified.")
    if model not in KNOWN_MODELS:
        raise ApiError(404, "ModelNotFound", "Model not exist.")
    if model != expected:
        raise ApiError(
            400,
            "InvalidParameter",
            f"Model {model} is not supported by this API: use {expected}.",
        )


def parse(model: type[_Model], body: Mapping[str, Any]) -> _Model:
    """Validate a body against a model; the first error becomes a 400."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ApiError(400, "InvalidParameter", first_error(exc)) from exc


def async_header(request: web.Request) -> bool:
    """Whether the request asks for an asynchronous call (X-DashScope-Async: enable)."""
    return request.headers.get("X-DashScope-Async", "").strip().lower() == "enable"


def resolve_header(request: web.Request) -> bool:
    """Whether oss:// inputs may be resolved (X-DashScope-OssResourceResolve: enable)."""
    value = request.headers.get("X-DashScope-OssResourceResolve", "")
    return value.strip().lower() == "enable"


class RequestGate:
    """What stands in front of every API call: latency, auth, forced failures, throttling."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    def authenticate(self, request: web.Request) -> Caller:
        """The caller (account and key id), or a 401 for a missing or unknown API key."""
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        account = self.ctx.state.account(key) if scheme.lower() == "bearer" else None
        if account is None:
            raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")
        return Caller(account=account, api_key_id=api_key_id_for(key))

    @staticmethod
    def check_standing(caller: Caller) -> None:
        """A 400 Arrearage while the caller's account is in arrears."""
        if caller.account.arrears:
            raise ApiError(400, "Arrearage", ARREARAGE)

    def inject(self, endpoint: Endpoint) -> InjectedFailure | None:
        """Take a queued forced failure for this endpoint (the caller decides how to answer)."""
        failure = self.ctx.state.injections.take(endpoint)
        if failure is not None:
            log.info("injecting %s %s on %s", failure.status, failure.code, endpoint)
        return failure

    def throttle(self, account: Account, endpoint: Endpoint, scope: str = "") -> None:
        """A 429 (with retry hints) when the account is over its limit for this endpoint."""
        state = self.ctx.state
        knobs = state.knobs
        limits = knobs.rate_limits
        limit = {
            "policy": limits.policy,
            "detect": limits.detect,
            "submit": limits.submit,
            "query": limits.query,
            "cancel": limits.cancel,
        }.get(endpoint)
        key = (account.account_id, endpoint, scope)
        wait = state.limiter.check(key, limit, knobs.rate_window_seconds)
        if wait is not None:
            state.throttled[endpoint] = state.throttled.get(endpoint, 0) + 1
            raise ApiError(
                429,
                "Throttling.RateQuota",
                "Requests rate limit exceeded, please try again later.",
                retry_after=wait,
            )

    async def enter(
        self, request: web.Request, endpoint: Endpoint, *, scope: str = "", count: bool = False
    ) -> Caller:
        """Common front of every API call: latency, auth, standing, forced failure,
        throttling. Polls (and task lists) are counted once authenticated, in arrears or
        not, throttled or not."""
        state = self.ctx.state
        if state.knobs.api_latency_seconds:
            await asyncio.sleep(state.knobs.api_latency_seconds)
        caller = self.authenticate(request)
        if count:
            task_id = request.match_info.get("task_id")
            if task_id is None:
                state.list_calls += 1
            else:
                state.query_count.add(task_id)
        self.check_standing(caller)
        failure = self.inject(endpoint)
        if failure is not None:
            raise ApiError(
                failure.status, failure.code, failure.message, retry_after=failure.retry_after
            )
        self.throttle(caller.account, endpoint, scope)
        return caller
