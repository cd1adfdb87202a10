"""One bot process of ``bench/cluster.py``: the real core on the shared PostgreSQL, with the
queue benchmark's scaled engine settings and its own EMO_INSTANCE_NAME, taking in its share
of the arrivals. Configured by one JSON line on stdin by the parent; answers with one."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from bench.prepare import peak_rss_mb
from bench.queue import KEY, Arrival, Scenario, engine_settings, query_budget
from bot.jobs.budget import QueryBudget
from bot.provider.models import TaskResponse, TaskStatus
from bot.simulator import Simulator

FINAL_POLL = 0.2  # wall seconds between a child's looks at whether every job is final
PROBE = "bench-probe"  # a signal topic of our own: how long a NOTIFY takes to arrive
CHILD_GRACE = 60.0  # wall seconds a child may take beyond three times its work's length
KEPT_WARNINGS = 20  # log records of WARNING and above a child sends back


@dataclass(frozen=True)
class _RemoteProvider:
    """All ``running_engine`` reads of a Simulator: its address (it runs in the parent)."""

    base_url: str


class _Captured(logging.Handler):
    """The duties' log (who took which duty, when) and every warning of the bot's."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.duties: list[tuple[float, str]] = []
        self.warnings: list[str] = []
        self.warning_count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.warning_count += 1
            if len(self.warnings) < KEPT_WARNINGS:
                self.warnings.append(f"{record.name}: {record.getMessage()}"[:300])
        if record.name == "bot.cluster.duties":
            self.duties.append((record.created, record.getMessage()))


@dataclass
class ProcessReport:
    """What one child saw, on the wall clock (time.time(), as the simulator's)."""

    instance: str
    created: list[dict[str, Any]]  # index, guild, arrived, queued, job_id, task_id
    posted: dict[int, float]  # job id -> when its result was posted here
    seen_done: dict[str, float]  # task id -> when a poll here first saw it SUCCEEDED
    answers: dict[str, int]  # task queries made here, by the status they answered
    held_at_ready: list[str]
    duties: list[tuple[float, str]]  # (when, what the duties' log said)
    probes_heard: list[float]  # seconds each other process's probe signal took
    warnings: list[str]
    warning_count: int
    ready_at: float
    seconds: float
    peak_mb: float


async def _arrive_from(
    start: float,
    arrivals: Sequence[Arrival],
    scale: float,
    enqueue: Callable[[Arrival], Awaitable[None]],
) -> None:
    """Call ``enqueue`` for each arrival at ``start`` + its time (scaled), on the wall clock."""
    for arrival in sorted(arrivals, key=lambda a: (a.at, a.index)):
        delay = start + arrival.at * scale - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await enqueue(arrival)


async def run_process(config: dict[str, Any], go: Callable[[], Awaitable[float]]) -> ProcessReport:
    """One bot process of several: the core on the shared database, taking in its share."""
    from tests.support.engine import running_engine  # the engine harness, only in a child

    captured = _Captured()
    bot_log = logging.getLogger("bot")
    bot_log.setLevel(logging.INFO)
    bot_log.addHandler(captured)
    scale = float(config["scale"])
    arrivals = [Arrival(**item) for item in config["arrivals"]]
    total = int(config["total"])
    instance = str(config["instance"])
    created: dict[int, dict[str, Any]] = {}
    seen_done: dict[str, float] = {}
    answers: Counter[str] = Counter()
    heard: list[float] = []
    settings: dict[str, object] = {
        **engine_settings(scale),
        "emo_database_url": config["database_url"],
        "emo_instance_name": instance,
        "emo_ops_bind": "off",  # one port per host: the processes would fight for it
    }
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as folder:
        provider = cast(Simulator, _RemoteProvider(config["base_url"]))
        async with running_engine(provider, Path(folder), KEY, **settings) as harness:
            core = harness.core
            started = time.perf_counter()
            core.engine.poller.budget = QueryBudget(query_budget(scale))  # as bench/queue.py
            client = core.client
            get_task = client.get_task

            async def observed(task_id: str) -> TaskResponse:
                answer = await get_task(task_id)
                answers[answer.output.task_status.value] += 1
                if answer.output.task_status is TaskStatus.SUCCEEDED:
                    seen_done.setdefault(task_id, time.time())
                return answer

            client.get_task = observed  # type: ignore[method-assign]

            def probe_heard(argument: str) -> None:
                sender, _, sent = argument.partition("@")
                if sender != instance:
                    heard.append(time.time() - float(sent))

            core.signals.on(PROBE, probe_heard)
            await harness.inputs()
            held = sorted(core.duties.held) if core.duties is not None else []
            ready_at = time.time()
            start = await go()

            async def enqueue(arrival: Arrival) -> None:
                arrived = time.time()
                job = await harness.enqueue_prepared(guild_id=arrival.guild, user_id=arrival.user)
                # The harness rings only this process's dispatcher (``service.wake``); the
                # bot's own intake signals whichever process dispatches, so do as it does.
                core.engine.wake_dispatch()
                core.signals.send(PROBE, f"{instance}@{time.time():.6f}")
                created[job.id] = {
                    "index": arrival.index,
                    "guild": arrival.guild,
                    "arrived": arrived,
                    "queued": time.time(),
                    "job_id": job.id,
                    "task_id": None,
                }

            await _arrive_from(start, arrivals, scale, enqueue)
            renders = total * Scenario().render_seconds * scale
            deadline = start + 3 * renders + CHILD_GRACE
            while time.time() < deadline:
                counts = await core.jobs.count_by_state()
                live = sum(n for state, n in counts.items() if not state.is_terminal)
                if live == 0 and sum(counts.values()) >= total:
                    break
                await asyncio.sleep(FINAL_POLL)
            to_wall = time.time() - time.monotonic()
            posted = {d.job_id: d.at + to_wall for d in harness.notifier.deliveries}
            for job_id, item in created.items():
                item["task_id"] = (await core.jobs.get(job_id)).task_id
            seconds = time.perf_counter() - started
    bot_log.removeHandler(captured)
    return ProcessReport(
        instance=instance,
        created=list(created.values()),
        posted=posted,
        seen_done=seen_done,
        answers=dict(answers),
        held_at_ready=held,
        duties=captured.duties,
        probes_heard=heard,
        warnings=captured.warnings,
        warning_count=captured.warning_count,
        ready_at=ready_at,
        seconds=seconds,
        peak_mb=peak_rss_mb(),
    )


def _child() -> None:
    """Configured by one JSON line on stdin; says ready on stdout; starts at the next line's
    moment; answers with one JSON line."""
    config = json.loads(sys.stdin.readline())

    async def go() -> float:
        print(json.dumps({"ready": config["instance"]}), flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        return float(json.loads(line)["start"])

    report = asyncio.run(run_process(config, go))
    print(json.dumps({"report": asdict(report)}), flush=True)


if __name__ == "__main__":
    _child()
