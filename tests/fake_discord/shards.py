"""What tests ask the fake about sharding: which shard a guild is on, which sessions serve which
shard, who received which dispatch, and waiting until a set of shards is connected."""

from __future__ import annotations

from collections.abc import Iterable

from . import sharding
from .sharding import DispatchRecord
from .surface import Surface


class Shards(Surface):
    """FakeDiscord's sharding queries and waiter (the knobs are attributes of the state)."""

    @staticmethod
    def shard_of(guild_id: int, shard_count: int) -> int:
        """The shard a guild's events go to: (guild_id >> 22) % shard_count."""
        return sharding.shard_of(guild_id, shard_count)

    def sessions_by_shard(self) -> dict[int, list[str]]:
        """Session ids of the ready sessions, by shard id (sorted); unsharded sessions are on
        shard 0. Two ids under one shard: a duplicate (both get that shard's events)."""
        found: dict[int, list[str]] = {}
        for session in self.hub.ready_sessions:
            found.setdefault(session.shard[0], []).append(session.session_id)
        return dict(sorted(found.items()))

    @property
    def shard_count(self) -> int | None:
        """The shard count the bot's ready sessions use (1 when unsharded; None: none ready)."""
        counts = {s.shard[1] for s in self.hub.ready_sessions}
        return counts.pop() if len(counts) == 1 else None

    def dispatched(
        self,
        event: str | None = None,
        *,
        shard_id: int | None = None,
        session_id: str | None = None,
        guild_id: int | None = None,
    ) -> list[DispatchRecord]:
        """The records of fake.dispatches matching every filter given."""
        return [
            d
            for d in self.dispatches
            if (event is None or d.event == event)
            and (shard_id is None or d.shard_id == shard_id)
            and (session_id is None or d.session_id == session_id)
            and (guild_id is None or d.guild_id == guild_id)
        ]

    async def wait_for_shards(
        self,
        shard_ids: Iterable[int],
        shard_count: int,
        timeout: float = 20.0,  # noqa: ASYNC109
    ) -> dict[int, list[str]]:
        """Wait until each of `shard_ids` (of `shard_count`) has a ready session (READY and its
        GUILD_CREATEs sent, or RESUMED); returns sessions_by_shard()."""
        wanted = set(shard_ids)

        def check() -> dict[int, list[str]] | None:
            ready = {s.shard[0] for s in self.hub.ready_sessions if s.shard[1] == shard_count}
            return self.sessions_by_shard() if wanted <= ready else None

        what = f"shards {sorted(wanted)} of {shard_count} to be READY"
        return await self.notifier.wait_for(check, timeout, what)
