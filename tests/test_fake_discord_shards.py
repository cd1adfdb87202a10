"""Self-tests of the fake's sharding, driven by unmodified discord.py sharded clients.

Two `AutoShardedBot(shard_count=2, shard_ids=[i])` in this process stand for two bot
processes: each gets only its guilds' events, interactions reach only their guild's shard,
DMs shard 0; plus GET /gateway/bot, the close codes 4010/4011, and duplicate sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord.ext import commands

from tests.fake_discord import FakeDiscord, shard_of

pytestmark = pytest.mark.timeout(30)

TOKEN = "fake-bot-token"
GUILD_MESSAGES = 1 << 9


class ShardBot(commands.AutoShardedBot):
    """A real sharded discord.py bot with a /ping command; it records what it receives."""

    def __init__(self, **options: Any) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
            help_command=None,
            enable_debug_events=True,
            **options,
        )
        self.sessions: set[str] = set()
        self.pinged: asyncio.Queue[tuple[int | None, int]] = asyncio.Queue()
        self.seen: asyncio.Queue[tuple[str, int | None]] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py sleeps 5 s between a process's shards by default: not needed here.
        return None

    async def setup_hook(self) -> None:
        @self.tree.command(name="ping", description="Answers pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")
            shard = interaction.guild.shard_id if interaction.guild else 0
            self.pinged.put_nowait((interaction.guild_id, shard))

        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.put_nowait(("message", message.guild.id if message.guild else None))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.seen.put_nowait(("reaction", payload.guild_id))

    async def on_socket_raw_receive(self, raw: str) -> None:
        # With enable_debug_events: READY names each session this client identified.
        frame = json.loads(raw)
        if frame.get("t") == "READY":
            self.sessions.add(frame["d"]["session_id"])

    def session_ids(self) -> set[str]:
        return set(self.sessions)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(bot_token=TOKEN)
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


@contextlib.asynccontextmanager
async def running(client: discord.Client) -> AsyncIterator[asyncio.Task[None]]:
    """Log in, connect and wait until ready (every shard of the client); close afterwards."""
    await client.login(TOKEN)
    task = asyncio.create_task(client.connect(reconnect=True))
    try:
        await asyncio.wait_for(client.wait_until_ready(), 15)
        yield task
    finally:
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@contextlib.asynccontextmanager
async def two_processes(fake: FakeDiscord) -> AsyncIterator[tuple[ShardBot, ShardBot]]:
    """Shard 0 and shard 1 of 2, as two separate clients (two bot processes)."""
    zero, one = ShardBot(shard_ids=[0], shard_count=2), ShardBot(shard_ids=[1], shard_count=2)
    async with running(zero), running(one):
        await fake.wait_for_shards([0, 1], 2)
        await fake.wait_for_commands(names=["ping"])
        yield zero, one


def _world(fake: FakeDiscord) -> dict[int, tuple[int, int, int]]:
    """Per shard of 2: a guild with a channel and a member, (guild, channel, member)."""
    world = {}
    for shard_id in (0, 1):
        guild = fake.add_guild(f"guild-{shard_id}", shard=(shard_id, 2))
        channel = fake.add_channel(guild, "general")
        member = fake.add_member(name=f"user-{shard_id}", guild_id=guild)
        world[shard_id] = (guild, channel, member)
    return world


def _on_shard(fake: FakeDiscord, shard_id: int, shard_count: int) -> set[int]:
    return {g for g in fake.guilds if shard_of(g, shard_count) == shard_id}


async def _quiet(queue: asyncio.Queue[Any]) -> None:
    """Nothing more arrives on the queue for a little while."""
    try:
        item = await asyncio.wait_for(queue.get(), 0.3)
    except TimeoutError:
        return
    pytest.fail(f"unexpected {item!r}")


async def _identify(
    session: aiohttp.ClientSession, fake: FakeDiscord, shard: list[int] | None
) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(fake.gateway_url + "?v=10&encoding=json")
    assert (await ws.receive_json())["op"] == 10
    data: dict[str, Any] = {"token": TOKEN, "intents": GUILD_MESSAGES, "properties": {}}
    if shard is not None:
        data["shard"] = shard
    await ws.send_json({"op": 2, "d": data})
    return ws


async def _dispatches(ws: aiohttp.ClientWebSocketResponse, until: str) -> list[dict[str, Any]]:
    """Dispatch frames received up to and including the first `until` event."""
    frames = []
    while True:
        frame = await asyncio.wait_for(ws.receive_json(), 5)
        frames.append(frame)
        if frame.get("t") == until:
            return frames


async def _closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type == aiohttp.WSMsgType.CLOSE
    return ws.close_code


def test_guild_ids_land_on_the_chosen_shard(fake: FakeDiscord) -> None:
    made = [fake.add_guild(f"g{i}", shard=(i % 3, 3)) for i in range(12)]
    assert [fake.shard_of(g, 3) for g in made] == [i % 3 for i in range(12)]
    ids = [fake.guild_id, *made, fake.ids.next()]
    assert ids == sorted(set(ids))
    assert fake.shard_of(made[0], 1) == 0
    with pytest.raises(ValueError, match="invalid shard"):
        fake.add_guild("nowhere", shard=(2, 2))


async def test_gateway_bot_answers_the_recommended_count(fake: FakeDiscord) -> None:
    fake.recommended_shards = 3
    fake.max_concurrency = 2
    guilds = [fake.add_guild(f"g{i}", shard=(i, 3)) for i in range(3)]
    auth = {"Authorization": f"Bot {TOKEN}"}
    async with (
        aiohttp.ClientSession(headers=auth) as session,
        session.get(fake.api_base_url + "/gateway/bot") as resp,
    ):
        body = await resp.json()
    assert body["shards"] == 3
    assert body["session_start_limit"]["max_concurrency"] == 2
    assert body["url"] == fake.gateway_url
    # Without arguments an AutoShardedClient asks GET /gateway/bot and runs that many shards.
    client = ShardBot()
    async with running(client):
        by_shard = await fake.wait_for_shards([0, 1, 2], 3)
        assert client.shard_count == 3
        assert fake.shard_count == 3
        assert sorted(by_shard) == [0, 1, 2]
        assert {s for ids in by_shard.values() for s in ids} == client.session_ids()
        for shard_id, guild_id in enumerate(guilds):
            created = {d.guild_id for d in fake.dispatched("GUILD_CREATE", shard_id=shard_id)}
            assert guild_id in created
            assert created == _on_shard(fake, shard_id, 3)
            guild = client.get_guild(guild_id)
            assert guild is not None
            assert guild.shard_id == shard_id
        # One shard's connection drops: only that shard resumes.
        assert await fake.disconnect_gateway(shard_id=1) == 1
        await fake.wait_for_identify(count=4)
        assert (fake.identify_count, fake.resume_count) == (3, 1)
        assert [d.shard_id for d in fake.dispatched("RESUMED")] == [1]
        await fake.wait_for_shards([0, 1, 2], 3)
    assert fake.violations == []


async def test_two_processes_get_only_their_guilds_events(fake: FakeDiscord) -> None:
    world = _world(fake)
    async with two_processes(fake) as (zero, one):
        for shard_id, client in ((0, zero), (1, one)):
            assert {g.id for g in client.guilds} == _on_shard(fake, shard_id, 2)
            created = {d.guild_id for d in fake.dispatched("GUILD_CREATE", shard_id=shard_id)}
            assert created == _on_shard(fake, shard_id, 2)
            assert {d.session_id for d in fake.dispatched(shard_id=shard_id)} == (
                client.session_ids()
            )
        for shard_id, client in ((0, zero), (1, one)):
            guild, channel, member = world[shard_id]
            msg = await fake.post_user_message(member, "hello", channel_id=channel)
            assert await asyncio.wait_for(client.seen.get(), 5) == ("message", guild)
            await fake.add_reaction(msg.id, "👍", user_id=member)
            assert await asyncio.wait_for(client.seen.get(), 5) == ("reaction", guild)
            records = fake.dispatched("MESSAGE_CREATE", guild_id=guild)
            assert [d.shard_id for d in records] == [shard_id]
        await _quiet(zero.seen)
        await _quiet(one.seen)
        # A guild joined later reaches only its shard's process.
        joined = fake.add_guild("late", shard=(1, 2))
        await asyncio.wait_for(one.wait_for("guild_join"), 5)
        assert one.get_guild(joined) is not None
        assert zero.get_guild(joined) is None
        assert [d.shard_id for d in fake.dispatched("GUILD_CREATE", guild_id=joined)] == [1]
    assert fake.notes == []
    assert fake.violations == []


async def test_interactions_and_dms_reach_only_their_shard(fake: FakeDiscord) -> None:
    world = _world(fake)
    async with two_processes(fake) as (zero, one):
        guild, channel, member = world[1]
        interaction = await fake.invoke_slash("ping", user_id=member, channel_id=channel)
        assert await interaction.wait_acked() == 4
        assert await asyncio.wait_for(one.pinged.get(), 5) == (guild, 1)
        assert set(interaction.delivered_to) <= one.session_ids()
        assert len(interaction.delivered_to) == 1
        assert [m.content for m in fake.messages(channel)] == ["pong"]
        # The bot's own "pong" comes back through the gateway, to its guild's shard too.
        assert await asyncio.wait_for(one.seen.get(), 5) == ("message", guild)
        # A DM interaction and a DM message go to shard 0.
        dm = fake.dm_channel_for(member)
        direct = await fake.invoke_slash("ping", user_id=member, channel_id=dm.id)
        assert await direct.wait_acked() == 4
        assert await asyncio.wait_for(zero.pinged.get(), 5) == (None, 0)
        assert set(direct.delivered_to) <= zero.session_ids()
        await fake.post_user_message(member, "psst", channel_id=dm.id)
        for _ in ("pong", "psst"):
            assert await asyncio.wait_for(zero.seen.get(), 5) == ("message", None)
        # The DM "pong" and "psst", both on shard 0.
        in_dms = [d for d in fake.dispatched("MESSAGE_CREATE") if d.guild_id is None]
        assert [d.shard_id for d in in_dms] == [0, 0]
        await _quiet(zero.seen)
        await _quiet(one.seen)
        await _quiet(zero.pinged)
        await _quiet(one.pinged)
    assert fake.violations == []


async def test_an_unserved_shard_leaves_the_interaction_unanswered(fake: FakeDiscord) -> None:
    world = _world(fake)
    zero = ShardBot(shard_ids=[0], shard_count=2)
    async with running(zero):
        await fake.wait_for_shards([0], 2)
        await fake.wait_for_commands(names=["ping"])
        guild, channel, member = world[1]
        interaction = await fake.invoke_slash("ping", user_id=member, channel_id=channel)
        assert interaction.delivered_to == []
        with pytest.raises(TimeoutError):
            await interaction.wait_acked(timeout=0.5)
        await _quiet(zero.pinged)
    assert any(
        n.startswith(f"INTERACTION_CREATE for guild {guild}: no session serves") for n in fake.notes
    )
    assert fake.violations == []


async def test_sharding_required_closes_4011(fake: FakeDiscord) -> None:
    fake.required_shards = 2
    plain = discord.Client(intents=discord.Intents.default())
    await plain.login(TOKEN)
    try:
        with pytest.raises(discord.ConnectionClosed) as closed:
            await asyncio.wait_for(plain.connect(reconnect=True), 10)
        assert closed.value.code == 4011
    finally:
        await plain.close()
    async with aiohttp.ClientSession() as session:
        ws = await _identify(session, fake, [0, 1])
        assert await _closed(ws) == 4011
    assert fake.identify_count == 0
    assert len([n for n in fake.notes if "closed 4011 Sharding required." in n]) == 2
    # Enough shards are accepted.
    client = ShardBot(shard_count=2)
    async with running(client):
        assert sorted(await fake.wait_for_shards([0, 1], 2)) == [0, 1]
    assert fake.violations == []


async def test_invalid_shards_are_closed_4010(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        for shard in ([2, 2], [0, 0], [-1, 2]):
            ws = await _identify(session, fake, shard)
            assert await _closed(ws) == 4010
        assert len(fake.take_violations()) == 3
        first = await _identify(session, fake, [0, 2])
        await _dispatches(first, "READY")
        # Every session of one bot must use the same shard_count.
        for other in ([1, 3], None):
            ws = await _identify(session, fake, other)
            assert await _closed(ws) == 4010
        violations = fake.take_violations()
        assert len(violations) == 2
        assert all("other sessions of the bot use shard_count 2" in v for v in violations)
        await first.close()
    assert fake.identify_count == 1


async def test_duplicate_sessions_of_a_shard_both_receive(fake: FakeDiscord) -> None:
    world = _world(fake)
    guild, channel, member = world[1]
    async with aiohttp.ClientSession() as session:
        sockets = [await _identify(session, fake, [1, 2]) for _ in range(2)]
        for ws in sockets:
            frames = await _dispatches(ws, "READY")
            ready = frames[-1]["d"]
            assert ready["shard"] == [1, 2]
            stubs = ready["guilds"]
            assert {int(g["id"]) for g in stubs} == _on_shard(fake, 1, 2)
            assert all(g["unavailable"] for g in stubs)
        by_shard = await fake.wait_for_shards([1], 2)
        assert list(by_shard) == [1]
        assert len(by_shard[1]) == 2
        await fake.post_user_message(member, "both", channel_id=channel)
        for ws in sockets:
            frames = await _dispatches(ws, "MESSAGE_CREATE")
            created = [int(f["d"]["id"]) for f in frames if f.get("t") == "GUILD_CREATE"]
            assert set(created) == _on_shard(fake, 1, 2)
            assert frames[-1]["d"]["guild_id"] == str(guild)
        records = fake.dispatched("MESSAGE_CREATE")
        assert sorted(d.session_id for d in records) == sorted(by_shard[1])
        # A DM has no session on shard 0 to go to: dropped, with a note.
        dm = fake.dm_channel_for(member)
        await fake.post_user_message(member, "lost", channel_id=dm.id)
        assert fake.notes == [
            "MESSAGE_CREATE for a DM (shard 0): no session serves its shard "
            "(connected shards [(1, 2)]); not delivered"
        ]
        for ws in sockets:
            await ws.close()
    assert fake.violations == []
