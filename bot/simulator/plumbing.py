"""Request plumbing shared by the routes: error middleware, auth, injected failures,
throttling, JSON bodies and answers."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta, timezone
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from .context import SimContext
from .errors import ApiError, OssError, oss_error_xml
from .payloads import KNOWN_MODELS
from .state import Account, Endpoint, InjectedFailure

log = logging.getLogger(__name__)

API = "/api/v1"
BEIJING = timezone(timedelta(hours=8))

_Model = TypeVar("_Model", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_request_id() -> str:
    """A fresh request id, as every provider answer carries."""
    return str(uuid.uuid4())


def json_answer(status: int, body: Mapping[str, Any]) -> web.Response:
    """A JSON response with this status and body."""
    return web.json_response(dict(body), status=status)


def ok(body: Mapping[str, Any]) -> web.Response:
    """A 200 answer: the body plus a fresh request id."""
    return json_answer(200, {"request_id": new_request_id(), **body})


def first_error(exc: ValidationError) -> str:
    """The provider-style message for the first validation error."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"Invalid parameter {where}: {error['msg']}" if where else str(error["msg"])


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn raised errors into the provider's JSON bodies or OSS's XML ones."""
    try:
        return await handler(request)
    except ApiError as exc:
        log.debug("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
        return json_answer(
            exc.status,
            {"code": exc.code, "message": exc.message, "request_id": new_request_id()},
        )
    except OssError as exc:
        log.debug("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
        return web.Response(
            status=exc.status,
            text=oss_error_xml(exc.code, exc.message, new_request_id()),
            content_type="application/xml",
        )
    except web.HTTPException as exc:
        if not request.path.startswith(f"{API}/"):
            raise
        code = "NotFound" if exc.status == 404 else "InvalidParameter"
        return json_answer(
            exc.status, {"code": code, "message": exc.reason, "request_id": new_request_id()}
        )
    except Exception:
        log.exception("simulator handler failed: %s %s", request.method, request.path)
        return json_answer(
            500,
            {
                "code": "InternalError",
                "message": "An internal error has occured, please try again later.",
                "request_id": new_request_id(),
            },
        )


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

    def authenticate(self, request: web.Request) -> Account:
        """The caller's account, or a 401 for a missing or unknown API key."""
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        api_keys = self.ctx.api_keys
        if scheme.lower() != "bearer" or not key or (api_keys is not None and key not in api_keys):
            raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")
        return self.ctx.state.account(key)

    def inject(self, endpoint: Endpoint) -> InjectedFailure | None:
        """Take a queued forced failure for this endpoint (the caller decides how to answer)."""
        failure = self.ctx.state.injections.take(endpoint)
        if failure is not None:
            log.info("injecting %s %s on %s", failure.status, failure.code, endpoint)
        return failure

    def throttle(self, account: Account, endpoint: Endpoint, scope: str = "") -> None:
        """A 429 when the account is over its rate limit for this endpoint."""
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
        if not state.limiter.allow(key, limit, knobs.rate_window_seconds):
            state.throttled[endpoint] = state.throttled.get(endpoint, 0) + 1
            raise ApiError(
                429,
                "Throttling.RateQuota",
                "Requests rate limit exceeded, please try again later.",
            )

    async def enter(
        self, request: web.Request, endpoint: Endpoint, *, scope: str = "", count: bool = False
    ) -> Account:
        """Common front of every API call: latency, auth, forced failure, throttling."""
        state = self.ctx.state
        if state.knobs.api_latency_seconds:
            await asyncio.sleep(state.knobs.api_latency_seconds)
        account = self.authenticate(request)
        if count:
            state.query_count.add(request.match_info.get("task_id", ""))
        failure = self.inject(endpoint)
        if failure is not None:
            raise ApiError(failure.status, failure.code, failure.message)
        self.throttle(account, endpoint, scope)
        return account
