"""The messages shown about each job (its card, a failure notice, the result), behind a typed
interface; ``SqlCardRepository`` implements it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.jobs.states import JobState


@dataclass(frozen=True)
class CardRecord:
    job_id: int
    message_id: int | None  # the card; None until posted
    shown: JobState | None  # the state the card shows
    deleted: bool  # someone deleted the card: it is not posted again
    notice_id: int | None  # a failure notice, a reply to the card
    result_id: int | None  # the posted result
    updated_at: datetime
    preview: bool = False  # the card carries the crop (uploaded once, kept by later edits)


class CardRepository(Protocol):
    async def get(self, job_id: int) -> CardRecord | None: ...

    async def shown(
        self, job_id: int, *, message_id: int, state: JobState, preview: bool | None = None
    ) -> None:
        """The card ``message_id`` shows ``state`` now; ``preview``: whether it carries the
        crop now (None: as before)."""
        ...

    async def deleted(self, job_id: int) -> None:
        """The card was deleted by someone: leave it be."""
        ...

    async def notice(self, job_id: int, message_id: int) -> None: ...

    async def result(self, job_id: int, message_id: int) -> None: ...

    async def job_for_message(self, message_id: int) -> int | None:
        """The job whose card, notice or result is message ``message_id``."""
        ...

    async def purged_previews(self) -> list[int]:
        """Jobs whose card still carries the crop though their inputs were deleted."""
        ...

    async def live(self, since: datetime) -> list[CardRecord]:
        """Cards written since ``since`` that do not show a final state (maybe behind)."""
        ...
