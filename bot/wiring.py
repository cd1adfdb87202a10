"""Builds the discord.py client around the core, loads the cogs, connects their edge to the
core; and the doctor's Discord checks.

The only module of ``bot`` that imports discord.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.core import Core, Edge
from bot.db.database import DatabaseUnavailableError
from bot.errors import QuietError, UserFacingError
from bot.messages import Markup, MessageKey, UserMessage, choose_locale, render
from bot.settings import ProviderKind, Settings
from bot.startup import (
    Service,
    ServiceAnsweredError,
    StartupGaveUpError,
    classify,
    probing,
    reach_all,
    reach_provider,
)

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


# A refusal's typed values as Discord shows them (the cogs' own messages: cogs/shared/markup.py).
_REFUSAL_MARKUP = Markup(
    mention=lambda user_id: f"<@{user_id}>",
    moment=lambda at: discord.utils.format_dt(at, "R"),
    link=lambda _: "",
    date=lambda at: discord.utils.format_dt(at, "D"),
)


async def report_interaction_error(interaction: discord.Interaction[Any], error: Exception) -> None:
    """Every error reaches the member as a short private message; unexpected ones are logged
    with a reference id the member can quote."""
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    guild_locale = str(interaction.guild_locale) if interaction.guild_locale else None
    locale = choose_locale(str(interaction.locale), guild_locale)
    if isinstance(cause, UserFacingError):
        await answer_privately(interaction, render(cause.message, locale, _REFUSAL_MARKUP))
        return
    if isinstance(cause, app_commands.NoPrivateMessage):
        await answer_privately(interaction, render(UserMessage(key=MessageKey.GUILD_ONLY), locale))
        return
    if isinstance(cause, DatabaseUnavailableError):
        # The database layer logged the outage once; the member hears it in a sentence.
        await answer_privately(
            interaction, render(UserMessage(key=MessageKey.DATABASE_AWAY), locale)
        )
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


class EmoBot(commands.AutoShardedBot):
    """The discord.py client: holds the core for the cogs, syncs commands when they change.

    Sharded: it runs DISCORD_SHARD_IDS of DISCORD_SHARD_COUNT shards, or every shard Discord
    recommends. A guild's interactions and reactions reach only the process running its
    shard, which answers them; results and cards go out through REST (partial messageables),
    so any process may post them."""

    def __init__(self, core: Core, *, serve: bool = True) -> None:
        self._serve = serve  # False: only log in (to sync commands), no jobs are run
        self._edge: Edge | None = None
        self._translator: app_commands.Translator | None = None
        settings = core.settings
        shards: dict[str, Any] = {"shard_count": settings.discord_shard_count}
        if settings.discord_shard_ids:
            shards["shard_ids"] = list(settings.discord_shard_ids)
        super().__init__(
            **shards,
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

    def use_edge(self, edge: Edge) -> None:
        """An extension's way of showing jobs on Discord; connected to the core at start."""
        self._edge = edge

    def use_translator(self, translator: app_commands.Translator) -> None:
        """An extension's command localizations."""
        self._translator = translator

    async def setup_hook(self) -> None:
        self.core.ops.set_gateway_check(lambda: self.is_ready() and not self.is_closed())
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self._translator is not None:
            await self.tree.set_translator(self._translator)  # command localizations
        if self._serve:
            if self._edge is None:
                raise RuntimeError("no extension gave the core its Discord edge")
            self.core.attach(self._edge)
            await self.core.start()
            await self.sync_commands_if_changed()

    async def close(self) -> None:
        """Stop in order: the extensions tell requests in progress to come back (their rows
        resume on the next start), the core stops its loops, then Discord closes."""
        for extension in tuple(self.extensions):
            with contextlib.suppress(commands.ExtensionError):
                await self.unload_extension(extension)
        await self.core.close()
        await super().close()

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
        meta = self.core.meta
        if not force and await meta.get(COMMANDS_HASH_KEY) == digest:
            log.info("app commands unchanged; not syncing")
            return 0
        synced = await self.tree.sync(guild=guild)
        await meta.set(COMMANDS_HASH_KEY, digest)
        log.info(
            "synced %d app commands (%s)",
            len(synced),
            f"guild {guild_id}" if guild_id else "global",
        )
        return len(synced)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """An event handler failed (a 🔁, a guild joined, ...): one line when the cause was
        already logged where it happened (the database is away), a traceback otherwise."""
        error = sys.exc_info()[1]
        if isinstance(error, QuietError):
            log.warning("%s skipped: %s", event_method, error)
            return
        log.exception("event %s failed", event_method)

    async def on_ready(self) -> None:
        shards = ",".join(str(shard) for shard in sorted(self.shards))
        log.info(
            "connected as %s to %d servers (shards %s of %s)",
            self.user,
            len(self.guilds),
            shards,
            self.shard_count,
        )


