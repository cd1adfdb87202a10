"""Tasks: query one (GET /tasks/{id}), list them (GET /tasks), cancel one (POST .../cancel)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from .context import SimContext
from .errors import ApiError
from .plumbing import BEIJING, RequestGate, ok
from .state import Account, CancelRecord, SimTask, format_provider_time

log = logging.getLogger(__name__)

CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."


def _parse_compact_time(text: str | None) -> float | None:
    """``20250911143338`` (Beijing time) as a unix time; None when absent."""
    if not text:
        return None
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()


class TaskRoutes:
    """Answers about an account's tasks, and cancels pending ones."""

    def __init__(self, ctx: SimContext, gate: RequestGate) -> None:
        self.ctx = ctx
        self.gate = gate

    async def query(self, request: web.Request) -> web.Response:
        """GET /tasks/{task_id}: the task's status; UNKNOWN if not this account's or expired."""
        account = await self.gate.enter(request, "query", count=True)
        task_id = request.match_info["task_id"]
        task = self._own_task(account, task_id)
        if task is None:
            return ok({"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        output: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": task.status,
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

    async def list_tasks(self, request: web.Request) -> web.Response:
        """GET /tasks: the account's tasks in a time range (Beijing time, YYYYMMDDhhmmss),
        optionally of one model and status, newest first, paged. The real endpoint's exact
        fields are not confirmed (see docs/architecture.md); the bot parses it tolerantly."""
        account = await self.gate.enter(request, "query")
        state = self.ctx.state
        query = request.query
        now = state.clock.now()
        try:
            start = _parse_compact_time(query.get("start_time")) or now - 86_400
            end = _parse_compact_time(query.get("end_time")) or now
            page_no = max(1, int(query.get("page_no", "1")))
            page_size = min(100, max(1, int(query.get("page_size", "10"))))
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"Bad task list parameter: {exc}") from exc
        model = query.get("model_name")
        status = query.get("status")
        found = [
            task
            for task in state.tasks.values()
            if task.account == account.account_id
            and state.task_alive(task)
            and start <= task.submitted_at <= end
            and (model is None or task.model == model)
            and (status is None or task.status == status)
        ]
        found.sort(key=lambda task: task.submitted_at, reverse=True)
        page = found[(page_no - 1) * page_size : page_no * page_size]
        return ok(
            {
                "data": [
                    {
                        "task_id": task.task_id,
                        "status": task.status,
                        "model_name": task.model,
                        "gmt_create": int(task.submitted_at * 1000),
                        "submit_time": format_provider_time(task.submitted_at),
                    }
                    for task in page
                ],
                "total": len(found),
                "total_page": -(-len(found) // page_size),
                "page_no": page_no,
                "page_size": page_size,
            }
        )

    async def cancel(self, request: web.Request) -> web.Response:
        """POST /tasks/{task_id}/cancel: only PENDING tasks can be cancelled."""
        account = await self.gate.enter(request, "cancel")
        task_id = request.match_info["task_id"]
        task = self._own_task(account, task_id)
        if task is None:
            raise ApiError(404, "NotFound", "The task does not exist or has expired.")
        previous = task.status
        accepted = self.ctx.scheduler.cancel(task)
        self.ctx.state.cancels.append(
            CancelRecord(
                account=account.account_id,
                task_id=task_id,
                previous_status=previous,
                accepted=accepted,
                at=self.ctx.state.clock.now(),
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
