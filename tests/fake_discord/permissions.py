"""Discord's permission bits, what the fake's roles grant, and a member's guild permissions."""

from __future__ import annotations

from .models import FakeGuild

# Permission bits (https://discord.com/developers/docs/topics/permissions).
CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
CONNECT = 1 << 20
SPEAK = 1 << 21
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
SEND_VOICE_MESSAGES = 1 << 46
ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
    | SEND_VOICE_MESSAGES
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | MANAGE_MESSAGES
# What fake.forbid_posting denies the bot in a channel (a member permission overwrite).
POSTING_DENIED = SEND_MESSAGES | ADD_REACTIONS


def guild_permissions(guild: FakeGuild, user_id: int) -> int:
    """A member's permissions in a guild: the owner has all, else @everyone + their roles."""
    if user_id == guild.owner_id:
        return ALL_PERMISSIONS
    member = guild.members.get(user_id)
    if member is None:
        return 0
    value = guild.roles[guild.id].permissions
    for role_id in member.role_ids:
        role = guild.roles.get(role_id)
        if role is not None:
            value |= role.permissions
    return ALL_PERMISSIONS if value & ADMINISTRATOR else value
