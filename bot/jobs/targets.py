"""Which provider account a job's inputs are prepared with, and how a server's own key
becomes an account.

A job pinned to its server's own account is prepared there only: its face check is billed
to that account, and uploads to DashScope's temporary storage are readable by it alone. The
operator's jobs are prepared with the operator's accounts that are not paused, in turn (face
detection may use any account; the uploads are bound to it when the host is DashScope's).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from bot.cluster.duties import Duties
from bot.errors import UserFacingError
from bot.jobs.account_work import AccountSetup
from bot.jobs.engine import Engine
from bot.jobs.models import Job
from bot.jobs.own_accounts import OwnKey
from bot.jobs.preparation import InputPreparer, PreparationTarget
from bot.media.hosting import MediaHost
from bot.media.hosting.dashscope import DashScopeTemporaryHost
from bot.messages import MessageKey
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderOperatorError
from bot.provider.transport import RequestObserver


@dataclass
class OwnAccountFactory:
    """Builds a server's own account from its key: a client of its own, and uploads bound to
    it when the media host is DashScope's temporary storage."""

    session: aiohttp.ClientSession
    base_url: str
    timeout_seconds: float
    observer: RequestObserver | None
    host: MediaHost  # the operator's host: its links work for any account (s3, http)
    bound: bool  # the host is DashScope's: each account uploads for itself
    preparer: InputPreparer
    concurrency: int
    lookahead: int
    targets: dict[str, PreparationTarget] = field(default_factory=dict)

    def __call__(self, key: OwnKey) -> AccountSetup:
        client = DashScopeClient(
            self.session,
            self.base_url,
            key.key,
            timeout_seconds=self.timeout_seconds,
            observer=self.observer,
        )
        host = DashScopeTemporaryHost(client) if self.bound else self.host
        self.targets[key.name] = PreparationTarget(
            key.name if self.bound else None, client, host, key.name
        )
        preparer = self.preparer

        async def rehost(job: Job) -> tuple[str, str]:
            return await preparer.publish_for_synthesis(job, host)

        return AccountSetup(
            name=key.name,
            label=f"server {key.guild_id}",
            client=client,
            concurrency=self.concurrency,
            lookahead=self.lookahead,
            rehost=rehost if self.bound else None,
            guild_id=key.guild_id,
        )


class PreparationTargets:
    """Answers the preparer: the account each job is prepared with."""

    def __init__(
        self,
        *,
        engine: Engine,
        shared: Sequence[PreparationTarget],
        own: OwnAccountFactory,
        duties: Callable[[], Duties | None],
    ) -> None:
        self._engine = engine
        self._shared = list(shared)  # several operator accounts: in the engine's order
        self._default: PreparationTarget | None = None
        self._own = own
        self._duties = duties
        self._turn = 0

    def install(self, preparer: InputPreparer) -> None:
        self._default = preparer.default_target
        preparer.use_targets(self.target, self.refused, tries=max(1, len(self._shared)))

    async def target(self, job: Job) -> PreparationTarget:
        if job.own_account is not None:
            return await self._own_target(job, job.own_account)
        if len(self._shared) < 2:
            assert self._default is not None  # installed
            return self._default
        available = {work.name for work in await self._engine.pool.available()}
        targets = [
            target
            for target, work in zip(self._shared, self._engine.accounts, strict=True)
            if work.name in available
        ]
        self._turn += 1
        return targets[self._turn % len(targets)]

    async def _own_target(self, job: Job, name: str) -> PreparationTarget:
        found = self._own.targets.get(name)
        duties = self._duties()
        if found is None and duties is not None:
            await self._engine.own.sync(duties)  # set a moment ago: not synced here yet
            found = self._own.targets.get(name)
        if found is None or self._engine.own.get(name) is None:
            # The key was cleared and forgotten before this job was prepared.
            raise UserFacingError(MessageKey.OWN_KEY_UNAVAILABLE, job=job.id)
        return found

    async def refused(self, target: PreparationTarget, error: ProviderOperatorError) -> None:
        """An account refused a preparation's call: it pauses (alerting once)."""
        for work in self._engine.every_account():
            if work.name == target.name:
                await work.prober.pause(error)