class TokenRejectedError(Exception):
    """Discord refused DISCORD_TOKEN."""


async def sync_commands(core: Core, guild_id: int | None) -> int:
    """Log in, register the commands (in one server, or globally), log out."""
    point_discord_at(core.settings)
    bot = EmoBot(core, serve=False)
    token = core.settings.discord_token
    assert token is not None  # load_settings() requires it
    try:
        async with bot:
            await bot.login(token.get_secret_value())
            return await bot.sync_commands_if_changed(force=True, guild_id=guild_id)
    except discord.LoginFailure:
        raise TokenRejectedError from None


async def run_bot(core: Core) -> None:
    """Reach Discord and the provider (tried again for EMO_STARTUP_RETRY_SECONDS, one line
    per try: bot/startup.py), then connect and serve until cancelled."""
    settings = core.settings
    point_discord_at(settings)
    core.ops.set_gateway_check(lambda: False)  # /readyz: not ready while Discord is reached
    services = [Service("Discord", functools.partial(reach_discord, settings))]
    if settings.emo_provider is ProviderKind.DASHSCOPE:  # the simulator runs in this process
        base_url = str(settings.dashscope_base_url)
        services.append(
            Service("DashScope", functools.partial(reach_provider, core.session, base_url))
        )
    await reach_all(services, window=settings.emo_startup_retry_seconds)
    bot = EmoBot(core)
    token = settings.discord_token
    assert token is not None  # load_settings() requires it for the bot
    try:
        async with bot:
            await bot.start(token.get_secret_value())
    except discord.LoginFailure:
        raise TokenRejectedError from None
    except Exception as error:
        # Reached a moment ago, lost while connecting: say so in one line, and let the
        # supervisor start the bot again (the core may have started: no retry in-process).
        cause = _unreachable_cause(error)
        if cause is None:
            raise
        log.error(
            "start-up failed: Discord became unreachable while connecting (%s); exiting with "
            "status 1 so that the supervisor starts the bot again",
            cause,
        )
        raise StartupGaveUpError(cause) from None


def _unreachable_cause(error: Exception) -> str | None:
    if isinstance(error, discord.HTTPException):
        error = ServiceAnsweredError(error.status)
    found = classify(error)
    return None if found is None else found[0]


