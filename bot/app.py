"""Assembles the core (store, provider, media, service) from the settings. No Discord here."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from pydantic import SecretStr

from bot.guilds.services import GuildServices, build_guild_services
from bot.jobs.preparation import InputPreparer, PreparationLimits
from bot.jobs.service import AnimateService, EngineLimits
from bot.jobs.store import JobStore
from bot.media.hosting import open_media_host
from bot.ops import Metrics, OpsServer
from bot.provider.client import DashScopeClient
from bot.settings import ProviderKind, Settings

log = logging.getLogger(__name__)

SIMULATOR_KEY = "sk-simulator"


@dataclass(frozen=True)
class Core:
    """Everything the edges need, built once per process."""

    settings: Settings
    store: JobStore
    service: AnimateService
    session: aiohttp.ClientSession
    metrics: Metrics
    ops: OpsServer  # /healthz, /readyz, /metrics; the Discord edge gives it its gateway check
    guilds: GuildServices  # per-server settings, quotas and budget, usage, audit, retention


@contextlib.asynccontextmanager
async def open_core(settings: Settings, *, local_files: bool = False) -> AsyncIterator[Core]:
    """Open the database, the HTTP session and (if asked) the in-process simulator.

    ``local_files`` lets jobs name ``file://`` inputs: for the command line only.
    """
    async with contextlib.AsyncExitStack() as stack:
        base_url, api_key = str(settings.dashscope_base_url), settings.dashscope_api_key
        if settings.emo_provider is ProviderKind.SIMULATOR:
            base_url = await stack.enter_async_context(_in_process_simulator())
            api_key = api_key or SecretStr(SIMULATOR_KEY)
        assert api_key is not None  # the settings refuse a missing key for the real provider
        session = await stack.enter_async_context(
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32))
        )
        metrics = Metrics()
        store = JobStore(settings.database_path)
        store.add_observer(metrics.job_moved)
        await store.open()
        stack.push_async_callback(store.close)
        guilds = build_guild_services(settings, store)
        stack.push_async_callback(guilds.close)
        client = DashScopeClient(
            session,
            base_url,
            api_key,
            timeout_seconds=settings.emo_http_timeout_seconds,
            observer=metrics,
        )
        host = await stack.enter_async_context(
            open_media_host(settings, client=client, session=session)
        )
        preparer = InputPreparer(
            session=session,
            client=client,
            host=host,
            media_dir=settings.media_dir,
            limits=PreparationLimits(
                allowed_hosts=frozenset(settings.emo_attachment_hosts),
                max_input_bytes=settings.emo_max_input_bytes,
                max_pixels=settings.emo_max_image_pixels,
                max_image_side=settings.emo_max_image_side,
                provider_retries=settings.emo_provider_retries,
                allow_local_files=local_files,
            ),
        )
        service = AnimateService(
            store=store,
            client=client,
            preparer=preparer,
            session=session,
            admission=guilds.admission,
            limits=EngineLimits(
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
                render_seconds_per_audio_second=settings.emo_render_seconds_per_audio_second,
                stuck_task_seconds=settings.emo_stuck_task_seconds,
                probe_interval_seconds=settings.emo_probe_interval_seconds,
                max_active_per_member=settings.emo_max_active_per_member,
                max_queued_per_server=settings.emo_max_queued_per_server,
            ),
        )
        stack.push_async_callback(service.close)
        ops = OpsServer(bind=settings.emo_ops_bind, metrics=metrics, store=store, gate=service.gate)
        await stack.enter_async_context(ops.running())
        yield Core(
            settings=settings,
            store=store,
            service=service,
            session=session,
            metrics=metrics,
            ops=ops,
            guilds=guilds,
        )


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
