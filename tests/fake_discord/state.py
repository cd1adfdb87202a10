"""The fake's world: configuration, users, guilds, channels, messages and interactions."""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import secrets
import time

from . import openapi
from .cdn import image_size, image_type, signed_path
from .components import custom_ids, number_components
from .models import (
    CHANNEL_DM,
    CHANNEL_TEXT,
    FLAG_EPHEMERAL,
    JSON,
    EditRecord,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Notifier,
    RateLimitRule,
    RegisteredCommand,
    RequestRecord,
    SnowflakeGenerator,
    StoredBlob,
    utcnow,
)
from .permissions import (
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
    POSTING_DENIED,
    guild_permissions,
)
from .sharding import DispatchRecord

log = logging.getLogger("tests.fake_discord")


class DiscordState:
    """Everything the fake knows; REST, gateway and CDN handlers all work on one instance."""

    def __init__(
        self,
        *,
        bot_token: str,
        upload_limit: int,
        token_lifetime: float,
        ack_deadline: float,
        bot_name: str = "emo-bot",
        guild_name: str = "Fake Guild",
        channel_name: str = "general",
    ) -> None:
        self.bot_token = bot_token
        self.upload_limit = upload_limit
        self.token_lifetime = token_lifetime
        self.ack_deadline = ack_deadline
        # How long signed CDN URLs stay valid (Discord: about 24 h).
        self.cdn_url_lifetime: float = 24 * 3600.0
        # How long Create Message remembers a nonce for enforce_nonce (Discord: a few minutes).
        self.nonce_window: float = 300.0
        self.heartbeat_interval_ms: int = 41250
        self.ids = SnowflakeGenerator()
        self.notifier = Notifier()
        self.cdn_secret = secrets.token_bytes(32)
        self.http_base = "http://127.0.0.1:0"

        self.users: dict[int, FakeUser] = {}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages_by_id: dict[int, FakeMessage] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.interactions_by_token: dict[str, FakeInteraction] = {}
        self.blobs: dict[int, StoredBlob] = {}
        self.commands: list[RegisteredCommand] = []
        self.command_syncs = 0

        self.violations: list[str] = []
        self.requests: list[RequestRecord] = []
        self.cdn_requests: list[str] = []
        self.rate_limits: list[RateLimitRule] = []
        self.identify_count = 0
        self.resume_count = 0
        # Sharding knobs (GET /gateway/bot, IDENTIFY checks), the log of who received which
        # dispatch, and notes on what happened that is no client bug (see FakeDiscord).
        self.recommended_shards = 1
        self.max_concurrency = 1
        self.required_shards: int | None = None
        self.dispatches: list[DispatchRecord] = []
        self.notes: list[str] = []

        # Knobs for Discord's refusals (see FakeDiscord.forbid_posting, close_dms, ...).
        self.posting_forbidden: set[int] = set()
        self.dms_closed: set[int] = set()
        self.removed_guilds: dict[int, FakeGuild] = {}
        # (user id, avatar hash) -> image bytes, served under /avatars/{user_id}/{hash}.{ext}.
        self.avatars: dict[tuple[int, str], bytes] = {}
        # (limit, per_seconds) of the per-message edit bucket; None = not enforced.
        self.edit_bucket: tuple[int, float] | None = None
        self.edit_429s = 0

        self.application_id = self.ids.next()
        # Like real Discord, the bot user's id equals the application's id.
        self.bot_user_id = self.application_id
        self.application_name = bot_name
        # The Developer Portal's "Public Bot" and "Requires OAuth2 Code Grant" switches, as
        # GET /oauth2/applications/@me reports them (knobs: set them on the fake).
        self.application_public = True
        self.application_requires_code_grant = False
        self.users[self.bot_user_id] = FakeUser(self.bot_user_id, bot_name, bot=True)
        self.owner_user_id = self.ids.next()
        self.users[self.owner_user_id] = FakeUser(self.owner_user_id, "guild-owner")

        guild = self.create_guild(guild_name)
        self.guild_id = guild.id
        self.channel_id = self.create_channel(guild.id, channel_name).id

    # --- bookkeeping -------------------------------------------------------------------------

    def violation(self, text: str) -> None:
        """Record a protocol violation by the client (tests assert on these)."""
        log.warning("fake discord violation: %s", text)
        self.violations.append(text)
        self.notifier.notify()

    def check_schema(self, name: str, body: object) -> None:
        """Validate a payload the fake produced against components/schemas/<name>."""
        problem = openapi.check_schema(name, body)
        if problem is not None:
            self.violation(problem)

    def note(self, text: str) -> None:
        """Record something worth knowing that is no client bug (fake.notes)."""
        log.info("fake discord note: %s", text)
        self.notes.append(text)
        self.notifier.notify()

    def take_violations(self) -> list[str]:
        """Return and clear the recorded violations."""
        taken = list(self.violations)
        self.violations.clear()
        return taken

    # --- guilds, channels, members -----------------------------------------------------------

    def create_guild(self, name: str, shard: tuple[int, int] | None = None) -> FakeGuild:
        """A guild (on `shard` = (shard_id, shard_count) if given) the bot is in."""
        guild_id = self.ids.next(shard)
        guild = FakeGuild(id=guild_id, name=name, owner_id=self.owner_user_id)
        # The @everyone role shares the guild's id.
        guild.roles[guild_id] = FakeRole(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0)
        bot_role = FakeRole(
            self.ids.next(), self.application_name, BOT_PERMISSIONS, 2, managed=True
        )
        manager = FakeRole(self.ids.next(), "Manager", EVERYONE_PERMISSIONS | MANAGE_GUILD, 1)
        guild.roles[bot_role.id] = bot_role
        guild.roles[manager.id] = manager
        guild.bot_role_id = bot_role.id
        guild.manager_role_id = manager.id
        guild.members[self.bot_user_id] = FakeMember(self.bot_user_id, [bot_role.id])
        guild.members[self.owner_user_id] = FakeMember(self.owner_user_id, [])
        self.guilds[guild_id] = guild
        return guild

    def create_channel(self, guild_id: int, name: str) -> FakeChannel:
        guild = self.guilds[guild_id]
        channel = FakeChannel(
            id=self.ids.next(),
            type=CHANNEL_TEXT,
            name=name,
            guild_id=guild_id,
            position=len(guild.channel_ids),
        )
        guild.channel_ids.append(channel.id)
        self.channels[channel.id] = channel
        return channel

    def create_member(
        self,
        user_id: int | None,
        name: str,
        *,
        manage_guild: bool = False,
        guild_id: int | None = None,
    ) -> FakeMember:
        uid = user_id if user_id is not None else self.ids.next()
        if uid not in self.users:
            self.users[uid] = FakeUser(uid, name, global_name=name)
        guild = self.guilds[guild_id if guild_id is not None else self.guild_id]
        roles = [guild.manager_role_id] if manage_guild else []
        member = FakeMember(uid, roles)
        guild.members[uid] = member
        return member

    def find_dm_channel(self, user_id: int) -> FakeChannel | None:
        """The bot's DM channel with a user, if it was ever opened."""
        for channel in self.channels.values():
            if channel.type == CHANNEL_DM and channel.recipient_ids == [user_id]:
                return channel
        return None

    def dm_channel_for(self, user_id: int) -> FakeChannel:
        channel = self.find_dm_channel(user_id)
        if channel is not None:
            return channel
        channel = FakeChannel(
            id=self.ids.next(), type=CHANNEL_DM, name=None, recipient_ids=[user_id]
        )
        self.channels[channel.id] = channel
        return channel

    def member_permissions(self, guild: FakeGuild, user_id: int) -> int:
        return guild_permissions(guild, user_id)

    def permission_overwrites(self, channel: FakeChannel) -> list[JSON]:
        """The channel's overwrites: only the bot's own, while posting is forbidden there."""
        if channel.id not in self.posting_forbidden or channel.guild_id is None:
            return []
        deny = str(POSTING_DENIED)
        return [{"id": str(self.bot_user_id), "type": 1, "allow": "0", "deny": deny}]

    def bot_channel_permissions(self, guild: FakeGuild, channel: FakeChannel) -> int:
        """The bot's permissions in a guild channel (its guild permissions minus overwrites)."""
        value = self.member_permissions(guild, self.bot_user_id)
        if channel.id in self.posting_forbidden:
            value &= ~POSTING_DENIED
        return value

    def store_avatar(self, user_id: int, data: bytes) -> str:
        """Keep an avatar image for a user; returns its hash (32 hex digits, like Discord's)."""
        if user_id not in self.users:
            raise ValueError(f"unknown user {user_id}")
        if image_type(data) is None:
            raise ValueError("an avatar must be PNG, JPEG or WebP bytes")
        avatar = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self.avatars[(user_id, avatar)] = data
        self.users[user_id].avatar = avatar
        return avatar

    # --- files and messages ------------------------------------------------------------------

    def store_file(
        self,
        channel_id: int,
        filename: str,
        data: bytes,
        *,
        received_content_type: str | None,
        content_type: str | None = None,
        description: str | None = None,
        duration_secs: float | None = None,
        waveform: str | None = None,
        flags: int = 0,
    ) -> FakeFile:
        """Keep an uploaded file and make it downloadable from the CDN."""
        attachment_id = self.ids.next()
        # Discord decides the attachment's content_type itself (from the name and bytes).
        served_type = content_type or mimetypes.guess_type(filename)[0]
        size = image_size(data) if (served_type or "").startswith("image/") else None
        width, height = size if size is not None else (None, None)
        self.blobs[attachment_id] = StoredBlob(
            attachment_id, channel_id, filename, served_type, data, width, height
        )
        return FakeFile(
            filename=filename,
            content_type=received_content_type,
            data=data,
            attachment_id=attachment_id,
            channel_id=channel_id,
            description=description,
            duration_secs=duration_secs,
            waveform=waveform,
            flags=flags,
            width=width,
            height=height,
        )

    def attachment_url(self, file: FakeFile) -> str:
        path = signed_path(
            self.cdn_secret,
            file.channel_id,
            file.attachment_id,
            file.filename,
            self.cdn_url_lifetime,
        )
        return self.http_base + path

    def create_message(
        self,
        channel_id: int,
        author_id: int,
        *,
        content: str = "",
        files: list[FakeFile] | None = None,
        embeds: list[JSON] | None = None,
        components: list[JSON] | None = None,
        nonce: int | str | None = None,
        flags: int = 0,
        via_webhook: bool = False,
        interaction_id: int | None = None,
        message_type: int = 0,
        tts: bool = False,
        message_reference: JSON | None = None,
    ) -> FakeMessage:
        """Create a message; ephemeral ones are not part of the channel's history."""
        channel = self.channels[channel_id]
        msg = FakeMessage(
            id=self.ids.next(),
            channel_id=channel_id,
            author_id=author_id,
            content=content,
            files=list(files or []),
            embeds=list(embeds or []),
            components=number_components(components or []),
            nonce=nonce,
            flags=flags,
            via_webhook=via_webhook,
            interaction_id=interaction_id,
            guild_id=channel.guild_id,
            type=message_type,
            tts=tts,
            webhook_id=self.application_id if via_webhook else None,
            message_reference=message_reference,
            content_history=[content],
        )
        self.messages_by_id[msg.id] = msg
        if not msg.flags & FLAG_EPHEMERAL:
            channel.message_ids.append(msg.id)
        self.notifier.notify()
        return msg

    def mark_edited(self, msg: FakeMessage) -> None:
        msg.edits += 1
        msg.edited_at = utcnow()
        msg.content_history.append(msg.content)
        msg.edit_log.append(EditRecord(time.monotonic(), msg.content, custom_ids(msg.components)))
        self.notifier.notify()

    def delete_message(self, msg: FakeMessage) -> None:
        msg.deleted = True
        channel = self.channels.get(msg.channel_id)
        if channel is not None and msg.id in channel.message_ids:
            channel.message_ids.remove(msg.id)
        self.notifier.notify()

    def find_by_nonce(self, author_id: int, nonce: int | str) -> FakeMessage | None:
        """A message by author with nonce created within nonce_window seconds."""
        horizon = time.monotonic() - self.nonce_window
        for msg in reversed(self.messages_by_id.values()):
            if msg.created_monotonic < horizon:
                break
            if (
                msg.author_id == author_id
                and msg.nonce is not None
                and str(msg.nonce) == str(nonce)
            ):
                return msg
        return None

    def channel_messages(
        self, channel_id: int, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Messages of a channel in creation order (deleted ones excluded)."""
        if include_ephemeral:
            return [
                m
                for m in self.messages_by_id.values()
                if m.channel_id == channel_id and not m.deleted
            ]
        channel = self.channels[channel_id]
        return [self.messages_by_id[mid] for mid in channel.message_ids]

    # --- commands ----------------------------------------------------------------------------

    def commands_for(self, guild_id: int | None) -> list[RegisteredCommand]:
        return [c for c in self.commands if c.guild_id == guild_id]

    def find_command(self, name: str, guild_id: int | None) -> RegisteredCommand | None:
        """Guild command first (as Discord resolves them), then global."""
        for scope in (guild_id, None) if guild_id is not None else (None,):
            for command in self.commands:
                if command.guild_id == scope and command.name == name and command.type == 1:
                    return command
        return None
