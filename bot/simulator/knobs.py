"""Test knobs: everything about the simulator's behaviour a test may want to change at run time."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

RejectionStyle = Literal["http400", "check_pass"]
ListRowsKey = Literal["data", "tasks"]
MessageField = Literal["message", "msg"]


class RateLimits(BaseModel):
    """Requests allowed per account per `rate_window_seconds` (None = no limit)."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    policy: float | None = Field(default=100, gt=0)
    detect: float | None = Field(default=5, gt=0)
    submit: float | None = Field(default=5, gt=0)
    query: float | None = Field(default=20, gt=0)
    cancel: float | None = Field(default=None, gt=0)


class SimulatorKnobs(BaseModel):
    """Behaviour switches; mutate `sim.knobs` (validated) or POST partial JSON to `/_sim/knobs`."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    # Rendering: wall time of a task = per_audio_second * audio duration + overhead.
    render_seconds_per_audio_second: float = Field(default=0.05, ge=0)
    render_overhead_seconds: float = Field(default=0.5, ge=0)
    max_running_per_account: int = Field(default=1, ge=1)
    # A task that takes its account's slot first reports SUSPENDED this long (its render
    # waits meanwhile), then RUNNING.
    suspend_seconds: float = Field(default=0, ge=0)
    video_fps: int = Field(default=25, ge=1, le=60)
    animate_mouth: bool = True

    # Detection.
    detect_rejection_style: RejectionStyle = "http400"
    detect_min_face_fraction: float = Field(default=0.05, gt=0, le=1)
    detect_max_face_fraction: float = Field(default=0.8, gt=0, le=1)

    # Throttling (sliding window per account).
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    rate_window_seconds: float = Field(default=1.0, gt=0)

    # Lifetimes, measured on the simulator's clock (see `Simulator.advance_time`).
    task_ttl_seconds: float = Field(default=86400, gt=0)
    policy_expire_seconds: float = Field(default=300, gt=0)
    oss_url_ttl_seconds: float = Field(default=48 * 3600, gt=0)
    result_url_ttl_seconds: float = Field(default=86400, gt=0)

    # Temporary storage.
    upload_max_file_size_mb: int = Field(default=100, ge=1)
    upload_capacity_limit_mb: int = Field(default=10240, ge=1)

    # Input rules.
    max_audio_seconds: float = Field(default=60, gt=0)
    max_audio_mb: float = Field(default=15, gt=0)
    download_timeout_seconds: float = Field(default=10, gt=0)

    # Extra latency added to every /api/v1 answer, to exercise client timeouts.
    api_latency_seconds: float = Field(default=0, ge=0)
    # A submit's answer arrives this late although the task was created at once.
    submit_answer_delay_seconds: float = Field(default=0, ge=0)

    # Answer shapes, for clients that must not trust odd answers.
    # GET /tasks/{id} reports this instead of RUNNING (a status the client does not know);
    # the task list and the task's history keep RUNNING.
    running_status_alias: str | None = None
    # Which key of an error body carries the message text (some answers say "msg").
    error_message_field: MessageField = "message"
    # The task list: the most rows a page holds, whatever page_size asks for.
    list_page_size_cap: int = Field(default=10, ge=1)
    # The key that carries the list's rows (the SDK 2.0 parser reads "tasks").
    list_rows_key: ListRowsKey = "data"
    # Drop `total` and `total_page` from the list's answers.
    list_omit_total: bool = False

    # The result download, for a client that must check what it fetches: the
    # scheme://host:port result URLs name (None: the simulator itself; the path and signature
    # stay), a redirect answered instead of the video (its Location sent verbatim, malformed
    # or not), and bytes that are no video served in its place.
    result_url_base: str | None = None
    result_redirect_location: str | None = None
    result_not_a_video: bool = False

    # Billing, USD per second of output video.
    price_usd_per_second: dict[str, float] = Field(
        default_factory=lambda: {"1:1": 0.011469, "3:4": 0.022937}
    )


def apply_changes(knobs: SimulatorKnobs, changes: Mapping[str, Any]) -> SimulatorKnobs:
    """Apply a partial update in place, validated as a whole first (rate_limits merged too).

    In place, so every holder of the knobs object sees the change.
    """
    current = knobs.model_dump()
    merged = {**current, **changes}
    nested = changes.get("rate_limits")
    if isinstance(nested, Mapping):
        merged["rate_limits"] = {**current["rate_limits"], **nested}
    fresh = SimulatorKnobs.model_validate(merged)
    for name in SimulatorKnobs.model_fields:
        setattr(knobs, name, getattr(fresh, name))
    return knobs
