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

__all__ = [
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
]
