"""The knobs for Discord's refusals that are not client bugs: 429s, the edit bucket, denied
posting, closed DMs and the bot's removal from a guild (answered without a violation)."""

from __future__ import annotations

import re

from . import payloads
from .models import RateLimitRule
from .sharding import Audience
from .surface import Surface


class Knobs(Surface):
    """FakeDiscord's refusal knobs."""

    def rate_limit(
        self,
        method: str,
        path_regex: str,
        times: int = 1,
        retry_after: float = 0.3,
        *,
        is_global: bool = False,
    ) -> None:
        """Answer the next `times` REST requests matching method + path regex with 429.

        The regex is searched in the path both with and without the /api/v10 prefix.
        """
        self.rate_limits.append(
            RateLimitRule(method.upper(), re.compile(path_regex), times, retry_after, is_global)
        )

    def enforce_edit_bucket(self, limit: int = 5, per_seconds: float = 5.0) -> None:
        """Answer 429 to the bot's PATCH /channels/{c}/messages/{m} beyond `limit` edits of
        one message within `per_seconds` (Discord's ~5 per 5 s); counted in `edit_429s`."""
        self.edit_bucket = (limit, per_seconds)

    def forbid_posting(self, channel_id: int) -> None:
        """Deny the bot Send Messages and Add Reactions in a channel (a member overwrite).

        Create Message and the bot's reactions there then answer 403 code 50013. Editing or
        deleting the bot's existing messages keeps working (on Discord neither needs Send
        Messages), and so do interaction responses (they never need channel permissions).
        """
        self.posting_forbidden.add(channel_id)
        self._announce_channel(channel_id)

    def allow_posting(self, channel_id: int) -> None:
        """Undo forbid_posting."""
        self.posting_forbidden.discard(channel_id)
        self._announce_channel(channel_id)

    def _announce_channel(self, channel_id: int) -> None:
        channel = self.channels[channel_id]
        if channel.guild_id is not None and self.hub.ready_sessions:
            data = payloads.channel(self, channel)
            audience = Audience(channel.guild_id)
            self._spawn(self.hub.dispatch("CHANNEL_UPDATE", data, audience=audience))

    def close_dms(self, user_id: int) -> None:
        """The user no longer accepts DMs from the bot: Create Message in the DM channel
        answers 403 code 50007. Opening the DM channel (POST /users/@me/channels) still works."""
        self.dms_closed.add(user_id)

    def open_dms(self, user_id: int) -> None:
        """Undo close_dms."""
        self.dms_closed.discard(user_id)

    async def remove_bot_from_guild(self, guild_id: int) -> int:
        """The bot is kicked (or the guild deleted): GUILD_DELETE without `unavailable`.

        The guild is forgotten: guild routes answer 404 code 10004 Unknown Guild, its
        channels 403 code 50001 Missing Access (their messages stay readable through
        fake.messages). Returns how many sessions (of the guild's shard) got the dispatch.
        """
        if guild_id not in self.guilds:
            raise ValueError(f"the bot is not in guild {guild_id}")
        self.removed_guilds[guild_id] = self.guilds.pop(guild_id)
        self.notifier.notify()
        data = {"id": str(guild_id)}
        return await self.hub.dispatch("GUILD_DELETE", data, audience=Audience(guild_id))
