"""What the engine tells the rest of the bot: every change of a job, and operator alerts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.jobs.models import Job
from bot.jobs.states import JobState
from bot.messages import UserMessage
from bot.topic import Topic


@dataclass(frozen=True)
class JobEvent:
    """A job's row changed (``before`` is None for a new job). ``notice`` is what the member
    must be told, when the change is one they should hear of (a failure)."""

    before: Job | None
    after: Job
    notice: UserMessage | None = None

    @property
    def state_changed(self) -> bool:
        return self.before is None or self.before.state is not self.after.state

    def entered(self, *states: JobState) -> bool:
        """The change moved the job into one of ``states``."""
        return self.state_changed and self.after.state in states

    def left(self, *states: JobState) -> bool:
        """The change moved the job out of one of ``states``."""
        return self.before is not None and self.state_changed and self.before.state in states


@dataclass(frozen=True)
class OperatorAlert:
    """A problem only the bot's operator can fix. ``guild_id``: it concerns that server's
    job, whose admins hear of it too."""

    message: UserMessage
    guild_id: int | None = None
    # False: the server's own concern (its own provider key), for its alert channel only.
    operator: bool = True


def job_topic() -> Topic[JobEvent]:
    return Topic("job changes")


def alert_topic() -> Topic[OperatorAlert]:
    return Topic("operator alerts")
