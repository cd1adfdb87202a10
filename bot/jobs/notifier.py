"""How the core tells the edge (Discord, the CLI) about a job: implemented outside the core."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from bot.jobs.models import Job
from bot.messages import UserMessage


class DeliveryError(Exception):
    """Posting the result failed. ``permanent`` means retrying the same way cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


class JobNotifier(Protocol):
    async def job_changed(self, job: Job) -> None:
        """A job changed state; show progress if there is a place to show it."""
        ...

    async def deliver_result(self, job: Job, video: Path) -> int:
        """Post the video for ``job`` exactly once (use ``job.delivery_nonce``); return its id."""
        ...

    async def report_failure(self, job: Job, message: UserMessage) -> None:
        """Tell the requester that ``job`` ended without a video, and what to do."""
        ...

    async def find_delivery(self, job: Job) -> int | None:
        """The id of a result already posted for ``job`` (a crash may have hidden it)."""
        ...

    async def operator_alert(self, text: str, *, guild_id: int | None = None) -> None:
        """Tell the bot's operator about a problem only they can fix (once per problem);
        ``guild_id``: the problem concerns that server's job (its admins hear of it too)."""
        ...
