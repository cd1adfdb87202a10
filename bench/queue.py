"""The queue under a flood: the job engine against a naive baseline, on one simulated provider.

200 jobs from 20 servers: one server floods 100 jobs at t=0, the 19 light servers' 100 jobs
arrive at seeded random times over the first half of the flood's expected duration (so they
arrive while the flood's backlog exists). Both systems get the same arrival schedule, each
against its own fresh simulator (one render at a time per account, the rest pending in FIFO
order, like DashScope).

Time is scaled by ``SCALE``: the provider renders a 4 s clip in 36 provider seconds, which
take 36 × SCALE wall seconds; every time setting of both systems is scaled the same way:

- engine: the operator defaults (poll 2–15 s, look-ahead window 20 s, render prior 8.5 s per
  audio second, a budget of 10 queries a second) times SCALE, rates divided by it;
- baseline: submit every job the moment it arrives (FIFO, no fairness, no look-ahead limit),
  query each task every 15 s as the provider's documentation suggests, then download the
  result and post it, as the engine does;
- simulator: its per-second rate limits divided by SCALE.

The simulator runs in this process; each system runs in its own child process, as a bot would
run apart from its provider. The child records when each job arrived, when a poll first saw
its task succeed and when its MP4 was posted (wall clock); the simulator's task histories (on
the same wall clock) give when each task started and finished. Reported, per system:

- provider slot utilisation while a backlog exists: over the union of the intervals in which
  some job had arrived but its task was not yet running, the fraction with a task running;
- completion → post delay: mean and p95 of (posted − the task's SUCCEEDED time), split into
  the poll that noticed it (scaled) and the download and post after it (wall time, which the
  scaling does not shrink: it weighs SCALE⁻¹ times more in provider seconds than it would at
  real speed; the "estimate at real speed" adds it unscaled);
- queries per task: every task query the simulator answered, over the tasks;
- a light server's longest wait: for each light job, the flooding server's jobs whose tasks
  started running after it arrived and before its own did; the worst over light jobs. Also
  counted per turn: from when the job became its server's next (it arrived, or its server's
  previous job started), which is what a round robin bounds;
- how long tasks wait at the provider before running (how late the look-ahead commits);
- peak RSS (VmHWM) of a child that takes 1,000 jobs at once (half from one server) and works
  on them for a few seconds, and how long taking them took.

``python -m bench queue`` (or ``python -m bench.queue [--quick] [--runs N] [--spread F]``)
takes about five minutes (--quick: two). It reports; it does not fail when a target is missed.
``python -m bench.queue --processes 1 3`` runs the engine alone on the same workload as one
and as three processes sharing a PostgreSQL, side by side instead (``bench/cluster.py``);
``--accounts 1 3`` runs it with one DashScope account and with three (``bench/accounts.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import aiohttp
from pydantic import SecretStr

from bench.prepare import peak_rss_mb
from bot.jobs.budget import QueryBudget
from bot.jobs.states import JobState
from bot.media.download import DownloadError, download_to_file
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError, ProviderTransientError
from bot.provider.models import TaskResponse, TaskStatus
from bot.settings import Settings
from bot.simulator import RateLimits, SimTask, Simulator, SimulatorKnobs
from tests.support.engine import upload_sample_inputs

SCALE = 1 / 60  # wall seconds per provider second
KEY = "sk-bench-queue"
CLIP_SECONDS = 4.0  # the prepared jobs' audio (tests/support/engine.py)
# The simulated provider: 4 s + 8 s per audio second, 36 s for a clip. The engine starts from
# its own prior (8.5 s per audio second: 34 s) and learns the real rate from finished renders.
PROVIDER_OVERHEAD = 4.0
PROVIDER_RATE = 8.0
BASELINE_POLL_SECONDS = 15.0
MAX_RESULT_BYTES = 200 * 1024 * 1024
# Operator settings of the engine that are durations; scaled by SCALE.
SCALED_SETTINGS = (
    "emo_poll_min_seconds",
    "emo_poll_max_seconds",
    "emo_lookahead_window_seconds",
    "emo_render_seconds_per_audio_second",
    "emo_fairness_window_seconds",
)
FLOOD_GUILD = 1  # the flooding server; the light ones follow it
RSS_JOBS = 1000
RSS_HOLD_SECONDS = 5.0  # wall seconds the 1,000-job child keeps working before it reports

TARGET_UTILISATION = 0.99
TARGET_DELAY_RATIO = 1 / 5
TARGET_LIGHT_WAIT = 1
TARGET_RSS_MB = 200.0


# -- the scenario ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    servers: int = 20
    flood_jobs: int = 100
    light_jobs: int = 100
    light_spread: float = 0.5  # light jobs arrive over this fraction of the flood's duration
    seed: int = 2024

    @property
    def jobs(self) -> int:
        return self.flood_jobs + self.light_jobs

    @property
    def render_seconds(self) -> float:
        """Provider seconds one job renders."""
        return PROVIDER_OVERHEAD + PROVIDER_RATE * CLIP_SECONDS

    @property
    def light_window(self) -> float:
        return self.light_spread * self.flood_jobs * self.render_seconds

    def arrivals(self) -> list[Arrival]:
        """The flooding server queues everything at t=0; the light servers' jobs trickle in."""
        rng = random.Random(self.seed)
        flood = [Arrival(index, FLOOD_GUILD, 1, 0.0) for index in range(self.flood_jobs)]
        light_servers = range(FLOOD_GUILD + 1, FLOOD_GUILD + self.servers)
        light = sorted(
            (rng.uniform(0.0, self.light_window), light_servers[n % len(light_servers)])
            for n in range(self.light_jobs)
        )
        flood += [
            Arrival(self.flood_jobs + n, guild, guild * 100 + n, at)
            for n, (at, guild) in enumerate(light)
        ]
        return flood


