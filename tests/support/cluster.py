"""What the cluster tests read: the jobs in the shared PostgreSQL, the provider's tasks in
flight over time, and the result posts on the fake Discord."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg

from bot.simulator import Simulator
from tests.fake_discord import FakeDiscord, FakeMessage

FINAL_STATES = frozenset({"delivered", "rejected", "failed", "canceled", "expired"})
TERMINAL_TASK = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
RESULT_MARK = re.compile(r"job #(\d+)\)")  # the result text ends "(4.4 s, job #12)."


@dataclass(frozen=True)
class JobRow:
    id: int
    state: str
    error_key: str | None
    guild_id: int | None
    channel_id: int
    user_id: int
    image_source_url: str  # the member's attachment on Discord's CDN: unique per command
    image_url: str | None  # the re-hosted input the provider fetched: unique per job
    task_id: str | None
    message_id: int | None


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=5) as connection:
        return list(connection.execute(sql, params).fetchall())


def jobs(url: str) -> dict[int, JobRow]:
    rows = query(
        url,
        "SELECT id, state, error_key, guild_id, channel_id, user_id, image_source_url,"
        " image_url, task_id, message_id FROM jobs ORDER BY id",
    )
    return {int(r[0]): JobRow(*r) for r in rows}


def history(url: str, job_id: int) -> list[str]:
    rows = query(url, "SELECT to_state FROM job_events WHERE job_id = %s ORDER BY id", (job_id,))
    return [str(r[0]) for r in rows]


def peak_in_flight(simulator: Simulator) -> int:
    """The most tasks the provider held at once (accepted, not yet terminal)."""
    edges: list[tuple[float, int]] = []
    for task in simulator.tasks.values():
        ended = next((c.at for c in task.history if c.status in TERMINAL_TASK), None)
        edges.append((task.submitted_at, 1))
        if ended is not None:
            edges.append((ended, -1))
    peak = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # ends first on a tie
        current += step
        peak = max(peak, current)
    return peak


def result_posts(fake: FakeDiscord, channels: Iterable[int]) -> dict[int, list[FakeMessage]]:
    """Result posts (a video, or a link when too large) by job id, across the channels."""
    found: dict[int, list[FakeMessage]] = {}
    for channel in channels:
        for message in fake.messages(channel):
            if message.author_id != fake.bot_user_id:
                continue
            mark = RESULT_MARK.search(message.content)
            if mark and (message.files or "http" in message.content):
                found.setdefault(int(mark.group(1)), []).append(message)
    return found


def submits_per_job(simulator: Simulator, rows: dict[int, JobRow]) -> dict[int, int]:
    """How many provider tasks each job has (matched by its unique re-hosted image)."""
    by_image = {row.image_url: row.id for row in rows.values() if row.image_url}
    counts: dict[int, int] = {}
    for submission in simulator.submissions:
        job_id = by_image.get(submission.image_url, -1)
        counts[job_id] = counts.get(job_id, 0) + 1
    return counts


def crash_knobs(simulator: Simulator, *, running: int) -> None:
    """Fast renders and no throttling, ``running`` tasks at once per account: for the tests
    whose subject is crashes, not rate limits."""
    unlimited = {"policy": 10_000, "detect": 10_000, "submit": 10_000, "query": 10_000}
    simulator.update_knobs(
        render_seconds_per_audio_second=0.05,
        render_overhead_seconds=0.5,
        max_running_per_account=running,
        rate_limits=unlimited,
    )
