"""Chaos in a cluster: three bot processes on one PostgreSQL, SIGKILLed over and over.

Three real `python -m bot` processes run as the three shards of one bot (each its own
EMO_INSTANCE_NAME) against the fake Discord and the DashScope simulator, all on one
PostgreSQL. Members of three servers (one per shard) send `/emo animate` at random moments
while a seeded schedule SIGKILLs a random process (sometimes one still starting) and starts
it again; the other two keep running, so every kill lands while the others hold or take over
its duties and jobs: the provider duty (dispatcher and poller), intake, delivery, cards.
When the kills are over, all three run until every job row is final. Then:

* 0 lost: every job ends DELIVERED, but for a submit cut short by a kill that the provider's
  task list could not settle (FAILED ``submit_uncertain``, the member told);
* 0 double submits: one provider task per job (matched by its unique re-hosted image);
* 0 double posts: one result post per delivered job, the one its row names;
* the provider never held more tasks at once than EMO_PROVIDER_CONCURRENCY + EMO_LOOKAHEAD;
* every command its shard had time to take became a job; no process logged an error.

A failure prints the seed; ``EMO_CHAOS_SEED=<seed>`` replays the schedule.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support import cluster
from tests.support.bot_process import BotProcess

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.parametrize("backend", ["postgres"], indirect=True),
]

PROCESSES = 3
KILLS = 32
STARTUP_KILL_ODDS = 0.15  # kill a process that is still starting (resuming, identifying)
CONCURRENCY, LOOKAHEAD = 2, 1
MAX_BACKLOG = 14  # unfinished jobs above which no command is sent: bounds the run's length
MIN_JOBS = 40
# Commands sent before the kills may stop: a slow machine restarts slowly and sends fewer per
# kill, so the run goes on (killing on) until this many, within MAX_KILLS.
MIN_COMMANDS = 50
MAX_KILLS = 2 * KILLS
DRAIN_SECONDS = 240.0
ONLINE_SECONDS = 150.0  # a restarted process migrates, resumes, reaches Discord, identifies
INTAKE_SECONDS = 2.0  # a command this long before its shard's process died became a job
MAX_UNCERTAIN_SHARE = 0.15
ERROR_LINE = re.compile(r" (ERROR|CRITICAL) |^Traceback")


@dataclass
class Node:
    """One bot process and its shard."""

    shard: int
    bot: BotProcess
    online: bool = False
    killed_at: dict[int, float] = field(default_factory=dict)  # process start -> kill time
    sessions: frozenset[str] = frozenset()  # its shard's gateway sessions before a restart


def _seed() -> int:
    configured = os.environ.get("EMO_CHAOS_SEED", "").strip()
    return int(configured) if configured else random.SystemRandom().randrange(2**32)


async def _until_online(node: Node, fake: FakeDiscord) -> None:
    """Wait until the node's new process has a ready session on its shard."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ONLINE_SECONDS
    while True:
        fresh = set(fake.sessions_by_shard().get(node.shard, [])) - node.sessions
        if fresh and fake.shard_count == PROCESSES:
            node.sessions = frozenset(fresh)
            node.online = True
            return
        if loop.time() > deadline or not node.bot.running:
            pytest.fail(f"shard {node.shard} did not come back:\n{node.bot.log_text()[-6000:]}")
        await asyncio.sleep(0.05)


