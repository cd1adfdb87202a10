"""Self-tests of the fake's refusal and media knobs, driven by an unmodified discord.py client.

Covers forbid_posting, close_dms, set_avatar (+ the avatar CDN), modal file uploads,
remove_bot_from_guild, enforce_edit_bucket, and voice messages in message context menus.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.fake_discord import FakeDiscord, FakeInteraction, FakeUpload

pytestmark = pytest.mark.timeout(30)

TOKEN = "fake-bot-token"
FIXTURES = Path(__file__).parent / "fixtures"
PNG = (FIXTURES / "astronaut.png").read_bytes()
OGG = (FIXTURES / "voice-note-en.ogg").read_bytes()
WAVEFORM = base64.b64encode(bytes(range(0, 256, 4))).decode()
VOICE_FLAG = 1 << 13

Probe = Callable[[discord.Interaction], Awaitable[object]]
# What the modal's on_submit saw: the caption, and (filename, content_type, bytes, url) per file.
Submitted = tuple[str, list[tuple[str, str | None, bytes, str]]]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()


class ProbeBot(commands.Bot):
    """A real discord.py bot with a /probe command and an "Inspect" message context menu."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
            help_command=None,
        )
        self.probe: Probe | None = None
        self.outcomes: asyncio.Queue[object] = asyncio.Queue()

    async def setup_hook(self) -> None:
        @self.tree.command(name="probe", description="Runs the test's probe")
        async def probe(interaction: discord.Interaction) -> None:
            await self.run_probe(interaction)

        async def inspect(interaction: discord.Interaction, message: discord.Message) -> None:
            voice = message.attachments[0]
            self.outcomes.put_nowait(
                (
                    voice.is_voice_message(),
                    message.flags.voice,
                    voice.duration,
                    voice.waveform,
                    voice.content_type,
                    await voice.read(),
                )
            )
            await interaction.response.send_message("inspected", ephemeral=True)

        self.tree.add_command(app_commands.ContextMenu(name="Inspect", callback=inspect))
        await self.tree.sync()

    async def run_probe(self, interaction: discord.Interaction) -> None:
        assert self.probe is not None
        try:
            result = await self.probe(interaction)
        except Exception as exc:  # handed to the test, which asserts on it
            result = exc
        self.outcomes.put_nowait(result)

    async def outcome(self) -> object:
        return await asyncio.wait_for(self.outcomes.get(), 10)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(bot_token=TOKEN)
    await server.start()
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    old_cdn = discord.asset.Asset.BASE
    discord.http.Route.BASE = server.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    discord.asset.Asset.BASE = server.cdn_base_url
    try:
        yield server
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
        discord.asset.Asset.BASE = old_cdn
        await server.close()


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord) -> AsyncIterator[ProbeBot]:
    """Start the bot against the fake and wait for its command sync; close it afterwards."""
    bot = ProbeBot()
    await bot.login(TOKEN)
    task = asyncio.create_task(bot.connect(reconnect=True))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await fake.wait_for_commands(names=["probe", "Inspect"])
        yield bot
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[ProbeBot]:
    async with running_bot(fake) as client:
        yield client


