"""The queue benchmark on several bot processes sharing one PostgreSQL.

``python -m bench.queue --processes 1 3`` runs the queue benchmark's seeded workload once per
process count, one after the other in one run, and reports them side by side. For N
processes: a fresh database on one throw-away PostgreSQL (``tests/support/postgres.py``,
127.0.0.1 only) and a fresh simulator (in this process, as in ``bench/queue.py``); N children,
each the real core with the benchmark's scaled engine settings and its own
``EMO_INSTANCE_NAME``; the arrivals dealt round-robin over them, as shards would take
commands. Each process takes in its share; the provider duty (dispatch, poll, probe,
settle) runs in whichever process holds its lease. One process runs on PostgreSQL too, so
the comparison isolates the number of processes. The single process is always run, as the
reference of the ratios.

The children start, take their leases and upload their inputs, then say they are ready;
the first arrival is the same moment for all of them, a little after the last is ready.
Each child records the jobs it took in, the tasks its polls saw finish and the results it
posted; the parent merges them by job and measures them with ``bench.queue.measure``.
Reported besides: which process held the provider duty and since when, duty changes, how
long a signal (NOTIFY) took to reach the other processes, each process's share of the work,
and the bot's warnings.

Targets (from the issue): provider busy ≥ 99 % during the backlog for every N;
completion → post, mean, within 1.2× of the single process's; no more queries per task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.cluster_child import ProcessReport
from bench.queue import (
    FULL,
    KEY,
    QUICK,
    SCALE,
    TARGET_UTILISATION,
    ChildResult,
    JobRecord,
    Metrics,
    Scenario,
    _at,
    _median,
    _p95,
    _ratio,
    _span,
    _verdict,
    measure,
    provider_knobs,
)
from bot.settings import Settings
from bot.simulator import Simulator

TARGET_DELAY_RATIO = 1.2  # completion → post, mean, of N processes over one process
START_DELAY = 0.5  # wall seconds from the go to the first arrival
PROVIDER_DUTY = "provider:"  # the provider duty's name starts so (then the account)
ANSWERS = ("PENDING", "RUNNING", "SUCCEEDED")  # the task queries, split by their answer


# -- the parent: N children on one database -------------------------------------------------


class _Process:
    """A child process, its stderr kept (the tail is shown if it fails)."""

    def __init__(self, name: str, process: asyncio.subprocess.Process) -> None:
        self.name = name
        self.process = process
        self._stderr = bytearray()
        self._drain = asyncio.ensure_future(self._read_stderr())

    @classmethod
    async def spawn(cls, name: str, config: dict[str, Any]) -> _Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.cluster_child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        child = cls(name, process)
        child._write(config)
        return child

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(65536):
            self._stderr += chunk
            del self._stderr[:-20000]

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())

    async def answer(self, key: str) -> Any:
        """The next JSON line on stdout that carries ``key``."""
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and key in message:
                    return message[key]
        await self.process.wait()
        await self._drain
        tail = self._stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{self.name} ended (status {self.process.returncode}):\n{tail}")

    def start_at(self, moment: float) -> None:
        self._write({"start": moment})

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        await self._drain


@dataclass
class ClusterRun:
    """One run of N processes: the queue benchmark's metrics and what the cluster did."""

    processes: int
    metrics: Metrics
    reports: list[ProcessReport]
    start: float
    extra: dict[str, float] = field(default_factory=dict)


def _combine(reports: Sequence[ProcessReport]) -> ChildResult:
    """The jobs as one system saw them: taken in by one process, maybe posted by another."""
    posted: dict[int, float] = {}
    seen: dict[str, float] = {}
    for report in reports:
        for job_id, at in report.posted.items():
            posted[int(job_id)] = min(at, posted.get(int(job_id), math.inf))
        for task_id, at in report.seen_done.items():
            seen[task_id] = min(at, seen.get(task_id, math.inf))
    records = [
        JobRecord(
            index=item["index"],
            guild=item["guild"],
            arrived=item["arrived"],
            task_id=item["task_id"],
            seen_done=seen.get(item["task_id"]) if item["task_id"] else None,
            posted=posted.get(item["job_id"]),
        )
        for report in reports
        for item in report.created
    ]
    return ChildResult(
        records=records,
        seconds=max(report.seconds for report in reports),
        peak_mb=max(report.peak_mb for report in reports),
    )


