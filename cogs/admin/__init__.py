"""``/emo-admin``: per-server settings, the job audit and the server's own DashScope key, for
members with Manage Server."""

from __future__ import annotations

from bot.wiring import EmoBot
from cogs.admin.admin import AdminCog
from cogs.admin.provider_key import ProviderKeyCommands


async def setup(bot: EmoBot) -> None:
    admin = AdminCog(bot)
    group = admin.app_command  # the cog's /emo-admin group (a GroupCog always has one)
    assert group is not None
    # A subgroup of it: /emo-admin provider-key set|clear|status.
    group.add_command(ProviderKeyCommands(bot.core.provider_keys))
    await bot.add_cog(admin)
