"""``/emo-operator``: what only the bot's owner may do (the provider account is theirs)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.guilds.money import usd
from bot.jobs.account_report import AccountStatus
from bot.messages import MessageKey, Moment, Param, UserMessage, render
from bot.wiring import EmoBot
from cogs.shared.locale import interaction_locale
from cogs.shared.markup import say

MESSAGE_BUDGET = 1900  # of Discord's 2,000 characters: room for the closing line


def account_line(status: AccountStatus, locale: str) -> str:
    """One account: its label (and id, when the label is not it), slots, queue, pause, spend.
    Never its key."""
    name = status.label if status.label == status.name else f"{status.label} ({status.name})"
    params: dict[str, Param] = {
        "account": name,
        "busy": status.slots_busy,
        "slots": status.slots_total,
        "waiting": status.waiting,
        "spent": usd(status.spent_month_usd),
    }
    if status.pause is None:
        return say(UserMessage(key=MessageKey.ACCOUNTS_LINE_ACTIVE, params=params), locale)
    params |= {"code": status.pause.code, "since": Moment(at=status.pause.since)}
    return say(UserMessage(key=MessageKey.ACCOUNTS_LINE_PAUSED, params=params), locale)


def accounts_text(statuses: list[AccountStatus], locale: str) -> str:
    """Every account, one line each, within one Discord message."""
    header = UserMessage(key=MessageKey.ACCOUNTS_HEADER, params={"count": len(statuses)})
    lines = [say(header, locale)]
    size = len(lines[0])
    for shown, status in enumerate(statuses):
        line = account_line(status, locale)
        if size + len(line) + 1 > MESSAGE_BUDGET:
            more = UserMessage(
                key=MessageKey.ACCOUNTS_MORE, params={"count": len(statuses) - shown}
            )
            lines.append(say(more, locale))
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)


@app_commands.default_permissions(administrator=True)
class OperatorCog(commands.GroupCog, group_name="emo-operator", group_description="Bot owner"):
    """Commands for the bot's owner."""

    def __init__(self, bot: EmoBot) -> None:
        self.bot = bot
        super().__init__()

    async def _refused(self, interaction: discord.Interaction[EmoBot], locale: str) -> bool:
        """Refuse anyone but the bot's owner (True when refused). The commands are hidden
        from non-admins by default, but a server's admins are not the bot's owner."""
        if await self.bot.is_owner(interaction.user):
            return False
        text = render(UserMessage(key=MessageKey.OWNER_ONLY), locale)
        await interaction.response.send_message(text, ephemeral=True)
        return True

    @app_commands.command(
        name="resume-provider", description="Resume submissions after fixing the provider account"
    )
    async def resume_provider(self, interaction: discord.Interaction[EmoBot]) -> None:
        locale = interaction_locale(interaction)
        if await self._refused(interaction, locale):
            return
        resumed = await self.bot.core.service.resume_provider(f"resumed by {interaction.user.id}")
        key = MessageKey.PROVIDER_RESUMED if resumed else MessageKey.PROVIDER_NOT_PAUSED
        await interaction.response.send_message(
            render(UserMessage(key=key), locale), ephemeral=True
        )

    @app_commands.command(
        name="accounts", description="Every provider account: slots, queue, pause and spend"
    )
    async def accounts(self, interaction: discord.Interaction[EmoBot]) -> None:
        locale = interaction_locale(interaction)
        if await self._refused(interaction, locale):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = await self.bot.core.service.accounts.statuses()
        await interaction.followup.send(accounts_text(statuses, locale), ephemeral=True)
