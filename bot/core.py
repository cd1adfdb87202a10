"""The core, assembled from the settings: database, provider, media, engine, cards, guilds.

No Discord here. An edge (Discord, the command line) attaches what it shows jobs with, then
``start()`` runs every loop in one place and ``close()`` stops them in one place.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import aiohttp

from bot.cards import sql as cards_sql
from bot.cards.keeper import CardKeeper
from bot.cards.repository import CardRepository
from bot.cards.surface import CardSurface
from bot.cluster import leases as leases_schema
from bot.cluster.duties import Duties, Duty
from bot.cluster.instance import instance_name
from bot.cluster.leases import Leases
from bot.cluster.signals import PostgresSignals, Signals
from bot.db import meta as meta_schema
from bot.db.copy import refuse_if_moved
from bot.db.database import Database
from bot.db.failures import diagnosed
from bot.db.meta import MetaStore
from bot.db.migrations import Schema, migrate
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import SqliteDatabase
from bot.errors import QuietError
from bot.guilds import sql as guilds_sql
from bot.guilds.provider_keys import ProviderKeys, build_provider_keys
from bot.guilds.services import GuildServices, build_guild_services, prices_from
from bot.jobs import schema as jobs_schema
from bot.jobs.edge import ResultChannel
from bot.jobs.engine import Engine, EngineParts
from bot.jobs.events import JobEvent, OperatorAlert, alert_topic, job_topic
from bot.jobs.gate import ProviderGate
from bot.jobs.limits import EngineLimits
from bot.jobs.pool import SIMULATOR_KEY as SIMULATOR_KEY  # the doctor's too
from bot.jobs.pool import AccountAccess, account_setups, provider_accounts
from bot.jobs.preparation import InputPreparer, PreparationLimits, PreparationTarget
from bot.jobs.repository import JobRepository
from bot.jobs.service import AnimateService
from bot.jobs.sql import SqlJobRepository
from bot.jobs.targets import OwnAccountFactory, PreparationTargets
from bot.media.cache import MediaCache
from bot.media.hosting import MediaHost, open_media_host
from bot.media.hosting.dashscope import DashScopeTemporaryHost
from bot.media.sources import SourcePolicy
from bot.ops import Metrics, OpsServer
from bot.provider.accounts import (
    slot_name,
)
from bot.provider.client import DashScopeClient
from bot.settings import MediaHostKind, ProviderKind, Settings
from bot.tasks import BackgroundTasks
from bot.topic import Topic

log = logging.getLogger(__name__)

SCHEMAS: tuple[Schema, ...] = (
    meta_schema.SCHEMA,
    leases_schema.SCHEMA,
    jobs_schema.SCHEMA,
    cards_sql.SCHEMA,
    guilds_sql.SCHEMA,
)
"""Every package's tables, in the order their migrations run (a table before its users)."""


@dataclass(frozen=True)
class Edge:
    """What an edge gives the core: where results go, and how it hears of jobs."""

    results: ResultChannel
    listen: Callable[[JobEvent], Awaitable[None]] | None = None  # progress and notices
    alerts: Callable[[OperatorAlert], Awaitable[None]] | None = None
    cards: CardSurface | None = None  # status cards, where the edge shows them


async def connect_database(settings: Settings) -> Database:
    """The configured database, not migrated: PostgreSQL when EMO_DATABASE_URL names one,
    else SQLite in EMO_DATA_DIR. Raises DatabaseUnavailableError when it cannot be reached."""
    url = settings.database_url
    if url is not None:
        return await PostgresDatabase.open(url, max_connections=settings.emo_database_pool_size)
    return await SqliteDatabase.open(
        settings.database_path, busy_timeout=settings.emo_sqlite_busy_timeout_seconds
    )