async def _until(check: Callable[[], bool], what: str) -> None:
    """Poll the bot's cache until a gateway update has been applied."""
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _text_channel(bot: ProbeBot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_forbid_posting_is_403_missing_permissions(fake: FakeDiscord, bot: ProbeBot) -> None:
    channel = _text_channel(bot, fake.channel_id)
    earlier = await channel.send("working")
    fake.forbid_posting(fake.channel_id)
    # The bot's cache learns of the overwrite through CHANNEL_UPDATE, as on Discord.
    await _until(lambda: not channel.permissions_for(channel.guild.me).send_messages, "overwrite")
    with pytest.raises(discord.Forbidden) as sent:
        await channel.send("result")
    assert (sent.value.status, sent.value.code, sent.value.text) == (
        403,
        50013,
        "Missing Permissions",
    )
    with pytest.raises(discord.Forbidden) as reacted:
        await earlier.add_reaction("✅")
    assert reacted.value.code == 50013
    # Editing the bot's own message does not need Send Messages.
    await earlier.edit(content="still editable")
    auth = {"Authorization": f"Bot {TOKEN}"}
    url = f"{fake.api_base_url}/channels/{fake.channel_id}/messages"
    async with (
        aiohttp.ClientSession(headers=auth) as session,
        session.post(url, json={"content": "raw"}) as resp,
    ):
        assert resp.status == 403
        assert await resp.json() == {"message": "Missing Permissions", "code": 50013}

    # Interaction responses need no channel permission; app_permissions shows the overwrite.
    async def respond(interaction: discord.Interaction) -> object:
        await interaction.response.send_message("answered")
        return interaction.app_permissions.send_messages

    bot.probe = respond
    await fake.invoke_slash("probe")
    assert await bot.outcome() is False
    fake.allow_posting(fake.channel_id)
    await channel.send("result")
    assert [m.content for m in fake.messages()] == ["still editable", "answered", "result"]
    assert fake.violations == []


async def test_closed_dms_are_403_cannot_send(fake: FakeDiscord, bot: ProbeBot) -> None:
    user_id = fake.add_member(name="frank")
    fake.close_dms(user_id)
    user = await bot.fetch_user(user_id)
    dm = await user.create_dm()  # opening the channel still works, as on Discord
    assert isinstance(dm, discord.DMChannel)
    with pytest.raises(discord.Forbidden) as refused:
        await user.send("your video")
    assert (refused.value.status, refused.value.code, refused.value.text) == (
        403,
        50007,
        "Cannot send messages to this user",
    )
    assert fake.dm_messages(user_id) == []
    assert fake.dm_messages(fake.add_member(name="never-dmed")) == []
    fake.open_dms(user_id)
    await user.send("your video")
    assert [m.content for m in fake.dm_messages(user_id)] == ["your video"]
    assert fake.violations == []


async def _download(url: str) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


async def test_avatars_in_payloads_and_on_the_cdn(fake: FakeDiscord) -> None:
    jpeg = _jpeg()
    alice = fake.add_member(name="alice")
    plain = fake.add_member(name="plain")
    avatar = fake.set_avatar(alice, PNG)
    fake.set_avatar(fake.bot_user_id, jpeg)
    with pytest.raises(ValueError, match="PNG, JPEG"):
        fake.set_avatar(alice, b"GIF89a not supported")
    async with running_bot(fake) as bot:
        # READY carries the bot's avatar; member objects (here from REST) the members'.
        assert bot.user is not None
        assert await bot.user.display_avatar.read() == jpeg
        guild = bot.get_guild(fake.guild_id)
        assert guild is not None
        member = await guild.fetch_member(alice)
        url = member.display_avatar.url
        assert url == f"{fake.cdn_base_url}/avatars/{alice}/{avatar}.png?size=1024"
        assert await _download(url) == (200, "image/png", PNG)
        # Any supported extension serves the stored bytes, typed by what they really are.
        as_webp = member.display_avatar.with_format("webp").with_size(64).url
        assert await _download(as_webp) == (200, "image/png", PNG)
        assert (await _download(url.replace(avatar, "0" * 32)))[0] == 404
        # No avatar: discord.py falls back to /embed/avatars/{(id >> 22) % 6}.png.
        default = await guild.fetch_member(plain)
        status, content_type, body = await _download(default.display_avatar.url)
        assert (status, content_type) == (200, "image/png")
        with Image.open(io.BytesIO(body)) as image:
            assert image.format == "PNG"

        # An avatar set while connected shows in the next interaction's user object.
        late = fake.set_avatar(plain, jpeg)

        async def who(interaction: discord.Interaction) -> object:
            await interaction.response.send_message("hi", ephemeral=True)
            return interaction.user.display_avatar.url

        bot.probe = who
        await fake.invoke_slash("probe", user_id=plain)
        seen = await bot.outcome()
        assert seen == f"{fake.cdn_base_url}/avatars/{plain}/{late}.png?size=1024"
        url = str(seen)
        assert await _download(url) == (200, "image/jpeg", jpeg)
    assert fake.violations == []


class UploadModal(discord.ui.Modal, title="Animate"):
    """A modal with a text input and a file upload, each inside a Label (types 18/4, 18/19)."""

    caption: discord.ui.Label[UploadModal] = discord.ui.Label(
        text="Caption", component=discord.ui.TextInput(custom_id="caption")
    )
    photos: discord.ui.Label[UploadModal] = discord.ui.Label(
        text="Photos",
        component=discord.ui.FileUpload(custom_id="photos", min_values=1, max_values=2),
    )

    def __init__(self, results: asyncio.Queue[Submitted]) -> None:
        super().__init__()
        self.results = results

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("received", ephemeral=True)
        text = self.caption.component
        upload = self.photos.component
        assert isinstance(text, discord.ui.TextInput)
        assert isinstance(upload, discord.ui.FileUpload)
        files = [(a.filename, a.content_type, await a.read(), a.url) for a in upload.values]
        self.results.put_nowait((text.value, files))


async def _open_modal(
    fake: FakeDiscord, bot: ProbeBot
) -> tuple[FakeInteraction, asyncio.Queue[Submitted]]:
    results: asyncio.Queue[Submitted] = asyncio.Queue()

    async def open_modal(interaction: discord.Interaction) -> object:
        await interaction.response.send_modal(UploadModal(results))
        return None

    bot.probe = open_modal
    opened = await fake.invoke_slash("probe")
    assert await bot.outcome() is None
    assert await opened.wait_acked() == 9
    return opened, results


async def test_modal_file_upload(fake: FakeDiscord, bot: ProbeBot) -> None:
    opened, results = await _open_modal(fake, bot)
    assert opened.modal is not None
    label = opened.modal["components"][1]
    assert (label["type"], label["component"]["type"]) == (18, 19)
    # Like Discord's client, the fake refuses what a user could not submit.
    with pytest.raises(ValueError, match=r"takes 1\.\.2 files"):
        await fake.submit_modal(opened, {"caption": "x"})
    with pytest.raises(ValueError, match="no file upload"):
        await fake.submit_modal(opened, {}, files={"photos": [(PNG, "a.png")], "other": []})
    jpeg = _jpeg()
    submitted = await fake.submit_modal(
        opened,
        {"caption": "hello"},
        files={"photos": [(PNG, "face.png", "image/png"), FakeUpload(jpeg, "side.jpg")]},
    )
    caption, files = await asyncio.wait_for(results.get(), 5)
    assert caption == "hello"
    assert [(name, kind, data) for name, kind, data, _ in files] == [
        ("face.png", "image/png", PNG),
        ("side.jpg", "image/jpeg", jpeg),
    ]
    for *_, url in files:
        assert yarl.URL(url).host == fake.attachment_host
    # The submitted component as Discord sends it: values are the resolved attachment ids.
    data = submitted.payload["data"]
    upload = data["components"][1]["component"]
    assert (upload["type"], upload["custom_id"]) == (19, "photos")
    assert isinstance(upload["id"], int)
    assert upload["values"] == list(data["resolved"]["attachments"])
    assert await submitted.wait_acked() == 4
    assert fake.violations == []


async def test_bot_removed_from_guild(fake: FakeDiscord, bot: ProbeBot) -> None:
    removed: asyncio.Queue[discord.Guild] = asyncio.Queue()
    unavailable: list[discord.Guild] = []

    async def on_guild_remove(guild: discord.Guild) -> None:
        removed.put_nowait(guild)

    async def on_guild_unavailable(guild: discord.Guild) -> None:
        unavailable.append(guild)

    bot.add_listener(on_guild_remove)
    bot.add_listener(on_guild_unavailable)
    guild_id = fake.add_guild("Leaving")
    channel_id = fake.add_channel(guild_id, "renders")
    await _until(lambda: bot.get_channel(channel_id) is not None, "the new channel")
    channel = _text_channel(bot, channel_id)
    await channel.send("before")
    assert await fake.remove_bot_from_guild(guild_id) == 1
    assert (await asyncio.wait_for(removed.get(), 5)).id == guild_id
    assert unavailable == []
    assert bot.get_guild(guild_id) is None
    with pytest.raises(discord.NotFound) as lookup:
        await bot.fetch_guild(guild_id)
    assert (lookup.value.status, lookup.value.code, lookup.value.text) == (
        404,
        10004,
        "Unknown Guild",
    )
    with pytest.raises(discord.Forbidden) as post:
        await channel.send("after")
    assert (post.value.code, post.value.text) == (50001, "Missing Access")
    assert [m.content for m in fake.messages(channel_id)] == ["before"]
    with pytest.raises(ValueError, match="removed"):
        await fake.invoke_slash("probe", channel_id=channel_id)
    # The other guild is untouched.
    assert bot.get_guild(fake.guild_id) is not None
    await _text_channel(bot, fake.channel_id).send("still here")
    assert fake.violations == []


async def test_edit_bucket_429s_and_edit_history(fake: FakeDiscord, bot: ProbeBot) -> None:
    channel = _text_channel(bot, fake.channel_id)
    status = await channel.send("queued")
    other = await channel.send("other")
    fake.enforce_edit_bucket(limit=2, per_seconds=0.5)
    started = time.monotonic()
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Cancel", custom_id="cancel"))
    await status.edit(content="preparing", view=view)
    await status.edit(content="rendering")
    # The bucket is per message: another message's edit is not limited.
    await other.edit(content="other edited")
    assert fake.edit_429s == 0
    # The third edit within 0.5 s is answered 429; discord.py sleeps and retries by itself.
    await status.edit(content="posting", view=None)
    assert fake.edit_429s == 1
    edits = fake.edits_of(status.id)
    assert [(e.content, e.custom_ids) for e in edits] == [
        ("preparing", ("cancel",)),
        ("rendering", ("cancel",)),
        ("posting", ()),
    ]
    assert edits[2].at - started >= 0.5
    assert [r.status for r in fake.requests if r.method == "PATCH"] == [200, 200, 200, 429, 200]
    # What the 429 looks like on the wire.
    fresh = await channel.send("fresh")
    fake.enforce_edit_bucket(limit=1, per_seconds=30.0)
    auth = {"Authorization": f"Bot {TOKEN}"}
    url = f"{fake.api_base_url}/channels/{fake.channel_id}/messages/{fresh.id}"
    async with aiohttp.ClientSession(headers=auth) as session:
        async with session.patch(url, json={"content": "one"}) as resp:
            assert resp.status == 200
        async with session.patch(url, json={"content": "two"}) as resp:
            assert resp.status == 429
            body = await resp.json()
            headers = resp.headers
    assert body["message"] == "You are being rate limited."
    assert body["global"] is False
    assert 29.0 < body["retry_after"] <= 30.0
    assert headers["Via"] == "1.1 google"
    assert headers["Retry-After"] == "30"
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("1", "0")
    assert headers["X-RateLimit-Scope"] == "user"
    assert "X-RateLimit-Bucket" in headers
    assert fake.edit_429s == 2
    assert [e.content for e in fake.edits_of(fresh.id)] == ["one"]
    assert fake.violations == []


async def test_context_menu_on_voice_message(fake: FakeDiscord, bot: ProbeBot) -> None:
    user_id = fake.add_member(name="gina")
    voice = FakeUpload(OGG, "voice-message.ogg", "audio/ogg", duration_secs=3.2, waveform=WAVEFORM)
    msg = await fake.post_user_message(user_id, attachments=[voice], flags=VOICE_FLAG)
    interaction = await fake.invoke_context_menu(
        "Inspect", target_message_id=msg.id, user_id=user_id
    )
    outcome = await bot.outcome()
    assert outcome == (True, True, 3.2, base64.b64decode(WAVEFORM), "audio/ogg", OGG)
    target = interaction.payload["data"]["resolved"]["messages"][str(msg.id)]
    assert target["flags"] == VOICE_FLAG
    (attachment,) = target["attachments"]
    assert (attachment["duration_secs"], attachment["waveform"]) == (3.2, WAVEFORM)
    assert fake.violations == []
