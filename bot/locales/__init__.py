"""The bot's translations, one module per language besides English.

Each module defines ``MESSAGES`` (member-facing texts keyed by ``bot.messages.MessageKey``
values, with the English text's placeholders) and ``COMMANDS`` (the slash commands' English
descriptions, choice names and context-menu names, mapped to their translations). They do not
import ``bot.messages``, which builds its catalogue from them.
"""
