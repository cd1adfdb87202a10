"""A job's states and the only transitions allowed between them."""

from __future__ import annotations

import enum


class JobState(enum.StrEnum):
    """Where a job is in its life. The database row holds it; nothing else is authoritative."""

    RECEIVED = "received"  # row written the moment the command arrived
    PREPARING = "preparing"  # downloading, converting, re-hosting, detecting the face
    # Inputs ready; the member looks at the crop and the estimate first. Holds no provider
    # slot and is no part of the queue: nothing is submitted until someone confirms it.
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    QUEUED = "queued"  # inputs ready, waiting for a provider slot
    SUBMITTING = "submitting"  # written before the submit request: its outcome may be unknown
    SUBMITTED = "submitted"  # the provider holds a task id (PENDING or RUNNING there)
    SUCCEEDED = "succeeded"  # the provider finished; the result URL is stored
    DELIVERING = "delivering"  # written before posting; the post carries the job's nonce
    DELIVERED = "delivered"
    REJECTED = "rejected"  # the member's input is unusable; nothing was billed
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"  # the provider forgot the task or its result before we fetched it

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {JobState.DELIVERED, JobState.REJECTED, JobState.FAILED, JobState.CANCELED, JobState.EXPIRED}
)

ALLOWED_TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.RECEIVED: frozenset(
        {JobState.PREPARING, JobState.REJECTED, JobState.FAILED, JobState.CANCELED}
    ),
    JobState.PREPARING: frozenset(
        {
            JobState.AWAITING_CONFIRMATION,
            JobState.QUEUED,
            JobState.REJECTED,
            JobState.FAILED,
            JobState.CANCELED,
        }
    ),
    # Confirmed: queued. Cancelled, or not confirmed in time: CANCELED (nothing billed). A
    # quota that no longer fits when it is confirmed: REJECTED.
    JobState.AWAITING_CONFIRMATION: frozenset(
        {JobState.QUEUED, JobState.REJECTED, JobState.FAILED, JobState.CANCELED}
    ),
    JobState.QUEUED: frozenset({JobState.SUBMITTING, JobState.FAILED, JobState.CANCELED}),
    JobState.SUBMITTING: frozenset(
        # Back to QUEUED only when the provider certainly did not create a task.
        {JobState.SUBMITTED, JobState.QUEUED, JobState.REJECTED, JobState.FAILED}
    ),
    JobState.SUBMITTED: frozenset(
        # Back to QUEUED once when the provider's own side failed the task (not billed).
        {JobState.SUCCEEDED, JobState.QUEUED, JobState.FAILED, JobState.CANCELED, JobState.EXPIRED}
    ),
    JobState.SUCCEEDED: frozenset({JobState.DELIVERING, JobState.EXPIRED, JobState.FAILED}),
    JobState.DELIVERING: frozenset({JobState.DELIVERED, JobState.EXPIRED, JobState.FAILED}),
}


class IllegalTransitionError(RuntimeError):
    """A transition not in ALLOWED_TRANSITIONS was attempted: a bug, never user input."""


def check_transition(current: JobState, target: JobState) -> None:
    """Raise IllegalTransitionError unless ``current -> target`` is allowed."""
    if target not in ALLOWED_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(f"{current.value} -> {target.value}")
