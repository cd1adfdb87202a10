"""REST handlers for channel messages with the bot token: history, get, create (nonces, replies,
files, posting refusals), edit and delete."""

from __future__ import annotations

from . import payloads
from .gateway import GatewayHub
from .models import CHANNEL_DM, JSON, FakeChannel
from .rest_base import Handlers
from .rest_call import Call, DiscordError, Reply
from .rest_content import SETTABLE_FLAGS, MessageContent
from .state import DiscordState


class MessageHandlers(Handlers):
    """/channels/{channel_id}/messages(/{message_id})."""

    def __init__(self, state: DiscordState, hub: GatewayHub, content: MessageContent) -> None:
        super().__init__(state, hub)
        self.content = content

    def _check_can_post(self, channel: FakeChannel) -> None:
        """Refusals of Discord's that are not client bugs: no violation is recorded."""
        if channel.id in self.state.posting_forbidden:
            raise DiscordError(403, 50013, "Missing Permissions")
        if channel.type == CHANNEL_DM and set(channel.recipient_ids) & self.state.dms_closed:
            raise DiscordError(403, 50007, "Cannot send messages to this user")

    async def get_messages(self, call: Call) -> Reply:
        channel = self.channel(call)
        try:
            limit = max(1, min(100, int(call.query.get("limit", "50"))))
            before = int(call.query["before"]) if "before" in call.query else None
            after = int(call.query["after"]) if "after" in call.query else None
        except ValueError:
            raise DiscordError(400, 50035, "Invalid Form Body") from None
        msgs = self.state.channel_messages(channel.id)
        if after is not None:
            chosen = [m for m in msgs if m.id > after][:limit]
        else:
            if before is not None:
                msgs = [m for m in msgs if m.id < before]
            chosen = msgs[-limit:]
        # Discord lists newest first.
        chosen.sort(key=lambda m: m.id, reverse=True)
        return Reply([payloads.message(self.state, m) for m in chosen])

    async def get_message(self, call: Call) -> Reply:
        channel = self.channel(call)
        return Reply(payloads.message(self.state, self.message(call, channel)))

    async def create_message(self, call: Call) -> Reply:
        state = self.state
        channel = self.channel(call)
        self._check_can_post(channel)
        body = call.json_object()
        nonce = body.get("nonce")
        if isinstance(nonce, str) and len(nonce) > 25:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"POST {call.path}: nonce longer than 25 characters",
            )
        if nonce is not None and body.get("enforce_nonce"):
            existing = state.find_by_nonce(state.bot_user_id, nonce)
            if existing is not None:
                # Same author + nonce within the window: Discord returns the first message.
                return Reply(payloads.message(state, existing))
        content = self.content.check_content(call, body, has_files=bool(call.parts))
        files = self.content.files(call, channel.id, body)
        reference = body.get("message_reference")
        msg = state.create_message(
            channel.id,
            state.bot_user_id,
            content=content,
            files=files,
            embeds=list(body.get("embeds") or []),
            components=list(body.get("components") or []),
            nonce=nonce,
            flags=int(body.get("flags") or 0) & SETTABLE_FLAGS,
            tts=bool(body.get("tts")),
            message_reference=self._reference(reference, channel)
            if isinstance(reference, dict)
            else None,
            message_type=19 if isinstance(reference, dict) else 0,
        )
        await self.emit("MESSAGE_CREATE", msg)
        return Reply(payloads.message(state, msg))

    @staticmethod
    def _reference(reference: JSON, channel: FakeChannel) -> JSON:
        out: JSON = {"type": 0, "channel_id": str(reference.get("channel_id") or channel.id)}
        if reference.get("message_id") is not None:
            out["message_id"] = str(reference["message_id"])
        if channel.guild_id is not None:
            out["guild_id"] = str(channel.guild_id)
        return out

    async def edit_message(self, call: Call) -> Reply:
        state = self.state
        channel = self.channel(call)
        msg = self.message(call, channel)
        if msg.author_id != state.bot_user_id or msg.via_webhook:
            raise DiscordError(
                403,
                50005,
                "Cannot edit a message authored by another user",
                violation=f"PATCH {call.path}: editing a message the bot user did not post "
                f"({'webhook/interaction message' if msg.via_webhook else 'another author'})",
            )
        self.content.apply_edit(call, msg, call.json_object())
        await self.emit("MESSAGE_UPDATE", msg)
        return Reply(payloads.message(state, msg))

    async def delete_message(self, call: Call) -> Reply:
        channel = self.channel(call)
        msg = self.message(call, channel)
        if channel.type == CHANNEL_DM and msg.author_id != self.state.bot_user_id:
            raise DiscordError(
                403,
                50003,
                "Cannot execute action on a DM channel",
                violation=f"DELETE {call.path}: deleting another user's DM message",
            )
        self.state.delete_message(msg)
        await self.emit_delete(msg)
        return Reply(None, 204)
