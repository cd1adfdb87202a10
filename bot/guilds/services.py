"""Everything server administration offers the edges, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock, system_clock
from bot.guilds.accounts import AccountPlans, SharedAccountsOnly
from bot.guilds.admission import GuildAdmission
from bot.guilds.audit import JobAudit
from bot.guilds.ceilings import CeilingSettingsStore, operator_ceilings
from bot.guilds.repository import GuildRepository
from bot.guilds.retention import MediaJanitor, RetentionPolicy
from bot.guilds.settings import GuildSettingsStore, bot_defaults
from bot.guilds.total_budget import BotWideBudget
from bot.guilds.usage import UsageReports
from bot.jobs.repository import JobRepository
from bot.media.cache import MediaCache
from bot.media.hosting import MediaHost
from bot.provider.pricing import Prices
from bot.settings import Settings


@dataclass(frozen=True)
class GuildServices:
    """Per-server settings, admission (caps, quotas, budget), usage, audit and retention."""

    settings: GuildSettingsStore
    admission: GuildAdmission
    usage: UsageReports
    audit: JobAudit
    retention: MediaJanitor


def prices_from(settings: Settings) -> Prices:
    return Prices(
        head_usd_per_second=settings.emo_price_head_usd_per_second,
        half_body_usd_per_second=settings.emo_price_half_body_usd_per_second,
    )


def build_guild_services(
    settings: Settings,
    *,
    jobs: JobRepository,
    guilds: GuildRepository,
    cache: MediaCache,
    host: MediaHost | None = None,
    accounts: AccountPlans | None = None,
    clock: Clock = system_clock,
) -> GuildServices:
    """Wire the services to the repositories; ``host`` is where inputs were re-hosted (their
    copies are deleted with them); ``accounts`` says which servers run on an account of their
    own (none until they can bring their own key); ``clock`` is for tests that move time."""
    accounts = accounts or SharedAccountsOnly()
    prices = prices_from(settings)
    store = CeilingSettingsStore(
        guilds,
        bot_defaults(settings),
        clock,
        ceilings=operator_ceilings(settings),
        accounts=accounts,
    )
    total = BotWideBudget(
        settings.emo_total_monthly_budget_usd, accounts=accounts, prices=prices, clock=clock
    )
    return GuildServices(
        settings=store,
        admission=GuildAdmission(jobs=jobs, guilds=store, prices=prices, total=total, clock=clock),
        usage=UsageReports(jobs, store, clock),
        audit=JobAudit(jobs),
        retention=MediaJanitor(
            jobs=jobs,
            guilds=guilds,
            cache=cache,
            policy=RetentionPolicy(
                inputs=timedelta(hours=settings.emo_input_retention_hours),
                outputs=timedelta(hours=settings.emo_output_retention_hours),
                interval=timedelta(seconds=settings.emo_cleanup_interval_seconds),
            ),
            host=host,
            clock=clock,
        ),
    )
