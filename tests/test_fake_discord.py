"""Self-tests of tests.fake_discord: an unmodified discord.py bot against the fake."""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fake_discord import FakeDiscord, FakeMessage, FakeUpload

pytestmark = pytest.mark.timeout(20)

TOKEN = "fake-bot-token"
FIXTURES = Path(__file__).parent / "fixtures"
PNG = (FIXTURES / "astronaut.png").read_bytes()
OGG = (FIXTURES / "voice-note-en.ogg").read_bytes()
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64

Handler = Callable[
    [discord.Interaction, discord.Attachment, discord.Attachment, str], Awaitable[Any]
]

emo = app_commands.Group(name="emo", description="Talking-head videos")


@emo.command(name="animate", description="Animate a portrait with a voice note")
@app_commands.describe(image="A portrait", audio="A voice note", style="Animation style")
@app_commands.choices(
    style=[
        app_commands.Choice(name="calm", value="calm"),
        app_commands.Choice(name="lively", value="lively"),
    ]
)
async def animate(
    interaction: discord.Interaction,
    image: discord.Attachment,
    audio: discord.Attachment,
    style: str = "calm",
) -> None:
    client = interaction.client
    assert isinstance(client, EmoBot)
    await client.run_handler(interaction, image, audio, style)


class EmoBot(commands.Bot):
    """A real discord.py bot whose /emo animate behaviour each test plugs in."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
            help_command=None,
        )
        self.handler: Handler | None = None
        self.outcomes: asyncio.Queue[object] = asyncio.Queue()

    async def setup_hook(self) -> None:
        self.tree.add_command(emo)
        await self.tree.sync()

    async def run_handler(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        audio: discord.Attachment,
        style: str,
    ) -> None:
        assert self.handler is not None
        try:
            result: object = await self.handler(interaction, image, audio, style)
        except Exception as exc:  # handed to the test, which asserts on it
            result = exc
        self.outcomes.put_nowait(result)

    async def outcome(self) -> object:
        return await asyncio.wait_for(self.outcomes.get(), 10)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(bot_token=TOKEN, upload_limit=10 * 1024 * 1024)
    await server.start()
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = server.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield server
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
        await server.close()


async def _start_bot(fake: FakeDiscord) -> tuple[EmoBot, asyncio.Task[None]]:
    bot = EmoBot()
    await bot.login(TOKEN)
    task = asyncio.create_task(bot.connect(reconnect=True))
    await asyncio.wait_for(bot.wait_until_ready(), 10)
    return bot, task


async def _stop_bot(bot: EmoBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[EmoBot]:
    client, task = await _start_bot(fake)
    await fake.wait_for_commands(names=["emo"])
    try:
        yield client
    finally:
        await _stop_bot(client, task)


def _files() -> dict[str, tuple[bytes, str, str]]:
    return {"image": (PNG, "face.png", "image/png"), "audio": (OGG, "voice.ogg", "audio/ogg")}


async def test_connect_ready_and_command_sync(fake: FakeDiscord, bot: EmoBot) -> None:
    assert bot.user is not None
    assert bot.user.id == fake.bot_user_id == fake.application_id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None
    assert guild.get_channel(fake.channel_id) is not None
    assert guild.me is not None
    assert fake.identify_count == 1
    registered = fake.registered_commands()
    assert [c["name"] for c in registered] == ["emo"]
    (sub,) = registered[0]["options"]
    assert (sub["name"], sub["type"]) == ("animate", 1)
    assert [(o["name"], o["type"]) for o in sub["options"]] == [
        ("image", 11),
        ("audio", 11),
        ("style", 3),
    ]
    paths = [(r.method, r.path) for r in fake.requests]
    assert ("GET", "/users/@me") in paths
    assert ("GET", "/oauth2/applications/@me") in paths
    assert ("PUT", f"/applications/{fake.application_id}/commands") in paths
    assert fake.violations == []


async def test_well_behaved_flow_defer_download_send(fake: FakeDiscord, bot: EmoBot) -> None:
    seen: dict[str, Any] = {}

    async def handler(
        interaction: discord.Interaction,
        image: discord.Attachment,
        audio: discord.Attachment,
        style: str,
    ) -> FakeMessage | None:
        await interaction.response.defer(thinking=True)
        seen["image"] = await image.read()
        seen["audio"] = await audio.read()
        seen["style"] = style
        seen["limit"] = interaction.filesize_limit
        seen["image_type"] = image.content_type
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("here it is", file=discord.File(io.BytesIO(VIDEO), "emo.mp4"))
        seen["sent_id"] = sent.id
        await interaction.edit_original_response(content="done")
        return None

    bot.handler = handler
    interaction = await fake.invoke_slash(
        "emo animate", options={"style": "lively"}, attachments=_files()
    )
    assert await bot.outcome() is None
    assert seen["image"] == PNG
    assert seen["audio"] == OGG
    assert seen["style"] == "lively"
    assert seen["limit"] == fake.upload_limit
    assert seen["image_type"] == "image/png"
    assert interaction.callbacks[0][0] == 5
    assert await interaction.wait_acked() == 5
    original = await interaction.wait_original_edit(lambda m: m.content == "done")
    assert not original.loading
    msg = await fake.wait_for_message(predicate=lambda m: bool(m.files))
    assert msg.id == seen["sent_id"]
    assert msg.author_id == fake.bot_user_id
    assert not msg.via_webhook
    assert msg.content == "here it is"
    (file,) = msg.files
    assert (file.filename, file.data, file.size) == ("emo.mp4", VIDEO, len(VIDEO))
    assert file.content_type == "application/octet-stream"
    assert fake.violations == []


async def test_late_ack_is_unknown_interaction(fake: FakeDiscord, bot: EmoBot) -> None:
    fake.ack_deadline = 0.3

    async def handler(interaction: discord.Interaction, *_: object) -> None:
        await asyncio.sleep(0.5)
        await interaction.response.defer(thinking=True)

    bot.handler = handler
    interaction = await fake.invoke_slash("emo animate", attachments=_files())
    error = await bot.outcome()
    assert isinstance(error, discord.NotFound)
    assert (error.status, error.code) == (404, 10062)
    assert interaction.response_type is None
    assert not interaction.acked.is_set()
    assert len(fake.violations) == 1
    assert fake.violations[0].startswith("late ack: interaction")


async def test_double_ack_is_rejected(fake: FakeDiscord, bot: EmoBot) -> None:
    async def handler(interaction: discord.Interaction, *_: object) -> None:
        await interaction.response.defer()
        # Forget locally that we answered, as a second bot process would: Discord refuses.
        interaction.response._response_type = None
        await interaction.response.send_message("again")

    bot.handler = handler
    interaction = await fake.invoke_slash("emo animate", attachments=_files())
    error = await bot.outcome()
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (400, 40060)
    assert [t for t, _ in interaction.callbacks] == [5, 4]
    assert interaction.response_type == 5
    assert len(fake.violations) == 1
    assert fake.violations[0].startswith("double ack: interaction")


async def test_followup_after_token_expiry_fails_but_bot_token_works(
    fake: FakeDiscord, bot: EmoBot
) -> None:
    fake.token_lifetime = 1.0

    async def handler(interaction: discord.Interaction, *_: object) -> object:
        await interaction.response.defer(thinking=True)
        await asyncio.sleep(1.2)
        try:
            await interaction.followup.send("too late")
        except discord.HTTPException as exc:
            assert interaction.channel is not None
            assert isinstance(interaction.channel, discord.TextChannel)
            await interaction.channel.send("result via bot token")
            return exc
        return None

    bot.handler = handler
    interaction = await fake.invoke_slash("emo animate", attachments=_files())
    error = await bot.outcome()
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (401, 50027)
    assert interaction.token_lifetime == 1.0
    assert interaction.followups == []
    assert interaction.original_response is not None
    assert interaction.original_response.loading
    msg = await fake.wait_for_message(predicate=lambda m: m.content == "result via bot token")
    assert msg.author_id == fake.bot_user_id
    assert not msg.via_webhook
    assert len(fake.violations) == 1
    assert fake.violations[0].startswith("expired token:")


async def test_oversize_upload_is_413(fake: FakeDiscord, bot: EmoBot) -> None:
    fake.upload_limit = 4096

    async def handler(interaction: discord.Interaction, *_: object) -> object:
        await interaction.response.defer(thinking=True)
        assert interaction.filesize_limit == 4096
        channel = interaction.channel
        assert isinstance(channel, discord.TextChannel)
        try:
            await channel.send(file=discord.File(io.BytesIO(b"\0" * 5000), "big.mp4"))
        except discord.HTTPException as exc:
            return exc
        return None

    bot.handler = handler
    await fake.invoke_slash("emo animate", attachments=_files())
    error = await bot.outcome()
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (413, 40005)
    assert not any(m.files for m in fake.messages())
    assert len(fake.violations) == 1
    assert fake.violations[0].startswith("oversize upload:")


async def test_rate_limited_edit_is_retried(fake: FakeDiscord, bot: EmoBot) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("working")
    fake.rate_limit("PATCH", r"/channels/\d+/messages/\d+$", times=1, retry_after=0.2)
    edited = await sent.edit(content="done")
    assert edited.content == "done"
    stored = fake.messages()[-1]
    assert (stored.id, stored.content, stored.edits) == (sent.id, "done", 1)
    assert stored.content_history == ["working", "done"]
    patches = [r.status for r in fake.requests if r.method == "PATCH"]
    assert patches == [429, 200]
    assert fake.violations == []


async def test_nonce_with_enforce_nonce_deduplicates(fake: FakeDiscord, bot: EmoBot) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    first = await channel.send("video ready", nonce="job-42")
    second = await channel.send("video ready", nonce="job-42")
    third = await channel.send("other job", nonce="job-43")
    assert first.id == second.id != third.id
    assert [m.content for m in fake.messages()] == ["video ready", "other job"]
    assert fake.messages()[0].nonce == "job-42"
    assert fake.violations == []


async def test_cdn_signed_urls(fake: FakeDiscord) -> None:
    member = fake.add_member(name="alice")
    msg = await fake.post_user_message(member, attachments=[(PNG, "face.png", "image/png")])
    url = yarl.URL(fake.attachment_url(msg.files[0]))
    assert url.host == fake.attachment_host
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "image/png"
            assert resp.headers["Content-Length"] == str(len(PNG))
            assert await resp.read() == PNG
        tampered = url.update_query(hm="0" * 64)
        async with session.get(tampered) as resp:
            assert resp.status == 403
        extended = url.update_query(ex=f"{int(url.query['ex'], 16) + 3600:x}")
        async with session.get(extended) as resp:
            assert resp.status == 403
        unknown = url.with_path(url.path.replace(str(msg.files[0].attachment_id), "1"))
        async with session.get(unknown) as resp:
            assert resp.status == 404
        fake.cdn_url_lifetime = -1.0
        expired = yarl.URL(fake.attachment_url(msg.files[0]))
        async with session.get(expired) as resp:
            assert resp.status == 403
    assert (msg.files[0].width, msg.files[0].height) == (512, 512)


async def test_rest_rules_for_raw_clients(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {TOKEN}"}
    base = fake.api_base_url
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/users/@me", headers=auth) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            assert int(resp.headers["X-RateLimit-Remaining"]) > 0
            assert "X-RateLimit-Bucket" in resp.headers
        async with session.get(f"{base}/users/@me") as resp:
            assert resp.status == 401
            assert await resp.json() == {"message": "401: Unauthorized", "code": 0}
        url = f"{base}/channels/{fake.channel_id}/messages"
        async with session.post(url, data=b'{"content": "x"}', headers=auth) as resp:
            assert resp.status == 400
        async with session.post(url, json={"content": 5}, headers=auth) as resp:
            assert resp.status == 200
        async with session.get(f"{base}/nope", headers=auth) as resp:
            assert resp.status == 404
        fake.rate_limit("GET", r"^/users/@me$", retry_after=0.5)
        async with session.get(f"{base}/users/@me", headers=auth) as resp:
            assert resp.status == 429
            assert resp.headers["Via"] == "1.1 google"
            assert resp.headers["Retry-After"] == "1"
            assert (await resp.json())["retry_after"] == 0.5
    violations = fake.take_violations()
    assert violations[0].startswith("unauthorized: GET /users/@me")
    assert "Content-Type 'application/octet-stream'" in violations[1]
    assert violations[2].startswith("openapi: POST /channels/{channel_id}/messages request body")
    assert violations[3] == "unknown route: GET /nope"
    assert len(violations) == 4


async def test_gateway_wrong_token_is_closed_4004(fake: FakeDiscord) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws,
    ):
        hello = await ws.receive_json()
        assert hello["op"] == 10
        assert hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 1, "d": None})
        assert (await ws.receive_json())["op"] == 11
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4004
    assert fake.take_violations() == ["gateway: IDENTIFY with a wrong token"]
    assert fake.identify_count == 0


async def test_resume_and_new_process_identify(fake: FakeDiscord, bot: EmoBot) -> None:
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)
    assert await fake.disconnect_gateway() == 1
    await asyncio.wait_for(resumed.wait(), 10)
    assert (fake.identify_count, fake.resume_count) == (1, 1)
    # A new bot process after a crash identifies afresh; the server keeps working.
    await bot.close()
    second, task = await _start_bot(fake)
    try:
        await fake.wait_for_identify(count=3)
        assert fake.identify_count == 2
        reply = await fake.dispatch(
            "MESSAGE_REACTION_ADD",
            {
                "user_id": str(fake.default_user()),
                "channel_id": str(fake.channel_id),
                "message_id": "1",
                "guild_id": str(fake.guild_id),
                "emoji": {"id": None, "name": "👍"},
                "burst": False,
                "type": 0,
            },
        )
        assert reply == 1
    finally:
        await _stop_bot(second, task)
    assert fake.violations == []


async def test_responses_followups_and_edits(fake: FakeDiscord, bot: EmoBot) -> None:
    async def deferred(interaction: discord.Interaction, *_: object) -> object:
        await interaction.response.defer(thinking=True, ephemeral=False)
        # The first followup after a defer fills in the "thinking" message.
        first = await interaction.followup.send("first", wait=True)
        second = await interaction.followup.send(
            "second", file=discord.File(io.BytesIO(b"abc"), "a.txt"), wait=True
        )
        hidden = await interaction.followup.send("only you", ephemeral=True, wait=True)
        await second.edit(attachments=[discord.File(io.BytesIO(b"xyz"), "b.txt")])
        await hidden.delete()
        return (first.id, second.id)

    bot.handler = deferred
    interaction = await fake.invoke_slash("emo animate", attachments=_files())
    outcome = await bot.outcome()
    assert isinstance(outcome, tuple)
    original = interaction.original_response
    assert original is not None
    assert original.id == outcome[0]
    assert (original.content, original.loading, original.edits) == ("first", False, 1)
    second = interaction.followups[0]
    assert second.id == outcome[1]
    assert [(f.filename, f.data) for f in second.files] == [("b.txt", b"xyz")]
    assert interaction.followups[1].ephemeral
    assert interaction.followups[1].deleted
    assert [m.content for m in fake.messages()] == ["first", "second"]
    assert all(m.via_webhook and m.interaction_id == interaction.id for m in fake.messages())

    async def immediate(interaction: discord.Interaction, *_: object) -> object:
        await interaction.response.send_message(
            "rendering", file=discord.File(io.BytesIO(PNG), "preview.png")
        )
        message = await interaction.original_response()
        await interaction.edit_original_response(content="rendered", attachments=[])
        return message.attachments[0].width

    bot.handler = immediate
    interaction = await fake.invoke_slash("emo animate", attachments=_files())
    assert await bot.outcome() == 512
    original = await interaction.wait_original_edit()
    assert (original.content, original.files) == ("rendered", [])
    assert original.content_history == ["rendering", "rendered"]
    assert fake.violations == []


async def test_dm_history_and_reactions(fake: FakeDiscord, bot: EmoBot) -> None:
    user_id = fake.add_member(name="bob")
    user = await bot.fetch_user(user_id)
    dm = await user.send("your video is ready")
    assert isinstance(dm.channel, discord.DMChannel)
    assert [m.content for m in fake.messages(dm.channel.id)] == ["your video is ready"]
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"m{i}") for i in range(3)]
    history = [m.content async for m in channel.history(limit=2)]
    assert history == ["m2", "m1"]
    older = [m.content async for m in channel.history(before=sent[1], oldest_first=True)]
    assert older == ["m0"]
    got: asyncio.Queue[discord.RawReactionActionEvent] = asyncio.Queue()

    async def on_raw_reaction_add(event: discord.RawReactionActionEvent) -> None:
        got.put_nowait(event)

    bot.add_listener(on_raw_reaction_add)
    await sent[0].add_reaction("✅")
    echo = await asyncio.wait_for(got.get(), 5)
    assert (echo.user_id, str(echo.emoji)) == (fake.bot_user_id, "✅")
    await fake.add_reaction(sent[0].id, "👍", user_id=user_id)
    event = await asyncio.wait_for(got.get(), 5)
    assert (event.user_id, event.message_id, str(event.emoji)) == (user_id, sent[0].id, "👍")
    assert fake.messages()[0].reactions == [("✅", fake.bot_user_id), ("👍", user_id)]
    fetched = await channel.fetch_message(sent[0].id)
    assert sorted(str(r.emoji) for r in fetched.reactions) == ["✅", "👍"]
    assert fake.violations == []


async def test_context_menu_button_and_modal(fake: FakeDiscord, bot: EmoBot) -> None:
    results: asyncio.Queue[object] = asyncio.Queue()

    class Name(discord.ui.Modal, title="Name it"):
        title_input: discord.ui.TextInput[Name] = discord.ui.TextInput(label="Title")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            await interaction.response.send_message(f"titled {self.title_input.value}")
            results.put_nowait(self.title_input.value)

    class Buttons(discord.ui.View):
        @discord.ui.button(label="Rename", custom_id="rename")
        async def rename(
            self, interaction: discord.Interaction, _: discord.ui.Button[Buttons]
        ) -> None:
            await interaction.response.send_modal(Name())

    async def animate_voice(interaction: discord.Interaction, message: discord.Message) -> None:
        attachment = message.attachments[0]
        results.put_nowait((attachment.duration, message.flags.voice, await attachment.read()))
        await interaction.response.send_message("pick", view=Buttons())

    bot.tree.add_command(app_commands.ContextMenu(name="Animate voice", callback=animate_voice))
    await bot.tree.sync()
    await fake.wait_for_commands(names=["emo", "Animate voice"])
    user_id = fake.add_member(name="carol")
    voice = FakeUpload(OGG, "voice-message.ogg", "audio/ogg", duration_secs=2.5, waveform="AAAA")
    msg = await fake.post_user_message(user_id, attachments=[voice], flags=1 << 13)
    await fake.invoke_context_menu("Animate voice", target_message_id=msg.id, user_id=user_id)
    assert await asyncio.wait_for(results.get(), 5) == (2.5, True, OGG)
    reply = await fake.wait_for_message(predicate=lambda m: m.content == "pick")
    click = await fake.invoke_component(reply.id, "rename", user_id=user_id)
    assert await click.wait_acked() == 9
    assert click.modal is not None
    assert click.modal["title"] == "Name it"
    custom_id = click.modal["components"][0]["components"][0]["custom_id"]
    await fake.submit_modal(click, {custom_id: "Hello"})
    assert await asyncio.wait_for(results.get(), 5) == "Hello"
    await fake.wait_for_message(predicate=lambda m: m.content == "titled Hello")
    assert fake.violations == []


async def test_guild_command_sync_and_invoke(fake: FakeDiscord, bot: EmoBot) -> None:
    guild = discord.Object(id=fake.guild_id)
    bot.tree.copy_global_to(guild=guild)
    synced = await bot.tree.sync(guild=guild)
    assert [c.name for c in synced] == ["emo"]
    assert [c["name"] for c in fake.registered_commands(fake.guild_id)] == ["emo"]
    guild_command_id = fake.registered_commands(fake.guild_id)[0]["id"]
    # Like Discord's client, the fake refuses what a user could not submit.
    with pytest.raises(ValueError, match="not a choice"):
        await fake.invoke_slash("emo animate", options={"style": "angry"}, attachments=_files())
    with pytest.raises(ValueError, match="required option 'audio'"):
        await fake.invoke_slash("emo animate", attachments={"image": _files()["image"]})
    with pytest.raises(ValueError, match="no sub-command"):
        await fake.invoke_slash("emo render", attachments=_files())

    async def handler(interaction: discord.Interaction, *_: object) -> object:
        await interaction.response.send_message("ok", ephemeral=True)
        return interaction.guild_locale

    bot.handler = handler
    interaction = await fake.invoke_slash(
        "emo animate", attachments=_files(), locale="de", guild_locale="fr"
    )
    assert await bot.outcome() == discord.Locale.french
    assert interaction.payload["data"]["id"] == guild_command_id
    assert interaction.payload["data"]["guild_id"] == str(fake.guild_id)
    original = interaction.original_response
    assert original is not None
    assert (original.ephemeral, original.content) == (True, "ok")
    assert fake.messages() == []
    assert fake.messages(include_ephemeral=True) == [original]
    assert fake.violations == []


BOT_PROCESS = """
import sys, discord, yarl
discord.http.Route.BASE = sys.argv[1]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[2])
client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)