FULL = Scenario()
QUICK = Scenario(servers=10, flood_jobs=30, light_jobs=30)


@dataclass(frozen=True)
class Arrival:
    index: int
    guild: int
    user: int
    at: float  # provider seconds after the start


@dataclass
class JobRecord:
    """What a child saw of one job, on the wall clock (time.time(), as the simulator's)."""

    index: int
    guild: int
    arrived: float
    task_id: str | None = None
    seen_done: float | None = None  # a poll first saw the task SUCCEEDED
    posted: float | None = None


def provider_knobs(scale: float) -> SimulatorKnobs:
    defaults = RateLimits()
    limits = {
        name: (value / scale if value is not None else None)
        for name, value in defaults.model_dump().items()
    }
    return SimulatorKnobs(
        render_seconds_per_audio_second=PROVIDER_RATE * scale,
        render_overhead_seconds=PROVIDER_OVERHEAD * scale,
        rate_limits=RateLimits(**limits),
    )


def engine_settings(scale: float) -> dict[str, float]:
    """The operator defaults with every duration scaled."""
    return {name: float(Settings.model_fields[name].default) * scale for name in SCALED_SETTINGS}


def query_budget(scale: float) -> float:
    return float(Settings.model_fields["emo_query_budget_per_second"].default) / scale


# -- children: one system each, talking to the simulator in the parent --------------------


@dataclass(frozen=True)
class _RemoteProvider:
    """All ``running_engine`` reads of a Simulator: its address (it runs in the parent)."""

    base_url: str


async def _arrive(
    arrivals: Sequence[Arrival], scale: float, enqueue: Callable[[Arrival], Awaitable[None]]
) -> None:
    """Call ``enqueue`` for each arrival at its time (scaled)."""
    start = time.time()
    for arrival in sorted(arrivals, key=lambda a: (a.at, a.index)):
        delay = start + arrival.at * scale - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await enqueue(arrival)


