"""Pydantic models of DashScope's EMO payloads (see docs/architecture.md for the source)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DETECT_MODEL = "emo-detect-v1"
SYNTHESIS_MODEL = "emo-v1"


class _Payload(BaseModel):
    # The provider adds fields over time; unknown ones must not break parsing.
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorBody(_Payload):
    code: str = ""
    message: str = ""
    msg: str = ""  # some answers name the message so
    request_id: str = ""

    @property
    def text(self) -> str:
        return self.message or self.msg


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
    SUSPENDED = "SUSPENDED"  # paused at the provider: still in flight
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"  # the provider does not know the task (or it is past its 24 h)
    UNRECOGNIZED = "UNRECOGNIZED"  # ours: a status the provider sent that we do not know

    @property
    def in_flight(self) -> bool:
        """Still on its way: keep polling (a status we do not know counts as such)."""
        return self in _IN_FLIGHT


_IN_FLIGHT = frozenset(
    {TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.SUSPENDED, TaskStatus.UNRECOGNIZED}
)


class TaskRef(_Payload):
    task_id: str
    task_status: str = ""  # read loosely: a status we do not know must not lose the task id


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
    status_text: str = ""  # the status as the provider wrote it
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    results: TaskResults | None = None
    code: str | None = None
    message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _tolerate_status(cls, data: Any) -> Any:
        if isinstance(data, dict) and "task_status" in data:
            raw = str(data["task_status"])
            known = raw in TaskStatus.__members__ and raw != TaskStatus.UNRECOGNIZED
            data = {**data, "status_text": raw}
            if not known:
                data["task_status"] = TaskStatus.UNRECOGNIZED
        return data

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
    """One row of the provider's batch task query, as the real service sends it: times are
    milliseconds since the epoch, ``status`` is the task's state, and ``api_key_id`` names
    the key (of the whole account) that created it."""

    task_id: str
    status: str | None = None
    task_status: str | None = None  # another spelling, read too
    model_name: str | None = None
    api_key_id: str | None = None
    region: str | None = None
    gmt_create: int | None = None
    start_time: int | None = None
    end_time: int | None = None

    @property
    def submitted_at(self) -> datetime | None:
        if self.gmt_create is None:
            return None
        return datetime.fromtimestamp(self.gmt_create / 1000, tz=UTC)


class TaskListResponse(BaseModel):
    """One page of the batch task query. Unknown keys are kept: rows under a key other than
    ``data`` mean an answer whose shape is not the known one."""

    model_config = ConfigDict(extra="allow", frozen=True)

    request_id: str = ""
    data: list[ListedTask] | None = None
    total: int | None = None
    total_page: int | None = None
    page_no: int | None = None
    page_size: int | None = None

    @property
    def foreign_rows(self) -> list[str]:
        """Other keys holding a list (``tasks`` in the SDK 2.0's own parser)."""
        extra = self.model_extra or {}
        return sorted(name for name, value in extra.items() if isinstance(value, list))
