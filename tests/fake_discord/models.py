"""State kept by the fake Discord: users, guilds, channels, messages, interactions."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

# A wire payload (JSON object sent or received over HTTP or the gateway). State never lives in
# these; they are built from the dataclasses below when something goes over the wire.
JSON = dict[str, Any]

T = TypeVar("T")

DISCORD_EPOCH_MS = 1_420_070_400_000

# Interaction response (callback) types.
CALLBACK_PONG = 1
CALLBACK_MESSAGE = 4
CALLBACK_DEFERRED_MESSAGE = 5
CALLBACK_DEFERRED_UPDATE = 6
CALLBACK_UPDATE_MESSAGE = 7
CALLBACK_AUTOCOMPLETE = 8
CALLBACK_MODAL = 9

# Interaction types.
INTERACTION_APPLICATION_COMMAND = 2
INTERACTION_COMPONENT = 3
INTERACTION_MODAL_SUBMIT = 5

# Message flags.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_VOICE_MESSAGE = 1 << 13

# Channel types.
CHANNEL_TEXT = 0
CHANNEL_DM = 1


def utcnow() -> datetime:
    """Wall-clock now, timezone-aware."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 the way Discord writes it."""
    return moment.isoformat()


class SnowflakeGenerator:
    """Time-ordered unique ids, like Discord's (ms since 2015 << 22 | counter)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self, shard: tuple[int, int] | None = None) -> int:
        """The next id; with shard=(shard_id, shard_count), one whose (id >> 22) % shard_count
        is shard_id (its timestamp moved up to shard_count - 1 ms ahead)."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        # Strictly increasing even within one millisecond, so ids sort like creation order.
        candidate = max(candidate, self._last + 1)
        if shard is not None:
            shard_id, shard_count = shard
            if shard_count < 1 or not 0 <= shard_id < shard_count:
                raise ValueError(f"invalid shard {shard!r}")
            stamp = candidate >> 22
            if stamp % shard_count != shard_id:
                candidate = (stamp + (shard_id - stamp) % shard_count) << 22
        self._last = candidate
        return candidate


class Notifier:
    """Wakes waiters whenever the fake's state changes (new message, edit, ack...)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, check: Callable[[], T | None], seconds: float, what: str) -> T:
        """Return check()'s first non-None result; TimeoutError after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            result = check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"fake discord: timed out after {seconds:.1f}s waiting for {what}"
                )
            event = self._event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)


@dataclass
class FakeUser:
    """A Discord user (the bot, a guild member or the guild owner)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    # The avatar hash (set with fake.set_avatar); None means the default avatar.
    avatar: str | None = None


@dataclass
class FakeRole:
    """A guild role; the @everyone role has the guild's id."""

    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False


@dataclass
class FakeMember:
    """A user's membership of a guild."""

    user_id: int
    role_ids: list[int]
    joined_at: datetime = field(default_factory=utcnow)
    nick: str | None = None


@dataclass
class FakeChannel:
    """A guild text channel (type 0) or a DM channel (type 1)."""

    id: int
    type: int
    name: str | None
    guild_id: int | None = None
    position: int = 0
    recipient_ids: list[int] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)

    @property
    def last_message_id(self) -> int | None:
        return self.message_ids[-1] if self.message_ids else None


