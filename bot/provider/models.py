"""Pydantic models of DashScope's EMO payloads (see docs/architecture.md for the source)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

DETECT_MODEL = "emo-detect-v1"
SYNTHESIS_MODEL = "emo-v1"


class _Payload(BaseModel):
    # The provider adds fields over time; unknown ones must not break parsing.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorBody(_Payload):
    code: str = ""
    message: str = ""
    request_id: str = ""


class UploadPolicy(_Payload):
    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    expire_in_seconds: int = 300
    max_file_size_mb: float = 100
    oss_access_key_id: str
    x_oss_object_acl: str = "private"
    x_oss_forbid_overwrite: str = "true"


class UploadPolicyResponse(_Payload):
    request_id: str = ""
    data: UploadPolicy


class DetectInput(_Payload):
    image_url: str


class DetectParameters(_Payload):
    ratio: str


class DetectRequest(_Payload):
    model: str = DETECT_MODEL
    input: DetectInput
    parameters: DetectParameters


class DetectOutput(_Payload):
    check_pass: bool = False
    face_bbox: list[int] | None = Field(default=None, min_length=4, max_length=4)
    ext_bbox: list[int] | None = Field(default=None, min_length=4, max_length=4)
    code: str | None = None
    message: str | None = None


class Detection(_Payload):
    """A passed face check: both boxes go to ``emo-v1`` unchanged."""

    face_bbox: list[int] = Field(min_length=4, max_length=4)
    ext_bbox: list[int] = Field(min_length=4, max_length=4)


class DetectResponse(_Payload):
    request_id: str = ""
    output: DetectOutput


class SynthesisInput(_Payload):
    image_url: str
    audio_url: str
    face_bbox: list[int]
    ext_bbox: list[int]


class SynthesisParameters(_Payload):
    style_level: str


class SynthesisRequest(_Payload):
    model: str = SYNTHESIS_MODEL
    input: SynthesisInput
    parameters: SynthesisParameters


class TaskStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"


class TaskRef(_Payload):
    task_id: str
    task_status: TaskStatus


class SubmitResponse(_Payload):
    request_id: str = ""
    output: TaskRef


class TaskResults(_Payload):
    video_url: str | None = None


PROVIDER_TIMEZONE = timezone(timedelta(hours=8))  # task times are Beijing time, no offset


def provider_time(text: str | None) -> datetime | None:
    """Parse a task time such as ``2025-09-11 14:33:53.089`` (UTC+8)."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=PROVIDER_TIMEZONE)
    except ValueError:
        return None


class TaskOutput(_Payload):
    task_id: str
    task_status: TaskStatus
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    results: TaskResults | None = None
    code: str | None = None
    message: str | None = None

    @property
    def started_at(self) -> datetime | None:
        return provider_time(self.scheduled_time)

    @property
    def ended_at(self) -> datetime | None:
        return provider_time(self.end_time)


class TaskUsage(_Payload):
    video_duration: float | None = None
    video_ratio: str | None = None


class TaskResponse(_Payload):
    request_id: str = ""
    output: TaskOutput
    usage: TaskUsage | None = None

    @property
    def video_url(self) -> str | None:
        return self.output.results.video_url if self.output.results else None


class ListedTask(_Payload):
    """One task of the provider's batch task query, read tolerantly: its exact fields are not
    confirmed, so both spellings seen in the wild are accepted."""

    task_id: str
    status: str | None = None
    task_status: str | None = None
    gmt_create: int | None = None  # milliseconds since the epoch
    submit_time: str | None = None

    @property
    def submitted_at(self) -> datetime | None:
        if self.gmt_create is not None:
            return datetime.fromtimestamp(self.gmt_create / 1000, tz=UTC)
        return provider_time(self.submit_time)


class TaskListResponse(_Payload):
    request_id: str = ""
    data: list[ListedTask] = Field(default_factory=list)
    total: int | None = None
    page_no: int | None = None
    page_size: int | None = None
