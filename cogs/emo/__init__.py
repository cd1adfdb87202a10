"""The /emo commands: a thin layer between Discord interactions and the animate service."""

from __future__ import annotations

from bot.wiring import EmoBot
from cogs.emo.animate import EmoCog
from cogs.emo.operator import OperatorCog


async def setup(bot: EmoBot) -> None:
    await bot.add_cog(EmoCog(bot))
    await bot.add_cog(OperatorCog(bot))
