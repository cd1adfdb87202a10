"""Everything server administration offers the edges, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.guilds.admission import Admission
from bot.guilds.audit import JobAudit
from bot.guilds.clock import Clock, system_clock
from bot.guilds.retention import MediaJanitor, RetentionPolicy
from bot.guilds.settings import GuildSettingsStore, bot_defaults
from bot.guilds.usage import UsageReports
from bot.jobs.store import JobStore
from bot.provider.pricing import Prices
from bot.settings import Settings


@dataclass(frozen=True)
class GuildServices:
    """Per-server settings, admission (caps, quotas, budget), usage, audit and retention."""

    settings: GuildSettingsStore
    admission: Admission
    usage: UsageReports
    audit: JobAudit
    retention: MediaJanitor

    async def close(self) -> None:
        await self.retention.close()


def prices_from(settings: Settings) -> Prices:
    return Prices(
        head_usd_per_second=settings.emo_price_head_usd_per_second,
        half_body_usd_per_second=settings.emo_price_half_body_usd_per_second,
    )


def build_guild_services(
    settings: Settings, store: JobStore, *, clock: Clock = system_clock
) -> GuildServices:
    """Wire the services to one store; ``clock`` is for tests that move time."""
    guilds = GuildSettingsStore(store, bot_defaults(settings), clock)
    return GuildServices(
        settings=guilds,
        admission=Admission(store=store, guilds=guilds, prices=prices_from(settings), clock=clock),
        usage=UsageReports(store, guilds, clock),
        audit=JobAudit(store),
        retention=MediaJanitor(
            store=store,
            media_dir=settings.media_dir,
            policy=RetentionPolicy(
                inputs=timedelta(hours=settings.emo_input_retention_hours),
                outputs=timedelta(hours=settings.emo_output_retention_hours),
                interval=timedelta(seconds=settings.emo_cleanup_interval_seconds),
            ),
            clock=clock,
        ),
    )
