"""The batch task list (GET /tasks), shaped as the real service answers it: rows under
`data` with `status`, `api_key_id`, `caller_uid` and times in milliseconds since the epoch,
for the whole account (every key), newest first, in pages the server caps."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from aiohttp import web

from .accounts import Account
from .answers import ok
from .context import SimContext
from .errors import ApiError
from .plumbing import BEIJING, RequestGate
from .state import epoch_ms
from .tasks import SimTask

log = logging.getLogger(__name__)

REGION = "cn-beijing"


def parse_compact_time(text: str | None) -> float | None:
    """``20250911143338`` (Beijing time) as a unix time; None when absent."""
    if not text:
        return None
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()


def list_row(task: SimTask, account: Account) -> dict[str, Any]:
    """One task as a row of the list; `start_time` and `end_time` only once they happened."""
    row: dict[str, Any] = {
        "task_id": task.task_id,
        "status": task.status,
        "model_name": task.model,
        "api_key_id": task.api_key_id,
        "caller_uid": account.uid,
        "caller_parent_id": account.uid,
        "region": REGION,
        "request_id": task.request_id,
        "gmt_create": epoch_ms(task.submitted_at),
    }
    if task.scheduled_at is not None:
        row["start_time"] = epoch_ms(task.scheduled_at)
    if task.ended_at is not None:
        row["end_time"] = epoch_ms(task.ended_at)
    return row


class TaskListRoutes:
    """Lists an account's tasks."""

    def __init__(self, ctx: SimContext, gate: RequestGate) -> None:
        self.ctx = ctx
        self.gate = gate

    async def list_tasks(self, request: web.Request) -> web.Response:
        """GET /tasks: the account's tasks created in a time range (`start_time`/`end_time`,
        Beijing time, YYYYMMDDhhmmss; default the last 24 h), optionally of one
        `model_name`, `status` and `api_key_id`; newest first; `page_no` from 1, the page
        size capped by the `list_page_size_cap` knob."""
        caller = await self.gate.enter(request, "query", count=True)
        account = caller.account
        state = self.ctx.state
        knobs = state.knobs
        query = request.query
        now = state.clock.now()
        try:
            start = parse_compact_time(query.get("start_time")) or now - 86_400
            end = parse_compact_time(query.get("end_time")) or now
            page_no = max(1, int(query.get("page_no", "1")))
            asked = max(1, int(query.get("page_size", "10")))
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"Bad task list parameter: {exc}") from exc
        page_size = min(asked, knobs.list_page_size_cap)
        model = query.get("model_name")
        status = query.get("status")
        key_id = query.get("api_key_id")
        found = [
            task
            for task in state.tasks.values()
            if task.account == account.account_id
            and state.task_alive(task)
            and start <= task.submitted_at <= end
            and (model is None or task.model == model)
            and (status is None or task.status == status)
            and (key_id is None or task.api_key_id == key_id)
        ]
        found.sort(key=lambda task: task.submitted_at, reverse=True)
        page = found[(page_no - 1) * page_size : page_no * page_size]
        body: dict[str, Any] = {
            knobs.list_rows_key: [list_row(task, account) for task in page],
            "page_no": page_no,
            "page_size": page_size,
        }
        if not knobs.list_omit_total:
            body["total"] = len(found)
            body["total_page"] = -(-len(found) // page_size)
        return ok(body)
