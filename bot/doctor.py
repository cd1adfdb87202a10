"""``python -m bot doctor``: check the configuration against the real services, one line each.

Every check prints "✓ name: detail", "⚠ name: detail" (could not check; not a failure) or
"✗ name: problem — fix: …". No token or key is ever printed. The media-host check runs one
face detection on a tiny image without a face: about CNY 0.004 on the real provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import io
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from PIL import Image

from bot.jobs.account_tasks import SAME_ACCOUNT_WINDOW, account_task_ids
from bot.jobs.pool import provider_accounts
from bot.media.hosting import MediaHostError, open_media_host
from bot.provider.client import DashScopeClient
from bot.provider.errors import (
    ProviderError,
    ProviderInputError,
    ProviderOperatorError,
    ProviderTransientError,
)
from bot.provider.models import DETECT_MODEL
from bot.settings import DASHSCOPE_BEIJING, MediaHostKind, ProviderKind, Settings
from bot.wiring import DiscordCheck, GuildAccess, discord_check

PROBE_TASK_ID = "emo-bot-doctor-probe"
CHECK_TIMEOUT_SECONDS = 60.0
MAX_LISTED_CHANNELS = 3

KEY_REGION_FIX = (
    "use a key of the China (Beijing) region (Model Studio, Beijing, API keys); "
    f"DASHSCOPE_BASE_URL must be {DASHSCOPE_BEIJING}"
)
TOKEN_FIX = "reset the token in the Developer Portal and put it in DISCORD_TOKEN"
PERMISSIONS_FIX = "give the bot's role Send Messages, Attach Files, Read Message History"
_PROVIDER_FIXES = {
    "Arrearage": "the Alibaba Cloud account is overdue: top it up",
    "AccessDenied": "activate the EMO models (emo-detect-v1, emo-v1) for this account",
    "AccessDenied.Unpurchased": "activate the EMO models (emo-detect-v1, emo-v1) for this account",
    "ModelNotFound": f"check DASHSCOPE_BASE_URL (must be {DASHSCOPE_BEIJING})",
    "Throttling.AllocationQuota": "the account's quota is used up: raise it or wait",
    "NetworkError": "check that DASHSCOPE_BASE_URL is reachable from this machine",
}
_HOST_FIXES = {
    MediaHostKind.DASHSCOPE: "check the key's region and DASHSCOPE_BASE_URL (temporary storage)",
    MediaHostKind.S3: (
        "check EMO_S3_ENDPOINT, EMO_S3_BUCKET, EMO_S3_ADDRESSING and the credentials, and that "
        "the bucket is reachable from mainland China"
    ),
    MediaHostKind.HTTP: (
        "check EMO_PUBLIC_BASE_URL: it must reach EMO_MEDIA_SERVER_BIND from the internet "
        "(port forwarding, firewall, reverse proxy)"
    ),
}


class Outcome(enum.StrEnum):
    PASS = "✓"
    WARN = "⚠"
    FAIL = "✗"


@dataclass(frozen=True)
class Result:
    name: str
    outcome: Outcome
    detail: str
    fix: str = ""

    def line(self) -> str:
        if self.outcome is Outcome.FAIL and self.fix:
            return f"{self.outcome} {self.name}: {self.detail} — fix: {self.fix}"
        return f"{self.outcome} {self.name}: {self.detail}"


def _pass(name: str, detail: str) -> Result:
    return Result(name, Outcome.PASS, detail)


def _warn(name: str, detail: str) -> Result:
    return Result(name, Outcome.WARN, detail)


def _fail(name: str, detail: str, fix: str) -> Result:
    return Result(name, Outcome.FAIL, detail, fix)


def _provider_detail(error: ProviderError) -> str:
    status = f"HTTP {error.status}, " if error.status else ""
    message = f": {error.message[:120]}" if error.message else ""
    return f"{status}{error.code}{message}"


class Doctor:
    """Runs the checks in order and prints each line as soon as it is known."""

    def __init__(self, settings: Settings, *, echo: Callable[[str], None] = print) -> None:
        self.settings = settings
        self._echo = echo
        self.results: list[Result] = []

    def report(self, result: Result) -> Result:
        self.results.append(result)
        self._echo(result.line())
        return result

    @property
    def failed(self) -> bool:
        return any(result.outcome is Outcome.FAIL for result in self.results)

    async def run(self) -> int:
        """Settings, Discord token, DashScope keys (and that no two are of one account), media
        host, then the Discord permissions."""
        settings = self.settings
        self.report(
            _pass(
                "settings",
                f"provider {settings.emo_provider}, media host {settings.emo_media_host}",
            )
        )
        async with contextlib.AsyncExitStack() as stack:
            discord_login = await stack.enter_async_context(self._discord_login())
            session = await stack.enter_async_context(aiohttp.ClientSession())
            base_url, where = await stack.enter_async_context(_provider_endpoint(settings))
            accounts = provider_accounts(settings)
            working: DashScopeClient | None = None
            accepted: list[tuple[str, DashScopeClient]] = []
            for account in accounts:  # each account's key on its own
                client = DashScopeClient(
                    session,
                    base_url,
                    account.key,
                    timeout_seconds=settings.emo_http_timeout_seconds,
                )
                name = "DashScope key" if len(accounts) == 1 else f"DashScope key ({account.label})"
                key = await self._timed(name, self._check_key(client, where))
                if key.outcome is Outcome.PASS:
                    working = working or client
                    accepted.append((account.label, client))
            if len(accepted) > 1:
                await self._timed("accounts", self._check_accounts_apart(accepted))
            if working is not None:
                await self._timed("media host", self._check_media_host(working, session))
            else:
                self.report(_warn("media host", "not checked: the DashScope key check failed"))
            if discord_login is None:
                self.report(_warn("permissions", "not checked: the bot could not log in"))
            else:
                try:
                    await asyncio.wait_for(self._check_permissions(*discord_login), 120)
                except TimeoutError:
                    self.report(
                        _warn("permissions", "could not check: Discord did not answer in time")
                    )
        return 1 if self.failed else 0

    async def _timed(self, name: str, check: Awaitable[Result]) -> Result:
        try:
            result = await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
        except TimeoutError:
            result = _fail(
                name,
                f"no answer within {CHECK_TIMEOUT_SECONDS:.0f} s",
                "check the network and the service's address in the settings",
            )
        return self.report(result)

    # --- Discord ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _discord_login(self) -> AsyncIterator[tuple[DiscordCheck, int] | None]:
        """Log in over REST only (no gateway); yield the session and the bot's user id, or
        None when that failed."""
        settings = self.settings
        token = settings.discord_token
        assert token is not None  # load_settings(require_discord=True)
        async with discord_check(settings) as check:
            login = await check.login(token.get_secret_value(), CHECK_TIMEOUT_SECONDS)
            if login.rejected:
                self.report(_fail("Discord token", "Discord token rejected", TOKEN_FIX))
            elif login.user is None or login.user_id is None:
                self.report(
                    _fail(
                        "Discord token",
                        f"could not reach Discord at {settings.discord_api_base_url} "
                        f"({login.problem})",
                        "check the network, and DISCORD_API_BASE_URL if it is set",
                    )
                )
            else:
                self.report(
                    _pass("Discord token", f"logged in as {login.user} (id {login.user_id})")
                )
                yield check, login.user_id
                return
            yield None

    async def _check_permissions(self, check: DiscordCheck, user_id: int) -> None:
        guild_ids, problem = await check.guild_ids()
        note = ""
        if problem:
            fallback = self.settings.discord_command_guild_id
            if fallback is None:
                self.report(
                    _warn(
                        "permissions",
                        f"could not check: {problem}; set DISCORD_COMMAND_GUILD_ID to check "
                        "one server",
                    )
                )
                return
            guild_ids = [fallback]
            note = f" (server list unavailable: {problem})"
        if not guild_ids:
            self.report(
                _fail(
                    "permissions",
                    "the bot is in no server",
                    "invite it with an OAuth2 URL (scopes bot, applications.commands)",
                )
            )
            return
        for guild_id in guild_ids:
            self.report(_guild_result(await check.access(guild_id, user_id), note))

    # --- DashScope -------------------------------------------------------------------------

    async def _check_key(self, client: DashScopeClient, where: str) -> Result:
        name = "DashScope key"
        try:
            answer = await client.get_task(PROBE_TASK_ID)
        except ProviderOperatorError as error:
            if error.code == "InvalidApiKey":
                return _fail(
                    name, f"key or region rejected by {where} (InvalidApiKey)", KEY_REGION_FIX
                )
            fix = _PROVIDER_FIXES.get(error.code, KEY_REGION_FIX)
            return _fail(name, _provider_detail(error), fix)
        except ProviderError as error:
            fix = _PROVIDER_FIXES.get(error.code, "try again; if it persists, check the settings")
            return _fail(name, f"{where}: {_provider_detail(error)}", fix)
        status = answer.output.task_status
        return _pass(name, f"accepted by {where} (probe task: {status})")

    async def _check_accounts_apart(self, keys: list[tuple[str, DashScopeClient]]) -> Result:
        """Keys of one Alibaba Cloud account share its one render slot, and the bot would count
        one slot per key: two keys whose task lists share a task are of one account."""
        name = "accounts"
        listed: dict[str, frozenset[str]] = {}
        for label, client in keys:
            try:
                listed[label] = await account_task_ids(client)
            except ProviderError as error:
                return _warn(name, f"not compared: {label}'s task list: {_provider_detail(error)}")
        shared = [
            f"{first} and {second}"
            for (first, tasks), (second, others) in itertools.combinations(listed.items(), 2)
            if tasks & others
        ]
        if shared:
            return _fail(
                name,
                f"keys of one Alibaba Cloud account (their task lists share tasks): "
                f"{'; '.join(shared)}",
                "keep one key per account: the keys of an account share its one render slot",
            )
        unknown = sorted(label for label, tasks in listed.items() if not tasks)
        detail = f"{len(listed)} accounts, no two sharing a task"
        if unknown:
            hours = SAME_ACCOUNT_WINDOW.total_seconds() / 3600
            detail += f" ({', '.join(unknown)}: no task in the last {hours:.0f} h, not compared)"
        return _pass(name, detail)

    async def _check_media_host(
        self, client: DashScopeClient, session: aiohttp.ClientSession
    ) -> Result:
        settings = self.settings
        kind = settings.emo_media_host
        name = f"media host ({kind})"
        cannot_fetch = f"the provider cannot fetch from {kind}; {_HOST_FIXES[kind]}"
        cost = "one face check, about CNY 0.004"
        if settings.emo_provider is ProviderKind.SIMULATOR:
            cost = "one face check on the simulator"
        try:
            async with open_media_host(settings, client=client, session=session) as host:
                url = await host.publish(
                    _probe_image(),
                    model=DETECT_MODEL,
                    filename="doctor-probe.jpg",
                    content_type="image/jpeg",
                )
                await client.detect_face(url, ratio="1:1")
        except MediaHostError as error:
            return _fail(name, f"publishing failed: {error}", _HOST_FIXES[kind])
        except ProviderInputError as error:
            if error.code.startswith("InvalidFile."):
                # The detector looked at our faceless image: the file was fetched.
                return _pass(name, f"the provider fetched the probe image ({error.code}; {cost})")
            return _fail(name, _provider_detail(error), cannot_fetch)
        except ProviderTransientError as error:
            return _fail(name, _provider_detail(error), cannot_fetch)
        except ProviderError as error:
            fix = _PROVIDER_FIXES.get(error.code, cannot_fetch)
            return _fail(name, _provider_detail(error), fix)
        except OSError as error:  # the HTTP host could not bind its address
            return _fail(name, f"could not start ({type(error).__name__})", _HOST_FIXES[kind])
        return _pass(name, f"the provider fetched the probe image ({cost})")


def _guild_result(access: GuildAccess, note: str) -> Result:
    name = (
        f"permissions in {access.name}"
        if access.name
        else f"permissions in server {access.guild_id}"
    )
    if access.problem:
        return _warn(name, f"could not check: {access.problem}")
    listed = ", ".join(access.blocked[:MAX_LISTED_CHANNELS])
    if len(access.blocked) > MAX_LISTED_CHANNELS:
        listed += f" and {len(access.blocked) - MAX_LISTED_CHANNELS} more"
    if not access.usable:
        seen = f"; missing in {listed}" if listed else "; it sees no text channel"
        return _fail(
            name,
            "the bot cannot view, send messages, attach files, read history and add "
            f"reactions in any text channel{seen}",
            PERMISSIONS_FIX,
        )
    detail = (
        f"can view, send, attach files, read history and react in {access.usable} of "
        f"{access.text_channels} text channels"
    )
    if listed:
        detail += f"; cannot send/attach/read history/react in {listed}"
    return _pass(name, detail + note)


def _probe_image() -> bytes:
    """A small flat grey JPEG (no face), large enough for the provider's minimum size."""
    buffer = io.BytesIO()
    Image.new("RGB", (512, 512), (128, 128, 128)).save(buffer, format="JPEG", quality=60)
    return buffer.getvalue()


@contextlib.asynccontextmanager
async def _provider_endpoint(settings: Settings) -> AsyncIterator[tuple[str, str]]:
    """The base URL to check the accounts' keys at, and how to name it; EMO_PROVIDER=simulator
    checks the in-process simulator the bot would start."""
    if settings.emo_provider is ProviderKind.SIMULATOR:
        from bot.simulator import Simulator

        simulator = Simulator()
        await simulator.start(host="127.0.0.1", port=0)
        try:
            yield simulator.base_url, "the in-process simulator"
        finally:
            await simulator.close()
        return
    base_url = str(settings.dashscope_base_url)
    yield base_url, base_url.rstrip("/")


async def run_doctor(settings: Settings) -> int:
    """Run every check; 0 when none failed, else 1."""
    # discord.py's own warnings (voice support, intents) are noise in a checklist.
    logging.getLogger("discord").setLevel(logging.ERROR)
    return await Doctor(settings).run()
