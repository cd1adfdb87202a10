"""``python -m bot invite``: the OAuth2 link that adds the bot to a server, with exactly the
scopes and permissions it uses, so nobody computes a permissions integer by hand.

The application id is read from Discord (``GET /oauth2/applications/@me``) with the bot's
token; nothing else is needed, not even the provider's key.
"""

from __future__ import annotations

import enum
import functools
import operator
import sys
from urllib.parse import urlencode, urlsplit

import aiohttp
from pydantic import BaseModel

from bot.settings import DISCORD_API, DiscordLogin
from bot.startup import ServiceAnsweredError, classify, where

EXIT_OK, EXIT_UNREACHABLE, EXIT_CONFIG = 0, 1, 2
REQUEST_SECONDS = 30.0
USER_AGENT = "DiscordBot (https://github.com/emo-bot, 1) emo-bot"

SCOPES = ("bot", "applications.commands")
GUILD_INSTALL = 0  # integration_type: added to a server, not installed by a user


class Permission(enum.IntFlag):
    """Discord's permission bits (developer docs, Topics › Permissions) that the bot asks for."""

    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    SEND_MESSAGES_IN_THREADS = 1 << 38


# What each permission is for, as Discord's server settings name it. Nothing else is asked:
# the bot posts no embeds (a result too large to upload is a plain link), and answering a
# slash command or editing its own messages needs no permission.
NEEDED: dict[Permission, tuple[str, str]] = {
    Permission.VIEW_CHANNEL: ("View Channels", "see the channel a command was used in"),
    Permission.SEND_MESSAGES: ("Send Messages", "post status cards and results"),
    Permission.SEND_MESSAGES_IN_THREADS: (
        "Send Messages in Threads",
        "the same when a command is used in a thread",
    ),
    Permission.ATTACH_FILES: ("Attach Files", "upload the video"),
    Permission.READ_MESSAGE_HISTORY: (
        "Read Message History",
        "reply to the card, and find a result posted before a restart",
    ),
    Permission.ADD_REACTIONS: ("Add Reactions", "put the 🔁 retry hint under a result"),
}


def permissions_integer() -> int:
    """The ``permissions`` value of the invite: the named flags above, or-ed together."""
    return int(functools.reduce(operator.or_, NEEDED, Permission(0)))


def authorize_url(api_base_url: str) -> str:
    """Where the OAuth2 consent page lives: discord.com's for Discord, else the same origin as
    the configured Discord-compatible API."""
    api = urlsplit(api_base_url.rstrip("/"))
    default = urlsplit(DISCORD_API)
    if (api.scheme, api.netloc) == (default.scheme, default.netloc):
        return "https://discord.com/oauth2/authorize"
    return f"{api.scheme}://{api.netloc}/oauth2/authorize"


def invite_url(application_id: int, api_base_url: str = DISCORD_API) -> str:
    query = urlencode(
        {
            "client_id": application_id,
            "permissions": permissions_integer(),
            "integration_type": GUILD_INSTALL,
            "scope": " ".join(SCOPES),
        }
    )
    return f"{authorize_url(api_base_url)}?{query}"


class Application(BaseModel):
    """The fields of ``GET /oauth2/applications/@me`` the invite uses."""

    id: int
    name: str = ""
    bot_public: bool = True
    bot_require_code_grant: bool = False


class TokenRejectedError(Exception):
    """Discord answered 401: DISCORD_TOKEN is wrong."""


async def fetch_application(login: DiscordLogin) -> Application:
    """The bot's application, read with its token. Raises TokenRejectedError, or whatever
    ``bot.startup.classify`` recognises as Discord being unreachable."""
    url = str(login.discord_api_base_url).rstrip("/") + "/oauth2/applications/@me"
    headers = {
        "Authorization": f"Bot {login.discord_token.get_secret_value().strip()}",
        "User-Agent": USER_AGENT,
    }
    timeout = aiohttp.ClientTimeout(total=REQUEST_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, headers=headers, allow_redirects=False) as response,
    ):
        if response.status == 401:
            raise TokenRejectedError
        if response.status != 200:
            raise ServiceAnsweredError(response.status)
        return Application.model_validate(await response.json(content_type=None))


async def print_invite(login: DiscordLogin) -> int:
    """Print the invite link (stdout) and what it asks for (stderr); return the exit status."""
    api = str(login.discord_api_base_url)
    try:
        application = await fetch_application(login)
    except TokenRejectedError:
        print(
            "Configuration error: DISCORD_TOKEN was rejected by Discord (see .env.example)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except ValueError:  # not JSON, or no application id in it (pydantic's error is one too)
        print(f"Discord at {where(api)} answered without an application id", file=sys.stderr)
        return EXIT_UNREACHABLE
    except Exception as error:
        found = classify(error, REQUEST_SECONDS)
        if found is None:
            raise
        cause, check = found
        print(
            f"Cannot reach Discord at {where(api)} ({cause}); "
            f"{check.format(setting='DISCORD_API_BASE_URL')}",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    labels = ", ".join(label for label, _ in NEEDED.values())
    print(
        f"Open this link to add {application.name or 'the bot'} to a server (you need Manage "
        f"Server there). Scopes: {', '.join(SCOPES)}; permissions: {labels}.",
        file=sys.stderr,
    )
    if not application.bot_public:
        print(
            "Public Bot is off in the Developer Portal: only the application's owner can use it.",
            file=sys.stderr,
        )
    if application.bot_require_code_grant:
        print(
            "Requires OAuth2 Code Grant is on in the Developer Portal: turn it off, or the "
            "link fails.",
            file=sys.stderr,
        )
    print(invite_url(application.id, api), flush=True)
    return EXIT_OK