@dataclass
class FakeGuild:
    """A guild with its roles, members and channels."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)
    created_at: datetime = field(default_factory=utcnow)
    bot_role_id: int = 0
    manager_role_id: int = 0


@dataclass
class StoredBlob:
    """Bytes the CDN serves under /attachments/{channel_id}/{id}/{filename}."""

    id: int
    channel_id: int
    filename: str
    content_type: str | None
    data: bytes
    width: int | None = None
    height: int | None = None


@dataclass
class FakeFile:
    """A file attached to a message, as the fake received it."""

    filename: str
    content_type: str | None
    data: bytes
    attachment_id: int = 0
    channel_id: int = 0
    description: str | None = None
    duration_secs: float | None = None
    waveform: str | None = None
    flags: int = 0
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class FakeUpload:
    """A file a test hands to invoke_slash / post_user_message (richer than a tuple)."""

    data: bytes
    filename: str
    content_type: str | None = None
    duration_secs: float | None = None
    waveform: str | None = None
    flags: int = 0


class EditRecord(NamedTuple):
    """One successful edit of a message: when (time.monotonic()), and what it showed after."""

    at: float
    content: str
    custom_ids: tuple[str, ...]


@dataclass(eq=False)
class FakeMessage:
    """A message in a channel, or an ephemeral interaction response."""

    id: int
    channel_id: int
    author_id: int
    content: str = ""
    files: list[FakeFile] = field(default_factory=list)
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    nonce: int | str | None = None
    flags: int = 0
    via_webhook: bool = False
    interaction_id: int | None = None
    edits: int = 0
    guild_id: int | None = None
    type: int = 0
    tts: bool = False
    webhook_id: int | None = None
    message_reference: JSON | None = None
    created_at: datetime = field(default_factory=utcnow)
    created_monotonic: float = field(default_factory=time.monotonic)
    edited_at: datetime | None = None
    deleted: bool = False
    reactions: list[tuple[str, int]] = field(default_factory=list)
    # Content after creation and after each edit, to assert how a status message evolved.
    content_history: list[str] = field(default_factory=list)
    # Every successful edit, whatever the route (bot token, webhook, UPDATE_MESSAGE callback).
    edit_log: list[EditRecord] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)


@dataclass
class RegisteredCommand:
    """An application command as stored after a bulk overwrite."""

    id: int
    name: str
    type: int
    guild_id: int | None
    version: int
    request: JSON  # the command object the bot sent, kept to answer GET and look up option types


@dataclass(eq=False)
class FakeInteraction:
    """An interaction the fake created and sent to the bot, with everything the bot answered."""

    id: int
    token: str
    application_id: int
    type: int
    channel_id: int
    guild_id: int | None
    user_id: int
    command_name: str
    payload: JSON
    created_at: float
    token_lifetime: float
    notifier: Notifier
    callbacks: list[tuple[int, JSON | None]] = field(default_factory=list)
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    response_type: int | None = None
    original_response: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    modal: JSON | None = None
    autocomplete_choices: list[JSON] | None = None
    source_message_id: int | None = None
    # For a modal submit: the interaction that was answered with the modal.
    opened_by: int | None = None
    # Message type of the responses: 20 chat input command, 23 context menu, 0 otherwise.
    response_message_type: int = 20
    # Session ids INTERACTION_CREATE was dispatched to (only the guild's shard; DMs: shard 0).
    delivered_to: list[str] = field(default_factory=list)

    def is_expired(self) -> bool:
        return time.monotonic() - self.created_at > self.token_lifetime

    @property
    def age(self) -> float:
        return time.monotonic() - self.created_at

    # The waiters take timeout= (seconds) by design: the e2e tests call them that way.
    async def wait_acked(self, timeout: float = 5.0) -> int:  # noqa: ASYNC109
        """Wait for an accepted callback; returns the callback type."""
        return await self.notifier.wait_for(
            lambda: self.response_type, timeout, f"ack of interaction {self.id}"
        )

    async def wait_original_edit(
        self,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        """Wait until the original response exists and satisfies predicate.

        Without a predicate: until it has been edited at least once (a deferred response
        being filled in, or a later edit of a type-4 response).
        """
        check = predicate if predicate is not None else (lambda m: m.edits > 0)

        def current() -> FakeMessage | None:
            msg = self.original_response
            return msg if msg is not None and check(msg) else None

        return await self.notifier.wait_for(current, timeout, f"original response of {self.id}")

    async def wait_followup(
        self,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        """Wait for a followup message (not the original) satisfying predicate."""

        def current() -> FakeMessage | None:
            for msg in self.followups:
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.notifier.wait_for(current, timeout, f"followup of {self.id}")

    async def wait_response(
        self,
        predicate: Callable[[FakeMessage], bool],
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> FakeMessage:
        """Wait for the original response or any followup satisfying predicate."""

        def current() -> FakeMessage | None:
            candidates = [self.original_response, *self.followups]
            for msg in candidates:
                if msg is not None and predicate(msg):
                    return msg
            return None

        return await self.notifier.wait_for(current, timeout, f"response to {self.id}")


class RequestRecord(NamedTuple):
    """One REST call: method, path below /api/v10 (no query), response status."""

    method: str
    path: str
    status: int


@dataclass
class RateLimitRule:
    """The next `remaining` matching REST requests are answered 429."""

    method: str
    pattern: re.Pattern[str]
    remaining: int
    retry_after: float
    is_global: bool = False
