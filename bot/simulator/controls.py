"""Test controls: the /_sim endpoints (state snapshot, knobs, forced failures, clock, arrears)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from .accounts import Account
from .answers import first_error, ok
from .context import SimContext
from .errors import ApiError
from .injections import Endpoint, InjectedFailure, InjectedTaskFailure
from .knobs import SimulatorKnobs, apply_changes
from .plumbing import json_body, parse
from .records import (
    CancelRecord,
    DetectionRecord,
    PolicyRecord,
    QueryCount,
    SubmissionRecord,
    UploadRecord,
)
from .tasks import SimTask

log = logging.getLogger(__name__)


class FailNextRequest(BaseModel):
    """Body of POST /_sim/fail_next."""

    endpoint: Endpoint
    status: int = Field(ge=200, le=599)
    code: str
    message: str
    times: int = Field(default=1, ge=1)
    retry_after: float | None = Field(default=None, ge=0)


class FailNextTaskRequest(BaseModel):
    """Body of POST /_sim/fail_next_task."""

    code: str = "InternalError.Algo"
    message: str = "Simulated algorithm failure."
    times: int = Field(default=1, ge=1)


class AdvanceTimeRequest(BaseModel):
    """Body of POST /_sim/advance_time."""

    seconds: float = Field(ge=0)


class ArrearsRequest(BaseModel):
    """Body of POST /_sim/arrears: an account (label, id or API key) and its standing."""

    account: str
    arrears: bool = True


class SimStateSnapshot(BaseModel):
    """Everything GET /_sim/state reports."""

    now: float
    knobs: SimulatorKnobs
    accounts: list[Account]
    tasks: list[SimTask]
    submissions: list[SubmissionRecord]
    uploads: list[UploadRecord]
    policies: list[PolicyRecord]
    detections: list[DetectionRecord]
    cancels: list[CancelRecord]
    query_count: QueryCount


class ControlRoutes:
    """Lets a test or an operator inspect and steer the simulator over HTTP."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx

    def snapshot(self) -> SimStateSnapshot:
        """Everything the simulator knows, for out-of-process inspection."""
        state = self.ctx.state
        return SimStateSnapshot(
            now=state.clock.now(),
            knobs=state.knobs,
            accounts=list(state.accounts.values()),
            tasks=list(state.tasks.values()),
            submissions=state.submissions,
            uploads=list(state.uploads.values()),
            policies=state.policies,
            detections=state.detections,
            cancels=state.cancels,
            query_count=state.query_count,
        )

    def update_knobs(self, changes: Mapping[str, Any]) -> SimulatorKnobs:
        """Apply a partial knob update and let the scheduler see it at once."""
        knobs = apply_changes(self.ctx.state.knobs, changes)
        self.ctx.scheduler.wake()
        return knobs

    async def sim_state(self, request: web.Request) -> web.Response:
        """GET /_sim/state."""
        return web.json_response(text=self.snapshot().model_dump_json())

    async def sim_get_knobs(self, request: web.Request) -> web.Response:
        """GET /_sim/knobs."""
        return web.json_response(text=self.ctx.state.knobs.model_dump_json())

    async def sim_set_knobs(self, request: web.Request) -> web.Response:
        """POST /_sim/knobs with a partial JSON object."""
        body = await json_body(request)
        try:
            knobs = self.update_knobs(body)
        except ValidationError as exc:
            raise ApiError(400, "InvalidParameter", first_error(exc)) from exc
        return web.json_response(text=knobs.model_dump_json())

    async def sim_fail_next(self, request: web.Request) -> web.Response:
        """POST /_sim/fail_next {endpoint, status, code, message, times, retry_after}."""
        req = parse(FailNextRequest, await json_body(request))
        self.ctx.state.injections.add(
            req.endpoint,
            InjectedFailure(
                status=req.status,
                code=req.code,
                message=req.message,
                remaining=req.times,
                retry_after=req.retry_after,
            ),
        )
        return ok({})

    async def sim_fail_next_task(self, request: web.Request) -> web.Response:
        """POST /_sim/fail_next_task {code, message, times}."""
        req = parse(FailNextTaskRequest, await json_body(request))
        self.ctx.state.injections.tasks.append(
            InjectedTaskFailure(code=req.code, message=req.message, remaining=req.times)
        )
        return ok({})

    async def sim_advance_time(self, request: web.Request) -> web.Response:
        """POST /_sim/advance_time {seconds}: jump the simulated clock forward."""
        req = parse(AdvanceTimeRequest, await json_body(request))
        self.ctx.state.clock.advance(req.seconds)
        self.ctx.scheduler.wake()
        return ok({"now": self.ctx.state.clock.now()})

    async def sim_arrears(self, request: web.Request) -> web.Response:
        """POST /_sim/arrears {account, arrears}: refuse (or again serve) an account's calls."""
        req = parse(ArrearsRequest, await json_body(request))
        try:
            found = self.ctx.state.set_arrears(req.account, req.arrears)
        except KeyError as exc:
            raise ApiError(404, "NotFound", f"No such account: {req.account}.") from exc
        return ok({"account_id": found.account_id, "arrears": found.arrears})

    def add_routes(self, app: web.Application) -> None:
        """Register the /_sim endpoints."""
        app.router.add_get("/_sim/state", self.sim_state)
        app.router.add_get("/_sim/knobs", self.sim_get_knobs)
        app.router.add_post("/_sim/knobs", self.sim_set_knobs)
        app.router.add_post("/_sim/fail_next", self.sim_fail_next)
        app.router.add_post("/_sim/fail_next_task", self.sim_fail_next_task)
        app.router.add_post("/_sim/advance_time", self.sim_advance_time)
        app.router.add_post("/_sim/arrears", self.sim_arrears)
