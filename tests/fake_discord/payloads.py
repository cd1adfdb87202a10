"""Wire payloads (as Discord sends them) built from the fake's state."""

from __future__ import annotations

from .components import strip_nulls
from .models import (
    CHANNEL_DM,
    INTERACTION_COMPONENT,
    INTERACTION_MODAL_SUBMIT,
    JSON,
    FakeChannel,
    FakeFile,
    FakeGuild,
    FakeInteraction,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    RegisteredCommand,
    iso,
)
from .state import DiscordState

# Premium tiers by upload limit, so discord.py's Guild.filesize_limit agrees with the fake.
_TIER_LIMITS = ((100 * 1024 * 1024, 3), (50 * 1024 * 1024, 2))


def premium_tier(upload_limit: int) -> int:
    for limit, tier in _TIER_LIMITS:
        if upload_limit >= limit:
            return tier
    return 0


def user(u: FakeUser) -> JSON:
    payload: JSON = {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": u.avatar,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
        "public_flags": 0,
        "flags": 0,
    }
    if u.bot:
        payload["bot"] = True
    return payload


def role(r: FakeRole, bot_id: int | None = None) -> JSON:
    payload: JSON = {
        "id": str(r.id),
        "name": r.name,
        "description": None,
        "permissions": str(r.permissions),
        "position": r.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": r.managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
    if r.managed and bot_id is not None:
        payload["tags"] = {"bot_id": str(bot_id)}
    return payload


def member(state: DiscordState, guild: FakeGuild, m: FakeMember, *, with_user: bool = True) -> JSON:
    payload: JSON = {
        "roles": [str(r) for r in m.role_ids],
        "nick": m.nick,
        "avatar": None,
        "banner": None,
        "joined_at": iso(m.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user(state.users[m.user_id])
    return payload


def interaction_member(state: DiscordState, guild: FakeGuild, m: FakeMember) -> JSON:
    payload = member(state, guild, m)
    payload["permissions"] = str(state.member_permissions(guild, m.user_id))
    return payload


def channel(state: DiscordState, c: FakeChannel) -> JSON:
    last = str(c.last_message_id) if c.last_message_id is not None else None
    if c.type == CHANNEL_DM:
        return {
            "id": str(c.id),
            "type": c.type,
            "last_message_id": last,
            "flags": 0,
            "recipients": [user(state.users[uid]) for uid in c.recipient_ids],
        }
    return {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": state.permission_overwrites(c),
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "rate_limit_per_user": 0,
        "last_message_id": last,
        "last_pin_timestamp": None,
        "flags": 0,
    }


def guild(state: DiscordState, g: FakeGuild) -> JSON:
    """The guild object of GET /guilds/{id} (the base of GUILD_CREATE)."""
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "description": None,
        "home_header": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "features": [],
        "owner_id": str(g.owner_id),
        "application_id": None,
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 0,
        "roles": [role(r, state.bot_user_id) for r in g.roles.values()],
        "default_message_notifications": 0,
        "mfa_level": 0,
        "explicit_content_filter": 0,
        "max_presences": None,
        "max_members": 500000,
        "max_stage_video_channel_users": 50,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "premium_tier": premium_tier(state.upload_limit),
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "rules_channel_id": None,
        "safety_alerts_channel_id": None,
        "public_updates_channel_id": None,
        "premium_progress_bar_enabled": False,
        "nsfw": False,
        "nsfw_level": 0,
        "emojis": [],
        "stickers": [],
        "incidents_data": None,
        "inventory_settings": None,
        "embed_enabled": False,
        "embed_channel_id": None,
    }


def guild_create(state: DiscordState, g: FakeGuild) -> JSON:
    payload = guild(state, g)
    channels = [channel(state, state.channels[cid]) for cid in g.channel_ids]
    for c in channels:
        # GUILD_CREATE channels omit guild_id (it is the enclosing guild).
        c.pop("guild_id", None)
    payload.update(
        {
            "joined_at": iso(g.created_at),
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(g.members),
            "members": [member(state, g, m) for m in g.members.values()],
            "channels": channels,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "application_command_counts": {},
            "version": 0,
        }
    )
    return payload


def attachment(state: DiscordState, f: FakeFile) -> JSON:
    url = state.attachment_url(f)
    blob = state.blobs.get(f.attachment_id)
    payload: JSON = {
        "id": str(f.attachment_id),
        "filename": f.filename,
        "size": f.size,
        "url": url,
        "proxy_url": url,
    }
    if blob is not None and blob.content_type:
        payload["content_type"] = blob.content_type
    if f.width is not None and f.height is not None:
        payload["width"] = f.width
        payload["height"] = f.height
    if f.description is not None:
        payload["description"] = f.description
    if f.duration_secs is not None:
        payload["duration_secs"] = f.duration_secs
    if f.waveform is not None:
        payload["waveform"] = f.waveform
    if f.flags:
        payload["flags"] = f.flags
    return payload


def emoji(name: str) -> JSON:
    # Custom emoji arrive as "name:id"; unicode ones as the character itself.
    if ":" in name:
        emoji_name, _, emoji_id = name.rpartition(":")
        return {"id": emoji_id, "name": emoji_name}
    return {"id": None, "name": name}


def reactions(state: DiscordState, msg: FakeMessage) -> list[JSON]:
    counts: dict[str, list[int]] = {}
    for name, uid in msg.reactions:
        counts.setdefault(name, []).append(uid)
    return [
        {
            "emoji": emoji(name),
            "count": len(users),
            "count_details": {"burst": 0, "normal": len(users)},
            "burst_colors": [],
            "me": state.bot_user_id in users,
            "me_burst": False,
            "burst_me": False,
            "burst_count": 0,
        }
        for name, users in counts.items()
    ]


def message(state: DiscordState, msg: FakeMessage, *, for_gateway: bool = False) -> JSON:
    author = state.users[msg.author_id]
    payload: JSON = {
        "id": str(msg.id),
        "channel_id": str(msg.channel_id),
        "type": msg.type,
        "content": msg.content,
        "author": user(author),
        "attachments": [attachment(state, f) for f in msg.files],
        "embeds": list(msg.embeds),
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": msg.tts,
        "timestamp": iso(msg.created_at),
        "edited_timestamp": iso(msg.edited_at) if msg.edited_at is not None else None,
        "flags": msg.flags,
        "components": list(msg.components),
    }
    if msg.nonce is not None:
        payload["nonce"] = msg.nonce
    if msg.webhook_id is not None:
        payload["webhook_id"] = str(msg.webhook_id)
    if msg.message_reference is not None:
        payload["message_reference"] = dict(msg.message_reference)
    if msg.reactions:
        payload["reactions"] = reactions(state, msg)
    interaction = state.interactions.get(msg.interaction_id) if msg.interaction_id else None
    if interaction is not None:
        payload["application_id"] = str(state.application_id)
        metadata = interaction_metadata(state, interaction)
        original = interaction.original_response
        if original is not None and original.id != msg.id:
            metadata["original_response_message_id"] = str(original.id)
        payload["interaction_metadata"] = metadata
        payload["interaction"] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "name": interaction.command_name,
            "user": user(state.users[interaction.user_id]),
        }
    if for_gateway and msg.guild_id is not None:
        payload["guild_id"] = str(msg.guild_id)
        g = state.guilds.get(msg.guild_id)
        m = g.members.get(msg.author_id) if g is not None else None
        if g is not None and m is not None and not msg.via_webhook:
            payload["member"] = member(state, g, m, with_user=False)
    return payload


def interaction_metadata(state: DiscordState, interaction: FakeInteraction) -> JSON:
    """The message's interaction_metadata; a modal submit nests what opened the modal."""
    metadata: JSON = {
        "id": str(interaction.id),
        "type": interaction.type,
        "user": user(state.users[interaction.user_id]),
        "authorizing_integration_owners": integration_owners(interaction.guild_id),
    }
    if interaction.type == INTERACTION_COMPONENT and interaction.source_message_id is not None:
        metadata["interacted_message_id"] = str(interaction.source_message_id)
    opener = state.interactions.get(interaction.opened_by or 0)
    if interaction.type == INTERACTION_MODAL_SUBMIT and opener is not None:
        metadata["triggering_interaction_metadata"] = interaction_metadata(state, opener)
    return metadata


def integration_owners(guild_id: int | None) -> JSON:
    """The app is guild-installed: key "0" maps to the guild id ("0" in the bot's DMs)."""
    return {"0": str(guild_id) if guild_id is not None else "0"}


def command(state: DiscordState, c: RegisteredCommand) -> JSON:
    """A registered command as Discord returns it."""
    payload: JSON = {
        key: strip_nulls(value)
        for key, value in c.request.items()
        if value is not None and key not in {"id", "default_member_permissions"}
    }
    permissions = c.request.get("default_member_permissions")
    payload.update(
        {
            "id": str(c.id),
            "application_id": str(state.application_id),
            "version": str(c.version),
            "type": c.type,
            "name": c.name,
            "description": c.request.get("description") or "",
            "default_member_permissions": None if permissions is None else str(permissions),
            "nsfw": bool(c.request.get("nsfw", False)),
        }
    )
    if c.guild_id is not None:
        payload["guild_id"] = str(c.guild_id)
    return payload


def application(state: DiscordState) -> JSON:
    owner = user(state.users[state.owner_user_id])
    bot = user(state.users[state.bot_user_id])
    flags = state_application_flags()
    return {
        "id": str(state.application_id),
        "name": state.application_name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot": bot,
        "rpc_origins": [],
        "bot_public": state.application_public,
        "bot_require_code_grant": state.application_requires_code_grant,
        "integration_types_config": {"0": {}},
        "verify_key": "0" * 64,
        "flags": flags,
        "flags_new": str(flags),
        "max_participants": None,
        "tags": [],
        "owner": owner,
        "team": None,
        "redirect_uris": [],
        # None: interactions arrive over the gateway (discord.py warns otherwise).
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "explicit_content_filter": 0,
        "approximate_guild_count": len(state.guilds),
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "eligible_oauth2_scopes": ["bot", "applications.commands"],
    }


def state_application_flags() -> int:
    # GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE: an unverified bot.
    return (1 << 19) | (1 << 23)
