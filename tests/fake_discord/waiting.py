"""What tests read back from the fake and wait for: sessions, registered commands, messages
and their edits, logged requests and violations."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from . import payloads
from .models import JSON, EditRecord, FakeMessage, RequestRecord
from .surface import Surface


class Waiting(Surface):
    """FakeDiscord's queries and waiters.

    The waiters take timeout= (seconds) by design: the e2e tests call them that way.
    """

    async def wait_for_identify(
        self,
        timeout: float = 20.0,  # noqa: ASYNC109
        *,
        count: int | None = None,
    ) -> None:
        """Wait until a bot session is ready (READY + GUILD_CREATE sent, or RESUMED).

        With `count`, wait until identify_count + resume_count reaches it instead, e.g.
        `n = fake.identify_count; restart bot; await fake.wait_for_identify(count=n + 1)`.
        """

        def check() -> bool | None:
            if count is not None:
                return True if self.identify_count + self.resume_count >= count else None
            return True if self.hub.ready_sessions else None

        await self.notifier.wait_for(check, timeout, "the bot to IDENTIFY")

    async def wait_for_commands(
        self,
        guild_id: int | None = None,
        timeout: float = 20.0,  # noqa: ASYNC109
        *,
        names: Iterable[str] = (),
    ) -> list[JSON]:
        """Wait until commands are registered in that scope (including all `names`)."""
        wanted = set(names)

        def check() -> list[JSON] | None:
            registered = self.commands_for(guild_id)
            have = {c.name for c in registered}
            if registered and wanted <= have:
                return [payloads.command(self, c) for c in registered]
            return None

        return await self.notifier.wait_for(check, timeout, f"commands {sorted(wanted)}")

    def registered_commands(self, guild_id: int | None = None) -> list[JSON]:
        """Commands the bot registered (global, or for guild_id), as Discord returns them."""
        return [payloads.command(self, c) for c in self.commands_for(guild_id)]

    def messages(
        self, channel_id: int | None = None, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Messages of a channel (default channel) in creation order."""
        cid = channel_id if channel_id is not None else self.channel_id
        return self.channel_messages(cid, include_ephemeral=include_ephemeral)

    def dm_messages(self, user_id: int) -> list[FakeMessage]:
        """Messages in the bot's DM channel with the user ([] if it was never opened)."""
        channel = self.find_dm_channel(user_id)
        return [] if channel is None else self.channel_messages(channel.id)

    def edits_of(self, message_id: int) -> list[EditRecord]:
        """Successful edits of a message: (at: time.monotonic(), content, custom_ids)."""
        return list(self.messages_by_id[message_id].edit_log)

    async def wait_for_message(
        self,
        channel_id: int | None = None,
        predicate: Callable[[FakeMessage], bool] | None = None,
        timeout: float = 60.0,  # noqa: ASYNC109
        *,
        include_ephemeral: bool = False,
    ) -> FakeMessage:
        """First message (existing or future) in the channel satisfying predicate."""

        def check() -> FakeMessage | None:
            for msg in self.messages(channel_id, include_ephemeral=include_ephemeral):
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.notifier.wait_for(check, timeout, "a matching message")

    async def wait_for_request(
        self,
        method: str,
        path_regex: str,
        timeout: float = 20.0,  # noqa: ASYNC109
        *,
        status: int | None = None,
    ) -> RequestRecord:
        """First logged REST call matching method, path regex (re.search) and status."""
        pattern = re.compile(path_regex)

        def check() -> RequestRecord | None:
            for record in self.requests:
                if (
                    record.method == method.upper()
                    and pattern.search(record.path)
                    and (status is None or record.status == status)
                ):
                    return record
            return None

        return await self.notifier.wait_for(check, timeout, f"{method} {path_regex}")

    async def wait_for_violation(
        self,
        substring: str,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> str:
        """First recorded violation containing substring."""

        def check() -> str | None:
            return next((v for v in self.violations if substring in v), None)

        return await self.notifier.wait_for(check, timeout, f"violation {substring!r}")