@contextlib.asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The database, migrated (several processes starting together take turns). A SQLite
    file that cannot be used (read-only, full, damaged) is a StorageError naming why."""
    db = await connect_database(settings)
    try:
        sqlite_file = settings.database_path if settings.database_url is None else None
        with diagnosed(sqlite_file):
            await migrate(db, SCHEMAS)
        if sqlite_file is not None:
            await refuse_if_moved(db)  # copy-db moved this file's jobs to PostgreSQL
        yield db
    finally:
        await db.close()


class Core:
    """Everything the edges need, built once per process."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        session: aiohttp.ClientSession,
        client: DashScopeClient,
        preparer: InputPreparer,
        metrics: Metrics,
        host: MediaHost | None = None,
        accounts: Sequence[AccountAccess] = (),
    ) -> None:
        self.settings = settings
        self.db = db
        self.session = session
        self.client = client
        self.metrics = metrics
        url = settings.database_url
        self.instance = instance_name(settings.emo_instance_name, shared=url is not None)
        self.signals: Signals = (
            PostgresSignals(url, sender=self.instance) if url is not None else Signals()
        )
        limits = engine_limits(settings)
        self.events: Topic[JobEvent] = job_topic()
        self.alerts: Topic[OperatorAlert] = alert_topic()
        self.meta = MetaStore(db)
        self.jobs: JobRepository = SqlJobRepository(db)
        self.cards: CardRepository = cards_sql.SqlCardRepository(db)
        self.cache = MediaCache(settings.media_dir)
        # Servers' own provider keys: the engine is told when one is set or cleared.
        self.provider_keys: ProviderKeys = build_provider_keys(
            settings,
            db=db,
            session=session,
            base_url=client.base_url,
            task_holders=self.jobs.task_holders,  # another key of an account in use: refused
            on_change=lambda: self.engine.keys_changed(),
            pause_of=self._pause_code,
        )
        self.guilds: GuildServices = build_guild_services(
            settings,
            jobs=self.jobs,
            guilds=guilds_sql.SqlGuildRepository(db),
            cache=self.cache,
            host=host,  # retention deletes the re-hosted copies with the inputs
            accounts=self.provider_keys,  # a server on its own key sets its own limits
        )
        # A server's own key becomes an account of the engine's, built like the operator's.
        own_accounts = OwnAccountFactory(
            session=session,
            base_url=client.base_url,
            timeout_seconds=settings.emo_http_timeout_seconds,
            observer=metrics,
            host=host or preparer.default_target.host,
            bound=settings.emo_media_host is MediaHostKind.DASHSCOPE,
            preparer=preparer,
            concurrency=settings.emo_provider_concurrency,
            lookahead=settings.emo_lookahead,
        )
        self.engine = Engine(
            EngineParts(
                jobs=self.jobs,
                meta=self.meta,
                client=client,
                preparer=preparer,
                session=session,
                cache=self.cache,
                admission=self.guilds.admission,
                prices=prices_from(settings),
                limits=limits,
                events=self.events,
                alerts=self.alerts,
                signals=self.signals,
                instance=self.instance,
                accounts=account_setups(accounts, preparer),
                own_keys=self.provider_keys,
                own_setup=own_accounts,
            )
        )
        self.duties: Duties | None = None
        PreparationTargets(
            engine=self.engine,
            shared=[
                PreparationTarget(access.bound_to, access.client, access.host, access.name)
                for access in accounts
            ],
            own=own_accounts,
            duties=lambda: self.duties,
        ).install(preparer)
        self.service = AnimateService(self.engine)
        self.events.subscribe(metrics.job_changed)
        metrics.use_accounts(self.service.accounts)
        self.ops = OpsServer(
            bind=settings.emo_ops_bind,
            metrics=metrics,
            jobs=self.jobs,
            meta=self.meta,
            gate=self.service.gate,
        )
        self.card_keeper = CardKeeper(
            jobs=self.jobs,
            cards=self.cards,
            forecast=self.service.forecast,
            paused=self.engine.intake_paused,
            cache=self.cache,
        )
        self._loops = BackgroundTasks()
        self.leases = Leases(db, owner=self.instance, ttl=timedelta(seconds=limits.lease_seconds))
        self._beat = limits.heartbeat_seconds
        self._cards_shown = False
        self._running = False

    async def _pause_code(self, account: str) -> str | None:
        """The provider's code that paused ``account`` (a server's own), or None."""
        pause = await ProviderGate(self.meta, account).current()
        return pause.code if pause is not None else None

    def attach(self, edge: Edge) -> None:
        """Connect an edge: before ``start()``, so it hears of the jobs resumed then."""
        self.engine.attach(edge.results)
        if edge.listen is not None:
            self.events.subscribe(edge.listen)
        if edge.alerts is not None:
            self.alerts.subscribe(edge.alerts)
        if edge.cards is not None:
            self.card_keeper.attach(edge.cards)
            self.events.subscribe(self.card_keeper.on_event)
            self._cards_shown = True

    async def start(self) -> None:
        """Run everything: the engine (taking over every unfinished job), then the duties
        this process holds among those sharing the database: the provider account, the
        media retention, the card sweep."""
        if self._running:
            return
        self._running = True
        await self.signals.start()
        await self.engine.start()
        duties = [*self.engine.duties(), Duty("retention", self.guilds.retention.run_forever)]
        if self._cards_shown:
            duties.append(Duty("card-sweep", self.card_keeper.sweep_forever))
        self.duties = Duties(self.leases, duties, beat_seconds=self._beat)
        # Servers' own accounts are duties too (the database away: the roster's loop syncs).
        with contextlib.suppress(QuietError):
            await self.engine.own.sync(self.duties)
        await self.duties.beat()  # the free duties start now, not a beat later
        self._loops.spawn(self.engine.own.run_forever(self.duties), name="own accounts")
        self._loops.spawn(self.duties.run_forever(), name="duties")

    async def close(self) -> None:
        """Stop everything started; submits and row writes under way finish first, and the
        duties are handed back for another process to take at once (idempotent)."""
        if not self._running:
            return
        self._running = False
        await self._loops.cancel_all()
        if self.duties is not None:
            await self.duties.close()
        await self.card_keeper.close()
        await self.engine.close()
        await self.signals.close()


