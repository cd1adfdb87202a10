"""What the operator sees of the accounts (issue 14, item 6): `python -m bot` with two
DashScope accounts at the simulator, one of them in arrears. The owner's
`/emo-operator accounts` and the scraped /metrics page name each account by its label, show
the paused one and why, and never a key. Nothing is patched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.messages import CATALOGUE, MessageKey
from bot.provider.accounts import fingerprint
from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support.e2e import (
    accounts_simulator,
    answer,
    attachments,
    is_video,
    job_histories,
    started,
    until,
)
from tests.support.postgres import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

KEYS = {"north": "sk-view-north-0001", "south": "sk-view-south-0002"}
NORTH, SOUTH = fingerprint(KEYS["north"]), fingerprint(KEYS["south"])  # their labels too
JOBS = 2
EPHEMERAL = 1 << 6


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """Two accounts at the simulator, each its own key and arrears knob."""
    async with accounts_simulator({name: [key] for name, key in KEYS.items()}) as simulator:
        yield simulator


def _line(text: str, account: str) -> str:
    found = [line for line in text.splitlines() if account in line]
    assert len(found) == 1, text
    return found[0]


async def test_the_owner_sees_each_account_and_metrics_name_them_by_label(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    fake = discord_fake
    port = free_port()
    bot = bot_process(
        DASHSCOPE_API_KEY=",".join(KEYS.values()),
        EMO_OPS_BIND=f"127.0.0.1:{port}",
        EMO_PROBE_INTERVAL_SECONDS="60",  # the pause stays while the test looks at it
    )
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo", "emo-operator"])

    # South falls into arrears: the first preparation that tries it pauses it, and north
    # renders every job.
    simulator.set_arrears("south", True)
    member = fake.add_member(name="mo")
    for _ in range(JOBS):
        await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
    await until(lambda: "provider refused account" in bot.log_text(), "south to be paused")
    await until(
        lambda: [h[-1] for h in job_histories(bot)] == ["delivered"] * JOBS,
        "every job to be recorded delivered",
    )
    assert len([m for m in fake.messages() if is_video(m)]) == JOBS

    # The owner: one line per account, by label, the paused one with its code and since when.
    asked = await fake.invoke_slash("emo-operator accounts", user_id=fake.owner_user_id)
    reply = await answer(asked, SOUTH)
    assert reply.flags & EPHEMERAL
    text = reply.content
    lines = text.splitlines()
    assert lines[0] == "Provider accounts: 2. Spend is this UTC calendar month's, as billed."
    assert len(lines) == 3
    north, south = _line(text, NORTH), _line(text, SOUTH)
    assert north.startswith(f"**{NORTH}**: active, 0/2 slots busy, 0 waiting in the queue, $")
    assert not north.endswith("$0.00 spent this month")  # it rendered both videos
    assert south.startswith(f"**{SOUTH}**: paused since <t:")
    assert "(Arrearage), 0/2 slots busy" in south
    assert south.endswith("$0.00 spent this month")

    # In Japanese, from the catalogue.
    asked_ja = await fake.invoke_slash(
        "emo-operator accounts", user_id=fake.owner_user_id, locale="ja"
    )
    japanese = (await answer(asked_ja, SOUTH)).content
    assert "停止中（Arrearage）" in _line(japanese, SOUTH)
    assert "稼働中" in _line(japanese, NORTH)

    # Anyone else, a server admin included, is refused.
    admin = fake.add_member(name="ada", manage_guild=True)
    refused = await fake.invoke_slash("emo-operator accounts", user_id=admin)
    refusal = await answer(refused, CATALOGUE["en"][MessageKey.OWNER_ONLY])
    assert refusal.content == CATALOGUE["en"][MessageKey.OWNER_ONLY]
    assert refusal.flags & EPHEMERAL

    # The metrics page: the same accounts, by label.
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert r.status == 200
        page = await r.text()
    samples = {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }

    def value(name: str, account: str) -> float | None:
        return samples.get((name, frozenset({("account", account)})))

    assert value("emo_account_paused", SOUTH) == 1
    assert value("emo_account_paused", NORTH) == 0
    assert value("emo_account_slots", NORTH) == value("emo_account_slots", SOUTH) == 2
    assert value("emo_account_slots_busy", NORTH) == value("emo_account_slots_busy", SOUTH) == 0
    assert (value("emo_account_month_spend_usd", NORTH) or 0) > 0
    assert value("emo_account_month_spend_usd", SOUTH) == 0
    assert value("emo_render_duration_seconds_count", NORTH) == JOBS
    assert value("emo_render_duration_seconds_count", SOUTH) is None  # it rendered nothing
    assert samples[("emo_provider_errors_total", frozenset({("code", "Arrearage")}))] >= 1
    assert samples[("emo_provider_paused", frozenset())] == 0  # north carries on

    # No key anywhere: the answers, the metrics page, the bot's log.
    shown = text + japanese + refusal.content + page + bot.log_text()
    assert [key for key in KEYS.values() if key in shown] == []
