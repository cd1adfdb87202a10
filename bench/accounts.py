"""Several DashScope accounts: the engine with 1 account beside N, on the same workload.

``python -m bench.queue --accounts 1 3`` (or ``python -m bench.accounts 1 3 [--quick]``)
runs ``bench/queue.py``'s flood-and-trickle workload against a fresh simulator per run whose
keys are separate accounts (one render at a time each, like DashScope), with the bot's
engine given 1, then N of those keys (``DASHSCOPE_API_KEY=k1,k2,…``). Jobs are prepared as
the bot prepares them: the inputs uploaded to DashScope's temporary storage for the
accounts in turn, so an account that takes a job prepared for another uploads it again.

Reported per run: throughput (tasks finished per provider hour, from the first arrival to
the last task's end) and its ratio to 1 account (target ≥ 0.95 per account), and each
account's busy fraction while a backlog exists (some job arrived and not yet running:
target ≥ 99 %). It reports; it does not fail when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

from bench.queue import (
    FULL,
    QUICK,
    SCALE,
    Arrival,
    Interval,
    Scenario,
    _arrive,
    _at,
    _length,
    _merge,
    _overlap,
    engine_settings,
    provider_knobs,
    query_budget,
)
from bot.jobs.budget import QueryBudget
from bot.jobs.models import AnimateRequest, InputRef
from bot.jobs.repository import Caps
from bot.jobs.states import JobState
from bot.simulator import Simulator
from tests.support import media
from tests.support.engine import upload_sample_inputs

TARGET_RATIO_PER_ACCOUNT = 0.95
TARGET_BUSY = 0.99


def keys(count: int) -> list[str]:
    return [f"sk-bench-account-{n}" for n in range(count)]


@dataclass
class Record:
    index: int
    arrived: float  # wall clock, as the simulator's task history
    task_id: str | None = None


async def run_engine(
    base_url: str, count: int, arrivals: Sequence[Arrival], scale: float
) -> list[Record]:
    """The engine with ``count`` accounts; each job prepared for the accounts in turn."""
    from tests.support.engine import running_engine  # the engine harness, only in this child

    records: dict[int, Record] = {}
    by_job: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-accounts-") as folder:
        provider = cast(Simulator, _Remote(base_url))
        settings = engine_settings(scale)
        async with running_engine(
            provider, Path(folder), ",".join(keys(count)), **settings
        ) as harness:
            engine = harness.core.engine
            for work in engine.accounts:
                work.poller.budget = QueryBudget(query_budget(scale))
            # One upload of the sample inputs per account; the converted files in each job's
            # folder, from which an account that takes a job not prepared for it uploads again.
            prepared = [await upload_sample_inputs(work.client) for work in engine.accounts]
            face = _jpeg()
            voice = media.encode_audio(media.speech_pcm(4.0), container="mp3", codec="libmp3lame")
            bound = count > 1
            cache = harness.core.cache
            writer = engine.writer

            async def enqueue(arrival: Arrival) -> None:
                arrived = time.time()
                turn = arrival.index % count
                inputs = prepared[turn]
                request = AnimateRequest(
                    guild_id=arrival.guild,
                    channel_id=arrival.guild * 10,
                    user_id=arrival.user,
                    image=InputRef(url="file:///prepared", declared_size=0),
                    audio=InputRef(url="file:///prepared", declared_size=0),
                )
                job = await writer.create(request, Caps())
                image_path = cache.converted(job.id, "image")
                image_path.parent.mkdir(parents=True, exist_ok=True)
                image_path.write_bytes(face)
                cache.converted(job.id, "audio").write_bytes(voice)
                job = await writer.move(job, JobState.PREPARING)
                changes = inputs.queued(estimate_usd=0.05)
                if bound:
                    name = engine.accounts[turn].name
                    changes = changes.model_copy(update={"inputs_account": name})
                await writer.move(job, JobState.QUEUED, changes)
                harness.core.service.wake()
                records[arrival.index] = Record(arrival.index, arrived)
                by_job[job.id] = arrival.index

            await _arrive(arrivals, scale, enqueue)
            renders = len(arrivals) * Scenario().render_seconds * scale / count
            try:
                await harness.wait_until(harness.all_final, within=3 * renders + 60)
            except TimeoutError:
                print("not every job finished in time", file=sys.stderr)
            for job in await harness.jobs.in_states(list(JobState)):
                records[by_job[job.id]].task_id = job.task_id
    return list(records.values())


@dataclass(frozen=True)
class _Remote:
    base_url: str


def _jpeg() -> bytes:
    face = io.BytesIO()
    media.astronaut().save(face, format="JPEG")
    return face.getvalue()


def _child() -> None:
    if os.environ.get("BENCH_LOG"):
        logging.basicConfig(
            level=os.environ["BENCH_LOG"].upper(),
            format="%(relativeCreated)6d %(name)s %(message)s",
        )
    config = json.loads(sys.stdin.read())
    arrivals = [Arrival(**item) for item in config["arrivals"]]
    records = asyncio.run(
        run_engine(config["base_url"], config["accounts"], arrivals, config["scale"])
    )
    print(json.dumps([asdict(record) for record in records]))


@dataclass
class Result:
    accounts: int
    finished: int
    jobs: int
    throughput: float  # tasks per provider hour
    busy: dict[str, float]  # account id -> busy fraction during the backlog
    backlog_seconds: float  # provider seconds
    idle: dict[str, tuple[int, float]]  # account id -> idle stretches in the backlog, longest


def _idle(backlog: Sequence[Interval], busy: Sequence[Interval]) -> list[Interval]:
    """The parts of ``backlog`` not covered by ``busy`` (both merged)."""
    idle: list[Interval] = []
    for start, end in backlog:
        cursor = start
        for b_start, b_end in busy:
            if b_end <= cursor or b_start >= end:
                continue
            if b_start > cursor:
                idle.append((cursor, b_start))
            cursor = max(cursor, b_end)
        if cursor < end:
            idle.append((cursor, end))
    return idle


async def one_run(count: int, scenario: Scenario, scale: float) -> Result:
    sim = Simulator(knobs=provider_knobs(scale), api_keys=set(keys(count)))
    await sim.start()
    try:
        config = {
            "base_url": sim.base_url,
            "accounts": count,
            "scale": scale,
            "arrivals": [asdict(arrival) for arrival in scenario.arrivals()],
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.accounts",
            "child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate(json.dumps(config).encode())
        if process.returncode != 0:
            raise RuntimeError(f"child failed:\n{err.decode()[-3000:]}")
        answer: list[dict[str, Any]] = json.loads(out.decode().strip().splitlines()[-1])
        return measure(count, [Record(**item) for item in answer], sim, scale)
    finally:
        await sim.close()


def measure(count: int, records: Sequence[Record], sim: Simulator, scale: float) -> Result:
    waiting: list[Interval] = []
    busy: dict[str, list[Interval]] = {sim.account_id(key): [] for key in keys(count)}
    ends: list[float] = []
    for record in records:
        task = sim.tasks.get(record.task_id) if record.task_id else None
        running = _at(task, "RUNNING") if task is not None else None
        done = _at(task, "SUCCEEDED") if task is not None else None
        if task is None or running is None or done is None:
            continue
        waiting.append((record.arrived, running))
        busy[task.account].append((running, done))
        ends.append(done)
    backlog = _merge(waiting)
    first = min(record.arrived for record in records)
    span = (max(ends) - first) / scale if ends else float("inf")
    length = _length(backlog)
    idle = {account: _idle(backlog, _merge(intervals)) for account, intervals in busy.items()}
    return Result(
        accounts=count,
        finished=len(ends),
        jobs=len(records),
        throughput=len(ends) / span * 3600,
        busy={
            account: (_overlap(backlog, _merge(intervals)) / length if length else 0.0)
            for account, intervals in busy.items()
        },
        backlog_seconds=length / scale,
        idle={
            account: (len(gaps), max((end - start for start, end in gaps), default=0.0) / scale)
            for account, gaps in idle.items()
        },
    )


def report(results: Sequence[Result], scenario: Scenario, scale: float, seconds: float) -> None:
    base = results[0]
    print(
        f"accounts bench: {scenario.jobs} jobs ({scenario.flood_jobs} from one server at once,"
        f" {scenario.light_jobs} from {scenario.servers - 1} others over"
        f" {scenario.light_spread:.0%} of the flood), one render at a time per account,"
        f" time scale {scale:.4f}; {seconds:.0f} s"
    )
    for result in results:
        ratio = result.throughput / base.throughput
        target = TARGET_RATIO_PER_ACCOUNT * result.accounts / base.accounts
        worst = min(result.busy.values())
        verdict = "met" if ratio >= target - 1e-9 and worst >= TARGET_BUSY else "MISSED"
        print(
            f"  {result.accounts} account(s): {result.finished}/{result.jobs} finished,"
            f" {result.throughput:.1f} tasks per provider hour, ×{ratio:.2f} of"
            f" {base.accounts} (target ×{target:.2f}); backlog {result.backlog_seconds:.0f} s;"
            f" busy during the backlog: "
            + ", ".join(f"{busy:.2%}" for busy in result.busy.values())
            + f" (target ≥ {TARGET_BUSY:.0%}) [{verdict}]"
        )
        print(
            "    idle stretches in the backlog (count, longest provider s): "
            + ", ".join(f"{count} / {longest:.1f}" for count, longest in result.idle.values())
        )


async def _main(counts: Sequence[int], scenario: Scenario, scale: float) -> None:
    started = time.perf_counter()
    results = [await one_run(count, scenario, scale) for count in counts]
    report(results, scenario, scale, time.perf_counter() - started)


def main(counts: Sequence[int], *, quick: bool = False, scale: float = SCALE) -> None:
    scenario = replace(QUICK if quick else FULL)
    asyncio.run(_main(counts, scenario, scale))


if __name__ == "__main__":
    if sys.argv[1:] == ["child"]:
        _child()
    else:
        parser = argparse.ArgumentParser(prog="python -m bench.accounts")
        parser.add_argument("accounts", type=int, nargs="+", help="e.g. 1 3")
        parser.add_argument("--quick", action="store_true", help="60 jobs from 10 servers")
        parser.add_argument("--scale", type=float, default=SCALE, help="wall s per provider s")
        options = parser.parse_args()
        main(options.accounts, quick=options.quick, scale=options.scale)
