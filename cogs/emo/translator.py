"""Slash-command descriptions, choice names and context-menu names in the bot's languages.

discord.py asks the tree's translator for every string of a command when it syncs, and sends
the answers as ``name_localizations`` and ``description_localizations``. The translations live
in ``bot/locales/<language>.py`` as ``COMMANDS``, keyed by the English string of the command
definition.

Typed names stay English: a command, group or option name is what members type, must follow
Discord's naming rules and is the same in every language (the help texts name them in English
too). A context-menu name is only clicked, so it is translated like a description.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Location

from bot.locales import ja, zh_cn

# zh-TW (Traditional Chinese) is not given Simplified Chinese: Discord shows it English.
COMMAND_TRANSLATIONS: dict[discord.Locale, dict[str, str]] = {
    discord.Locale.japanese: ja.COMMANDS,
    discord.Locale.chinese: zh_cn.COMMANDS,
}

TYPED_NAMES = frozenset({Location.group_name, Location.parameter_name})


class CatalogueTranslator(app_commands.Translator):
    """Looks command strings up in ``bot.locales``; ``None`` (Discord shows English) else."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        table = COMMAND_TRANSLATIONS.get(locale)
        if table is None or context.location in TYPED_NAMES:
            return None
        if context.location is Location.command_name and not isinstance(
            context.data, app_commands.ContextMenu
        ):
            return None
        return table.get(string.message)