async def test_three_processes_killed_32_times_lose_and_double_nothing(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    database_url: str,
) -> None:
    seed = _seed()
    print(f"\ncluster chaos seed {seed} (replay with EMO_CHAOS_SEED={seed})")
    rng = random.Random(seed)
    began = time.monotonic()
    cluster.crash_knobs(simulator, running=CONCURRENCY)
    fake = discord_fake
    places: list[tuple[int, int, int]] = []  # (shard, member, channel)
    channels: list[int] = []
    for shard in range(PROCESSES):
        guild = fake.add_guild(f"cluster-{shard}", shard=(shard, PROCESSES))
        channel = fake.add_channel(guild, "renders")
        channels.append(channel)
        for name in ("ana", "ben"):
            places.append((shard, fake.add_member(name=f"{name}{shard}", guild_id=guild), channel))
    attachments = {
        "image": ((fixtures / "astronaut.png").read_bytes(), "me.png", "image/png"),
        "audio": ((fixtures / "voice-note-zh.ogg").read_bytes(), "voice.ogg", "audio/ogg"),
    }
    nodes = [
        Node(
            shard,
            bot_process(
                EMO_LOG_LEVEL="info",
                DISCORD_SHARD_COUNT=str(PROCESSES),
                DISCORD_SHARD_IDS=str(shard),
                EMO_INSTANCE_NAME=f"node-{shard}",
                EMO_LEASE_SECONDS="5",
                EMO_MAX_ACTIVE_PER_MEMBER="1000",
                EMO_MAX_QUEUED_PER_SERVER="1000",
                EMO_PROVIDER_CONCURRENCY=str(CONCURRENCY),
                EMO_LOOKAHEAD=str(LOOKAHEAD),
                EMO_POLL_MIN_SECONDS="0.2",
                EMO_POLL_MAX_SECONDS="1",
                EMO_QUERY_BUDGET_PER_SECOND="20",
                EMO_RENDER_SECONDS_PER_AUDIO_SECOND="0.1",
                EMO_LOOKAHEAD_WINDOW_SECONDS="0.5",
                EMO_HTTP_TIMEOUT_SECONDS="5",
            ),
        )
        for shard in range(PROCESSES)
    ]
    sent: list[tuple[frozenset[str], float, Node, int]] = []  # urls, when, node, its start
    offline = 0
    comings: dict[int, asyncio.Task[None]] = {}  # shard -> its process coming back

    async def invoke(node: Node, member: int, channel: int) -> None:
        nonlocal offline
        try:
            interaction = await fake.invoke_slash(
                "emo animate", user_id=member, channel_id=channel, attachments=attachments
            )
        except RuntimeError:
            offline += 1  # its shard's process died as we sent: nothing was sent
            return
        resolved = interaction.payload["data"]["resolved"]["attachments"].values()
        urls = frozenset(str(attachment["url"]) for attachment in resolved)
        sent.append((urls, time.monotonic(), node, node.bot.starts))

    def restart(node: Node) -> None:
        async def come_back() -> None:
            await node.bot.start()
            await _until_online(node, fake)

        comings[node.shard] = asyncio.ensure_future(come_back())

    for node in nodes:
        restart(node)
    await asyncio.gather(*comings.values())
    await fake.wait_for_commands(names=["emo"], timeout=30)

    kills = startup_kills = 0
    while kills < KILLS or (len(sent) < MIN_COMMANDS and kills < MAX_KILLS):
        unfinished = sum(
            1 for j in cluster.jobs(database_url).values() if j.state not in cluster.FINAL_STATES
        )
        count = rng.randint(2, 4) if unfinished < MAX_BACKLOG else 0
        window = rng.uniform(0.5, 2.5)
        elapsed = 0.0
        for moment in sorted(rng.uniform(0.0, window) for _ in range(count)):
            await asyncio.sleep(moment - elapsed)
            elapsed = moment
            # A member of a server whose shard is up (the others' commands would go nowhere).
            reachable = [place for place in places if nodes[place[0]].online]
            if reachable:
                shard, member, channel = rng.choice(reachable)
                await invoke(nodes[shard], member, channel)
        await asyncio.sleep(window - elapsed)
        starting = [n for n in nodes if n.bot.running and not n.online]
        up = [n for n in nodes if n.online]
        if starting and rng.random() < STARTUP_KILL_ODDS:
            victim = rng.choice(starting)
            startup_kills += 1
        elif up:
            victim = rng.choice(up)
        else:
            continue
        coming = comings.pop(victim.shard, None)
        if coming is not None and not coming.done():
            coming.cancel()
            await asyncio.gather(coming, return_exceptions=True)
        victim.online = False
        victim.killed_at[victim.bot.starts] = time.monotonic()
        victim.sessions = frozenset(fake.sessions_by_shard().get(victim.shard, []))
        await victim.bot.kill()
        kills += 1
        restart(victim)

    # Every process back, and each takes a last command: after all the kills, all serve.
    await asyncio.gather(*comings.values())
    finals = []
    for shard, member, channel in places[::2]:
        await invoke(nodes[shard], member, channel)
        finals.append(sent[-1][0])

    def owed(rows: dict[int, cluster.JobRow]) -> list[list[str]]:
        """Commands that must have become a job (their shard's process lived on for at least
        INTAKE_SECONDS after them) and have no row yet."""
        recorded = {j.image_source_url for j in rows.values()}
        return [
            sorted(urls)
            for urls, at, node, start in sent
            if not urls & recorded and node.killed_at.get(start, math.inf) - at >= INTAKE_SECONDS
        ]

    # Drained: every command a live process took in has its row (a shard that lags behind
    # its gateway writes it late), and every row is final.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while True:
        jobs = cluster.jobs(database_url)
        pending = [j for j in jobs.values() if j.state not in cluster.FINAL_STATES]
        if not pending and not owed(jobs):
            break
        if loop.time() > deadline:
            details = {j.id: cluster.history(database_url, j.id) for j in pending}
            pytest.fail(
                f"seed {seed}: jobs never finished: {details}; commands that left no job:"
                f" {owed(jobs)}"
            )
        await asyncio.sleep(0.25)
    await asyncio.sleep(2.0)  # a late duplicate post or submit would show by now
    drained = jobs
    jobs = cluster.jobs(database_url)  # read again: what follows sees every row there is
    late = sorted(set(jobs) - set(drained))
    assert late == [], f"seed {seed}: jobs that came in after the drain: {late}"
    duration = time.monotonic() - began

    delivered = {j.id: j for j in jobs.values() if j.state == "delivered"}
    uncertain = [j for j in jobs.values() if j.error_key == "submit_uncertain"]
    lost = [j for j in jobs.values() if j.id not in delivered and j not in uncertain]
    submits = cluster.submits_per_job(simulator, jobs)
    posts = cluster.result_posts(fake, channels)
    peak = cluster.peak_in_flight(simulator)
    by_process = Counter(j.guild_id for j in jobs.values())
    print(
        f"cluster chaos summary: seed={seed} processes={PROCESSES} kills={kills}"
        f" startup_kills={startup_kills} commands={len(sent)} offline={offline}"
        f" jobs={len(jobs)} delivered={len(delivered)} uncertain={len(uncertain)}"
        f" lost={len(lost)} submissions={len(simulator.submissions)} peak_in_flight={peak}"
        f" (cap {CONCURRENCY + LOOKAHEAD}) jobs_per_guild={sorted(by_process.values())}"
        f" duration={duration:.1f}s"
    )

    def evidence(job_ids: list[int]) -> str:
        lines = [f"seed {seed}"]
        for job_id in job_ids:
            lines.append(f"job {job_id}: {jobs[job_id]} {cluster.history(database_url, job_id)}")
            mention = re.compile(rf"\bjob {job_id}\b|#{job_id}\b")
            for node in nodes:
                lines += [
                    f"    [{node.bot.workdir.name}] {line}"
                    for line in node.bot.log_text().splitlines()
                    if mention.search(line)
                ]
        return "\n".join(lines)

    assert lost == [], evidence([j.id for j in lost])
    assert len(uncertain) <= max(2, MAX_UNCERTAIN_SHARE * len(jobs)), evidence(
        [j.id for j in uncertain]
    )
    for job in uncertain:
        assert submits.get(job.id, 0) <= 1, evidence([job.id])
    known_images = {j.image_url for j in jobs.values()}
    strays = [s for s in simulator.submissions if s.image_url not in known_images]
    assert strays == [], f"seed {seed}: submissions that match no job: " + "\n".join(
        f"{s.task_id} {s.image_url} at {s.submitted_at:.2f}: "
        + " | ".join(
            f"[{node.bot.workdir.name}] {line}"
            for node in nodes
            for line in node.bot.log_text().splitlines()
            if s.task_id in line or s.image_url.rsplit("/", 1)[-1][:24] in line
        )
        for s in strays
    )
    doubles = [job_id for job_id, n in submits.items() if n > 1]
    assert doubles == [], evidence(doubles)
    for job in delivered.values():
        assert submits.get(job.id) == 1, evidence([job.id])
    doubled = [job_id for job_id, found in posts.items() if len(found) > 1]
    assert doubled == [], evidence(doubled)
    assert sorted(posts) == sorted(delivered), evidence(sorted(set(posts) ^ set(delivered)))
    for job in delivered.values():
        (post,) = posts[job.id]
        assert (post.id, post.channel_id) == (job.message_id, job.channel_id), evidence([job.id])
    assert peak <= CONCURRENCY + LOOKAHEAD
    assert len(jobs) >= MIN_JOBS, f"seed {seed}: only {len(jobs)} jobs"

    # Intake: a command its shard's process had time for became a job; the last ones did.
    assert owed(jobs) == [], f"seed {seed}: commands that left no job: {owed(jobs)}"
    for urls in finals:
        (job,) = [j for j in jobs.values() if j.image_source_url in urls]
        assert job.state == "delivered", evidence([job.id])

    failures = [
        f"[{node.bot.workdir.name}] {line}"
        for node in nodes
        for line in node.bot.log_text().splitlines()
        if ERROR_LINE.search(line)
    ]
    assert failures == [], f"seed {seed}: " + "\n".join(failures[:40])
    assert fake.violations == [], f"seed {seed}: {fake.violations}"
