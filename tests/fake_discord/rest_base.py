"""What every group of REST handlers shares: the state, the gateway hub, the channel and message
lookups of a call, and the message events."""

from __future__ import annotations

from .gateway import INTENT_DIRECT_MESSAGES, INTENT_GUILD_MESSAGES, GatewayHub
from .models import CHANNEL_DM, JSON, FakeChannel, FakeMessage
from .rest_call import Call, DiscordError
from .state import DiscordState


class Handlers:
    """Base of the handler groups: each works on one shared state and gateway hub."""

    def __init__(self, state: DiscordState, hub: GatewayHub) -> None:
        self.state = state
        self.hub = hub

    def channel(self, call: Call) -> FakeChannel:
        channel = self.state.channels.get(call.snowflake("channel_id"))
        if channel is None:
            raise DiscordError(
                404,
                10003,
                "Unknown Channel",
                violation=f"{call.method} {call.path}: unknown channel",
            )
        if channel.guild_id is not None and channel.guild_id in self.state.removed_guilds:
            # The channel still exists, but the bot was removed from its guild. Not a client
            # bug: the bot may learn of the removal only after it sent the request.
            raise DiscordError(403, 50001, "Missing Access")
        return channel

    def message(self, call: Call, channel: FakeChannel) -> FakeMessage:
        msg = self.state.messages_by_id.get(call.snowflake("message_id"))
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        return msg

    async def emit(self, event: str, msg: FakeMessage) -> None:
        await self.hub.dispatch_message(event, msg)

    async def emit_delete(self, msg: FakeMessage) -> None:
        if msg.ephemeral:
            return
        data: JSON = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
        channel = self.state.channels.get(msg.channel_id)
        is_dm = channel is not None and channel.type == CHANNEL_DM
        await self.hub.dispatch(
            "MESSAGE_DELETE",
            data,
            intent=INTENT_DIRECT_MESSAGES if is_dm else INTENT_GUILD_MESSAGES,
            audience=self.hub.channel_audience(msg.channel_id),
        )
