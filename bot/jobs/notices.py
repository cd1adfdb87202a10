"""The messages the engine sends a job's member, addressed to them (the edge writes the
mention its own way)."""

from __future__ import annotations

from bot.jobs.models import Job
from bot.messages import Mention, MessageKey, Param, UserMessage


def to_member(key: MessageKey, job: Job, **params: Param) -> UserMessage:
    """``key`` for ``job``'s member: it names them and the job."""
    return UserMessage(
        key=key, params={"mention": Mention(user_id=job.user_id), "job": job.id, **params}
    )


def expired(job: Job) -> UserMessage:
    return to_member(MessageKey.RESULT_EXPIRED, job)


def uncertain(job: Job) -> UserMessage:
    return to_member(MessageKey.SUBMIT_UNCERTAIN, job)
