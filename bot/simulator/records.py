"""What the simulator records for test assertions: submissions, uploads, policies, detector
runs, cancels and poll counts. Records hold account ids and key ids, never a key."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, Field

from .tasks import BBox, Ratio, StyleLevel, TaskStatus

log = logging.getLogger(__name__)


class SubmissionRecord(BaseModel):
    """One accepted video-synthesis submission."""

    account: str
    api_key_id: str
    task_id: str
    model: str
    image_url: str
    audio_url: str
    face_bbox: BBox
    ext_bbox: BBox
    style_level: StyleLevel
    submitted_at: float
    oss_resolve: bool


class PolicyRecord(BaseModel):
    """One upload policy handed out by getPolicy."""

    account: str
    api_key_id: str
    model: str
    upload_dir: str
    at: float
    expires_at: float


class UploadRecord(BaseModel):
    """One file stored through the temporary-upload flow."""

    account: str
    model: str
    key: str
    url: str
    filename: str
    size: int
    content_type: str | None
    uploaded_at: float
    expires_at: float
    path: Path = Field(exclude=True)


class DetectionRecord(BaseModel):
    """One face-detect call that got as far as running the detector."""

    account: str
    image_url: str
    ratio: Ratio
    faces: list[BBox]
    check_pass: bool
    code: str | None = None
    message: str | None = None
    face_bbox: BBox | None = None
    ext_bbox: BBox | None = None
    at: float


class CancelRecord(BaseModel):
    """One cancel request for a task of the caller's account.

    `content_type` is the request's Content-Type header (None when absent) and
    `body_length` the size of its body: the real call sends neither.
    """

    account: str
    api_key_id: str
    task_id: str
    previous_status: TaskStatus
    accepted: bool
    at: float
    content_type: str | None = None
    body_length: int = 0


class QueryCount(BaseModel):
    """How many times tasks were polled (every GET /tasks/{id} that passed auth)."""

    total: int = 0
    per_task: dict[str, int] = Field(default_factory=dict)

    def add(self, task_id: str) -> None:
        """Count one poll."""
        self.total += 1
        self.per_task[task_id] = self.per_task.get(task_id, 0) + 1

    def of(self, task_id: str) -> int:
        """Polls of one task."""
        return self.per_task.get(task_id, 0)
