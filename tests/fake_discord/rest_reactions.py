"""REST handlers for reactions on a message: the bot's own, removing a user's, listing them."""

from __future__ import annotations

from . import payloads
from .models import JSON
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply


class ReactionHandlers(Handlers):
    """/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}(/...)."""

    async def _react(self, call: Call, user_id: int, add: bool) -> None:
        channel = self.channel(call)
        msg = self.message(call, channel)
        emoji = call.params["emoji_name"]
        entry = (emoji, user_id)
        if add and entry not in msg.reactions:
            msg.reactions.append(entry)
        elif not add and entry in msg.reactions:
            msg.reactions.remove(entry)
        else:
            return
        self.state.notifier.notify()
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(channel.id),
            "message_id": str(msg.id),
            "emoji": payloads.emoji(emoji),
            "burst": False,
            "type": 0,
        }
        if channel.guild_id is not None:
            data["guild_id"] = str(channel.guild_id)
            guild = self.state.guilds[channel.guild_id]
            member = guild.members.get(user_id)
            if add and member is not None:
                data["member"] = payloads.member(self.state, guild, member)
        if add:
            data["message_author_id"] = str(msg.author_id)
            data["burst_colors"] = []
        event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
        intent = self.hub.reaction_intent(channel.id)
        audience = self.hub.channel_audience(channel.id)
        await self.hub.dispatch(event, data, intent=intent, audience=audience)

    async def add_reaction(self, call: Call) -> Reply:
        channel = self.channel(call)
        if channel.id in self.state.posting_forbidden:
            raise DiscordError(403, 50013, "Missing Permissions")
        await self._react(call, self.state.bot_user_id, True)
        return Reply(None, 204)

    async def remove_own_reaction(self, call: Call) -> Reply:
        await self._react(call, self.state.bot_user_id, False)
        return Reply(None, 204)

    async def remove_user_reaction(self, call: Call) -> Reply:
        await self._react(call, call.snowflake("user_id"), False)
        return Reply(None, 204)

    async def get_reactions(self, call: Call) -> Reply:
        channel = self.channel(call)
        msg = self.message(call, channel)
        emoji = call.params["emoji_name"]
        users = [self.state.users[uid] for name, uid in msg.reactions if name == emoji]
        return Reply([payloads.user(u) for u in users])
