"""The /emo commands: a thin layer between Discord interactions and the animate service."""

from __future__ import annotations

from bot.wiring import EmoBot
from cogs.emo.animate import EmoCog


async def setup(bot: EmoBot) -> None:
    await bot.add_cog(EmoCog(bot))
