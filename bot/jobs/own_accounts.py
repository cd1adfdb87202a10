"""Servers that bring their own DashScope key: the engine's view of them.

A server's admins may give the bot a key of their own (``bot.guilds`` stores it, encrypted,
and implements ``OwnKeys``). That server's jobs are then pinned, at intake, to its own
account: prepared, submitted, polled and billed there only, never on the operator's
accounts, and the operator's dispatchers never take them. Each own key is one more account
in the engine, with its own slots, pause and prober, like the operator's.

A key replaced or cleared is *retired*: the jobs already pinned to it finish on it (their
task ids are valid only with its key), no new job is pinned to it, and the engine forgets it
once none of its jobs is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

OWN_PREFIX = "own-"


@dataclass(frozen=True)
class OwnKey:
    """One server's own key, as stored."""

    guild_id: int
    account_id: str  # ``fingerprint(key)``: never the key
    key: SecretStr
    active: bool  # False: retired (replaced or cleared), finishing the jobs pinned to it

    @property
    def name(self) -> str:
        """The name of its slots, duty and pause, and what its jobs are pinned to."""
        return own_account_name(self.guild_id, self.account_id)


@dataclass(frozen=True)
class TaskHolder:
    """Whose account a task of the bot ran on: a server's own (``own_account``) or, when
    that is None, the operator's."""

    guild_id: int
    own_account: str | None


def own_account_name(guild_id: int, account_id: str) -> str:
    return f"{OWN_PREFIX}{guild_id}-{account_id}"


class OwnKeys(Protocol):
    async def keys(self) -> list[OwnKey]:
        """Every stored key, active or retired (decrypted: keep them in memory only)."""
        ...

    async def pinned_account(self, guild_id: int) -> str | None:
        """The name of ``guild_id``'s active own account, or None (the operator's pool)."""
        ...

    async def forget(self, key: OwnKey) -> None:
        """Delete a retired key: none of its jobs is left."""
        ...


class NoOwnKeys:
    """Bring your own key unavailable (no ``EMO_SECRET_KEY``): every job on the pool."""

    async def keys(self) -> list[OwnKey]:
        return []

    async def pinned_account(self, guild_id: int) -> str | None:
        return None

    async def forget(self, key: OwnKey) -> None:
        return None
