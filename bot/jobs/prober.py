"""The provider pause and its prober: on an account problem submissions stop for everyone;
a prober checks the account now and then and resumes them once it answers again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.errors import QuietError
from bot.jobs.events import OperatorAlert
from bot.jobs.gate import ProviderGate, ProviderPause
from bot.jobs.models import Job
from bot.messages import MessageKey, UserMessage
from bot.provider.accounts import LONE_ACCOUNT
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderError, ProviderOperatorError
from bot.retry import Backoff
from bot.tasks import Wakeup
from bot.topic import Topic

log = logging.getLogger(__name__)

PROBE_TASK_ID = "emo-bot-account-probe"
MAX_PROBE_INTERVAL = 30 * 60.0


class Prober:
    """Owns the pause: starts it (alerting once), probes, lifts it."""

    def __init__(
        self,
        *,
        gate: ProviderGate,
        client: DashScopeClient,
        alerts: Topic[OperatorAlert],
        interval: float,
        rescan: float,
        on_resume: Callable[[], None],
    ) -> None:
        self._gate = gate
        self._client = client
        self._alerts = alerts
        self._backoff = Backoff(first=interval, cap=MAX_PROBE_INTERVAL, jitter=0.0)
        self._rescan = rescan
        self._on_resume = on_resume
        self._wakeup = Wakeup()

    @property
    def gate(self) -> ProviderGate:
        return self._gate

    async def paused(self) -> bool:
        return await self._gate.current() is not None

    async def pause(self, error: ProviderError) -> None:
        """Stop submissions for everyone; the operator is told once per pause."""
        if await self._gate.pause(error.code, error.message, reference=error.reference):
            params = {"code": error.reference, "message": error.message}
            alert = UserMessage(key=MessageKey.ALERT_PROVIDER_REFUSED, params=params)
            if self._gate.account != LONE_ACCOUNT:
                alert = UserMessage(
                    key=MessageKey.ALERT_ACCOUNT_REFUSED,
                    params={**params, "account": self._gate.label},
                )
            await self._alerts.publish(OperatorAlert(alert))
        self._wakeup.ring()

    async def resume(self, reason: str) -> bool:
        """Lift a pause (an admin said so, or a probe passed)."""
        resumed = await self._gate.resume(reason)
        self._on_resume()
        return resumed

    async def trouble(self, job: Job, error: ProviderError) -> UserMessage:
        """What the member hears when the provider would not take their job; an account
        problem pauses everyone."""
        if isinstance(error, ProviderOperatorError):
            await self.pause(error)
            return UserMessage(key=MessageKey.PROVIDER_UNAVAILABLE, params={"job": job.id})
        log.warning("job %d gave up after provider errors: %s", job.id, error.reference)
        return UserMessage(key=MessageKey.PROVIDER_BUSY, params={"job": job.id})

    async def run_forever(self) -> None:
        """While paused, probe with growing intervals; resume when the account answers.

        A failed pass (the database busy, a bug) is logged and the loop goes on: a prober
        that died would leave the bot paused for good.
        """
        probes = 0
        while True:
            try:
                pause = await self._gate.current()
                if pause is None:
                    probes = 0
                    await self._wakeup.sleep(self._rescan)
                    continue
                probes += 1
                await asyncio.sleep(self._backoff.delay(probes))
                await self._probe(pause)
            except QuietError:
                await self._wakeup.sleep(self._rescan)  # the database is away: logged there
            except Exception:
                log.exception("provider probe failed; trying again")
                await self._wakeup.sleep(self._rescan)

    async def _probe(self, pause: ProviderPause) -> None:
        await self._gate.record_probe(pause)
        try:
            await self._client.get_task(PROBE_TASK_ID)
        except ProviderError as error:
            log.info("provider probe: still refused (%s)", error.reference)
            return
        # The key works again. A billing problem only shows on submit: if it is still
        # there, the next submit pauses again, and the probes go on.
        await self.resume(f"probe passed after {pause.code}")
