"""What the engine asks of the edge that shows jobs to members (Discord, the command line).

Progress and failure notices reach the edge as ``JobEvent``s and problems for the operator
as ``OperatorAlert``s; posting a result is a call, since the engine needs its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.jobs.models import Job
from bot.messages import UserMessage


class DeliveryError(Exception):
    """Posting the result failed. ``permanent``: retrying the same way cannot help."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class UploadTooLargeError(DeliveryError):
    """The edge refused the file as larger than its upload limit after all."""

    def __init__(self) -> None:
        super().__init__("file over the upload limit", permanent=True)


@dataclass(frozen=True)
class ResultPost:
    """What to post for a finished job: the message, and the video that fits (None: the
    message carries a link instead)."""

    message: UserMessage
    video: Path | None


class ResultChannel(Protocol):
    """Where results go."""

    async def upload_limit(self, job: Job) -> int:
        """The largest file, in bytes, that may be posted for ``job`` now."""
        ...

    async def post(self, job: Job, result: ResultPost) -> int:
        """Post ``result`` exactly once (``job.delivery_nonce``); return the message's id.
        Raises DeliveryError."""
        ...

    async def find_posted(self, job: Job) -> int | None:
        """The id of a result already posted for ``job`` (a crash may have hidden it)."""
        ...
