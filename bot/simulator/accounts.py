"""Alibaba Cloud accounts and their API keys: who owns a key, and the ids records show.

The account, not the key, owns the queue, the running slot, the rate limits, the bill and
the task list. Records never hold a key: they hold the account id and the key's
`api_key_id`, both derived from hashes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


def _digest(kind: str, text: str) -> str:
    return hashlib.sha256(f"{kind}:{text}".encode()).hexdigest()


def account_id_for(api_key: str) -> str:
    """Account id of a key that is its own account (records never hold the key itself)."""
    return "acct-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


def account_id_for_label(label: str) -> str:
    """Account id of an account configured by label (never equal to a key's own id)."""
    return "acct-" + _digest("account", label)[:12]


def api_key_id_for(api_key: str) -> str:
    """The stable, non-secret id of an API key: eight digits, as the task list shows it."""
    return str(10_000_000 + int(_digest("api-key", api_key)[:15], 16) % 90_000_000)


def caller_uid_for(account_id: str) -> str:
    """The account's numeric uid (16 digits), as the task list's `caller_uid`."""
    return str(1_000_000_000_000_000 + int(_digest("uid", account_id)[:15], 16) % (9 * 10**15))


class Account(BaseModel):
    """One account's state: its keys' ids, its queue, its running tasks, its bill."""

    account_id: str
    label: str
    uid: str
    dir_hash: str
    api_key_ids: list[str] = Field(default_factory=list)
    arrears: bool = False
    queue: list[str] = Field(default_factory=list)
    running: list[str] = Field(default_factory=list)
    billed_seconds: float = 0.0
    billed_usd: float = 0.0
    succeeded: int = 0


@dataclass(frozen=True)
class AccountEntry:
    """What the configuration says about one account (no keys, only their ids)."""

    account_id: str
    label: str
    api_key_ids: tuple[str, ...]

    def new_account(self) -> Account:
        """A fresh, empty state for this account."""
        return Account(
            account_id=self.account_id,
            label=self.label,
            uid=caller_uid_for(self.account_id),
            dir_hash=self.account_id.removeprefix("acct-"),
            api_key_ids=list(self.api_key_ids),
        )


@dataclass(frozen=True)
class Caller:
    """Who made an authenticated call: the account and the id of the key used."""

    account: Account
    api_key_id: str


class AccountDirectory:
    """Maps API keys to accounts.

    `api_keys`: each key is its own account (labelled by its account id). `accounts`: label
    -> the keys of one account. A key named in both belongs to its labelled account. With
    neither, any non-empty key is accepted as its own account.
    """

    def __init__(
        self,
        api_keys: Collection[str] | None = None,
        accounts: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.open = api_keys is None and accounts is None
        self._by_key: dict[str, AccountEntry] = {}
        self._by_id: dict[str, AccountEntry] = {}
        self._by_label: dict[str, AccountEntry] = {}
        for label, keys in (accounts or {}).items():
            if not label:
                raise ValueError("an account label must not be empty")
            if isinstance(keys, str):
                raise TypeError(f"account {label!r}: give a collection of keys, not one string")
            entry = AccountEntry(
                account_id=account_id_for_label(label),
                label=label,
                api_key_ids=tuple(dict.fromkeys(api_key_id_for(key) for key in keys)),
            )
            for key in keys:
                other = self._by_key.get(key)
                if other is not None and other.label != label:
                    raise ValueError(
                        f"an API key is listed in accounts {other.label!r} and {label!r}"
                    )
                self._by_key[key] = entry
            self._add(entry)
        for key in api_keys or ():
            if key not in self._by_key:
                entry = self._standalone(key)
                self._by_key[key] = entry
                self._add(entry)

    @staticmethod
    def _standalone(key: str) -> AccountEntry:
        account_id = account_id_for(key)
        return AccountEntry(
            account_id=account_id, label=account_id, api_key_ids=(api_key_id_for(key),)
        )

    def _add(self, entry: AccountEntry) -> None:
        self._by_id[entry.account_id] = entry
        self._by_label[entry.label] = entry

    def entry_for_key(self, api_key: str) -> AccountEntry | None:
        """The account a key belongs to, or None for a key the simulator does not accept."""
        if not api_key:
            return None
        found = self._by_key.get(api_key)
        if found is None and self.open:
            return self._standalone(api_key)
        return found

    def account_id_of(self, api_key: str) -> str:
        """The account id of a key (a key it does not know: that key's own account id)."""
        found = self._by_key.get(api_key)
        return found.account_id if found is not None else account_id_for(api_key)

    def find(self, name: str) -> AccountEntry | None:
        """An account named by id, label or (configured, or any when open) API key."""
        return self._by_id.get(name) or self._by_label.get(name) or self.entry_for_key(name)
