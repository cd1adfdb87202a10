"""``/emo-admin``: per-server settings and the job audit, for members with Manage Server."""

from __future__ import annotations

from bot.wiring import EmoBot
from cogs.admin.admin import AdminCog


async def setup(bot: EmoBot) -> None:
    await bot.add_cog(AdminCog(bot))