async def reach_discord(settings: Settings, within: float) -> None:
    """Log in over REST (a refused token is TokenRejectedError) and open the gateway the bot
    will use, up to its HELLO: Discord is reachable when both answer. Raises
    UnreachableError naming what could not be reached."""
    token = settings.discord_token
    assert token is not None  # load_settings() requires it for the bot
    api = str(settings.discord_api_base_url)
    async with discord.Client(intents=discord.Intents(guilds=True)) as client:
        async with probing("Discord", api, "DISCORD_API_BASE_URL", within=within):
            try:
                await client.http.static_login(token.get_secret_value())  # GET /users/@me
                if settings.discord_shard_count is None:  # as AutoShardedBot will find it
                    _, gateway, _ = await client.http.get_bot_gateway()
                    setting = "the gateway URL of GET /gateway/bot"
                else:
                    gateway, setting = str(settings.discord_gateway_url), "DISCORD_GATEWAY_URL"
            except discord.LoginFailure:
                raise TokenRejectedError from None
            except discord.GatewayNotFound as error:
                cause = error.__cause__
                status = cause.status if isinstance(cause, discord.HTTPException) else 500
                raise ServiceAnsweredError(status) from None
            except discord.HTTPException as error:
                raise ServiceAnsweredError(error.status) from None
        async with probing("Discord's gateway", gateway, setting, within=within):
            url = yarl.URL(gateway).with_query(v=10, encoding="json")
            socket = await client.http.ws_connect(str(url))
            try:
                await socket.receive()  # HELLO: the gateway is there (nothing is identified)
            finally:
                await socket.close()


# --- the doctor's Discord checks (bot/doctor.py words them) ----------------------------------


@dataclass(frozen=True)
class Login:
    """How a REST login went: ``user`` (name and id) on success, else ``problem``."""

    user: str | None = None
    user_id: int | None = None
    rejected: bool = False  # the token was refused
    problem: str = ""  # why Discord could not be reached


@dataclass(frozen=True)
class GuildAccess:
    """What the bot may do in one server's text channels."""

    guild_id: int
    name: str | None = None
    problem: str = ""  # a step that could not be read ("GET /guilds/1 answered HTTP 403")
    text_channels: int = 0
    usable: int = 0  # where it can view, send, attach files, read history and react
    blocked: list[str] = field(default_factory=list)  # visible channels missing a permission


class DiscordCheck:
    """A REST-only session (no gateway) for checking the token and the permissions."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def login(self, token: str, within: float) -> Login:
        try:
            await asyncio.wait_for(self._client.login(token), within)
        except discord.LoginFailure:
            return Login(rejected=True)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            return Login(problem=type(error).__name__)
        user = self._client.user
        assert user is not None  # set by login()
        return Login(user=str(user), user_id=user.id)

    async def guild_ids(self) -> tuple[list[int], str]:
        """The servers the bot is in; on failure, none and why."""
        try:
            return [guild.id async for guild in self._client.fetch_guilds(limit=None)], ""
        except discord.HTTPException as error:
            return [], f"GET /users/@me/guilds answered HTTP {error.status}"

    async def access(self, guild_id: int, user_id: int) -> GuildAccess:
        step = f"GET /guilds/{guild_id}"
        name: str | None = None
        try:
            guild = await self._client.fetch_guild(guild_id)
            name = guild.name
            step = f"GET /guilds/{guild_id}/channels"
            channels = await guild.fetch_channels()
            step = f"GET /guilds/{guild_id}/members/{user_id}"
            member = await guild.fetch_member(user_id)
        except discord.HTTPException as error:
            return GuildAccess(guild_id, name, problem=f"{step} answered HTTP {error.status}")
        text = [channel for channel in channels if isinstance(channel, discord.TextChannel)]
        usable, blocked = 0, []
        for channel in sorted(text, key=lambda c: c.position):
            allowed = channel.permissions_for(member)
            if not allowed.view_channel:
                continue  # a private channel the bot is not meant to see
            needed = (
                allowed.send_messages,
                allowed.attach_files,
                allowed.read_message_history,
                allowed.add_reactions,
            )
            if all(needed):
                usable += 1
            else:
                blocked.append(f"#{channel.name}")
        return GuildAccess(guild_id, name, text_channels=len(text), usable=usable, blocked=blocked)


@contextlib.asynccontextmanager
async def discord_check(settings: Settings) -> AsyncIterator[DiscordCheck]:
    point_discord_at(settings)
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with client:
        yield DiscordCheck(client)
