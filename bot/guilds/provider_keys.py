"""Bring your own key: a server's admins give the bot a DashScope key of their own.

``ProviderKeys`` checks a key with a free call before storing it, sealed (``vault.py``), and
answers the engine (``OwnKeys``: which keys exist, which account a server's jobs are pinned
to, forgetting a retired key) and admission (``AccountPlans``: which servers are on an
account of their own, so outside the operator's ceilings and budgets).

A key this process cannot open (no ``EMO_SECRET_KEY``, or another one than it was stored
with) is unusable: no job is pinned to it and the server is on the shared accounts, under
the operator's limits, until an admin sets the key again. It is logged once, never shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from pydantic import SecretStr

from bot.clock import Clock, system_clock, utcnow
from bot.db.database import Database
from bot.errors import UserFacingError
from bot.guilds.repository import KeyConflict, NewKey, ProviderKeyRepository, StoredKey
from bot.guilds.sql_keys import SqlProviderKeyRepository
from bot.guilds.vault import KeyVault, SealedKeyError
from bot.jobs.account_tasks import SAME_ACCOUNT_WINDOW, account_task_ids
from bot.jobs.identity import ZONE_SLACK
from bot.jobs.own_accounts import OwnKey, TaskHolder, own_account_name
from bot.jobs.pool import SIMULATOR_KEY
from bot.jobs.prober import PROBE_TASK_ID
from bot.logs import Redactor, learn_secret
from bot.messages import Mention, MessageKey, Moment, MomentStyle, UserMessage
from bot.provider.accounts import file_keys, fingerprint
from bot.provider.client import DashScopeClient
from bot.provider.errors import ErrorKind, ProviderError
from bot.settings import ProviderKind, Settings

log = logging.getLogger(__name__)

KEY_MIN_LENGTH = 8
KEY_MAX_LENGTH = 200
CHECK_TIMEOUT_SECONDS = 20.0  # the free call that tests a key, at most
REASON_MAX_LENGTH = 300  # of the provider's message, as shown to the admin

KeyChecker = Callable[[SecretStr], Awaitable[frozenset[str]]]
"""Raises ProviderError when the provider refuses the key (or cannot be asked); otherwise
the ids of the EMO tasks its account's list shows for the last ``SAME_ACCOUNT_WINDOW``
(every key of that account: empty when the list could not be read)."""
TaskHolders = Callable[[datetime], Awaitable[dict[str, TaskHolder]]]
"""The bot's tasks submitted since then, and whose account each ran on."""
PauseOf = Callable[[str], Awaitable[str | None]]
"""The provider error code an own account (``OwnKey.name``) is paused for, or None."""


async def _never_paused(name: str) -> str | None:
    return None


def _nothing() -> None:
    return None


def _forget_nothing(secret: str) -> None:
    return None


async def _no_tasks(since: datetime) -> dict[str, TaskHolder]:
    return {}


@dataclass(frozen=True)
class KeyStatus:
    """A server's own key as its admins see it; never the key itself."""

    guild_id: int
    account_id: str | None = None  # None: no key of its own
    set_by: int | None = None
    set_at: datetime | None = None
    usable: bool = False  # the bot can read it (its EMO_SECRET_KEY is the one it was stored with)
    pause_code: str | None = None  # the engine paused the account for this provider error

    @property
    def is_set(self) -> bool:
        return self.account_id is not None

    @property
    def paused(self) -> bool:
        return self.pause_code is not None

    def messages(self) -> list[UserMessage]:
        """What ``/emo-admin provider-key status`` says, line by line."""
        if self.account_id is None or self.set_by is None or self.set_at is None:
            return [UserMessage(key=MessageKey.PROVIDER_KEY_STATUS_NONE)]
        said = [
            UserMessage(
                key=MessageKey.PROVIDER_KEY_STATUS_SET,
                params={
                    "account": self.account_id,
                    "member": Mention(user_id=self.set_by),
                    "when": Moment(at=self.set_at, style=MomentStyle.DATE),
                },
            )
        ]
        if not self.usable:
            said.append(UserMessage(key=MessageKey.PROVIDER_KEY_STATUS_UNREADABLE))
        elif self.pause_code is not None:
            said.append(
                UserMessage(
                    key=MessageKey.PROVIDER_KEY_STATUS_PAUSED, params={"code": self.pause_code}
                )
            )
        return said


def valid_key(text: str) -> str:
    """The key as entered, without surrounding whitespace; UserFacingError when it cannot be
    a key (checked before anything is sent anywhere)."""
    key = text.strip()
    if not key:
        raise UserFacingError(MessageKey.PROVIDER_KEY_EMPTY)
    if any(char.isspace() or not char.isprintable() or not char.isascii() for char in key):
        raise UserFacingError(MessageKey.PROVIDER_KEY_MALFORMED)
    if not KEY_MIN_LENGTH <= len(key) <= KEY_MAX_LENGTH:
        raise UserFacingError(
            MessageKey.PROVIDER_KEY_LENGTH,
            minimum=KEY_MIN_LENGTH,
            maximum=KEY_MAX_LENGTH,
            length=len(key),
        )
    return key


