"""Discord's markup for the core's typed values: mentions, timestamps, message links."""

from __future__ import annotations

from datetime import datetime

import discord

from bot.messages import Markup, MessageLink, UserMessage, render


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def _link(target: MessageLink) -> str:
    return message_link(target.guild_id, target.channel_id, target.message_id)


def _relative(at: datetime) -> str:
    return discord.utils.format_dt(at, "R")


def _date(at: datetime) -> str:
    return discord.utils.format_dt(at, "D")


DISCORD = Markup(mention=lambda user_id: f"<@{user_id}>", moment=_relative, link=_link, date=_date)


def say(message: UserMessage, locale: str | None) -> str:
    """``message`` as Discord shows it, in ``locale``."""
    return render(message, locale, DISCORD)
