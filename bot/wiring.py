"""Builds the discord.py client around the core and loads the cogs.

The only module of ``bot`` that imports discord.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.app import Core
from bot.errors import UserFacingError
from bot.messages import MessageKey, UserMessage, choose_locale, render
from bot.settings import Settings

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.emo", "cogs.admin")
COMMANDS_HASH_KEY = "app_commands_hash"


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic where the settings say (Discord or a compatible server)."""
    discord.http.Route.BASE = str(settings.discord_api_base_url).rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(str(settings.discord_gateway_url))
    discord.asset.Asset.BASE = str(settings.discord_cdn_base_url).rstrip("/")


async def answer_privately(interaction: discord.Interaction[Any], text: str) -> None:
    """Tell the invoker ``text`` in an ephemeral message, however far the interaction got."""
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=text)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as error:
        log.warning("could not answer interaction %s: %s", interaction.id, error.status)


async def report_interaction_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Every error reaches the member as a short private message; unexpected ones are logged
    with a reference id the member can quote."""
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    guild_locale = str(interaction.guild_locale) if interaction.guild_locale else None
    locale = choose_locale(str(interaction.locale), guild_locale)
    if isinstance(cause, UserFacingError):
        await answer_privately(interaction, render(cause.message, locale))
        return
    if isinstance(cause, app_commands.NoPrivateMessage):
        await answer_privately(interaction, render(UserMessage(key=MessageKey.GUILD_ONLY), locale))
        return
    reference = secrets.token_hex(4)
    command = interaction.command.qualified_name if interaction.command else "component"
    log.error("interaction failed (reference %s, %s)", reference, command, exc_info=cause)
    message = UserMessage(key=MessageKey.UNEXPECTED, params={"reference": reference})
    await answer_privately(interaction, render(message, locale))


class EmoCommandTree(app_commands.CommandTree["EmoBot"]):
    """One error handler for every app command: a short ephemeral message, never a trace."""

    async def on_error(
        self, interaction: discord.Interaction[EmoBot], error: app_commands.AppCommandError
    ) -> None:
        await report_interaction_error(interaction, error)


class EmoBot(commands.Bot):
    """The discord.py client: holds the core for the cogs, syncs commands when they change."""

    def __init__(self, core: Core, *, serve: bool = True) -> None:
        self._serve = serve  # False: only log in (to sync commands), no jobs are run
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            help_command=None,
            tree_cls=EmoCommandTree,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
        )
        self.core = core

    @property
    def settings(self) -> Settings:
        return self.core.settings

    async def setup_hook(self) -> None:
        self.core.ops.set_gateway_check(lambda: self.is_ready() and not self.is_closed())
        # Imported here: bot/ does not import the cogs at module level.
        from cogs.emo.translator import CatalogueTranslator

        await self.tree.set_translator(CatalogueTranslator())  # command localizations
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self._serve:
            await self.core.service.start()
            await self.sync_commands_if_changed()

    async def sync_commands_if_changed(
        self, *, force: bool = False, guild_id: int | None = None
    ) -> int:
        """Bulk-overwrite the commands only when their definition changed (it is rate
        limited), or always with ``force``; return how many were synced."""
        guild_id = guild_id or self.settings.discord_command_guild_id
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        # What sync() sends, localizations included, so a changed translation re-syncs too.
        translator = self.tree.translator
        payload = [
            await command.get_translated_payload(self.tree, translator)
            if translator
            else command.to_dict(self.tree)
            for command in self.tree.get_commands(guild=guild)
        ]
        digest = hashlib.sha256(
            json.dumps([guild_id, payload], sort_keys=True).encode()
        ).hexdigest()
        store = self.core.store
        if not force and await store.get_meta(COMMANDS_HASH_KEY) == digest:
            log.info("app commands unchanged; not syncing")
            return 0
        synced = await self.tree.sync(guild=guild)
        await store.set_meta(COMMANDS_HASH_KEY, digest)
        log.info(
            "synced %d app commands (%s)",
            len(synced),
            f"guild {guild_id}" if guild_id else "global",
        )
        return len(synced)

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))


async def sync_commands(core: Core, guild_id: int | None) -> int:
    """Log in, register the commands (in one server, or globally), log out."""
    point_discord_at(core.settings)
    bot = EmoBot(core, serve=False)
    token = core.settings.discord_token
    assert token is not None  # load_settings() requires it
    async with bot:
        await bot.login(token.get_secret_value())
        return await bot.sync_commands_if_changed(force=True, guild_id=guild_id)


async def run_bot(core: Core) -> None:
    """Connect to Discord and serve until cancelled."""
    point_discord_at(core.settings)
    bot = EmoBot(core)
    async with bot:
        token = core.settings.discord_token
        assert token is not None  # load_settings() requires it for the bot
        await bot.start(token.get_secret_value())