async def run_cluster(
    processes: int, scenario: Scenario, scale: float, database_url: str
) -> ClusterRun:
    """The workload on ``processes`` bot processes, against a fresh simulator."""
    sim = Simulator(knobs=provider_knobs(scale), api_keys={KEY})
    await sim.start()
    children: list[_Process] = []
    try:
        ordered = sorted(scenario.arrivals(), key=lambda a: (a.at, a.index))
        for n in range(processes):
            config = {
                "instance": f"bench-{processes}p-{n}",
                "base_url": sim.base_url,
                "database_url": database_url,
                "scale": scale,
                "total": len(ordered),
                "arrivals": [asdict(arrival) for arrival in ordered[n::processes]],
            }
            children.append(await _Process.spawn(str(config["instance"]), config))
        await asyncio.gather(*(child.answer("ready") for child in children))
        start = time.time() + START_DELAY
        for child in children:
            child.start_at(start)
        said = await asyncio.gather(*(child.answer("report") for child in children))
        reports = [ProcessReport(**answer) for answer in said]
        combined = _combine(reports)
        metrics = measure(combined, sim, scale)
        first = min((task.submitted_at for task in sim.tasks.values()), default=math.nan)
        running = [at for task in sim.tasks.values() if (at := _at(task, "RUNNING")) is not None]
        arrived = min(r.arrived for r in combined.records)
        # The provider's idle time during the backlog: before the first render, and after.
        idle = (1 - metrics.utilisation) * metrics.backlog_seconds
        idle_start = (min(running, default=arrived) - arrived) / scale
        answers: Counter[str] = Counter()
        for r in reports:
            answers.update(r.answers)
        tasks = max(len(sim.tasks), 1)
        extra = {f"answered {status}": answers[status] / tasks for status in ANSWERS}
        extra.update(idle_start=idle_start, idle_after=max(0.0, idle - idle_start))
        # The start, on the wall clock: the first job queued (anywhere, and in the process
        # holding the provider duty), then the first submit.
        queued = [(item["queued"], r) for r in reports for item in r.created]
        holder = [at for at, r in queued if any(PROVIDER_DUTY in d for d in r.held_at_ready)]
        extra.update(
            first_queued=min(at for at, _ in queued) - start,
            holder_first_queued=min(holder, default=math.nan) - start,
            first_submit=first - start,
        )
        return ClusterRun(processes, metrics, reports, start, extra)
    finally:
        for child in children:
            await child.close()
        await sim.close()


# -- the report -----------------------------------------------------------------------------


def _holders(run: ClusterRun, scale: float) -> list[str]:
    """The provider duty's history: who took or lost it, relative to the first arrival."""
    last_post = run.metrics.finished_after * scale
    events = sorted(
        (at - run.start, report.instance, said)
        for report in run.reports
        for at, said in report.duties
        if PROVIDER_DUTY in said
    )
    return [
        f"{offset:+.2f} s {said}"
        + (" (every job was posted: a process stopped)" if offset > last_post else "")
        for offset, _, said in events
    ]


def _ms(values: Sequence[float]) -> str:
    if not values:
        return "–"
    ms = [1000 * v for v in values]
    return f"median {statistics.median(ms):.1f} ms, p95 {_p95(ms):.1f} ms, max {max(ms):.1f} ms"