@client.event
async def on_ready():
    print("ready", client.user.id, flush=True)

client.run(sys.argv[3], log_handler=None)
"""


async def test_killed_bot_processes_and_restarts(fake: FakeDiscord) -> None:
    for attempt in range(1, 3):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            BOT_PROCESS,
            fake.api_base_url,
            fake.gateway_url,
            TOKEN,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            await fake.wait_for_identify(count=attempt)
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 10)
            assert line.decode().split() == ["ready", str(fake.bot_user_id)]
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
    assert fake.identify_count == 2
    assert fake.violations == []


async def test_read_endpoints_match_openapi(fake: FakeDiscord) -> None:
    member = fake.add_member(name="dave", manage_guild=True)
    g, c = fake.guild_id, fake.channel_id
    paths = [
        "/gateway",
        "/gateway/bot",
        "/users/@me",
        f"/users/{member}",
        "/oauth2/applications/@me",
        "/applications/@me",
        f"/applications/{fake.application_id}/commands",
        f"/applications/{fake.application_id}/guilds/{g}/commands",
        f"/guilds/{g}?with_counts=true",
        f"/guilds/{g}/channels",
        f"/guilds/{g}/members/{member}",
        f"/channels/{c}",
        f"/channels/{c}/messages?limit=5",
    ]
    auth = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession(headers=auth) as session:
        for path in paths:
            async with session.get(fake.api_base_url + path) as resp:
                assert resp.status == 200, path
                assert resp.headers["Content-Type"] == "application/json"
        async with session.get(f"{fake.api_base_url}/guilds/{g}/members/{member}") as resp:
            roles = (await resp.json())["roles"]
    assert roles == [str(fake.guilds[g].manager_role_id)]
    assert fake.violations == []


async def test_extra_guild_and_channel_reach_the_bot(fake: FakeDiscord, bot: EmoBot) -> None:
    joined: asyncio.Queue[discord.Guild] = asyncio.Queue()

    async def on_guild_join(guild: discord.Guild) -> None:
        joined.put_nowait(guild)

    bot.add_listener(on_guild_join)
    guild_id = fake.add_guild("Second")
    assert (await asyncio.wait_for(joined.get(), 5)).id == guild_id
    channel_id = fake.add_channel(guild_id, "renders")
    member = fake.add_member(name="erin", guild_id=guild_id)

    async def handler(interaction: discord.Interaction, *_: object) -> object:
        await interaction.response.send_message("hi")
        assert interaction.guild is not None
        return (interaction.guild.id, interaction.channel_id, interaction.user.id)

    bot.handler = handler
    await fake.invoke_slash(
        "emo animate", user_id=member, channel_id=channel_id, attachments=_files()
    )
    assert await bot.outcome() == (guild_id, channel_id, member)
    assert isinstance(bot.get_channel(channel_id), discord.TextChannel)
    assert [m.content for m in fake.messages(channel_id)] == ["hi"]
    assert fake.violations == []
