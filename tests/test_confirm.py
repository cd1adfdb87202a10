"""Confirm before spending: with the server's setting (or the member's option) a job waits on
its card, crop and estimate shown, and nothing reaches the provider until someone allowed to
presses Confirm. Through the real bot process, the fake Discord and the simulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import API_KEY, BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.backends import BOTH_BACKENDS
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, started, until
from tests.support.job_rows import job_row, job_state

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), BOTH_BACKENDS]

AWAITING = "awaiting_confirmation"


def _card(fake: FakeDiscord, job_id: int) -> FakeMessage:
    return next(
        m
        for m in fake.messages()
        if m.author_id == fake.bot_user_id and m.nonce == f"emo-card-{job_id}"
    )


def _custom_ids(message: FakeMessage) -> list[str]:
    return [
        str(component["custom_id"])
        for row in message.components
        for component in row.get("components") or []
        if "custom_id" in component
    ]


async def _state(bot: BotProcess, job_id: int, *states: str, within: float = 90) -> None:
    await until(lambda: job_state(bot, job_id) in states, f"job {job_id} in {states}", within)


async def _waiting_card(fake: FakeDiscord, bot: BotProcess, job_id: int) -> FakeMessage:
    """The job waits for a Confirm, and its card shows it: the crop, Confirm and Cancel."""
    await _state(bot, job_id, AWAITING)

    def ready() -> bool:
        card = _card(fake, job_id)
        wanted = [f"emo:confirm:{job_id}", f"emo:cancel:{job_id}"]
        return _custom_ids(card) == wanted and len(card.files) == 1

    await until(ready, f"card {job_id} to ask for a Confirm")
    return _card(fake, job_id)


def _billed(simulator: Simulator) -> float:
    return simulator.billed_seconds(simulator.account_id(API_KEY))


async def _restart(bot: BotProcess, fake: FakeDiscord) -> None:
    await bot.stop()
    connected = fake.identify_count + fake.resume_count
    await bot.start()
    await fake.wait_for_identify(timeout=60, count=connected + 1)


async def test_with_the_server_setting_nothing_is_submitted_until_the_requester_confirms(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    fake = discord_fake
    bot = bot_process()
    await started(bot, fake)
    manager = fake.add_member(name="tia", manage_guild=True)
    member = fake.add_member(name="uma")
    stranger = fake.add_member(name="vic")
    setting = await fake.invoke_slash(
        "emo-admin set", user_id=manager, options={"confirm_before_spending": True}
    )
    await setting.wait_original_edit(lambda m: "confirm_before_spending" in m.content)

    asked = await fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    reply = await asked.wait_original_edit(lambda m: "Confirm" in m.content, timeout=60)
    assert reply.ephemeral
    card = await _waiting_card(fake, bot, 1)
    assert "Estimated cost: $0.11" in card.content
    assert "head shot 1:1" in card.content
    await asyncio.sleep(2.0)  # time enough for a dispatch, had the job been queued
    assert simulator.submissions == []
    assert job_state(bot, 1) == AWAITING

    # A stranger's Confirm is refused, privately; the job still waits.
    refused = await fake.invoke_component(card.id, "emo:confirm:1", user_id=stranger)
    answer = await refused.wait_original_edit(lambda m: "Only the member" in m.content)
    assert answer.ephemeral
    await asyncio.sleep(1.0)
    assert job_state(bot, 1) == AWAITING
    assert simulator.submissions == []

    # The bot restarts between the card and the Confirm: the card's button still works.
    await _restart(bot, fake)
    assert job_state(bot, 1) == AWAITING
    click = await fake.invoke_component(card.id, "emo:confirm:1", user_id=member)
    answer = await click.wait_original_edit(lambda m: "Confirmed" in m.content, timeout=60)
    assert answer.ephemeral
    await _state(bot, 1, "delivered", within=120)
    assert len(simulator.submissions) == 1
    await until(lambda: "✅" in _card(fake, 1).content, "the card to show done")
    assert len(_card(fake, 1).files) == 1  # the crop stayed through every later edit
    # A second click changes nothing.
    again = await fake.invoke_component(card.id, "emo:confirm:1", user_id=member, forged=True)
    await again.wait_original_edit(lambda m: "has ended" in m.content or "already" in m.content)
    assert len(simulator.submissions) == 1

    # Cancel while it waits: it ends, nothing reaches the provider, nothing is billed.
    billed = _billed(simulator)
    await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
    card = await _waiting_card(fake, bot, 2)
    click = await fake.invoke_component(card.id, "emo:cancel:2", user_id=member)
    answer = await click.wait_original_edit(lambda m: "cancelled" in m.content, timeout=30)
    assert "Nothing was charged" in answer.content
    await _state(bot, 2, "canceled")
    row = job_row(bot, 2)
    assert (row["task_id"], row["cost_usd"]) == (None, None)
    await until(lambda: "🚫" in _card(fake, 2).content, "the card to show cancelled")
    assert _custom_ids(_card(fake, 2)) == ["emo:retry:2"]
    assert len(simulator.submissions) == 1
    assert _billed(simulator) == billed
    assert len([m for m in fake.messages() if is_video(m)]) == 1
    assert fake.violations == []


async def test_an_unconfirmed_job_blocks_nobody_and_is_cancelled_when_its_time_is_up(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    fake = discord_fake
    bot = bot_process(EMO_CONFIRM_TIMEOUT_SECONDS="20")
    await started(bot, fake)
    careful = fake.add_member(name="wes")
    hasty = fake.add_member(name="xia")

    # The member asks for a Confirm with the command's option (the server does not).
    await fake.invoke_slash(
        "emo animate",
        user_id=careful,
        attachments=attachments(fixtures),
        options={"confirm": True},
    )
    await _waiting_card(fake, bot, 1)
    # While it waits it holds no provider slot and no place in the queue: another job of the
    # same server goes all the way through.
    await fake.invoke_slash("emo animate", user_id=hasty, attachments=attachments(fixtures))
    await _state(bot, 2, "delivered", within=60)
    assert job_state(bot, 1) == AWAITING
    assert len(simulator.submissions) == 1

    # Nobody confirms: once its time is up it is cancelled, the member is told, nothing billed.
    await _state(bot, 1, "canceled", within=60)
    row = job_row(bot, 1)
    assert row["error_key"] == "confirm_timed_out"
    assert row["task_id"] is None
    notice = await fake.wait_for_message(predicate=lambda m: m.nonce == "emo-fail-1", timeout=30)
    assert "not confirmed in time" in notice.content
    assert f"<@{careful}>" in notice.content
    assert notice.message_reference is not None
    assert int(notice.message_reference["message_id"]) == _card(fake, 1).id
    await until(lambda: "🚫" in _card(fake, 1).content, "the card to show cancelled")
    assert len(simulator.submissions) == 1
    assert fake.violations == []
