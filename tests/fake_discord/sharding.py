"""Sharding as Discord does it: which shard a guild's events go to, who is in the audience of a
dispatch, the IDENTIFY `shard` checks (close codes 4010 / 4011), and the dispatch log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .models import JSON

CLOSE_INVALID_SHARD = 4010
CLOSE_SHARDING_REQUIRED = 4011

# Guild events whose guild is named by "id" instead of "guild_id".
_GUILD_BY_ID = {"GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"}


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard a guild's events go to: (guild_id >> 22) % shard_count."""
    if shard_count < 1:
        raise ValueError(f"shard_count must be at least 1, not {shard_count}")
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Audience:
    """Which sessions get a dispatch: a guild's shard, shard 0 (DMs), or every session."""

    guild_id: int | None = None
    direct: bool = False

    def includes(self, shard: Sequence[int]) -> bool:
        shard_id, shard_count = shard
        if self.guild_id is not None:
            return shard_of(self.guild_id, shard_count) == shard_id
        if self.direct:
            return shard_id == 0
        return True

    def describe(self) -> str:
        if self.guild_id is not None:
            return f"guild {self.guild_id}"
        return "a DM (shard 0)" if self.direct else "every session"


EVERYONE = Audience()
DIRECT = Audience(direct=True)


def guild_audience(guild_id: int | None) -> Audience:
    """A guild's shard; a DM or guildless event (guild_id None) goes to shard 0."""
    return DIRECT if guild_id is None else Audience(guild_id=guild_id)


def payload_audience(event: str, data: JSON, dm_channels: Iterable[int]) -> Audience:
    """The audience of a raw dispatch, read from its payload like Discord routes it."""
    raw = data.get("id") if event in _GUILD_BY_ID else data.get("guild_id")
    if raw is not None:
        return Audience(guild_id=int(raw))
    channel = data.get("channel_id")
    if event == "INTERACTION_CREATE" or (channel is not None and int(channel) in dm_channels):
        return DIRECT
    return EVERYONE


@dataclass(frozen=True)
class DispatchRecord:
    """One dispatch one session received (fake.dispatches): which event, shard and session."""

    event: str
    shard_id: int
    shard_count: int
    session_id: str
    seq: int
    # The guild the event is about (None for READY, DMs and guildless events).
    guild_id: int | None = None


@dataclass(frozen=True)
class Refusal:
    """Why an IDENTIFY is closed: the close code, its reason, and a violation if a client bug."""

    code: int
    reason: str
    violation: str | None = None


def _invalid(text: str) -> Refusal:
    return Refusal(CLOSE_INVALID_SHARD, "Invalid shard.", f"gateway: IDENTIFY with {text}")


def identify_shard(
    raw: object, required: int | None, counts_in_use: set[int]
) -> tuple[list[int], Refusal | None]:
    """The [shard_id, shard_count] of an IDENTIFY (without `shard`: [0, 1]), or its refusal.

    `required`: the fake's required_shards knob; `counts_in_use`: the shard counts of the
    bot's other connected sessions (all sessions of one bot must use the same count).
    """
    if raw is None:
        if required is not None:
            return [0, 1], Refusal(CLOSE_SHARDING_REQUIRED, "Sharding required.")
        shard = [0, 1]
    else:
        if not (
            isinstance(raw, list)
            and len(raw) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in raw)
        ):
            return [0, 1], _invalid(f"a malformed shard {raw!r}")
        shard_id, shard_count = raw
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            return [0, 1], _invalid(f"an invalid shard {raw!r}")
        if required is not None and shard_count < required:
            return list(raw), Refusal(CLOSE_SHARDING_REQUIRED, "Sharding required.")
        shard = [shard_id, shard_count]
    others = counts_in_use - {shard[1]}
    if others:
        used = ", ".join(str(c) for c in sorted(others))
        return shard, _invalid(
            f"shard {shard} while other sessions of the bot use shard_count {used}"
        )
    return shard, None
