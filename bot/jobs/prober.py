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
from bot.messages import MessageKey, Param, UserMessage
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
        guild_id: int | None = None,
    ) -> None:
        self._gate = gate
        self._client = client
        self._alerts = alerts
        self._backoff = Backoff(first=interval, cap=MAX_PROBE_INTERVAL, jitter=0.0)
        self._rescan = rescan
        self._on_resume = on_resume
        self._guild_id = guild_id  # a server's own account: its admins are told, not ours
        self._wakeup = Wakeup()

    @property
    def gate(self) -> ProviderGate:
        return self._gate

    async def paused(self) -> bool:
        return await self._gate.current() is not None

    async def pause(self, error: ProviderError) -> None:
        """Stop this account's submissions; told once per pause: the operator, or for a
        server's own account, that server's admins (in its alert channel)."""
        if await self._gate.pause(error.code, error.message, reference=error.reference):
            await self._alerts.publish(self._alert(error))
        self._wakeup.ring()

    def _alert(self, error: ProviderError) -> OperatorAlert:
        params: dict[str, Param] = {"code": error.reference, "message": error.message}
        if self._guild_id is not None:
            message = UserMessage(key=MessageKey.ALERT_OWN_KEY_REFUSED, params=params)
            return OperatorAlert(message, guild_id=self._guild_id, operator=False)
        if self._gate.account == LONE_ACCOUNT:
            return OperatorAlert(UserMessage(key=MessageKey.ALERT_PROVIDER_REFUSED, params=params))
        params["account"] = self._gate.label
        return OperatorAlert(UserMessage(key=MessageKey.ALERT_ACCOUNT_REFUSED, params=params))

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
