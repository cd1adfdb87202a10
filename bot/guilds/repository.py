"""Server administration's own rows (settings, their history, pending media erasures, servers'
own provider keys), behind typed interfaces; ``SqlGuildRepository`` and
``SqlProviderKeyRepository`` implement them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.jobs.repository import MediaOwner


@dataclass(frozen=True)
class StoredChange:
    """One line of a server's settings history (values as stored JSON; None: the default)."""

    guild_id: int
    name: str
    old_value: str | None
    new_value: str | None
    changed_by: int
    changed_at: datetime


@dataclass(frozen=True)
class Erasure:
    """Media to erase once the jobs still on their way end."""

    id: int
    owner: MediaOwner
    up_to_job_id: int


class GuildRepository(Protocol):
    async def overrides(self, guild_id: int) -> dict[str, str]:
        """What the server set, by setting name, as stored JSON."""
        ...

    async def write(
        self, guild_id: int, values: Mapping[str, str | None], *, by: int, at: datetime
    ) -> list[StoredChange]:
        """Set (or, with None, reset) settings all at once; record and return each change."""
        ...

    async def history(self, guild_id: int, limit: int) -> list[StoredChange]:
        """The latest changes, newest first."""
        ...

    async def add_erasure(self, owner: MediaOwner, up_to_job_id: int, at: datetime) -> None: ...

    async def erasures(self) -> list[Erasure]: ...

    async def drop_erasure(self, erasure_id: int) -> None: ...


@dataclass(frozen=True)
class StoredKey:
    """A server's own provider key as stored: sealed (``bot.guilds.vault``), never in clear."""

    id: int
    guild_id: int
    account_id: str  # fingerprint of the key
    sealed: str
    set_by: int
    set_at: datetime
    retired_at: datetime | None  # None: the server's active key

    @property
    def active(self) -> bool:
        return self.retired_at is None


class KeyConflict(enum.Enum):
    """Why a key was not stored."""

    OTHER_SERVER = "other_server"  # another server's row (active or retired) holds that account


@dataclass(frozen=True)
class NewKey:
    """A key to make a server's active one."""

    guild_id: int
    account_id: str
    sealed: str
    set_by: int
    set_at: datetime


class ProviderKeyRepository(Protocol):
    """Servers' own provider keys: one active per server (a unique index), the retired ones
    kept until the engine forgets them. One row per server and account."""

    async def active(self, guild_id: int) -> StoredKey | None: ...

    async def all_keys(self) -> list[StoredKey]:
        """Every row, active or retired, oldest first."""
        ...

    async def active_guilds(self) -> frozenset[int]: ...

    async def holder(self, account_id: str) -> int | None:
        """The server whose row (active or retired) holds ``account_id``, if any."""
        ...

    async def replace(self, key: NewKey) -> KeyConflict | None:
        """Make ``key`` the server's active key, retiring the one before, in one
        transaction. The server's row for the same account (active, or retired and not yet
        forgotten) is updated rather than doubled. Another server's row for the account:
        nothing changes, and the conflict is returned."""
        ...

    async def retire(self, guild_id: int, *, by: int, at: datetime) -> bool:
        """Retire the server's active key; False when it had none."""
        ...

    async def forget(self, guild_id: int, account_id: str) -> bool:
        """Delete the server's retired row for ``account_id`` (never an active one)."""
        ...
