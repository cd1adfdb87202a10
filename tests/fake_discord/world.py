"""Building the fake's world from a test: members, guilds, channels, the default user and
avatars, each announced to a connected bot as Discord would."""

from __future__ import annotations

from . import payloads
from .gateway import INTENT_GUILD_MEMBERS
from .sharding import Audience
from .surface import Surface


class World(Surface):
    """FakeDiscord's world-building methods."""

    _default_user_id: int | None = None

    def add_member(
        self,
        user_id: int | None = None,
        name: str = "member",
        *,
        manage_guild: bool = False,
        guild_id: int | None = None,
    ) -> int:
        """Add a user to a guild (default guild); returns the user id."""
        member = self.create_member(user_id, name, manage_guild=manage_guild, guild_id=guild_id)
        guild = self.guilds[guild_id if guild_id is not None else self.guild_id]
        if self.hub.ready_sessions:
            data = payloads.member(self, guild, member)
            data["guild_id"] = str(guild.id)
            added = self.hub.dispatch(
                "GUILD_MEMBER_ADD", data, intent=INTENT_GUILD_MEMBERS, audience=Audience(guild.id)
            )
            self._spawn(added)
        return member.user_id

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> int:
        """Create a guild the bot is in (announced with GUILD_CREATE to its shard's sessions
        if connected). With shard=(shard_id, shard_count) its id is picked so that the guild
        lands on that shard: (id >> 22) % shard_count == shard_id."""
        guild = self.create_guild(name, shard)
        if self.hub.ready_sessions:
            data = payloads.guild_create(self, guild)
            # A join omits "unavailable" (false would mean an outage ended: guild_available).
            data.pop("unavailable")
            self._spawn(self.hub.dispatch("GUILD_CREATE", data, audience=Audience(guild.id)))
        return guild.id

    def add_channel(self, guild_id: int, name: str) -> int:
        """Create a text channel in a guild (announced with CHANNEL_CREATE if connected)."""
        channel = self.create_channel(guild_id, name)
        if self.hub.ready_sessions:
            data = payloads.channel(self, channel)
            self._spawn(self.hub.dispatch("CHANNEL_CREATE", data, audience=Audience(guild_id)))
        return channel.id

    def default_user(self) -> int:
        """A plain member of the default guild, created on first use."""
        if self._default_user_id is None:
            self._default_user_id = self.add_member(name="tester")
        return self._default_user_id

    def set_avatar(self, user_id: int, image: bytes) -> str:
        """Give a user an avatar (PNG, JPEG or WebP bytes); returns its hash.

        Every user object then carries the hash, and the CDN serves the bytes at
        `{cdn_base_url}/avatars/{user_id}/{hash}.png` (what discord.py builds once
        `discord.asset.Asset.BASE = fake.cdn_base_url`). A connected bot is told through
        GUILD_MEMBER_UPDATE (members intent) or, for itself, USER_UPDATE.
        """
        avatar = self.store_avatar(user_id, image)
        if self.hub.ready_sessions:
            if user_id == self.bot_user_id:
                me = payloads.user(self.users[user_id])
                self._spawn(self.hub.dispatch("USER_UPDATE", me))
            for guild in self.guilds.values():
                member = guild.members.get(user_id)
                if member is not None:
                    data = payloads.member(self, guild, member)
                    data["guild_id"] = str(guild.id)
                    update = self.hub.dispatch(
                        "GUILD_MEMBER_UPDATE",
                        data,
                        intent=INTENT_GUILD_MEMBERS,
                        audience=Audience(guild.id),
                    )
                    self._spawn(update)
        return avatar
