"""The batch task query (``GET /tasks``), read to its end and trusted only when complete.

Every page up to ``total_page`` is read, whatever page size the server chose; the answer is
complete only when the rows collected (each task once) add up to ``total`` and every page
told the same total. Rows under another key than ``data``, a missing ``total``, or a count
that does not add up make it incomplete: the caller must then not conclude anything from a
task's absence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.provider.models import PROVIDER_TIMEZONE, ListedTask, TaskListResponse
from bot.provider.retries import with_retries
from bot.provider.transport import Transport

PAGE_SIZE = 100  # asked for; the server may answer fewer rows a page
MAX_PAGES = 500  # a bound on one listing
PAGE_RETRIES = 4  # a throttled or failed page is asked again, not the whole listing


@dataclass(frozen=True)
class TaskListing:
    tasks: list[ListedTask] = field(default_factory=list)
    complete: bool = False  # every row the server counted was read, in the known shape
    problem: str = ""  # why it is not complete (for the log)
    pages: int = 0


def compact(moment: datetime) -> str:
    """The task list's time format: Beijing time, ``YYYYMMDDhhmmss``."""
    return moment.astimezone(PROVIDER_TIMEZONE).strftime("%Y%m%d%H%M%S")


async def list_tasks(
    transport: Transport,
    *,
    model: str,
    start: datetime,
    end: datetime,
    api_key_id: str | None = None,
    pace: Callable[[], Awaitable[None]] | None = None,
) -> TaskListing:
    """Every task of ``model`` the account's list holds between ``start`` and ``end``;
    ``pace`` is awaited before each page (the shared query budget)."""
    rows: dict[str, ListedTask] = {}
    total: int | None = None
    page = 0
    while True:
        page += 1
        if page > MAX_PAGES:
            return TaskListing(list(rows.values()), False, f"more than {MAX_PAGES} pages", page)
        params = {
            "model_name": model,
            "start_time": compact(start),
            "end_time": compact(end),
            "page_no": str(page),
            "page_size": str(PAGE_SIZE),
        }
        if api_key_id is not None:
            params["api_key_id"] = api_key_id

        async def fetch(params: dict[str, str] = params) -> TaskListResponse:
            if pace is not None:
                await pace()
            return await transport.call(
                "task_list",
                "GET",
                "/tasks",
                TaskListResponse,
                headers=transport.headers(),
                params=params,
            )

        answer = await with_retries(fetch, retries=PAGE_RETRIES)
        problem = _shape_problem(answer, total)
        if problem:
            return TaskListing(list(rows.values()), False, problem, page)
        assert answer.total is not None
        total = answer.total
        found = answer.data or []
        for row in found:
            rows[row.task_id] = row
        last = page >= answer.total_page if answer.total_page is not None else not found
        if last or (answer.total_page is None and len(rows) >= total):
            break
    if len(rows) != total:
        return TaskListing(list(rows.values()), False, f"{len(rows)} tasks of {total}", page)
    return TaskListing(list(rows.values()), True, "", page)


def _shape_problem(answer: TaskListResponse, total: int | None) -> str:
    if answer.foreign_rows:
        return f"rows under {', '.join(answer.foreign_rows)}, not data"
    if answer.total is None:
        return "no total"
    if total is not None and answer.total != total:
        return f"the total moved from {total} to {answer.total} while paging"
    return ""
