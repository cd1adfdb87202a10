"""Server administration's own rows (settings, their history, pending media erasures), behind
a typed interface; ``SqlGuildRepository`` implements it."""

from __future__ import annotations

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