def probe_checker(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    timeout_seconds: float = CHECK_TIMEOUT_SECONDS,
) -> KeyChecker:
    """Tests a key with the free call the prober uses: reading a task that does not exist
    answers for any working key, and a refusal names why (``InvalidApiKey``…). Then reads
    its account's task list (free too): the key's account is known by its tasks."""

    async def check(key: SecretStr) -> frozenset[str]:
        client = DashScopeClient(session, base_url, key, timeout_seconds=timeout_seconds)
        await client.get_task(PROBE_TASK_ID)
        try:
            async with asyncio.timeout(timeout_seconds):
                return await account_task_ids(client)
        except (ProviderError, TimeoutError) as error:
            problem = error.reference if isinstance(error, ProviderError) else "timed out"
            log.info("a provider key's task list could not be read (%s)", problem)
            return frozenset()

    return check


class ProviderKeys:
    """Servers' own keys: stored sealed, checked before they are, read by the engine."""

    def __init__(
        self,
        repository: ProviderKeyRepository,
        vault: KeyVault | None,
        *,
        check: KeyChecker,
        operator_accounts: Collection[str],
        task_holders: TaskHolders = _no_tasks,
        on_change: Callable[[], None] = _nothing,
        on_secret: Callable[[str], None] = _forget_nothing,
        pause_of: PauseOf = _never_paused,
        clock: Clock = system_clock,
    ) -> None:
        self._rows = repository
        self._vault = vault
        self._check = check
        self._operator = frozenset(operator_accounts)
        self._task_holders = task_holders
        self._on_change = on_change
        self._on_secret = on_secret
        self._pause_of = pause_of
        self._clock = clock
        self._warned: set[tuple[int, str]] = set()  # (row, sealed value) logged as unreadable

    @property
    def available(self) -> bool:
        """Whether servers can set a key (the bot has an EMO_SECRET_KEY)."""
        return self._vault is not None

    # --- the admins' commands ------------------------------------------------------------

    async def set(self, guild_id: int, user_id: int, key: str) -> KeyStatus:
        """Check ``key`` with a free call, then make it the server's own (the previous one
        retired). UserFacingError, nothing stored, when it cannot be used."""
        if self._vault is None:
            raise UserFacingError(MessageKey.PROVIDER_KEY_NO_SECRET)
        key = valid_key(key)
        self._on_secret(key)  # redacted from the logs before anything can write it there
        account_id = fingerprint(key)
        if account_id in self._operator:
            raise UserFacingError(MessageKey.PROVIDER_KEY_OPERATORS)
        holder = await self._rows.holder(account_id)
        if holder is not None and holder != guild_id:
            raise UserFacingError(MessageKey.PROVIDER_KEY_OTHER_SERVER)
        listed = await self._checked(guild_id, key)
        await self._refuse_a_shared_account(guild_id, listed)
        now = self._clock()
        sealed = self._vault.seal(key, guild_id)
        conflict = await self._rows.replace(NewKey(guild_id, account_id, sealed, user_id, now))
        if conflict is KeyConflict.OTHER_SERVER:
            raise UserFacingError(MessageKey.PROVIDER_KEY_OTHER_SERVER)
        log.info("guild %d: own provider account %s set by %d", guild_id, account_id, user_id)
        self._on_change()
        return await self.status(guild_id)

    async def _refuse_a_shared_account(self, guild_id: int, listed: frozenset[str]) -> None:
        """Another key of an account already in use (the operator's, another server's) adds
        no slot and bills that account: refused when its list shows one of the bot's tasks."""
        if not listed:
            return
        holders = await self._task_holders(utcnow() - SAME_ACCOUNT_WINDOW - ZONE_SLACK)
        for task_id in sorted(listed & holders.keys()):
            holder = holders[task_id]
            if holder.own_account is None:
                log.info("guild %d: provider key of an operator's account refused", guild_id)
                raise UserFacingError(MessageKey.PROVIDER_KEY_OPERATORS_ACCOUNT)
            if holder.guild_id != guild_id:
                log.info(
                    "guild %d: provider key of guild %d's account refused",
                    guild_id,
                    holder.guild_id,
                )
                raise UserFacingError(MessageKey.PROVIDER_KEY_OTHER_SERVERS_ACCOUNT)

    async def _checked(self, guild_id: int, key: str) -> frozenset[str]:
        try:
            return await self._check(SecretStr(key))
        except ProviderError as error:
            if error.kind is ErrorKind.TRANSIENT:
                log.info("guild %d: provider key not checked: %s", guild_id, error.reference)
                raise UserFacingError(MessageKey.PROVIDER_KEY_UNCHECKED) from None
            log.info("guild %d: provider key refused: %s", guild_id, error.reference)
            reason = Redactor([key])(error.message)[:REASON_MAX_LENGTH].strip()
            raise UserFacingError(
                MessageKey.PROVIDER_KEY_REFUSED,
                code=Redactor([key])(error.code)[:REASON_MAX_LENGTH],
                reason=reason or f"HTTP {error.status}",
            ) from None

    async def clear(self, guild_id: int, user_id: int) -> bool:
        """Retire the server's own key (its jobs under way finish on it); False: none."""
        retired = await self._rows.retire(guild_id, by=user_id, at=self._clock())
        if retired:
            log.info("guild %d: own provider key cleared by member %d", guild_id, user_id)
            self._on_change()
        return retired

    async def status(self, guild_id: int) -> KeyStatus:
        row = await self._rows.active(guild_id)
        if row is None:
            return KeyStatus(guild_id=guild_id)
        usable = self._open(row) is not None
        name = own_account_name(guild_id, row.account_id)
        return KeyStatus(
            guild_id=guild_id,
            account_id=row.account_id,
            set_by=row.set_by,
            set_at=row.set_at,
            usable=usable,
            pause_code=await self._pause_of(name) if usable else None,
        )

    # --- OwnKeys (the engine) ------------------------------------------------------------

    async def keys(self) -> list[OwnKey]:
        found: list[OwnKey] = []
        for row in await self._rows.all_keys():
            key = self._open(row)
            if key is not None:
                found.append(OwnKey(row.guild_id, row.account_id, SecretStr(key), row.active))
        return found

    async def pinned_account(self, guild_id: int) -> str | None:
        row = await self._rows.active(guild_id)
        if row is None or self._open(row) is None:
            return None
        return own_account_name(guild_id, row.account_id)

    async def forget(self, key: OwnKey) -> None:
        if await self._rows.forget(key.guild_id, key.account_id):
            log.info("guild %d: retired own account %s forgotten", key.guild_id, key.account_id)

    # --- AccountPlans (admission) --------------------------------------------------------

    async def own_account(self, guild_id: int) -> bool:
        return await self.pinned_account(guild_id) is not None

    async def own_account_guilds(self) -> frozenset[int]:
        if self._vault is None:
            return frozenset()
        rows = await self._rows.all_keys()
        return frozenset(row.guild_id for row in rows if row.active and self._open(row))

    # -------------------------------------------------------------------------------------

    def _open(self, row: StoredKey) -> str | None:
        """The row's key, or None when this process cannot read it (logged once per row)."""
        if self._vault is None:
            self._warn(row, "the bot has no EMO_SECRET_KEY")
            return None
        try:
            key = self._vault.open(row.sealed, row.guild_id)
        except SealedKeyError as error:
            self._warn(row, error.reason)
            return None
        self._on_secret(key)
        return key

    def _warn(self, row: StoredKey, reason: str) -> None:
        if (row.id, row.sealed) in self._warned:
            return
        self._warned.add((row.id, row.sealed))
        log.warning(
            "guild %d: its own provider account %s cannot be used (%s); its jobs run on the"
            " shared accounts until an admin sets the key again",
            row.guild_id,
            row.account_id,
            reason,
        )


