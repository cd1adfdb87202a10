"""At most EMO_MAX_PREPARATIONS preparations at once: the others wait, and their cards say
so, through the real bot process, the fake Discord and the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.e2e import attachments, is_video, started, until
from tests.support.job_rows import job_row, job_state

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

WAITING = "Waiting its turn to be checked"
CHECKING = "Checking the photo and the recording"


def _card(fake: FakeDiscord, job_id: int) -> FakeMessage:
    return next(m for m in fake.messages() if m.nonce == f"emo-card-{job_id}")


async def test_a_job_waiting_for_a_free_preparer_says_so_on_its_card(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    # Every provider call takes 2 s: the first preparation holds the one preparer a while.
    simulator.update_knobs(api_latency_seconds=2.0)
    bot = bot_process(EMO_MAX_PREPARATIONS="1")
    await started(bot, discord_fake)
    first, second = (discord_fake.add_member(name=name) for name in ("vic", "wes"))
    for member in (first, second):
        await discord_fake.invoke_slash(
            "emo animate", user_id=member, attachments=attachments(fixtures)
        )

    def said(job_id: int, text: str) -> bool:
        try:
            card = _card(discord_fake, job_id)
        except StopIteration:
            return False
        return any(text in content for content in [*card.content_history, card.content])

    await until(lambda: said(2, WAITING), "the second card to say it waits its turn", 60)
    assert job_row(bot, 2)["waiting_since"] is not None
    assert job_state(bot, 2) == "received"
    assert not said(1, WAITING)  # the first had a free preparer

    await until(lambda: len([m for m in discord_fake.messages() if is_video(m)]) == 2, "videos")
    await until(lambda: job_state(bot, 2) == "delivered", "job 2 delivered")
    assert said(2, CHECKING)  # its turn came: checked, then on its way
    assert job_row(bot, 2)["waiting_since"] is None
    assert len(simulator.submissions) == 2
    assert discord_fake.violations == []
