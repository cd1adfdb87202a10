"""Several DashScope accounts: `python -m bot` with three accounts at the simulator, a backlog,
and one account put in arrears midway (issue 14). Nothing is patched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.simulator import Simulator, SimulatorKnobs
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support.backends import BOTH_BACKENDS
from tests.support.e2e import (
    accounts_simulator,
    attachments,
    is_video,
    job_histories,
    started,
    until,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), BOTH_BACKENDS]

KEYS = {"alpha": "sk-pool-alpha-0001", "beta": "sk-pool-beta-0002", "gamma": "sk-pool-gamma-0003"}
JOBS = 15
LATER = 3  # asked once beta is back


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """Three accounts, each its own key, its own slot (one task RUNNING) and arrears knob."""
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.2, render_overhead_seconds=0.5)
    accounts = {label: [key] for label, key in KEYS.items()}
    async with accounts_simulator(accounts, knobs) as simulator:
        yield simulator


def _accounts_file(path: Path) -> Path:
    entries = [
        f'[[account]]\nlabel = "{label}"\nkey = "{key}"\nconcurrency = 1\nlookahead = 1\n'
        for label, key in KEYS.items()
    ]
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


async def test_three_accounts_share_a_backlog_and_one_in_arrears_pauses_alone(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    alerts = discord_fake.add_channel(discord_fake.guild_id, "operator-alerts")
    bot = bot_process(
        DASHSCOPE_API_KEY="",
        DASHSCOPE_ACCOUNTS_FILE=str(_accounts_file(tmp_path / "accounts.toml")),
        EMO_ALERT_CHANNEL_ID=str(alerts),
        EMO_PROBE_INTERVAL_SECONDS="1",
        EMO_MAX_ACTIVE_PER_MEMBER="20",
        EMO_MAX_QUEUED_PER_SERVER="50",
    )
    await started(bot, discord_fake)
    ids = {label: simulator.account_id(key) for label, key in KEYS.items()}

    # Sampled all along, at the simulator: what each account is rendering.
    most_running: dict[str, int] = dict.fromkeys(KEYS, 0)
    all_busy = asyncio.Event()

    async def watch() -> None:
        while True:
            found = {label: simulator.account(label) for label in KEYS}
            running = {label: len(a.running) if a else 0 for label, a in found.items()}
            for label, count in running.items():
                most_running[label] = max(most_running[label], count)
            if all(running.values()):
                all_busy.set()
            await asyncio.sleep(0.01)

    watcher = asyncio.ensure_future(watch())
    try:
        members = [discord_fake.add_member(name=f"m{n}") for n in range(3)]
        for number in range(JOBS):
            await discord_fake.invoke_slash(
                "emo animate", user_id=members[number % 3], attachments=attachments(fixtures)
            )

        def submitted(label: str, since: int = 0) -> int:
            return sum(1 for s in simulator.submissions[since:] if s.account == ids[label])

        async with asyncio.timeout(90):
            await all_busy.wait()

        # Beta falls into arrears midway: it pauses alone, the others carry on.
        simulator.set_arrears("beta", True)
        mark = len(simulator.submissions)

        try:
            alert = await discord_fake.wait_for_message(
                alerts, predicate=lambda m: "beta" in m.content, timeout=90
            )
        except TimeoutError:
            pytest.fail(f"no alert named the account:\n{bot.log_text()}")
        assert "alpha" not in alert.content
        assert "gamma" not in alert.content
        paused_at = len(simulator.submissions)
        await until(
            lambda: submitted("alpha", paused_at) >= 2 and submitted("gamma", paused_at) >= 2,
            "the other two accounts to carry on",
        )
        assert submitted("beta", mark) == 0  # nothing more was accepted for beta

        # Cleared: beta resumes by itself (its prober), and takes work again.
        simulator.set_arrears("beta", False)
        await until(
            lambda: "submissions resumed for account beta" in bot.log_text(),
            "beta to resume by itself",
            within=120,
        )
        cleared = len(simulator.submissions)
        for number in range(LATER):
            await discord_fake.invoke_slash(
                "emo animate", user_id=members[number], attachments=attachments(fixtures)
            )
        await until(lambda: submitted("beta", cleared) >= 1, "beta to take work again")

        await until(
            lambda: len([m for m in discord_fake.messages() if is_video(m)]) == JOBS + LATER,
            "every video to be posted",
            within=150,
        )
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

    # Never more than one task RUNNING per account, as the simulator saw it.
    assert most_running == dict.fromkeys(KEYS, 1)
    # Every account took part; each video was made once, and no job failed.
    assert all(submitted(label) >= 1 for label in KEYS)
    assert len(simulator.submissions) == JOBS + LATER
    # A video is posted just before its row says DELIVERED: wait for the rows, not the posts.
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"] * (JOBS + LATER),
        "every job to be recorded delivered",
        within=30,
    )
    # Jobs prepared for one account and taken by another had their inputs uploaded for it.
    assert "inputs uploaded again for account" in bot.log_text()
    # The alert was given once, for beta only.
    refusals = discord_fake.messages(alerts)
    assert [m for m in refusals if "beta" in m.content] == [alert]
    # No key anywhere in the bot's log, nor in any Discord message.
    text = bot.log_text() + "".join(m.content for m in discord_fake.messages())
    assert not [key for key in KEYS.values() if key in text]