def operator_account_ids(settings: Settings) -> frozenset[str]:
    """The account ids of every key the operator configured (enabled or not)."""
    keys: list[str] = []
    if settings.dashscope_api_key is not None:
        keys += settings.dashscope_api_key.get_secret_value().split(",")
    if settings.dashscope_accounts_file is not None:
        keys += file_keys(settings.dashscope_accounts_file)
    if settings.emo_provider is ProviderKind.SIMULATOR:
        keys.append(SIMULATOR_KEY)
    return frozenset(fingerprint(key.strip()) for key in keys if key.strip())


def build_provider_keys(
    settings: Settings,
    *,
    db: Database,
    session: aiohttp.ClientSession,
    base_url: str,
    task_holders: TaskHolders = _no_tasks,
    on_change: Callable[[], None] = _nothing,
    on_secret: Callable[[str], None] = learn_secret,
    pause_of: PauseOf = _never_paused,
    clock: Clock = system_clock,
) -> ProviderKeys:
    """``ProviderKeys`` from the settings: sealed under EMO_SECRET_KEY (none: setting a key is
    refused), checked at ``base_url``, every key it handles redacted from the logs."""
    secret = settings.emo_secret_key
    return ProviderKeys(
        SqlProviderKeyRepository(db),
        KeyVault(secret) if secret is not None else None,
        check=probe_checker(
            session,
            base_url,
            timeout_seconds=min(settings.emo_http_timeout_seconds, CHECK_TIMEOUT_SECONDS),
        ),
        operator_accounts=operator_account_ids(settings),
        task_holders=task_holders,
        on_change=on_change,
        on_secret=on_secret,
        pause_of=pause_of,
        clock=clock,
    )
