"""The provider accounts as the settings name them, and as the engine is given them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.jobs.account_work import AccountSetup
from bot.jobs.dispatcher import Rehost
from bot.jobs.preparation import InputPreparer
from bot.media.hosting import MediaHost
from bot.provider.accounts import (
    AccountsError,
    ProviderAccount,
    accounts_from_file,
    accounts_from_keys,
)
from bot.provider.client import DashScopeClient
from bot.settings import ProviderKind, Settings, SettingsError

SIMULATOR_KEY = "sk-simulator"


@dataclass(frozen=True)
class AccountAccess:
    """One provider account, its client, and the host its preparations upload through."""

    account: ProviderAccount
    name: str  # its slots' and duty's name
    client: DashScopeClient
    host: MediaHost
    bound_to: str | None  # the host's links work only for this account (DashScope storage)


def account_setups(
    accounts: Sequence[AccountAccess], preparer: InputPreparer
) -> tuple[AccountSetup, ...]:
    """The engine's view of the accounts: each one's client, slots, and how a job's inputs
    bound to another account are uploaded again for it."""

    def rehost_for(access: AccountAccess) -> Rehost | None:
        if access.bound_to is None:
            return None
        return lambda job: preparer.publish_for_synthesis(job, access.host)

    return tuple(
        AccountSetup(
            name=access.name,
            label=access.account.label,
            client=access.client,
            concurrency=access.account.concurrency,
            lookahead=access.account.lookahead,
            rehost=rehost_for(access),
        )
        for access in accounts
    )


def provider_accounts(settings: Settings) -> list[ProviderAccount]:
    """The enabled accounts the settings name; SettingsError for a file that cannot be used.
    The simulator accepts any key: without one, it is given ``sk-simulator``."""
    concurrency, lookahead = settings.emo_provider_concurrency, settings.emo_lookahead
    try:
        if settings.dashscope_accounts_file is not None:
            found = accounts_from_file(
                settings.dashscope_accounts_file, concurrency=concurrency, lookahead=lookahead
            )
        else:
            key = settings.dashscope_api_key
            keys = key.get_secret_value() if key is not None else ""
            if not keys.strip(" ,") and settings.emo_provider is ProviderKind.SIMULATOR:
                keys = SIMULATOR_KEY
            found = accounts_from_keys(keys, concurrency=concurrency, lookahead=lookahead)
    except AccountsError as error:
        raise SettingsError(str(error)) from None
    return [account for account in found if account.enabled]
