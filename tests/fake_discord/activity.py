"""What users other than the bot do in the fake: post messages (with files, voice messages)
and react, each dispatched to the bot like Discord would."""

from __future__ import annotations

from collections.abc import Iterable

from . import payloads
from .models import CHANNEL_DM, JSON, FakeMessage
from .surface import Surface
from .uploads import AttachmentInput, store_upload, to_upload


class Activity(Surface):
    """FakeDiscord's user-activity methods."""

    async def post_user_message(
        self,
        user_id: int,
        content: str = "",
        *,
        channel_id: int | None = None,
        attachments: Iterable[AttachmentInput] = (),
        flags: int = 0,
    ) -> FakeMessage:
        """A message by a (non-bot) user, dispatched as MESSAGE_CREATE (to the sessions of
        the guild's shard; in a DM channel to shard 0).

        A voice message: flags=1 << 13 and one FakeUpload(ogg, "voice-message.ogg",
        "audio/ogg", duration_secs=..., waveform=...).
        """
        cid = channel_id if channel_id is not None else self.channel_id
        files = [store_upload(self, cid, to_upload(item)) for item in attachments]
        msg = self.create_message(cid, user_id, content=content, files=files, flags=flags)
        await self.hub.dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def add_reaction(self, message_id: int, emoji: str, *, user_id: int) -> None:
        """A user reacts to a message (MESSAGE_REACTION_ADD to the guild's shard; DM: 0)."""
        msg = self.messages_by_id[message_id]
        if (emoji, user_id) not in msg.reactions:
            msg.reactions.append((emoji, user_id))
        channel = self.channels[msg.channel_id]
        data: JSON = {
            "user_id": str(user_id),
            "channel_id": str(channel.id),
            "message_id": str(msg.id),
            "emoji": payloads.emoji(emoji),
            "burst": False,
            "burst_colors": [],
            "type": 0,
            "message_author_id": str(msg.author_id),
        }
        if channel.type != CHANNEL_DM and channel.guild_id is not None:
            guild = self.guilds[channel.guild_id]
            data["guild_id"] = str(guild.id)
            if user_id in guild.members:
                data["member"] = payloads.member(self, guild, guild.members[user_id])
        self.notifier.notify()
        await self.hub.dispatch(
            "MESSAGE_REACTION_ADD",
            data,
            intent=self.hub.reaction_intent(channel.id),
            audience=self.hub.channel_audience(channel.id),
        )