async def run_engine(
    base_url: str, arrivals: Sequence[Arrival], scale: float, hold: float | None
) -> list[JobRecord]:
    """The bot's engine, as deployed, with its operator settings scaled."""
    from tests.support.engine import running_engine  # the engine harness, only in this child

    records: dict[int, JobRecord] = {}
    by_job: dict[int, int] = {}
    seen_done: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as folder:
        provider = cast(Simulator, _RemoteProvider(base_url))
        async with running_engine(provider, Path(folder), KEY, **engine_settings(scale)) as harness:
            # Settings caps the budget at 20/s, a real provider's quota; scaled time needs more.
            harness.core.engine.poller.budget = QueryBudget(query_budget(scale))
            client = harness.core.client
            get_task = client.get_task

            async def observed(task_id: str) -> TaskResponse:
                answer = await get_task(task_id)
                if answer.output.task_status is TaskStatus.SUCCEEDED:
                    seen_done.setdefault(task_id, time.time())
                return answer

            client.get_task = observed  # type: ignore[method-assign]
            await harness.inputs()

            async def enqueue(arrival: Arrival) -> None:
                arrived = time.time()
                job = await harness.enqueue_prepared(guild_id=arrival.guild, user_id=arrival.user)
                records[arrival.index] = JobRecord(arrival.index, arrival.guild, arrived)
                by_job[job.id] = arrival.index

            await _arrive(arrivals, scale, enqueue)
            if hold is not None:
                await asyncio.sleep(hold)
                return list(records.values())
            renders = len(arrivals) * Scenario().render_seconds * scale
            with contextlib.suppress(TimeoutError):
                await harness.wait_until(harness.all_final, within=3 * renders + 60)
            to_wall = time.time() - time.monotonic()
            for delivery in harness.notifier.deliveries:
                records[by_job[delivery.job_id]].posted = delivery.at + to_wall
            for job in await harness.jobs.in_states(list(JobState)):
                record = records[by_job[job.id]]
                record.task_id = job.task_id
                if job.task_id is not None:
                    record.seen_done = seen_done.get(job.task_id)
    return list(records.values())


async def run_baseline(
    base_url: str, arrivals: Sequence[Arrival], scale: float, hold: float | None
) -> list[JobRecord]:
    """Naive: submit on arrival in FIFO order, query each task every 15 s, download, post."""
    records: list[JobRecord] = []
    interval = BASELINE_POLL_SECONDS * scale
    connector = aiohttp.TCPConnector(limit=32)  # as the bot's session
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as folder:
        async with aiohttp.ClientSession(connector=connector) as session:
            client = DashScopeClient(session, base_url, SecretStr(KEY))
            inputs = await upload_sample_inputs(client, seconds=CLIP_SECONDS)
            followers: set[asyncio.Task[None]] = set()
            submissions: asyncio.Queue[JobRecord] = asyncio.Queue()

            async def follow(record: JobRecord) -> None:
                assert record.task_id is not None
                while True:
                    await asyncio.sleep(interval)
                    try:
                        task = await client.get_task(record.task_id)
                    except ProviderError:
                        continue  # next time
                    status = task.output.task_status
                    if status in (TaskStatus.PENDING, TaskStatus.RUNNING):
                        continue
                    if status is TaskStatus.SUCCEEDED and task.video_url is not None:
                        record.seen_done = time.time()
                        with contextlib.suppress(DownloadError):
                            await download_to_file(
                                session,
                                task.video_url,
                                Path(folder) / f"{record.index}.mp4",
                                max_bytes=MAX_RESULT_BYTES,
                                allowed_hosts=None,
                            )
                            record.posted = time.time()
                    return

            async def submit_forever() -> None:
                while True:
                    record = await submissions.get()
                    while record.task_id is None:
                        try:
                            record.task_id = await client.submit_synthesis(
                                image_url=inputs.image_url,
                                audio_url=inputs.audio_url,
                                face_bbox=inputs.face_box.as_list(),
                                ext_bbox=inputs.ext_box.as_list(),
                                style_level="normal",
                            )
                        except ProviderTransientError:
                            await asyncio.sleep(scale)
                        except ProviderError:
                            break
                    if record.task_id is not None:
                        follower = asyncio.create_task(follow(record))
                        followers.add(follower)
                        follower.add_done_callback(followers.discard)
                    submissions.task_done()

            submitter = asyncio.create_task(submit_forever())

            async def enqueue(arrival: Arrival) -> None:
                record = JobRecord(arrival.index, arrival.guild, time.time())
                records.append(record)
                submissions.put_nowait(record)

            await _arrive(arrivals, scale, enqueue)
            await submissions.join()
            if hold is not None:
                await asyncio.sleep(hold)
            elif followers:
                await asyncio.wait(set(followers))
            submitter.cancel()
            for follower in followers:
                follower.cancel()
            await asyncio.gather(submitter, *followers, return_exceptions=True)
    return records


SYSTEMS = {"engine": run_engine, "baseline": run_baseline}


