"""A local fake Discord (gateway websocket + REST + CDN) for the unmodified discord.py client.

Usage::

    fake = FakeDiscord(bot_token="fake-bot-token")
    await fake.start()                      # 127.0.0.1, free port
    discord.http.Route.BASE = fake.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    ...start the bot...
    await fake.wait_for_identify()          # a session is READY (GUILD_CREATE sent)
    await fake.wait_for_commands(names=["emo"])   # the bot synced its commands
    interaction = await fake.invoke_slash("emo animate", attachments={...})
    await interaction.wait_acked()
    msg = await fake.wait_for_message(predicate=lambda m: bool(m.files))
    assert fake.violations == []
    await fake.close()

Everything a buggy client does (late or double ack, use of an expired interaction token,
oversize upload, bad Content-Type, body not matching Discord's OpenAPI description, unknown
route...) is answered like Discord would and recorded as text in `fake.violations`.

Refusals that are not client bugs are knobs, answered like Discord without a violation:
`forbid_posting(channel_id)` (403 50013), `close_dms(user_id)` (403 50007),
`remove_bot_from_guild(guild_id)` (GUILD_DELETE; 404 10004 / 403 50001 afterwards),
`rate_limit(...)` and `enforce_edit_bucket(...)` (429s). Media: `set_avatar(user_id, png)`
(served under `fake.cdn_base_url`, the value for `discord.asset.Asset.BASE`), and
`submit_modal(..., files=...)` for FileUpload components.

Sharding, as Discord does it (a bot run as several processes, each with some shards, e.g.
discord.py's `AutoShardedClient(shard_ids=[...], shard_count=N)`, against one fake):

- Knobs (attributes, also constructor arguments; settable before or after start):
  `recommended_shards` (1) and `max_concurrency` (1) are what `GET /gateway/bot` answers;
  `required_shards` (None): when set, an IDENTIFY without `shard`, or with a smaller
  shard_count, is closed with 4011 "Sharding required." (a note in `fake.notes`).
- IDENTIFY's `shard: [shard_id, shard_count]` is honoured per connection; without it a
  session is shard [0, 1] and gets every event, as before. `shard_id >= shard_count`,
  `shard_count < 1`, or a shard_count other than that of the bot's other connected sessions:
  closed with 4010 "Invalid shard." and recorded as a violation.
- Routing: a guild's events (READY's guild stubs, GUILD_CREATE, MESSAGE_*, reactions,
  INTERACTION_CREATE, GUILD_MEMBER_*, CHANNEL_*, GUILD_DELETE) go only to the sessions of
  shard `fake.shard_of(guild_id, shard_count)` = `(guild_id >> 22) % shard_count`; DMs and
  guildless interactions to shard 0; USER_UPDATE to every session. Two sessions on one shard
  both get its events. An event no connected shard serves is dropped with a note in
  `fake.notes` (an interaction then goes unanswered, as on Discord).
- `fake.add_guild(name, shard=(shard_id, shard_count))` picks a guild id on that shard.
- Records: `fake.dispatches` lists a `DispatchRecord(event, shard_id, shard_count,
  session_id, seq, guild_id)` per dispatch a session received; `fake.dispatched(event,
  shard_id=, session_id=, guild_id=)` filters them; `interaction.delivered_to` holds the
  session ids an INTERACTION_CREATE went to; `fake.sessions_by_shard()` maps shard id ->
  session ids of the ready sessions (a discord.py client sees its own in READY, e.g. through
  `on_socket_raw_receive` with `enable_debug_events=True`); `fake.shard_count` is the count
  they use; `fake.notes` holds what is worth knowing but no client bug.
- Waiting: `await fake.wait_for_shards([0, 1], 2)` until those shards are READY;
  `wait_for_identify(count=...)` counts every IDENTIFY/RESUME of every shard.
- `disconnect_gateway`, `request_reconnect` and `invalidate_session` take `shard_id=`.
- Not modelled: the IDENTIFY rate (`max_concurrency` per 5 s) is announced, not enforced,
  and a RESUME keeps its shard without the shard_count check.
"""

from .models import (
    EditRecord,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeUpload,
    FakeUser,
    RequestRecord,
)
from .server import FakeDiscord
from .sharding import DispatchRecord, shard_of

__all__ = [
    "DispatchRecord",
    "EditRecord",
    "FakeChannel",
    "FakeDiscord",
    "FakeFile",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeUpload",
    "FakeUser",
    "RequestRecord",
    "shard_of",
]
