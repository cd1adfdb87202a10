"""The /emo commands: a thin layer between Discord interactions and the animate service."""

from __future__ import annotations

from bot.wiring import EmoBot
from cogs.emo.animate import EmoCog
from cogs.emo.operator import OperatorCog
from cogs.emo.voice import VoiceMessageCog


async def setup(bot: EmoBot) -> None:
    emo = EmoCog(bot)
    await bot.add_cog(emo)
    await bot.add_cog(VoiceMessageCog(bot, emo.actions))
    await bot.add_cog(OperatorCog(bot))
