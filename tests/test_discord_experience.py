"""What members see and touch, through the real bot process, the fake Discord and the
simulator: the status card, cancel, retry, delivery fallbacks, languages."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage, FakeUpload
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, started, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

VOICE_MESSAGE = 1 << 13
MENU = "Animate this voice message"
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _rows(data_dir: Path) -> list[dict[str, object]]:
    """Every job's row, with what its card shows (the Discord edge's own table)."""
    with sqlite3.connect(data_dir / "emo-bot.sqlite3") as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT jobs.*, job_cards.shown_state AS card_state,"
            " job_cards.message_id AS card_message_id FROM jobs"
            " LEFT JOIN job_cards ON job_cards.job_id = jobs.id ORDER BY jobs.id"
        )
        return [dict(row) for row in rows]


def _row(data_dir: Path, job_id: int) -> dict[str, object]:
    return next(row for row in _rows(data_dir) if row["id"] == job_id)


def _custom_ids(message: FakeMessage) -> list[str]:
    found: list[str] = []

    def walk(component: dict[str, object]) -> None:
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            found.append(custom_id)
        for child in component.get("components") or []:  # type: ignore[attr-defined]
            walk(child)

    for component in message.components:
        walk(component)
    return found


def _card(fake: FakeDiscord, job_id: int) -> FakeMessage:
    return next(
        m
        for m in fake.messages()
        if not m.ephemeral and m.author_id == fake.bot_user_id and m.nonce == f"emo-card-{job_id}"
    )


def _results(fake: FakeDiscord) -> list[FakeMessage]:
    """The videos the bot posted in the channel."""
    return [
        m
        for m in fake.messages()
        if is_video(m) and not m.ephemeral and m.author_id == fake.bot_user_id
    ]


async def _animate(fake: FakeDiscord, fixtures: Path, member: int, **kwargs: object) -> None:
    await fake.invoke_slash(
        "emo animate",
        user_id=member,
        attachments=attachments(fixtures),
        **kwargs,  # type: ignore[arg-type]
    )


async def _job_in_state(data_dir: Path, job_id: int, *states: str, within: float = 60) -> None:
    def reached() -> bool:
        rows = [row for row in _rows(data_dir) if row["id"] == job_id]
        return bool(rows) and rows[0]["state"] in states

    await until(reached, f"job {job_id} in {states}", within)


async def test_the_card_follows_the_job_and_the_result_replies_to_it(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    discord_fake.enforce_edit_bucket(limit=5, per_seconds=5.0)
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="erin")
    await _animate(discord_fake, fixtures, member)
    result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    card = _card(discord_fake, 1)

    # The result is a reply to the card, mentioning the member, with a Retry button.
    assert result.message_reference is not None
    assert int(result.message_reference["message_id"]) == card.id
    assert f"<@{member}>" in result.content
    assert _custom_ids(result) == ["emo:retry:1"]
    # The card went from checking to done, with a link to the result and a Retry button.
    await _job_in_state(tmp_path / "data", 1, "delivered")
    await until(lambda: "✅" in _card(discord_fake, 1).content, "the card to show done")
    card = _card(discord_fake, 1)
    assert str(result.id) in card.content
    assert _custom_ids(card) == ["emo:retry:1"]
    assert "Checking" in card.content_history[0]
    assert "emo:cancel:1" in card.edit_log[0].custom_ids or card.components
    # Coalesced: no edit ran into Discord's per-message bucket.
    assert discord_fake.edit_429s == 0
    # The card's record is written once its edit returned: it follows the edit shortly.
    await until(
        lambda: _row(tmp_path / "data", 1)["card_state"] == "delivered",
        "the card's record to show done",
        within=10,
    )
    assert discord_fake.violations == []


async def test_429s_on_card_edits_do_not_lose_its_final_state(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="fay")
    # More 429s than discord.py retries by itself (5 tries): the bot must try again itself.
    discord_fake.rate_limit("PATCH", r"^/channels/\d+/messages/\d+$", times=12, retry_after=0.2)
    await _animate(discord_fake, fixtures, member)
    await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    await _job_in_state(tmp_path / "data", 1, "delivered")
    await until(
        lambda: _row(tmp_path / "data", 1)["card_state"] == "delivered",
        "the card to catch up",
        within=90,
    )
    card = _card(discord_fake, 1)
    assert "✅" in card.content
    assert _custom_ids(card) == ["emo:retry:1"]
    assert discord_fake.violations == []


async def test_cancel_in_each_state_gives_the_right_outcome_at_the_provider(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    # Slow renders; one task may wait at the provider (look-ahead) whatever the forecast.
    simulator.update_knobs(render_seconds_per_audio_second=2.0)
    bot = bot_process(EMO_LOOKAHEAD="1", EMO_LOOKAHEAD_WINDOW_SECONDS="100000")
    await started(bot, discord_fake)
    data = tmp_path / "data"
    members = [discord_fake.add_member(name=name) for name in ("gus", "hal", "ivy")]
    for number, member in enumerate(members, start=1):
        await _animate(discord_fake, fixtures, member)
        # One at a time, so the jobs reach the provider in this order.
        await _job_in_state(data, number, "queued", "submitting", "submitted")
    await _job_in_state(data, 1, "submitted")
    await _job_in_state(data, 2, "submitted")
    await _job_in_state(data, 3, "queued")
    await until(lambda: _row(data, 1)["started_at"] is not None, "job 1 to start rendering")

    # Queued with us: removed at once, nothing reaches the provider.
    queued = await discord_fake.invoke_slash("emo cancel", user_id=members[2], options={"job": 3})
    answer = await queued.wait_original_edit(lambda m: "cancelled" in m.content, timeout=30)
    assert "nothing was charged" in answer.content.lower()
    assert _row(data, 3)["state"] == "canceled"
    assert _row(data, 3)["task_id"] is None

    # Pending at the provider: cancelled there first, by the card's button.
    card = _card(discord_fake, 2)
    pending = await discord_fake.invoke_component(card.id, "emo:cancel:2", user_id=members[1])
    answer = await pending.wait_original_edit(lambda m: "cancelled" in m.content, timeout=30)
    task_2 = str(_row(data, 2)["task_id"])
    assert simulator.tasks[task_2].status == "CANCELED"
    assert [c.accepted for c in simulator.cancels if c.task_id == task_2] == [True]
    assert _row(data, 2)["state"] == "canceled"

    # Rendering: cannot be stopped; the member is told it will be billed; it is delivered.
    running = await discord_fake.invoke_slash("emo cancel", user_id=members[0])
    answer = await running.wait_original_edit(
        lambda m: "no longer be stopped" in m.content, timeout=30
    )
    assert "charged" in answer.content
    await until(
        lambda: (
            "cannot" in _card(discord_fake, 1).content
            or "already started" in _card(discord_fake, 1).content
        ),
        "the card to say so",
        within=10,
    )
    assert "Cancelled" not in _card(discord_fake, 1).content
    await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=120)
    await _job_in_state(data, 1, "delivered")
    task_1 = str(_row(data, 1)["task_id"])
    assert simulator.tasks[task_1].status == "SUCCEEDED"
    assert simulator.billed_seconds(simulator.account_id("sk-test-e2e-0123456789")) > 0

    # A stranger cannot cancel someone else's job.
    stranger = discord_fake.add_member(name="jon")
    await until(lambda: True, "")
    refused = await discord_fake.invoke_slash("emo cancel", user_id=stranger, options={"job": 1})
    await refused.wait_original_edit(lambda m: "Only the member" in m.content, timeout=30)

    assert len(simulator.submissions) == 2
    assert [c.task_id for c in simulator.cancels] == [task_2]
    await until(
        lambda: "🚫" in _card(discord_fake, 3).content and "🚫" in _card(discord_fake, 2).content,
        "the cards to show cancelled",
        within=20,
    )
    assert discord_fake.violations == []


async def _restart(bot: BotProcess, fake: FakeDiscord) -> None:
    await bot.stop()
    connected = fake.identify_count + fake.resume_count
    await bot.start()
    await fake.wait_for_identify(timeout=60, count=connected + 1)


async def test_retry_by_reaction_and_button_works_across_a_restart(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    bot = bot_process()
    await started(bot, discord_fake)
    owner = discord_fake.add_member(name="kim")
    stranger = discord_fake.add_member(name="lou")
    await _animate(discord_fake, fixtures, owner)
    first = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    await _job_in_state(data, 1, "delivered")

    await _restart(bot, discord_fake)  # nothing of the first run is in the new process's cache

    # A stranger's 🔁 does nothing.
    await discord_fake.add_reaction(first.id, "🔁", user_id=stranger)
    await asyncio.sleep(2.0)
    assert len(_rows(data)) == 1

    # The requester's 🔁 (twice, on the result and on the card) runs exactly one more job.
    await discord_fake.add_reaction(first.id, "🔁", user_id=owner)
    await discord_fake.add_reaction(_card(discord_fake, 1).id, "🔁", user_id=owner)
    await until(lambda: len(_results(discord_fake)) == 2, "the retried video", within=90)
    await asyncio.sleep(1.0)
    rows = _rows(data)
    assert len(rows) == 2
    assert rows[1]["retry_of"] == 1
    assert rows[1]["user_id"] == owner
    second = _results(discord_fake)[1]
    assert f"#{rows[1]['id']}" in second.content

    # The Retry button of a message from before the restart still works.
    await _restart(bot, discord_fake)
    click = await discord_fake.invoke_component(first.id, "emo:retry:1", user_id=owner)
    await click.wait_original_edit(lambda m: "#3" in m.content, timeout=60)
    await until(lambda: len(_results(discord_fake)) == 3, "the third video", within=90)
    assert len(simulator.submissions) == 3

    # The button refuses a stranger, privately; a server manager may retry for the member.
    refused = await discord_fake.invoke_component(first.id, "emo:retry:1", user_id=stranger)
    await refused.wait_original_edit(lambda m: "Only the member" in m.content, timeout=30)
    await _job_in_state(data, 3, "delivered")
    manager = discord_fake.add_member(name="max", manage_guild=True)
    click = await discord_fake.invoke_component(first.id, "emo:retry:1", user_id=manager)
    await click.wait_original_edit(lambda m: "#4" in m.content, timeout=60)
    await until(lambda: len(_results(discord_fake)) == 4, "the fourth video", within=90)
    fourth = _row(data, 4)
    assert (fourth["user_id"], fourth["requested_by"]) == (owner, manager)
    assert len(simulator.submissions) == 4
    assert discord_fake.violations == []


async def test_a_japanese_member_gets_japanese_messages_end_to_end(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="mio")
    interaction = await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures), locale="ja"
    )
    result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    await _job_in_state(tmp_path / "data", 1, "delivered")
    await until(lambda: "✅" in _card(discord_fake, 1).content, "the card to show done")
    ephemeral = await interaction.wait_original_edit(lambda m: "#1" in m.content, timeout=10)
    card = _card(discord_fake, 1)
    for text in (ephemeral.content, *card.content_history, result.content):
        assert CJK.search(text), text
    assert "Rendering" not in "".join(card.content_history)
    # The buttons speak Japanese too.
    assert "Retry" not in str(card.components)
    assert discord_fake.violations == []


def _voice_note(fixtures: Path) -> FakeUpload:
    return FakeUpload(
        data=(fixtures / "voice-note-en.ogg").read_bytes(),
        filename="voice-message.ogg",
        content_type="audio/ogg",
        duration_secs=9.98,
        waveform="AAECAwQFBgcICQ==",
    )


async def test_the_context_menu_animates_a_members_own_voice_message(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="nia")
    other = discord_fake.add_member(name="oto")
    portrait = (fixtures / "astronaut.png").read_bytes()
    voice = await discord_fake.post_user_message(
        member, attachments=[_voice_note(fixtures)], flags=VOICE_MESSAGE
    )

    # Someone else's voice message is refused, privately.
    theirs = await discord_fake.invoke_context_menu(MENU, target_message_id=voice.id, user_id=other)
    await theirs.wait_response(lambda m: "your own voice messages" in m.content, timeout=30)

    # With a photo uploaded in the form: a video of that photo.
    menu = await discord_fake.invoke_context_menu(MENU, target_message_id=voice.id, user_id=member)
    await menu.wait_acked()
    await discord_fake.submit_modal(
        menu, {}, files={"emo-portrait": [(portrait, "me.png", "image/png")]}
    )
    await until(lambda: len(_results(discord_fake)) == 1, "the first video", within=90)

    # With no photo: asked first, then the member's avatar is used.
    discord_fake.set_avatar(member, portrait)
    menu = await discord_fake.invoke_context_menu(MENU, target_message_id=voice.id, user_id=member)
    await menu.wait_acked()
    empty = await discord_fake.submit_modal(menu, {})
    question = await empty.wait_response(lambda m: "profile picture" in m.content, timeout=30)
    assert len(_rows(tmp_path / "data")) == 1  # nothing starts before the member agrees
    (button,) = _custom_ids(question)
    await discord_fake.invoke_component(question.id, button, user_id=member)
    await until(lambda: len(_results(discord_fake)) == 2, "the avatar video", within=90)
    await _job_in_state(tmp_path / "data", 2, "delivered")  # the post precedes its record
    rows = _rows(tmp_path / "data")
    assert [row["state"] for row in rows] == ["delivered", "delivered"]
    assert "/avatars/" in str(rows[1]["image_source_url"])
    assert discord_fake.violations == []


async def test_results_reach_the_member_when_the_channel_or_their_dms_are_closed(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="pia")
    data = tmp_path / "data"

    # Asked for by DM, but the member's DMs are closed: the channel gets it, saying why.
    discord_fake.close_dms(member)
    await _animate(discord_fake, fixtures, member, options={"dm": True})
    await _job_in_state(data, 1, "delivered", within=90)
    (in_channel,) = _results(discord_fake)
    assert "direct messages are closed" in in_channel.content
    discord_fake.open_dms(member)

    # The bot may no longer post in the channel, the command's token lives: its reply.
    discord_fake.forbid_posting(discord_fake.channel_id)
    second = await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    await _job_in_state(data, 2, "delivered", within=90)
    private = await second.wait_response(lambda m: is_video(m), timeout=10)
    assert private.ephemeral
    assert "may not post" in private.content

    # ... and once the token is gone: a direct message.
    discord_fake.token_lifetime = 1.0
    third = await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    await _job_in_state(data, 3, "delivered", within=90)
    (by_dm,) = [m for m in discord_fake.dm_messages(member) if is_video(m)]
    assert "may not post" in by_dm.content
    assert len(_results(discord_fake)) == 1
    # discord.py cannot know the fake's shortened token life (it counts 15 minutes), so the
    # bot tried the reply once, got 50027, and fell back: that one refusal is expected.
    assert all(str(third.id) in v and "expired token" in v for v in discord_fake.violations)


async def test_a_crafted_retry_button_cannot_make_another_server_pay(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    """A manager of one server presses Retry with another server's job in the custom id,
    or another job's id on this server's card: refused privately, nothing is submitted."""
    data, fake = tmp_path / "data", discord_fake
    elsewhere = fake.add_guild("Elsewhere")
    lobby = fake.add_channel(elsewhere, "lobby")
    stranger = fake.add_member(name="tom", guild_id=elsewhere)
    manager = fake.add_member(name="max", manage_guild=True)
    member = fake.add_member(name="ann")
    await started(bot_process(), fake)
    await fake.wait_for_commands(names=["emo"])
    await fake.invoke_slash(
        "emo animate", user_id=stranger, channel_id=lobby, attachments=attachments(fixtures)
    )
    await _job_in_state(data, 1, "delivered")
    await _animate(fake, fixtures, member)
    await _job_in_state(data, 2, "delivered")
    await _animate(fake, fixtures, member)
    await _job_in_state(data, 3, "delivered")
    assert len(simulator.submissions) == 3
    card = _card(fake, 2)

    # Another server's job, through this server's card: that server must not pay.
    crafted = await fake.invoke_component(card.id, "emo:retry:1", user_id=manager, forged=True)
    await crafted.wait_original_edit(lambda m: "no job #1" in m.content, timeout=30)
    # This server's other job, through a card that is not its own.
    mismatched = await fake.invoke_component(card.id, "emo:retry:3", user_id=manager, forged=True)
    await mismatched.wait_original_edit(lambda m: "no job #3" in m.content, timeout=30)
    await asyncio.sleep(2)  # a retry, had one started, would have its row by now
    assert [row["id"] for row in _rows(data)] == [1, 2, 3]
    assert len(simulator.submissions) == 3
    # The real button still works for the manager.
    honest = await fake.invoke_component(card.id, "emo:retry:2", user_id=manager)
    await honest.wait_original_edit(lambda m: "#4" in m.content, timeout=60)
    await _job_in_state(data, 4, "delivered")
    assert _row(data, 4)["guild_id"] == fake.guild_id
    assert fake.violations == []
