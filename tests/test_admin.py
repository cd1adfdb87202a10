"""Server administration through the real bot process, the fake Discord and the simulator:
who may do what, the budget, /emo forget and leaving a server.

Nothing is patched: the bot is configured by its environment only.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from PIL import Image

from bot.clock import next_month
from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.e2e import attachments, is_video, started, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

MANAGE_GUILD = 1 << 5
REFUSED = "Only members with the Manage Server permission can do this."


def _rows(data: Path, sql: str, *parameters: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / "emo-bot.sqlite3") as db:
        return [tuple(row) for row in db.execute(sql, parameters)]


async def _answer(interaction: FakeInteraction, needle: str, within: float = 20.0) -> FakeMessage:
    """The bot's (ephemeral) answer to ``interaction`` once it contains ``needle``."""
    try:
        return await interaction.wait_response(lambda m: needle in m.content, timeout=within)
    except TimeoutError:
        said = [m.content for m in (interaction.original_response, *interaction.followups) if m]
        pytest.fail(f"no answer containing {needle!r}; the bot said {said}")


async def _command(
    fake: FakeDiscord, command: str, user: int, needle: str, **options: str | int | float | bool
) -> FakeMessage:
    interaction = await fake.invoke_slash(command, user_id=user, options=options)
    return await _answer(interaction, needle)


async def _delivered(data: Path, user: int, count: int = 1) -> list[int]:
    """Wait until ``user`` has ``count`` delivered jobs; their ids."""

    def ids() -> list[int]:
        return [
            int(str(row[0]))
            for row in _rows(
                data, "SELECT id FROM jobs WHERE user_id = ? AND state = 'delivered'", user
            )
        ]

    await until(lambda: len(ids()) >= count, f"{count} delivered videos of {user}")
    return ids()


