"""INTERACTION_CREATE for the test driver: who invokes where, the payload Discord would send,
the FakeInteraction record the REST side answers against, and sending it to the bot."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from . import payloads
from .gateway import GatewayHub
from .models import JSON, FakeChannel, FakeGuild, FakeInteraction, FakeMessage
from .sharding import guild_audience
from .state import DiscordState


class InteractionFactory:
    """Builds interactions on the state and dispatches them through the hub."""

    def __init__(
        self, state: DiscordState, hub: GatewayHub, default_user: Callable[[], int]
    ) -> None:
        self.state = state
        self.hub = hub
        self.default_user = default_user

    def context(
        self, user_id: int | None, channel_id: int | None
    ) -> tuple[int, FakeChannel, FakeGuild | None]:
        """The invoking user (default: fake.default_user()), channel and guild, checked."""
        state = self.state
        uid = user_id if user_id is not None else self.default_user()
        channel = state.channels[channel_id if channel_id is not None else state.channel_id]
        if channel.guild_id in state.removed_guilds:
            raise ValueError(f"the bot was removed from guild {channel.guild_id}")
        if uid not in state.users:
            raise ValueError(f"unknown user {uid}: add it with fake.add_member() first")
        guild = state.guilds[channel.guild_id] if channel.guild_id is not None else None
        if guild is not None and uid not in guild.members:
            raise ValueError(f"user {uid} is not a member of guild {guild.id}")
        return uid, channel, guild

    def new(
        self,
        *,
        interaction_type: int,
        user_id: int,
        channel: FakeChannel,
        guild: FakeGuild | None,
        data: JSON,
        command_name: str,
        locale: str,
        guild_locale: str,
        message_type: int,
        source: FakeMessage | None = None,
        opened_by: int | None = None,
    ) -> FakeInteraction:
        """A new interaction, registered on the state (not sent yet)."""
        state = self.state
        interaction_id = state.ids.next()
        token = "fake-" + secrets.token_urlsafe(48)
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(state.application_id),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": payloads.channel(state, channel),
            "app_permissions": str(
                state.bot_channel_permissions(guild, channel) if guild is not None else 0
            ),
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": payloads.integration_owners(
                guild.id if guild else None
            ),
            "attachment_size_limit": state.upload_limit,
        }
        if guild is not None:
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = guild_locale
            payload["guild"] = {"id": str(guild.id), "locale": guild_locale, "features": []}
            payload["member"] = payloads.interaction_member(state, guild, guild.members[user_id])
            payload["context"] = 0
        else:
            payload["user"] = payloads.user(state.users[user_id])
            payload["context"] = 1
        if source is not None:
            payload["message"] = payloads.message(state, source)
        interaction = FakeInteraction(
            id=interaction_id,
            token=token,
            application_id=state.application_id,
            type=interaction_type,
            channel_id=channel.id,
            guild_id=guild.id if guild is not None else None,
            user_id=user_id,
            command_name=command_name,
            payload=payload,
            created_at=time.monotonic(),
            # Captured now: shortening fake.token_lifetime later affects new interactions only.
            token_lifetime=state.token_lifetime,
            notifier=state.notifier,
            source_message_id=source.id if source is not None else None,
            response_message_type=message_type,
            opened_by=opened_by,
        )
        state.interactions[interaction_id] = interaction
        state.interactions_by_token[token] = interaction
        return interaction

    def _check(self, payload: JSON) -> None:
        # INTERACTION_CREATE is not in the REST spec, but its embedded objects are.
        state = self.state
        data = payload.get("data") or {}
        resolved = data.get("resolved") or {}
        for attachment in (resolved.get("attachments") or {}).values():
            state.check_schema("MessageAttachmentResponse", attachment)
        for message in (resolved.get("messages") or {}).values():
            state.check_schema("MessageResponse", message)
        for user in (resolved.get("users") or {}).values():
            state.check_schema("UserResponse", user)
        if "message" in payload:
            state.check_schema("MessageResponse", payload["message"])
        if "user" in payload:
            state.check_schema("UserResponse", payload["user"])
        if "member" in payload:
            state.check_schema("GuildMemberResponse", payload["member"])

    async def send(self, interaction: FakeInteraction) -> FakeInteraction:
        """Dispatch INTERACTION_CREATE to the sessions of the guild's shard (shard 0 without a
        guild); the ack deadline starts now. When no session serves that shard, nobody gets
        it (a note in fake.notes): the interaction goes unanswered, as on Discord."""
        if not self.hub.ready_sessions:
            raise RuntimeError(
                "no ready gateway session: await fake.wait_for_identify() before invoking"
            )
        self._check(interaction.payload)
        # The ack deadline runs from the moment the bot could see the interaction.
        interaction.created_at = time.monotonic()
        audience = guild_audience(interaction.guild_id)
        sent = await self.hub.deliver("INTERACTION_CREATE", interaction.payload, audience=audience)
        interaction.delivered_to.extend(s.session_id for s in sent)
        return interaction