def engine_limits(settings: Settings) -> EngineLimits:
    return EngineLimits(
        provider_concurrency=settings.emo_provider_concurrency,
        lookahead=settings.emo_lookahead,
        lookahead_window_seconds=settings.emo_lookahead_window_seconds,
        fairness_window_seconds=settings.emo_fairness_window_seconds,
        poll_min_seconds=settings.emo_poll_min_seconds,
        poll_max_seconds=settings.emo_poll_max_seconds,
        query_budget_per_second=settings.emo_query_budget_per_second,
        provider_retries=settings.emo_provider_retries,
        retry_base_delay=settings.emo_retry_base_seconds,
        submit_timeout_seconds=settings.emo_http_timeout_seconds,
        max_result_bytes=settings.emo_max_result_bytes,
        result_hosts=settings.emo_result_hosts,
        render_seconds_per_audio_second=settings.emo_render_seconds_per_audio_second,
        stuck_task_seconds=settings.emo_stuck_task_seconds,
        probe_interval_seconds=settings.emo_probe_interval_seconds,
        lease_seconds=settings.emo_lease_seconds,
        max_active_per_member=settings.emo_max_active_per_member,
        max_queued_per_server=settings.emo_max_queued_per_server,
        confirm_timeout_seconds=settings.emo_confirm_timeout_seconds,
    )


@contextlib.asynccontextmanager
async def open_core(settings: Settings, *, local_files: bool = False) -> AsyncIterator[Core]:
    """Open the database, the HTTP session and (if asked) the in-process simulator.

    ``local_files`` lets jobs name ``file://`` inputs: for the command line only.
    """
    accounts = provider_accounts(settings)
    async with contextlib.AsyncExitStack() as stack:
        base_url = str(settings.dashscope_base_url)
        if settings.emo_provider is ProviderKind.SIMULATOR:
            base_url = await stack.enter_async_context(_in_process_simulator())
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        )
        metrics = Metrics()
        db = await stack.enter_async_context(open_database(settings))
        clients = [
            DashScopeClient(
                session,
                base_url,
                account.key,
                timeout_seconds=settings.emo_http_timeout_seconds,
                observer=metrics,
            )
            for account in accounts
        ]
        client = clients[0]
        host = await stack.enter_async_context(
            open_media_host(settings, client=client, session=session)
        )
        several = len(accounts) > 1
        bound = several and settings.emo_media_host is MediaHostKind.DASHSCOPE
        access = [
            AccountAccess(
                account=account,
                name=slot_name(account, accounts),
                client=own,
                host=DashScopeTemporaryHost(own) if bound else host,
                bound_to=slot_name(account, accounts) if bound else None,
            )
            for account, own in zip(accounts, clients, strict=True)
        ]
        if several:
            log.info("provider accounts: %s", ", ".join(f"{a.label} ({a.id})" for a in accounts))
        preparer = InputPreparer(
            session=session,
            client=client,
            host=host,
            cache=MediaCache(settings.media_dir),
            limits=PreparationLimits(
                sources=SourcePolicy.https_from(
                    settings.attachment_hosts, trusted_urls=settings.configured_discord_urls
                ),
                max_input_bytes=settings.emo_max_input_bytes,
                max_pixels=settings.emo_max_image_pixels,
                max_image_side=settings.emo_max_image_side,
                provider_retries=settings.emo_provider_retries,
                allow_local_files=local_files,
                max_preparations=settings.emo_max_preparations,
            ),
        )
        core = Core(
            settings=settings,
            db=db,
            session=session,
            client=client,
            preparer=preparer,
            metrics=metrics,
            host=host,
            accounts=access if several else (),
        )
        stack.push_async_callback(core.close)
        await stack.enter_async_context(core.ops.running())
        yield core


@contextlib.asynccontextmanager
async def _in_process_simulator() -> AsyncIterator[str]:
    # Imported here: the simulator's detector is an optional extra.
    from bot.simulator import Simulator

    simulator = Simulator()
    await simulator.start(host="127.0.0.1", port=0)
    log.warning("EMO_PROVIDER=simulator: videos are simulated locally at %s", simulator.base_url)
    try:
        yield simulator.base_url
    finally:
        await simulator.close()
