"""REST handlers for the bot's servers: guilds, their channels and members, a channel, typing."""

from __future__ import annotations

from . import payloads
from .models import JSON
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply, flag_bool


class GuildHandlers(Handlers):
    """/guilds/..., /users/@me/guilds, GET /channels/{id} and its typing indicator."""

    async def get_guild(self, call: Call) -> Reply:
        guild = self.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        payload = payloads.guild(self.state, guild)
        if flag_bool(call.query.get("with_counts")):
            payload["approximate_member_count"] = len(guild.members)
            payload["approximate_presence_count"] = 0
        return Reply(payload)

    async def get_guild_channels(self, call: Call) -> Reply:
        guild = self.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return Reply(
            [payloads.channel(self.state, self.state.channels[c]) for c in guild.channel_ids]
        )

    async def get_my_guilds(self, call: Call) -> Reply:
        """The bot's servers, as partial guilds (id, name, icon, owner, permissions, …)."""
        state = self.state
        partial: list[JSON] = [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "banner": None,
                "owner": g.owner_id == state.bot_user_id,
                "permissions": "0",
                "features": [],
                "approximate_member_count": len(g.members),
                "approximate_presence_count": 0,
            }
            for g in state.guilds.values()
            if state.bot_user_id in g.members
        ]
        return Reply(partial)

    async def get_member(self, call: Call) -> Reply:
        guild = self.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        member = guild.members.get(call.snowflake("user_id"))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return Reply(payloads.member(self.state, guild, member))

    async def get_channel(self, call: Call) -> Reply:
        return Reply(payloads.channel(self.state, self.channel(call)))

    async def typing(self, call: Call) -> Reply:
        self.channel(call)
        return Reply(None, 204)