def _child() -> None:
    config = json.loads(sys.stdin.read())
    arrivals = [Arrival(**item) for item in config["arrivals"]]
    system = SYSTEMS[config["system"]]
    hold = config["hold"]
    started = time.perf_counter()
    records = asyncio.run(system(config["base_url"], arrivals, config["scale"], hold))
    answer = {
        "records": [asdict(record) for record in records],
        "seconds": time.perf_counter() - started,
        "peak_mb": peak_rss_mb(),
    }
    print(json.dumps(answer))


@dataclass
class ChildResult:
    records: list[JobRecord]
    seconds: float
    peak_mb: float


async def _run_child(
    system: str, sim: Simulator, arrivals: Sequence[Arrival], scale: float, hold: float | None
) -> ChildResult:
    config = {
        "system": system,
        "base_url": sim.base_url,
        "scale": scale,
        "hold": hold,
        "arrivals": [asdict(arrival) for arrival in arrivals],
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.queue",
        "child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(json.dumps(config).encode())
    if process.returncode != 0:
        raise RuntimeError(f"{system} child failed:\n{err.decode()[-3000:]}")
    answer: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return ChildResult(
        records=[JobRecord(**item) for item in answer["records"]],
        seconds=float(answer["seconds"]),
        peak_mb=float(answer["peak_mb"]),
    )


# -- measures -------------------------------------------------------------------------------


Interval = tuple[float, float]


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Sequence[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def _overlap(a: Sequence[Interval], b: Sequence[Interval]) -> float:
    """Total length of the intersection of two merged interval lists."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        total += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _at(task: SimTask, status: str) -> float | None:
    return next((change.at for change in task.history if change.status == status), None)


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@dataclass
class Metrics:
    utilisation: float
    backlog_seconds: float  # provider seconds
    delay_mean: float  # provider seconds, completion -> posted
    delay_p95: float
    noticed_mean: float  # provider seconds, completion -> a poll saw it
    handling_ms: float  # wall ms, seen -> posted
    queries_per_task: float
    light_worst: int
    light_waits: Counter[int]
    turn_worst: int  # the same, counted from when the job became its server's next
    provider_wait_mean: float  # provider seconds a task waited at the provider, submit -> run
    provider_wait_max: float
    query_interval: float  # provider seconds between queries of a task, submit -> seen done
    light_start_mean: float  # provider seconds, arrival -> running
    finished_after: float  # provider seconds, first arrival -> last post
    posted: int
    jobs: int
    child_seconds: float
    extra: dict[str, float] = field(default_factory=dict)


def measure(result: ChildResult, sim: Simulator, scale: float) -> Metrics:
    records = result.records
    tasks = sim.tasks
    started: dict[int, float] = {}
    succeeded: dict[int, float] = {}
    for record in records:
        task = tasks.get(record.task_id) if record.task_id else None
        if task is None:
            continue
        if (running := _at(task, "RUNNING")) is not None:
            started[record.index] = running
        if (done := _at(task, "SUCCEEDED")) is not None:
            succeeded[record.index] = done
    busy = _merge(
        (begin, end)
        for task in tasks.values()
        if (begin := _at(task, "RUNNING")) is not None
        and (end := task.ended_at or sim.now()) is not None
    )
    backlog = _merge((r.arrived, started.get(r.index, sim.now())) for r in records)
    utilisation = _overlap(busy, backlog) / max(_length(backlog), 1e-9)

    posted = [r for r in records if r.posted is not None and r.index in succeeded]
    delays = [(r.posted or 0.0) - succeeded[r.index] for r in posted]
    noticed = [(r.seen_done or 0.0) - succeeded[r.index] for r in posted if r.seen_done]
    handling = [(r.posted or 0.0) - (r.seen_done or 0.0) for r in posted if r.seen_done]

    flood_starts = [
        started[r.index] for r in records if r.guild == FLOOD_GUILD and r.index in started
    ]
    light = [r for r in records if r.guild != FLOOD_GUILD and r.index in started]

    def floods_between(after: float, before: float) -> int:
        return sum(1 for s in flood_starts if after < s < before)

    waits = Counter(floods_between(r.arrived, started[r.index]) for r in light)
    # Round robin serves a server's jobs one per turn: a job's turn begins when it arrives or
    # when its server's previous job went to the provider, whichever is later.
    previous: dict[int, float] = {}
    turns: list[int] = []
    for r in sorted(light, key=lambda r: started[r.index]):
        turn = max(r.arrived, previous.get(r.guild, r.arrived))
        turns.append(floods_between(turn, started[r.index]))
        previous[r.guild] = started[r.index]
    at_provider = [
        (running - submitted) / scale
        for task in tasks.values()
        if (running := _at(task, "RUNNING")) is not None
        and (submitted := _at(task, "PENDING")) is not None
    ]
    followed = [
        (r.seen_done - tasks[r.task_id].submitted_at, tasks[r.task_id])
        for r in posted
        if r.seen_done is not None and r.task_id is not None
    ]
    polls = sum(sim.query_count.of(task.task_id) for _, task in followed)
    first = min((r.arrived for r in records), default=0.0)
    last = max((r.posted for r in posted if r.posted), default=first)
    return Metrics(
        utilisation=utilisation,
        backlog_seconds=_length(backlog) / scale,
        delay_mean=statistics.fmean(delays) / scale if delays else float("nan"),
        delay_p95=_p95(delays) / scale if delays else float("nan"),
        noticed_mean=statistics.fmean(noticed) / scale if noticed else float("nan"),
        handling_ms=statistics.fmean(handling) * 1000 if handling else float("nan"),
        queries_per_task=sim.query_count.total / max(len(tasks), 1),
        light_worst=max(waits, default=0),
        light_waits=waits,
        turn_worst=max(turns, default=0),
        provider_wait_mean=statistics.fmean(at_provider) if at_provider else float("nan"),
        provider_wait_max=max(at_provider, default=float("nan")),
        query_interval=sum(span for span, _ in followed) / max(polls, 1) / scale,
        light_start_mean=(
            statistics.fmean(started[r.index] - r.arrived for r in light) / scale
            if light
            else float("nan")
        ),
        finished_after=(last - first) / scale,
        posted=len(posted),
        jobs=len(records),
        child_seconds=result.seconds,
    )


async def _one_system(system: str, scenario: Scenario, scale: float) -> Metrics:
    sim = Simulator(knobs=provider_knobs(scale), api_keys={KEY})
    await sim.start()
    try:
        result = await _run_child(system, sim, scenario.arrivals(), scale, hold=None)
        return measure(result, sim, scale)
    finally:
        await sim.close()


@dataclass(frozen=True)
class Holding:
    peak_mb: float
    intake_seconds: float  # wall: from the first arrival until all were queued (or submitted)


async def _peak_rss(system: str, scale: float) -> Holding:
    """Peak RSS of a child taking 1,000 jobs at once (half from one server), then working
    on them for a few seconds."""
    many = Scenario(flood_jobs=RSS_JOBS // 2, light_jobs=RSS_JOBS - RSS_JOBS // 2, light_spread=0)
    sim = Simulator(knobs=provider_knobs(scale), api_keys={KEY})
    await sim.start()
    try:
        result = await _run_child(system, sim, many.arrivals(), scale, hold=RSS_HOLD_SECONDS)
        first = min(r.arrived for r in result.records)
        if system == "engine":  # the engine queues in its database
            last = max(r.arrived for r in result.records)
        else:  # the baseline submits
            last = max(task.submitted_at for task in sim.tasks.values())
        return Holding(result.peak_mb, last - first)
    finally:
        await sim.close()


# -- the report -----------------------------------------------------------------------------


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _ratio(engine: float, baseline: float) -> str:
    if baseline == 0 or math.isnan(engine) or math.isnan(baseline):
        return "–"
    return f"{engine / baseline:.2f}×"


def _span(provider_seconds: float, scale: float) -> str:
    """Provider seconds, with the wall time they took in brackets."""
    wall = provider_seconds * scale
    shown = f"{wall * 1000:.0f} ms" if wall < 1 else f"{wall:.1f} s"
    return f"{provider_seconds:.1f} s ({shown})"


def _distribution(counts: Counter[int]) -> str:
    """``{count: jobs}`` when short, else the median and the range."""
    if len(counts) <= 8:
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "}"
    values = sorted(counts.elements())
    return f"median {statistics.median(values):g}, {values[0]}–{values[-1]}"


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(
    scenario: Scenario,
    scale: float,
    runs: list[tuple[Metrics, Metrics]],
    rss: tuple[Holding, Holding],
    wall: float,
) -> None:
    engines = [e for e, _ in runs]
    baselines = [b for _, b in runs]
    settings = {name: value / scale for name, value in engine_settings(scale).items()}

    def med(metrics: list[Metrics], name: str) -> float:
        return _median(float(getattr(m, name)) for m in metrics)

    def real_speed(metrics: list[Metrics]) -> float:
        """The poll's share scales with time; the download and post do not."""
        return _median(m.noticed_mean + m.handling_ms / 1000 for m in metrics)

    print(
        f"\nQueue under a flood: {scenario.jobs} jobs from {scenario.servers} servers, one "
        f"flooding {scenario.flood_jobs} at t=0, {scenario.light_jobs} light jobs at random over "
        f"the first {scenario.light_window:.0f} s; median of {len(runs)} run(s) of each system"
        f"\n  provider (simulator): one render at a time, {scenario.render_seconds:.0f} s per "
        f"{CLIP_SECONDS:.0f} s clip; times in provider seconds, wall time in brackets "
        f"(scale ×{scale:.4g}: 1 provider s = {1000 * scale:.1f} ms)"
        f"\n  engine: the operator defaults, scaled: poll {settings['emo_poll_min_seconds']:g}–"
        f"{settings['emo_poll_max_seconds']:g} s, look-ahead 1 task within "
        f"{settings['emo_lookahead_window_seconds']:g} s, render prior "
        f"{settings['emo_render_seconds_per_audio_second']:g} s per audio s, "
        f"{query_budget(scale) * scale:g} queries/s"
        f"\n  baseline: submits each job on arrival (FIFO), queries each task every "
        f"{BASELINE_POLL_SECONDS:g} s, then downloads and posts\n"
    )
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, name: str, kind: str) -> None:
        e, b = med(engines, name), med(baselines, name)
        if kind == "%":
            cells = f"{100 * e:.2f} %", f"{100 * b:.2f} %"
        elif kind == "s":
            cells = _span(e, scale), _span(b, scale)
        elif kind == "ms":
            cells = f"{e:.0f} ms", f"{b:.0f} ms"
        else:
            cells = f"{e:.1f}", f"{b:.1f}"
        rows.append((label, *cells, _ratio(e, b)))

    row("provider busy while a backlog exists", "utilisation", "%")
    row("completion → post, mean", "delay_mean", "s")
    row("completion → post, p95", "delay_p95", "s")
    row("  until a poll saw it, mean", "noticed_mean", "s")
    row("  then download + post, mean (wall)", "handling_ms", "ms")
    speed = real_speed(engines), real_speed(baselines)
    rows.append(
        (
            "  estimate at real speed (poll + wall)",
            f"{speed[0]:.1f} s",
            f"{speed[1]:.1f} s",
            _ratio(*speed),
        )
    )
    row("queries per task", "queries_per_task", "")
    worst = max(e.light_worst for e in engines), max(b.light_worst for b in baselines)
    rows.append(("light job: flood jobs run first, worst", str(worst[0]), str(worst[1]), "–"))
    turns = max(e.turn_worst for e in engines), max(b.turn_worst for b in baselines)
    rows.append(("  per turn of its server, worst", str(turns[0]), str(turns[1]), "–"))
    row("light job: arrival → render, mean", "light_start_mean", "s")
    row("task waits at the provider, mean", "provider_wait_mean", "s")
    row("task waits at the provider, max", "provider_wait_max", "s")
    row("every job posted after", "finished_after", "s")
    rows.append(
        (
            f"peak RSS, {RSS_JOBS:,} jobs queued",
            f"{rss[0].peak_mb:.0f} MB",
            f"{rss[1].peak_mb:.0f} MB",
            _ratio(rss[0].peak_mb, rss[1].peak_mb),
        )
    )
    rows.append(
        (
            f"  taking {RSS_JOBS:,} jobs at once (wall)",
            f"{rss[0].intake_seconds:.1f} s",
            f"{rss[1].intake_seconds:.1f} s",
            _ratio(rss[0].intake_seconds, rss[1].intake_seconds),
        )
    )
    width = max(len(r[0]) for r in rows)
    cell = max(len(c) for r in rows for c in r[1:3])
    print(f"  {'':<{width}}  {'engine':>{cell}}  {'baseline':>{cell}}  {'engine/baseline':>15}")
    for label, e_cell, b_cell, ratio in rows:
        print(f"  {label:<{width}}  {e_cell:>{cell}}  {b_cell:>{cell}}  {ratio:>15}")
    print()
    for name, metrics in (("engine", engines), ("baseline", baselines)):
        counts: Counter[int] = Counter()
        for m in metrics:
            counts.update(m.light_waits)
        print(
            f"  {name}: {sum(m.posted for m in metrics)}/{sum(m.jobs for m in metrics)} posted; "
            f"one query every {med(metrics, 'query_interval'):.1f} s; backlog for "
            f"{med(metrics, 'backlog_seconds'):.0f} s; child ran "
            f"{med(metrics, 'child_seconds'):.0f} s; light jobs by flood jobs run first: "
            f"{_distribution(counts)}"
        )

    utilisation = med(engines, "utilisation")
    delay = med(engines, "delay_mean") / med(baselines, "delay_mean")
    queries = med(engines, "queries_per_task"), med(baselines, "queries_per_task")
    print("\n  targets")
    print(
        f"    provider busy ≥ {TARGET_UTILISATION:.0%} while a backlog exists: "
        f"{100 * utilisation:.2f} %: {_verdict(utilisation >= TARGET_UTILISATION)}"
    )
    print(
        f"    completion → post ≤ 1/{1 / TARGET_DELAY_RATIO:.0f} of the baseline's, mean "
        f"({delay:.2f}×), with no more queries per task ({queries[0]:.1f} vs {queries[1]:.1f}): "
        f"{_verdict(delay <= TARGET_DELAY_RATIO and queries[0] <= queries[1])}"
    )
    print(
        f"    a light server's job waits behind ≤ {TARGET_LIGHT_WAIT} flood job: worst "
        f"{worst[0]}: {_verdict(worst[0] <= TARGET_LIGHT_WAIT)}"
    )
    print(
        f"    peak RSS < {TARGET_RSS_MB:.0f} MB with {RSS_JOBS:,} jobs queued: "
        f"{rss[0].peak_mb:.0f} MB: {_verdict(rss[0].peak_mb < TARGET_RSS_MB)}"
    )
    print(f"\n  benchmark wall time: {wall:.0f} s")


async def _main(scenario: Scenario, runs: int, scale: float) -> None:
    started = time.perf_counter()
    results = []
    for _ in range(runs):
        engine = await _one_system("engine", scenario, scale)
        baseline = await _one_system("baseline", scenario, scale)
        results.append((engine, baseline))
    rss = await _peak_rss("engine", scale), await _peak_rss("baseline", scale)
    report(scenario, scale, results, rss, time.perf_counter() - started)


def main(runs: int = 1, *, quick: bool = False, scale: float = SCALE, spread: float = 0.5) -> None:
    scenario = replace(QUICK if quick else FULL, light_spread=spread)
    asyncio.run(_main(scenario, runs, scale))


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        _child()  # one system, configured on stdin by the parent
    else:
        parser = argparse.ArgumentParser(prog="python -m bench.queue")
        parser.add_argument("--quick", action="store_true", help="60 jobs from 10 servers")
        parser.add_argument("--runs", type=int, default=1, help="runs of each system")
        parser.add_argument("--scale", type=float, default=SCALE, help="wall s per provider s")
        parser.add_argument(
            "--spread",
            type=float,
            default=FULL.light_spread,
            help="light jobs arrive over this fraction of the flood's duration",
        )
        parser.add_argument(
            "--accounts",
            type=int,
            nargs="+",
            metavar="N",
            help="the engine with N DashScope accounts, beside 1 (bench/accounts.py)",
        )
        parser.add_argument(
            "--processes",
            type=int,
            nargs="+",
            metavar="N",
            help="the engine alone as N processes on one PostgreSQL, beside 1 (bench/cluster.py)",
        )
        options = parser.parse_args()
        if options.accounts:
            from bench import accounts

            counts = sorted({1, *options.accounts})
            accounts.main(counts, quick=options.quick, scale=options.scale)
        elif options.processes:
            from bench import cluster

            cluster.main(
                options.processes,
                options.runs,
                quick=options.quick,
                scale=options.scale,
                spread=options.spread,
            )
        else:
            main(options.runs, quick=options.quick, scale=options.scale, spread=options.spread)
