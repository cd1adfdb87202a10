"""Recovery: every unfinished job carries on from its row, in whichever process is alive.

At start, and at every heartbeat after it, this process renews the leases of the jobs it
works on and takes over the jobs no live process works on (their lease lapsed; or they are
our own name's, from before a restart): RECEIVED and PREPARING are prepared again, SUCCEEDED
and DELIVERING are delivered (with the same nonce). This is also the sweep for work that died
in a live process: a delivery whose task ended without ending its job (the database away,
a cancelled task) stops renewing its lease, and this process takes it up again once the
lease lapses, without a restart (``tests/bot/jobs/test_delivery.py``). The rest is the
provider duty's, which reads its jobs from the rows when it starts: SUBMITTING is settled
from the provider's task list, SUBMITTED is polled, QUEUED is dispatched.
"""

from __future__ import annotations

import asyncio
import logging

from bot.errors import QuietError
from bot.jobs.custody import JobCustody
from bot.jobs.delivery import Delivery
from bot.jobs.intake import Intake
from bot.jobs.states import JobState

log = logging.getLogger(__name__)

PREPARED_HERE = (JobState.RECEIVED, JobState.PREPARING)
DELIVERED_HERE = (JobState.SUCCEEDED, JobState.DELIVERING)


class Recovery:
    def __init__(
        self, *, custody: JobCustody, intake: Intake, delivery: Delivery, beat_seconds: float
    ) -> None:
        self._custody = custody
        self._intake = intake
        self._delivery = delivery
        self._beat = beat_seconds
        self._failing = False

    async def take_over(self) -> int:
        """Carry on the jobs nobody works on; return how many were taken."""
        taken = await self._custody.orphans([*PREPARED_HERE, *DELIVERED_HERE])
        for job in taken:
            if job.state in PREPARED_HERE:
                self._intake.resume(job)
            else:
                self._delivery.soon(job)
        return len(taken)

    async def run_forever(self) -> None:
        """Heartbeat and take over, every beat; a database away only skips a beat."""
        while True:
            try:
                await self._custody.heartbeat()
                await self.take_over()
            except QuietError:
                pass
            except Exception:
                if not self._failing:
                    log.exception("recovery: a beat failed; trying again at the next")
                self._failing = True
            else:
                self._failing = False
            await asyncio.sleep(self._beat)
