"""The /emo commands and the Discord edge of the core: a thin layer between Discord and the
animate service."""

from __future__ import annotations

from bot.core import Edge
from bot.wiring import EmoBot
from cogs.emo.actions import JobActions
from cogs.emo.animate import EmoCog
from cogs.emo.buttons import JobButtons
from cogs.emo.card import DiscordCards
from cogs.emo.delivery import DiscordResults
from cogs.emo.interactions import LiveInteractions
from cogs.emo.notices import DiscordNotices
from cogs.emo.operator import OperatorCog
from cogs.emo.spending import SpendingButtons
from cogs.emo.translator import CatalogueTranslator
from cogs.emo.voice import VoiceMessageCog


async def setup(bot: EmoBot) -> None:
    core = bot.core
    interactions = LiveInteractions()
    actions = JobActions(bot, core.card_keeper, interactions)
    buttons = JobButtons(actions, SpendingButtons(bot, actions))
    notices = DiscordNotices(bot, buttons, core.cards, interactions)
    # The wiring connects this edge to the core before the core starts.
    bot.use_edge(
        Edge(
            results=DiscordResults(bot, buttons, core.cards, interactions),
            listen=notices.job_changed,
            alerts=notices.alert,
            cards=DiscordCards(bot, buttons),
        )
    )
    bot.use_translator(CatalogueTranslator())
    # Buttons posted before a restart still work: their custom ids carry the job id.
    bot.add_dynamic_items(*buttons.dynamic_items)
    await bot.add_cog(EmoCog(bot, actions))
    await bot.add_cog(VoiceMessageCog(bot, actions))
    await bot.add_cog(OperatorCog(bot))