def report(
    scenario: Scenario, scale: float, counts: list[int], runs: list[list[ClusterRun]]
) -> None:
    """``runs``: per run, one ClusterRun per process count (in ``counts``' order)."""
    by_count = {n: [run[i] for run in runs] for i, n in enumerate(counts)}

    def med(n: int, name: str) -> float:
        return _median(
            r.extra[name] if name in r.extra else float(getattr(r.metrics, name))
            for r in by_count[n]
        )

    lease = float(Settings.model_fields["emo_lease_seconds"].default)
    print(
        f"\nQueue on several processes: the queue benchmark's workload ({scenario.jobs} jobs "
        f"from {scenario.servers} servers, {scenario.flood_jobs} flooding at t=0), dealt "
        f"round-robin over the processes; one PostgreSQL on 127.0.0.1, a fresh database and "
        f"simulator per process count; median of {len(runs)} run(s)"
        f"\n  every process: the real core with the engine's scaled settings (scale "
        f"×{scale:.4g}), its own EMO_INSTANCE_NAME, EMO_LEASE_SECONDS={lease:g} (wall, not "
        f"scaled); the provider duty runs where its lease is held\n"
    )
    heads = [f"{n} process" + ("es" if n > 1 else "") for n in counts]
    ratios = [f"{n}/1" for n in counts if n != 1]
    rows: list[list[str]] = []

    def row(label: str, name: str, kind: str) -> None:
        values = [med(n, name) for n in counts]
        if kind == "%":
            cells = [f"{100 * v:.2f} %" for v in values]
        elif kind == "s":
            cells = [_span(v, scale) for v in values]
        elif kind == "ms":
            cells = [f"{v:.0f} ms" for v in values]
        elif kind == "wall":
            cells = [f"{1000 * v:.0f} ms" for v in values]
        else:
            cells = [f"{v:.1f}" for v in values]
        one = med(1, name)
        rows.append([label, *cells, *(_ratio(med(n, name), one) for n in counts if n != 1)])

    row("provider busy while a backlog exists", "utilisation", "%")
    row("  idle: before the first render", "idle_start", "s")
    row("  idle: between renders", "idle_after", "s")
    row("completion → post, mean", "delay_mean", "s")
    row("completion → post, p95", "delay_p95", "s")
    row("  until a poll saw it, mean", "noticed_mean", "s")
    row("  then download + post, mean (wall)", "handling_ms", "ms")
    row("queries per task", "queries_per_task", "")
    for status in ANSWERS:
        row(f"  answered {status}, per task", f"answered {status}", "")
    row("light job: flood jobs run first, worst", "light_worst", "")
    row("light job: arrival → render, mean", "light_start_mean", "s")
    row("task waits at the provider, mean", "provider_wait_mean", "s")
    row("every job posted after", "finished_after", "s")
    row("first arrival → a job queued (wall)", "first_queued", "wall")
    row("  → one queued in the duty's process", "holder_first_queued", "wall")
    row("  → the first submit", "first_submit", "wall")
    width = max(len(r[0]) for r in rows)
    cell = max(len(c) for r in rows for c in r[1:])
    print("  " + " " * width + "".join(f"  {h:>{cell}}" for h in [*heads, *ratios]))
    for label, *cells in rows:
        print(f"  {label:<{width}}" + "".join(f"  {c:>{cell}}" for c in cells))

    for n in counts:
        last = by_count[n][-1]
        m = last.metrics
        print(f"\n  {n} process{'es' if n > 1 else ''} (last run): {m.posted}/{m.jobs} posted")
        if len(runs) > 1:
            each = by_count[n]
            print(
                "    each run: busy "
                + ", ".join(f"{100 * r.metrics.utilisation:.2f} %" for r in each)
                + "; completion → post, mean "
                + ", ".join(f"{r.metrics.delay_mean:.1f} s" for r in each)
                + "; queries per task "
                + ", ".join(f"{r.metrics.queries_per_task:.2f}" for r in each)
            )
        for r in last.reports:
            duty = ", ".join(r.held_at_ready) or "none"
            print(
                f"    {r.instance}: took in {len(r.created)}, posted {len(r.posted)}, polls "
                f"saw {len(r.seen_done)} finish; duties when ready: {duty} "
                f"({1000 * (last.start - r.ready_at):.0f} ms before the first arrival); "
                f"{r.warning_count} warning(s)"
            )
            for warning in r.warnings[:5]:
                print(f"      ! {warning}")
        for line in _holders(last, scale):
            print(f"    provider duty: {line}")
        heard = [v for r in last.reports for v in r.probes_heard]
        if n > 1:
            print(f"    a signal (NOTIFY) reached another process after: {_ms(heard)}")

    print("\n  targets")
    for n in counts:
        utilisation = med(n, "utilisation")
        print(
            f"    {n} process(es): provider busy ≥ {TARGET_UTILISATION:.0%} while a backlog "
            f"exists: {100 * utilisation:.2f} %: {_verdict(utilisation >= TARGET_UTILISATION)}"
        )
    for n in counts:
        if n == 1:
            continue
        delay = med(n, "delay_mean") / med(1, "delay_mean")
        queries = med(n, "queries_per_task"), med(1, "queries_per_task")
        print(
            f"    {n} processes: completion → post within {TARGET_DELAY_RATIO:g}× of one "
            f"process's, mean: {delay:.2f}×: {_verdict(delay <= TARGET_DELAY_RATIO)}; no more "
            f"queries per task: {queries[0]:.2f} vs {queries[1]:.2f}: "
            f"{_verdict(queries[0] <= queries[1])}"
        )


async def _main(
    counts: list[int], scenario: Scenario, runs: int, scale: float, database: Callable[[], str]
) -> None:
    started = time.perf_counter()
    results: list[list[ClusterRun]] = []
    for _ in range(runs):
        results.append(
            [
                await run_cluster(n, scenario, scale, await asyncio.to_thread(database))
                for n in counts
            ]
        )
    report(scenario, scale, counts, results)
    print(f"\n  benchmark wall time: {time.perf_counter() - started:.0f} s")


def main(
    processes: Sequence[int],
    runs: int = 1,
    *,
    quick: bool = False,
    scale: float = SCALE,
    spread: float = 0.5,
) -> None:
    """Run the workload on each process count in ``processes`` (and on one, the reference)."""
    from tests.support.postgres import running_postgres

    counts = sorted({1, *processes})
    if counts[0] < 1:
        raise SystemExit("--processes: at least 1")
    scenario = replace(QUICK if quick else FULL, light_spread=spread)
    with running_postgres() as server:
        asyncio.run(_main(counts, scenario, runs, scale, server.create_database))


if __name__ == "__main__":
    raise SystemExit("run it as: python -m bench.queue --processes 1 3")
