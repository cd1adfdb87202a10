"""What a job's status card says, decided from its row alone (the edge only renders it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from bot.jobs.forecast import Spot
from bot.jobs.models import Framing, Job, Style
from bot.jobs.states import JobState
from bot.messages import (
    PARAMS,
    Mention,
    MessageKey,
    MessageLink,
    Moment,
    Param,
    Phrase,
    UserMessage,
)
from bot.provider.models import TaskStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardView:
    """A card as the edge shows it: its lines, which buttons it carries, and the crop to
    upload onto it (set only while the card does not carry it yet: one upload per card)."""

    lines: tuple[UserMessage, ...]
    cancel: bool
    retry: bool
    confirm: bool = False
    reframe: bool = False  # a half-body refusal: offer the same inputs at 1:1
    preview: Path | None = None
    drop_preview: bool = False  # the job's inputs were deleted: take the crop off the card


_STATE_KEYS: dict[JobState, MessageKey] = {
    JobState.RECEIVED: MessageKey.STATE_CHECKING,
    JobState.PREPARING: MessageKey.STATE_CHECKING,
    JobState.AWAITING_CONFIRMATION: MessageKey.STATE_AWAITING,
    JobState.QUEUED: MessageKey.STATE_QUEUED,
    JobState.SUBMITTING: MessageKey.STATE_QUEUED,
    JobState.SUBMITTED: MessageKey.STATE_QUEUED,
    JobState.SUCCEEDED: MessageKey.STATE_DELIVERING,
    JobState.DELIVERING: MessageKey.STATE_DELIVERING,
    JobState.DELIVERED: MessageKey.STATE_DONE,
    JobState.REJECTED: MessageKey.STATE_REFUSED,
    JobState.FAILED: MessageKey.STATE_FAILED,
    JobState.CANCELED: MessageKey.STATE_CANCELED,
    JobState.EXPIRED: MessageKey.STATE_EXPIRED,
}


def state_name(job: Job) -> UserMessage:
    """The job's state in a member's words (rendering once the provider has started it)."""
    if job.state is JobState.SUBMITTED and job.started_at is not None:
        return UserMessage(key=MessageKey.STATE_RENDERING)
    return UserMessage(key=_STATE_KEYS[job.state])


def failure_of(job: Job) -> UserMessage | None:
    """The message a job ended with, rebuilt from its row."""
    if job.error_key is None:
        return None
    try:
        key = MessageKey(job.error_key)
        params: dict[str, Param] = PARAMS.validate_json(job.error_detail or "{}")
    except (ValueError, ValidationError):
        log.warning("job %d has an unknown error key %r", job.id, job.error_key)
        return UserMessage(key=MessageKey.UNEXPECTED, params={"reference": f"job-{job.id}"})
    params.setdefault("mention", Mention(user_id=job.user_id))
    params.setdefault("job", job.id)
    return UserMessage(key=key, params=params)


def can_cancel(job: Job) -> bool:
    """The card offers Cancel while a cancel can still save the charge."""
    waiting = job.state in (
        JobState.RECEIVED,
        JobState.PREPARING,
        JobState.AWAITING_CONFIRMATION,
        JobState.QUEUED,
    )
    at_provider = job.state in (JobState.SUBMITTING, JobState.SUBMITTED)
    return waiting or (at_provider and job.started_at is None)


def can_confirm(job: Job) -> bool:
    """The card offers Confirm while the job waits for one."""
    return job.state is JobState.AWAITING_CONFIRMATION


def can_reframe(job: Job) -> bool:
    """A half-body job refused because the body does not show down to the hips: the card
    offers the same inputs at 1:1, in one click."""
    return (
        job.state is JobState.REJECTED
        and job.framing is Framing.HALF_BODY
        and job.error_key == MessageKey.NEEDS_HALF_BODY.value
    )


def can_retry(job: Job) -> bool:
    """Retrying makes sense once a job is over, unless its inputs were refused."""
    return job.state.is_terminal and job.state is not JobState.REJECTED


def result_of(job: Job) -> MessageLink | Phrase | None:
    """Where the card points for the result: the posted message, or "sent by DM"."""
    if job.message_id is None:
        return None
    if job.deliver_dm:
        return Phrase(key=MessageKey.CARD_SENT_BY_DM)
    return MessageLink(guild_id=job.guild_id, channel_id=job.channel_id, message_id=job.message_id)


def card_view(job: Job, *, spot: Spot | None, paused: bool) -> CardView:
    """The card of ``job`` as its row stands."""
    lines = card_lines(job, spot=spot, paused=paused)
    return CardView(
        lines=tuple(lines),
        cancel=can_cancel(job),
        retry=can_retry(job),
        confirm=can_confirm(job),
        reframe=can_reframe(job),
    )


def card_lines(job: Job, *, spot: Spot | None, paused: bool) -> list[UserMessage]:
    """The lines of the card, top to bottom."""
    lines = [
        UserMessage(
            key=MessageKey.CARD_TITLE,
            params={"mention": Mention(user_id=job.user_id), "job": job.id},
        )
    ]
    if job.retry_of is not None:
        lines.append(UserMessage(key=MessageKey.CARD_RETRY_OF, params={"original": job.retry_of}))
    lines.append(_status_line(job, spot=spot, paused=paused))
    failure = failure_of(job) if job.state.is_terminal else None
    if failure is not None:
        lines.append(failure)  # the reason, and what to do next
    if can_reframe(job):
        lines.append(UserMessage(key=MessageKey.CARD_REFRAME_HINT))
    details = details_of(job)
    if details is not None:
        lines.append(details)
    if job.cancel_requested_at is not None and not job.state.is_terminal:
        lines.append(UserMessage(key=MessageKey.CARD_STOP_REQUESTED))
    if job.cost_usd is not None and job.video_seconds is not None:
        lines.append(
            UserMessage(
                key=MessageKey.CARD_COST,
                params={"usd": f"{job.cost_usd:.2f}", "seconds": round(job.video_seconds, 1)},
            )
        )
    elif job.estimate_usd is not None and not job.state.is_terminal:
        lines.append(
            UserMessage(key=MessageKey.CARD_ESTIMATE, params={"usd": f"{job.estimate_usd:.2f}"})
        )
    if can_retry(job):
        lines.append(UserMessage(key=MessageKey.CARD_RETRY_HINT))
    return lines


_FRAMINGS = {Framing.HEAD: MessageKey.FRAMING_HEAD, Framing.HALF_BODY: MessageKey.FRAMING_HALF_BODY}
_STYLES = {
    Style.NORMAL: MessageKey.STYLE_NORMAL,
    Style.CALM: MessageKey.STYLE_CALM,
    Style.ACTIVE: MessageKey.STYLE_ACTIVE,
}


def details_of(job: Job) -> UserMessage | None:
    """What will be made, once the face check passed: framing, style and length (the crop
    shows beside it)."""
    if job.ext_box is None or job.audio_seconds is None:
        return None
    params: dict[str, Param] = {
        "framing": Phrase(key=_FRAMINGS[job.framing]),
        "style": Phrase(key=_STYLES[job.style]),
        "seconds": round(job.audio_seconds, 1),
    }
    return UserMessage(key=MessageKey.CARD_DETAILS, params=params)


def _status_line(job: Job, *, spot: Spot | None, paused: bool) -> UserMessage:
    state = job.state
    eta: Param = Moment(at=spot.ready_at) if spot and spot.ready_at else "?"
    if state in (JobState.RECEIVED, JobState.PREPARING):
        if job.waiting_since is not None:
            return UserMessage(key=MessageKey.CARD_WAITING_PREPARER)
        return UserMessage(key=MessageKey.CARD_CHECKING)
    if state is JobState.AWAITING_CONFIRMATION:
        deadline: Param = Moment(at=job.confirm_by) if job.confirm_by else "?"
        return UserMessage(key=MessageKey.CARD_AWAITING, params={"deadline": deadline})
    if state in (JobState.QUEUED, JobState.SUBMITTING):
        if paused:
            own = job.own_account is not None  # the server's own key: its admins' to fix
            return UserMessage(
                key=MessageKey.CARD_PAUSED_OWN_KEY if own else MessageKey.CARD_PAUSED
            )
        ahead = spot.ahead if spot else 0
        return UserMessage(key=MessageKey.CARD_QUEUED, params={"ahead": ahead, "eta": eta})
    if state is JobState.SUBMITTED:
        if job.provider_status == TaskStatus.SUSPENDED:
            return UserMessage(key=MessageKey.CARD_SUSPENDED, params={"eta": eta})
        if job.started_at is None:
            return UserMessage(key=MessageKey.CARD_WAITING_AT_PROVIDER, params={"eta": eta})
        return UserMessage(
            key=MessageKey.CARD_RENDERING, params={"since": Moment(at=job.started_at), "eta": eta}
        )
    if state in (JobState.SUCCEEDED, JobState.DELIVERING):
        return UserMessage(key=MessageKey.CARD_DELIVERING)
    if state is JobState.DELIVERED:
        return UserMessage(key=MessageKey.CARD_DONE, params={"link": result_of(job) or ""})
    if state is JobState.CANCELED:
        return UserMessage(key=MessageKey.CARD_CANCELED)
    return UserMessage(key=MessageKey.CARD_FAILED)
