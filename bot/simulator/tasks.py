"""Tasks: the vocabulary (statuses, ratios, boxes) and a synthesis task with its history."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

TaskStatus = Literal[
    "PENDING", "RUNNING", "SUSPENDED", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"
]
Ratio = Literal["1:1", "3:4"]
StyleLevel = Literal["normal", "calm", "active"]
BBox = tuple[int, int, int, int]

TERMINAL_STATUSES: frozenset[TaskStatus] = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


class StatusChange(BaseModel):
    """One step in a task's life."""

    status: TaskStatus
    at: float


class SimTask(BaseModel):
    """A synthesis task as the simulator tracks it.

    `account` is the owning account's id, `api_key_id` the id of the key that created it,
    `request_id` the id of the submit call's answer.
    """

    task_id: str
    account: str
    api_key_id: str
    request_id: str = ""
    model: str
    image_url: str
    audio_url: str
    face_bbox: BBox
    ext_bbox: BBox
    style_level: StyleLevel
    ratio: Ratio
    audio_duration: float
    status: TaskStatus = "PENDING"
    history: list[StatusChange] = Field(default_factory=list)
    submitted_at: float
    scheduled_at: float | None = None
    ended_at: float | None = None
    code: str | None = None
    message: str | None = None
    video_url: str | None = None
    video_url_expires: int | None = None
    video_duration: float | None = None
    result_path: Path | None = Field(default=None, exclude=True)

    def set_status(self, status: TaskStatus, at: float) -> None:
        """Change status and remember when."""
        self.status = status
        self.history.append(StatusChange(status=status, at=at))

    @property
    def statuses(self) -> list[TaskStatus]:
        """The statuses this task went through, in order."""
        return [change.status for change in self.history]
