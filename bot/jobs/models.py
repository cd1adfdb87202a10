"""Typed rows and requests for jobs."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from bot.jobs.states import JobState


class Style(enum.StrEnum):
    """EMO's ``style_level``: how lively the motion is."""

    NORMAL = "normal"
    CALM = "calm"
    ACTIVE = "active"


class Framing(enum.StrEnum):
    """The detector's ``ratio``: a head shot (512×512) or half body (512×704)."""

    HEAD = "1:1"
    HALF_BODY = "3:4"

    @property
    def ratio(self) -> tuple[int, int]:
        """Width to height: (1, 1) or (3, 4)."""
        across, down = self.value.split(":")
        return int(across), int(down)


class InputRef(BaseModel):
    """Where a member's upload can be fetched; the declared fields are never trusted."""

    model_config = ConfigDict(frozen=True)

    url: str
    declared_size: int = Field(ge=0)


class AnimateRequest(BaseModel):
    """What the edge (Discord, CLI) hands the core to start a job."""

    model_config = ConfigDict(frozen=True)

    guild_id: int | None
    channel_id: int
    user_id: int
    locale: str = "en-US"
    image: InputRef
    audio: InputRef
    style: Style = Style.NORMAL
    framing: Framing = Framing.HEAD
    trim: bool = False  # keep the first 60 s of a longer recording instead of refusing it
    upload_limit_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    deliver_dm: bool = False  # the member asked for the result by direct message
    retry_of: int | None = None  # the job whose cached inputs this one reuses
    requested_by: int | None = None  # who asked, when not the owner (an admin's retry)
    # Wait for a Confirm (the crop and the estimate shown first) before anything is spent.
    confirm_first: bool = False


class Box(BaseModel):
    """A pixel box ``[x1, y1, x2, y2]`` as the provider writes it."""

    model_config = ConfigDict(frozen=True)

    x1: int
    y1: int
    x2: int
    y2: int

    def as_list(self) -> list[int]:
        return [self.x1, self.y1, self.x2, self.y2]

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.x1, self.y1, self.x2, self.y2

    @classmethod
    def from_list(cls, values: list[int]) -> Box:
        x1, y1, x2, y2 = values
        return cls(x1=x1, y1=y1, x2=x2, y2=y2)


class JobChanges(BaseModel):
    """The columns that change as a job goes on, each declared once: here. ``Job`` adds the
    columns fixed at intake. Given to a transition, only the fields set are written."""

    model_config = ConfigDict(frozen=True)

    attempt: int = 0  # submits tried: the bounded retry's counter
    # Preparation: the inputs as the provider gets them, and the originals' hashes for the audit.
    image_sha256: str | None = None
    audio_sha256: str | None = None
    audio_seconds: float | None = None
    image_url: str | None = None  # re-hosted, provider-reachable
    audio_url: str | None = None
    face_box: Box | None = None
    ext_box: Box | None = None
    estimate_usd: float | None = None  # audio seconds x the framing's price, before submitting
    # Waiting for a free preparer (EMO_MAX_PREPARATIONS were busy) since then; None once its
    # preparation began, or when it never had to wait. The card says so.
    waiting_since: datetime | None = None
    queued_at: datetime | None = None
    confirm_by: datetime | None = None  # awaiting confirmation: cancelled if not confirmed by then
    not_before: datetime | None = None  # a queued job waits until then (retry backoff)
    # The provider's task.
    task_id: str | None = None
    submitted_at: datetime | None = None
    started_at: datetime | None = None  # the provider's scheduled_time: the render began
    provider_status: str | None = None  # the task's status as last seen (SUSPENDED shows)
    retried_task_id: str | None = None  # a task that failed on the provider's side, retried
    cancel_requested_at: datetime | None = None
    result_url: str | None = None
    video_seconds: float | None = None  # what the provider billed
    cost_usd: float | None = None
    render_seconds: float | None = None  # the provider's end_time - scheduled_time
    finished_at: datetime | None = None
    # The outcome: the posted result, or what the member was told.
    message_id: int | None = None
    delivered_at: datetime | None = None
    error_key: str | None = None
    error_detail: str | None = None  # the message's placeholder values, as JSON
    # Retention: when the cached media were deleted.
    inputs_purged_at: datetime | None = None
    outputs_purged_at: datetime | None = None
    # The process working on the job (preparing, submitting or delivering it), until when.
    lease_owner: str | None = None
    lease_until: datetime | None = None
    # Provider accounts: whose key submitted the task (polls and cancels use it), and for
    # whom the oss:// inputs were uploaded (None: links any account can read).
    account: str | None = None
    inputs_account: str | None = None
    # The job ended without knowing whether its task exists: its provider slot stays taken
    # until a task of it would have ended.
    slot_held_until: datetime | None = None

    def merged(self, other: JobChanges) -> JobChanges:
        """These changes and ``other``'s (which win where both set a field)."""
        update = {name: getattr(other, name) for name in other.model_fields_set}
        return self.model_copy(update=update)


class Job(JobChanges):
    """One row of the ``jobs`` table: what was asked at intake, then how it went."""

    id: int
    state: JobState
    guild_id: int | None
    channel_id: int
    user_id: int
    locale: str
    style: Style
    framing: Framing
    trim_audio: bool = False
    upload_limit_bytes: int
    deliver_dm: bool = False
    retry_of: int | None = None  # the first job whose cached inputs this one reuses
    requested_by: int | None = None  # who asked, when not the owner (an admin's retry)
    confirm_first: bool = False  # waits for a Confirm once its inputs are ready
    # The server's own provider account the job runs on, billed to it (bring your own key);
    # None: the operator's accounts.
    own_account: str | None = None
    image_source_url: str
    audio_source_url: str
    created_at: datetime
    updated_at: datetime

    @property
    def delivery_nonce(self) -> str:
        """Discord deduplicates sends with the same nonce: one per job, at most 25 chars."""
        return f"emo-job-{self.id}"