async def test_every_permission_boundary_of_settings_jobs_and_usage(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    fake, data = discord_fake, tmp_path / "data"
    videos = fake.add_channel(fake.guild_id, "videos")
    await asyncio.sleep(0.5)  # CHANNEL_CREATE reaches the bot's cache
    member = fake.add_member(name="mia")
    other = fake.add_member(name="olaf")
    admin = fake.add_member(name="ada", manage_guild=True)
    await started(bot_process(), fake)
    commands = {c["name"]: c for c in await fake.wait_for_commands(names=["emo", "emo-admin"])}
    # Hidden from members by default; the code checks the permission anyway (below).
    assert commands["emo-admin"]["default_member_permissions"] == str(MANAGE_GUILD)
    emo = {option["name"] for option in commands["emo"]["options"]}
    assert {"animate", "usage", "forget"} <= emo

    await fake.invoke_slash("emo animate", user_id=other, attachments=attachments(fixtures))
    (job,) = await _delivered(data, other)

    # A member cannot read or change the settings, list the jobs, or see another's use.
    await _command(fake, "emo-admin set", member, REFUSED, queue_cap=5)
    await _command(fake, "emo-admin reset", member, REFUSED, setting="all")
    await _command(fake, "emo-admin settings", member, REFUSED)
    await _command(fake, "emo-admin history", member, REFUSED)
    await _command(fake, "emo-admin jobs", member, REFUSED, member=other)
    await _command(fake, "emo usage", member, "You can see only your own use", member=other)
    own = await _command(fake, "emo usage", member, f"**Use by <@{member}> in this server**")
    assert "Today (UTC): 0.0 s of video in 0 videos, $0.00" in own.content
    assert _rows(data, "SELECT * FROM guild_settings") == []

    # An admin can: bad values are refused by name, good ones saved and shown.
    await _command(
        fake, "emo-admin set", admin, "`queue_cap` must be from 1 to 1000, so 0", queue_cap=0
    )
    saved = await _command(
        fake,
        "emo-admin set",
        admin,
        "Saved:",
        queue_cap=5,
        seconds_per_day=600,
        output_channel=videos,
        default_style="calm",
    )
    assert "Videos waiting in this server's queue, at most: 5 ✱" in saved.content
    assert f"Output channel: <#{videos}> ✱" in saved.content
    assert sorted(_rows(data, "SELECT name, value, updated_by FROM guild_settings")) == [
        ("default_style", '"calm"', admin),
        ("output_channel_id", str(videos), admin),
        ("queue_cap", "5", admin),
        ("seconds_per_day", "600", admin),
    ]
    history = await _command(fake, "emo-admin history", admin, "`queue_cap`")
    assert f"<@{admin}>: `queue_cap` (default) → 5" in history.content
    await _command(
        fake, "emo-admin reset", admin, "Back to the bot's defaults", setting="queue_cap"
    )
    assert ("queue_cap",) not in _rows(data, "SELECT name FROM guild_settings")

    listed = await _command(fake, "emo-admin jobs", admin, f"#{job} ", member=other)
    assert f"<@{other}>" in listed.content
    assert f"<#{fake.channel_id}>" in listed.content
    assert "**Jobs of this server**: 1 found" in listed.content
    hashes = _rows(data, "SELECT image_sha256, audio_sha256, cost_usd FROM jobs WHERE id = ?", job)
    image_hash, audio_hash, cost = hashes[0]
    assert image_hash
    assert audio_hash
    assert f"image `{str(image_hash)[:8]}`" in listed.content
    assert f"audio `{str(audio_hash)[:8]}`" in listed.content
    assert f"${cost:.3f}" in listed.content
    await _command(fake, "emo-admin jobs", admin, "No jobs match.", member=member)
    theirs = await _command(fake, "emo usage", admin, f"**Use by <@{other}>", member=other)
    assert "in 1 videos" in theirs.content
    server = await _command(fake, "emo usage", admin, "**This server this month (UTC)**")
    assert f"<@{other}>: " in server.content
    assert fake.violations == []


async def test_jobs_are_accepted_up_to_the_budget_and_the_next_is_refused_with_the_reset_date(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    fake, data = discord_fake, tmp_path / "data"
    price = 0.02
    first, second = fake.add_member(name="amy"), fake.add_member(name="ben")
    admin = fake.add_member(name="ada", manage_guild=True)
    await started(bot_process(EMO_PRICE_HEAD_USD_PER_SECOND=str(price)), fake)
    await fake.wait_for_commands(names=["emo", "emo-admin"])
    # One 10-second video costs about $0.20: the budget takes one, not two.
    await _command(fake, "emo-admin set", admin, "Saved:", monthly_budget_usd=0.3)

    await fake.invoke_slash("emo animate", user_id=first, attachments=attachments(fixtures))
    await _delivered(data, first)
    refused = await fake.invoke_slash(
        "emo animate", user_id=second, attachments=attachments(fixtures)
    )
    resets = int(next_month(datetime.now(UTC)).timestamp())
    answer = await _answer(refused, f"<t:{resets}:F>", within=60)
    assert "monthly budget of $0.300" in answer.content

    rows = _rows(
        data,
        "SELECT user_id, state, error_key, video_seconds, cost_usd, estimate_usd"
        " FROM jobs ORDER BY id",
    )
    assert [row[:3] for row in rows] == [
        (first, "delivered", None),
        (second, "rejected", "quota_monthly_budget"),
    ]
    _, _, _, seconds, cost, estimate = rows[0]
    assert isinstance(seconds, float)
    assert cost == pytest.approx(round(seconds * price, 6))
    assert estimate is not None
    assert len(simulator.submissions) == 1  # the refused one never reached the provider
    usage = await _command(fake, "emo usage", admin, "**This server this month (UTC)**")
    assert f"Budget: ${cost:.3f} of $0.300 used" in usage.content
    assert fake.violations == []


def _distinct_photo(fixtures: Path) -> bytes:
    """The portrait re-encoded: bytes no one else in the test uploads."""
    buffer = io.BytesIO()
    with Image.open(fixtures / "astronaut.png") as image:
        image.convert("RGB").save(buffer, format="JPEG", quality=91)
    return buffer.getvalue()


def _files_containing(root: Path, pieces: list[bytes]) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and any(piece in path.read_bytes() for piece in pieces)
    ]


async def test_forget_leaves_nothing_of_the_members_media_on_disk(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    fake, data = discord_fake, tmp_path / "data"
    forgetful, keeper = fake.add_member(name="fay"), fake.add_member(name="kim")
    await started(bot_process(), fake)
    await fake.wait_for_commands(names=["emo"])
    photo, voice = _distinct_photo(fixtures), (fixtures / "voice-note-en.ogg").read_bytes()
    mine = {"image": (photo, "me.jpg", "image/jpeg"), "audio": (voice, "v.ogg", "audio/ogg")}
    theirs = attachments(fixtures)
    theirs["audio"] = ((fixtures / "voice-note-zh.ogg").read_bytes(), "z.ogg", "audio/ogg")
    await fake.invoke_slash("emo animate", user_id=forgetful, attachments=mine)
    await fake.invoke_slash("emo animate", user_id=keeper, attachments=theirs)
    (job,) = await _delivered(data, forgetful)
    (kept,) = await _delivered(data, keeper)
    media = data / "media"
    pieces = [photo[2000:2064], voice[2000:2064]]
    assert (media / f"job-{job}" / "result.mp4").exists()
    assert _files_containing(data, pieces)  # the originals are cached until forgotten

    answer = await _command(fake, "emo forget", forgetful, "Deleted")
    assert "of 1 of your finished videos" in answer.content
    assert not (media / f"job-{job}").exists()
    assert _files_containing(data, pieces) == []
    assert (media / f"job-{kept}" / "result.mp4").exists()  # someone else's stays
    assert _rows(
        data,
        "SELECT image_source_url, audio_source_url, image_url, result_url FROM jobs WHERE id = ?",
        job,
    ) == [("", "", None, None)]
    again = await _command(fake, "emo forget", forgetful, "nothing to delete")
    assert again.ephemeral
    assert fake.violations == []


async def test_leaving_a_server_deletes_that_servers_media(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    fake, data = discord_fake, tmp_path / "data"
    other_guild = fake.add_guild("Elsewhere")
    lobby = fake.add_channel(other_guild, "lobby")
    there = fake.add_member(name="tom", guild_id=other_guild)
    here = fake.add_member(name="hal")
    await started(bot_process(), fake)
    await fake.wait_for_commands(names=["emo"])
    await fake.invoke_slash(
        "emo animate", user_id=there, channel_id=lobby, attachments=attachments(fixtures)
    )
    await fake.invoke_slash("emo animate", user_id=here, attachments=attachments(fixtures))
    (gone,) = await _delivered(data, there)
    (stays,) = await _delivered(data, here)
    media = data / "media"
    assert (media / f"job-{gone}").exists()

    await fake.dispatch("GUILD_DELETE", {"id": str(other_guild)})  # the bot was kicked
    await until(lambda: not (media / f"job-{gone}").exists(), "the server's media deleted", 20)
    assert (media / f"job-{stays}" / "result.mp4").exists()
    assert _rows(data, "SELECT image_source_url FROM jobs WHERE id = ?", gone) == [("",)]


async def test_a_servers_settings_shape_where_and_how_its_videos_are_made(
    bot_process: BotFactory, discord_fake: FakeDiscord, fixtures: Path, tmp_path: Path
) -> None:
    fake = discord_fake
    await started(bot_process(), fake)
    admin = fake.add_member(name="ada", manage_guild=True)
    member = fake.add_member(name="bo")
    videos = fake.add_channel(fake.guild_id, "videos")
    await asyncio.sleep(0.5)  # CHANNEL_CREATE reaches the bot's cache
    await _command(
        fake,
        "emo-admin set",
        admin,
        "",
        output_channel=videos,
        default_framing="3:4",
        dm_delivery=False,
    )
    await until(
        lambda: bool(_rows(tmp_path / "data", "SELECT 1 FROM guild_settings")), "the settings"
    )

    # By DM is off in this server: refused at once, before anything is stored.
    refused = await fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures), options={"dm": True}
    )
    await _answer(refused, "does not send results by direct message")
    assert _rows(tmp_path / "data", "SELECT id FROM jobs") == []

    # Without options: the server's framing, and the card and the video in its channel.
    await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
    result = await fake.wait_for_message(videos, predicate=lambda m: is_video(m), timeout=90)
    assert [m for m in fake.messages() if is_video(m)] == []  # nothing in the command's channel
    with av.open(io.BytesIO(result.files[0].data)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (512, 704)
    cards = [m for m in fake.messages(videos) if m.nonce == "emo-card-1"]
    assert len(cards) == 1
    assert fake.violations == []


async def test_a_servers_alert_channel_hears_of_its_stuck_renders(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
) -> None:
    fake = discord_fake
    simulator.update_knobs(render_seconds_per_audio_second=0.6)  # about 6 s of rendering
    await started(bot_process(EMO_STUCK_TASK_SECONDS="1"), fake)
    admin = fake.add_member(name="ada", manage_guild=True)
    alerts = fake.add_channel(fake.guild_id, "alerts")
    await asyncio.sleep(0.5)  # CHANNEL_CREATE reaches the bot's cache
    await _command(fake, "emo-admin set", admin, "", alert_channel=alerts)
    await fake.invoke_slash("emo animate", user_id=admin, attachments=attachments(fixtures))
    alert = await fake.wait_for_message(
        alerts, predicate=lambda m: "rendering for over" in m.content
    )
    assert "Job 1" in alert.content
    await fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    assert fake.violations == []
