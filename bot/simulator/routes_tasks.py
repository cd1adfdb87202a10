"""One task: query it (GET /tasks/{id}) and cancel it (POST /tasks/{id}/cancel), with any
key of the account that created it."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from .accounts import Account
from .answers import ok
from .context import SimContext
from .errors import ApiError
from .plumbing import RequestGate
from .records import CancelRecord
from .state import format_provider_time
from .tasks import SimTask

log = logging.getLogger(__name__)

CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."


class TaskRoutes:
    """Answers about one of an account's tasks, and cancels pending ones."""

    def __init__(self, ctx: SimContext, gate: RequestGate) -> None:
        self.ctx = ctx
        self.gate = gate

    async def query(self, request: web.Request) -> web.Response:
        """GET /tasks/{task_id}: the task's status; UNKNOWN if not this account's or expired.

        With the `running_status_alias` knob set, RUNNING is reported under that name."""
        caller = await self.gate.enter(request, "query", count=True)
        task_id = request.match_info["task_id"]
        task = self._own_task(caller.account, task_id)
        if task is None:
            return ok({"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        alias = self.ctx.state.knobs.running_status_alias
        output: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": alias if alias and task.status == "RUNNING" else task.status,
            "submit_time": format_provider_time(task.submitted_at),
        }
        if task.scheduled_at is not None:
            output["scheduled_time"] = format_provider_time(task.scheduled_at)
        if task.ended_at is not None:
            output["end_time"] = format_provider_time(task.ended_at)
        body: dict[str, Any] = {"output": output}
        if task.status == "SUCCEEDED":
            output["results"] = {"video_url": task.video_url}
            body["usage"] = {"video_duration": task.video_duration, "video_ratio": task.ratio}
        elif task.status == "FAILED":
            output["code"] = task.code
            output["message"] = task.message
        return ok(body)

    async def cancel(self, request: web.Request) -> web.Response:
        """POST /tasks/{task_id}/cancel: only PENDING tasks can be cancelled."""
        caller = await self.gate.enter(request, "cancel")
        body = await request.read()
        task_id = request.match_info["task_id"]
        task = self._own_task(caller.account, task_id)
        if task is None:
            raise ApiError(404, "NotFound", "The task does not exist or has expired.")
        previous = task.status
        accepted = self.ctx.scheduler.cancel(task)
        self.ctx.state.cancels.append(
            CancelRecord(
                account=caller.account.account_id,
                api_key_id=caller.api_key_id,
                task_id=task_id,
                previous_status=previous,
                accepted=accepted,
                at=self.ctx.state.clock.now(),
                content_type=request.headers.get("Content-Type"),
                body_length=len(body),
            )
        )
        if not accepted:
            raise ApiError(400, "UnsupportedOperation", CANCEL_REFUSED)
        return ok({})

    def _own_task(self, account: Account, task_id: str) -> SimTask | None:
        state = self.ctx.state
        task = state.tasks.get(task_id)
        if task is None or task.account != account.account_id or not state.task_alive(task):
            return None
        return task
