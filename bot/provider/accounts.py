"""The operator's DashScope accounts: each one key, a label, its slots, and whether it is used.

EMO renders one task at a time per Alibaba Cloud account, and the account's rate limits count
all of its keys together: only separate accounts add capacity. ``DASHSCOPE_API_KEY`` names one
key, or several separated by commas (each a separate account); ``DASHSCOPE_ACCOUNTS_FILE``
names a TOML file instead::

    [[account]]
    label = "main"          # shown in alerts, logs and metrics (default: the account id)
    key = "sk-..."
    concurrency = 1         # tasks rendering at once (default: EMO_PROVIDER_CONCURRENCY)
    lookahead = 1           # tasks waiting at the provider (default: EMO_LOOKAHEAD)
    enabled = true          # false: kept in the file, never used

An account's id is a fingerprint of its key (``acct-`` and 12 hex digits of its SHA-256):
stable, and never the key. The key itself stays a ``SecretStr``.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

LONE_ACCOUNT = "default"
"""The name of the slots, the duty and the pause of a bot with one account: the names an
install had before accounts, so a single key behaves (and upgrades) exactly as before."""


class AccountsError(ValueError):
    """The accounts' configuration cannot be used (the message names no key)."""


def fingerprint(key: str) -> str:
    """The account id of ``key``: a digest, never the key."""
    return "acct-" + hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ProviderAccount:
    """One Alibaba Cloud account the bot renders with."""

    id: str  # fingerprint of the key
    label: str
    key: SecretStr
    concurrency: int
    lookahead: int
    enabled: bool = True

    @property
    def capacity(self) -> int:
        """Tasks the provider may hold for this account at once: renders plus look-ahead."""
        return self.concurrency + self.lookahead


def slot_name(account: ProviderAccount, accounts: Sequence[ProviderAccount]) -> str:
    """The name of ``account``'s slots, duty and pause among the enabled ``accounts``."""
    return LONE_ACCOUNT if len(accounts) == 1 else account.id


def accounts_from_keys(keys: str, *, concurrency: int, lookahead: int) -> list[ProviderAccount]:
    """One account per comma-separated key (duplicates are one account)."""
    found: dict[str, ProviderAccount] = {}
    for part in keys.split(","):
        key = part.strip()
        if key and fingerprint(key) not in found:
            account_id = fingerprint(key)
            found[account_id] = ProviderAccount(
                id=account_id,
                label=account_id,
                key=SecretStr(key),
                concurrency=concurrency,
                lookahead=lookahead,
            )
    if not found:
        raise AccountsError("DASHSCOPE_API_KEY names no key")
    return list(found.values())


def accounts_from_file(path: Path, *, concurrency: int, lookahead: int) -> list[ProviderAccount]:
    """The accounts of a TOML file (see the module's docstring); raises AccountsError."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        message = f"cannot read DASHSCOPE_ACCOUNTS_FILE {path}: {error.strerror}"
        raise AccountsError(message) from None
    except tomllib.TOMLDecodeError as error:
        raise AccountsError(f"DASHSCOPE_ACCOUNTS_FILE {path} is not valid TOML: {error}") from None
    entries = document.get("account")
    if not isinstance(entries, list) or not entries:
        raise AccountsError(f"DASHSCOPE_ACCOUNTS_FILE {path} has no [[account]] entries")
    accounts: list[ProviderAccount] = []
    for number, entry in enumerate(entries, start=1):
        accounts.append(_entry(entry, number, concurrency=concurrency, lookahead=lookahead))
    ids = [account.id for account in accounts]
    labels = [account.label for account in accounts]
    if len(set(ids)) != len(ids):
        raise AccountsError("DASHSCOPE_ACCOUNTS_FILE lists one key twice")
    if len(set(labels)) != len(labels):
        raise AccountsError("DASHSCOPE_ACCOUNTS_FILE gives two accounts one label")
    if not any(account.enabled for account in accounts):
        raise AccountsError("DASHSCOPE_ACCOUNTS_FILE enables no account")
    return accounts


def _entry(entry: Any, number: int, *, concurrency: int, lookahead: int) -> ProviderAccount:
    where = f"DASHSCOPE_ACCOUNTS_FILE account #{number}"
    if not isinstance(entry, dict):
        raise AccountsError(f"{where} is not a table")
    unknown = set(entry) - {"label", "key", "concurrency", "lookahead", "enabled"}
    if unknown:
        raise AccountsError(f"{where}: unknown fields {', '.join(sorted(unknown))}")
    key = entry.get("key")
    if not isinstance(key, str) or not key.strip():
        raise AccountsError(f"{where} has no key")
    account_id = fingerprint(key.strip())
    label = entry.get("label", account_id)
    if not isinstance(label, str) or not label.strip() or len(label) > 64:
        raise AccountsError(f"{where}: label must be 1 to 64 characters")
    values = {
        "concurrency": entry.get("concurrency", concurrency),
        "lookahead": entry.get("lookahead", lookahead),
    }
    for name, value in values.items():
        smallest = 1 if name == "concurrency" else 0
        if not isinstance(value, int) or isinstance(value, bool) or value < smallest:
            raise AccountsError(f"{where}: {name} must be an integer of at least {smallest}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise AccountsError(f"{where}: enabled must be true or false")
    return ProviderAccount(
        id=account_id,
        label=label.strip(),
        key=SecretStr(key.strip()),
        concurrency=values["concurrency"],
        lookahead=values["lookahead"],
        enabled=enabled,
    )


def file_keys(path: Path) -> list[str]:
    """Every key a readable accounts file names (for the logs' redaction); [] otherwise."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    entries = document.get("account")
    if not isinstance(entries, list):
        return []
    return [
        entry["key"].strip()
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("key"), str) and entry["key"].strip()
    ]
