"""Server administration's answers as text, from the core's typed reports.

Every word comes from bot/messages.py; this module only arranges values and keeps the
answer within Discord's 2,000 characters.
"""

from __future__ import annotations

from datetime import datetime

from bot.guilds.audit import AuditEntry, AuditPage
from bot.guilds.ceilings import shown
from bot.guilds.money import usd
from bot.guilds.retention import Erased
from bot.guilds.settings import GuildSettings, SettingChange, SettingName
from bot.guilds.usage import MemberUsage, ServerUsage
from bot.jobs.ledger import Totals
from bot.messages import MessageKey, Param, UserMessage, render

MESSAGE_LIMIT = 2000
_BUDGET = 1900  # room for the closing line
MEMBERS_SHOWN = 15
HASH_SHOWN = 8


def text(key: MessageKey, locale: str, **params: Param) -> str:
    return render(UserMessage(key=key, params=params), locale)


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def settings_view(settings: GuildSettings, locale: str) -> str:
    """Every setting's effective value, the server's own ones marked."""

    def channel(channel_id: int | None, fallback: MessageKey) -> str:
        return f"<#{channel_id}>" if channel_id else text(fallback, locale)

    def limit(value: float | None, shown: str) -> str:
        return shown if value is not None else text(MessageKey.VALUE_NO_LIMIT, locale)

    yes_no = MessageKey.VALUE_YES if settings.dm_delivery else MessageKey.VALUE_NO
    confirm = MessageKey.VALUE_YES if settings.confirm_before_spending else MessageKey.VALUE_NO
    values: dict[SettingName, str] = {
        SettingName.OUTPUT_CHANNEL: channel(
            settings.output_channel_id, MessageKey.VALUE_COMMAND_CHANNEL
        ),
        SettingName.QUEUE_CAP: str(settings.queue_cap),
        SettingName.ACTIVE_PER_MEMBER: str(settings.active_per_member),
        SettingName.SECONDS_PER_DAY: limit(settings.seconds_per_day, f"{settings.seconds_per_day}"),
        SettingName.MONTHLY_BUDGET: limit(
            settings.monthly_budget_usd, f"${usd(settings.monthly_budget_usd or 0)}"
        ),
        SettingName.DEFAULT_STYLE: settings.default_style.value,
        SettingName.DEFAULT_FRAMING: settings.default_framing.value,
        SettingName.DM_DELIVERY: text(yes_no, locale),
        SettingName.ALERT_CHANNEL: channel(settings.alert_channel_id, MessageKey.VALUE_LOG_ONLY),
        SettingName.CONFIRM_BEFORE_SPENDING: text(confirm, locale),
    }
    params: dict[str, Param] = {
        name.value: _with_ceiling(
            settings, name, f"{value} ✱" if name in settings.overridden else value, locale
        )
        for name, value in values.items()
    }
    return render(UserMessage(key=MessageKey.SETTINGS_VIEW, params=params), locale)


def _with_ceiling(settings: GuildSettings, name: SettingName, value: str, locale: str) -> str:
    """``value`` with the operator's ceiling over it, or the server's own value above it."""
    ceiling = settings.ceilings.get(name)
    if ceiling is None:
        return value
    dollars = "$" if name is SettingName.MONTHLY_BUDGET else ""
    stored = settings.clamped.get(name)
    if stored is not None:
        own = f"{dollars}{shown(name, stored)}"
        return text(MessageKey.VALUE_CLAMPED, locale, value=value, stored=own)
    limit = f"{dollars}{shown(name, ceiling)}"
    return text(MessageKey.VALUE_CEILING, locale, value=value, ceiling=limit)


def names(settings: list[SettingName]) -> str:
    return ", ".join(f"`{name.option}`" for name in settings)


def history(changes: list[SettingChange], locale: str) -> str:
    if not changes:
        return text(MessageKey.SETTINGS_HISTORY_EMPTY, locale)
    default = text(MessageKey.SETTINGS_HISTORY_DEFAULT, locale)
    lines = [
        text(
            MessageKey.SETTINGS_HISTORY_LINE,
            locale,
            at=_unix(change.changed_at),
            member=f"<@{change.changed_by}>",
            setting=change.name.option,
            old=change.old_value or default,
            new=change.new_value or default,
        )
        for change in changes
    ]
    return _fit(lines, "")


def _line(who: str, totals: Totals, locale: str) -> str:
    return text(
        MessageKey.USAGE_LINE,
        locale,
        who=who,
        seconds=round(totals.seconds, 1),
        jobs=totals.jobs,
        cost=usd(totals.cost_usd),
    )


def member_usage(report: MemberUsage, locale: str) -> str:
    if report.seconds_per_day is None:
        allowance = text(MessageKey.VALUE_NO_LIMIT, locale)
    else:
        allowance = text(
            MessageKey.USAGE_ALLOWANCE,
            locale,
            left=round(max(0.0, report.seconds_per_day - report.today.seconds), 1),
            limit=report.seconds_per_day,
            resets_at=_unix(report.day_resets_at),
        )
    return text(
        MessageKey.USAGE_MEMBER,
        locale,
        member=f"<@{report.user_id}>",
        today_seconds=round(report.today.seconds, 1),
        today_jobs=report.today.jobs,
        today_cost=usd(report.today.cost_usd),
        month_seconds=round(report.month.seconds, 1),
        month_jobs=report.month.jobs,
        month_cost=usd(report.month.cost_usd),
        allowance=allowance,
    )


def server_usage(report: ServerUsage, locale: str) -> str:
    none = text(MessageKey.USAGE_NONE, locale)
    members = [_line(f"<@{user}>", totals, locale) for user, totals in report.by_member]
    if len(members) > MEMBERS_SHOWN:
        hidden = len(members) - MEMBERS_SHOWN
        members = [*members[:MEMBERS_SHOWN], text(MessageKey.USAGE_MORE, locale, count=hidden)]
    months = [_line(month, totals, locale) for month, totals in report.by_month]
    if report.monthly_budget_usd is None:
        budget = text(MessageKey.VALUE_NO_LIMIT, locale)
    else:
        budget = text(
            MessageKey.USAGE_BUDGET,
            locale,
            spent=usd(report.month.cost_usd),
            budget=usd(report.monthly_budget_usd),
            resets_at=_unix(report.month_resets_at),
        )
    return _clip(
        text(
            MessageKey.USAGE_SERVER,
            locale,
            seconds=round(report.month.seconds, 1),
            jobs=report.month.jobs,
            cost=usd(report.month.cost_usd),
            budget=budget,
            members="\n".join(members) or none,
            months="\n".join(months) or none,
        )
    )


def _cost(entry: AuditEntry, locale: str) -> str:
    if entry.cost_usd is not None:
        return f"${usd(entry.cost_usd)}"
    if entry.state.is_terminal or entry.estimate_usd is None:
        return text(MessageKey.AUDIT_NOT_BILLED, locale)
    return text(MessageKey.AUDIT_ESTIMATE, locale, cost=usd(entry.estimate_usd))


def _audit_line(entry: AuditEntry, locale: str) -> str:
    asked = entry.requested_by not in (None, entry.user_id)
    seconds = entry.video_seconds if entry.video_seconds is not None else entry.audio_seconds
    return text(
        MessageKey.AUDIT_LINE,
        locale,
        job=entry.job_id,
        created=_unix(entry.created_at),
        member=f"<@{entry.user_id}>",
        requested_by=(
            text(MessageKey.AUDIT_REQUESTED_BY, locale, member=f"<@{entry.requested_by}>")
            if asked
            else ""
        ),
        channel=f"<#{entry.channel_id}>",
        state=entry.state.value,
        seconds=round(seconds, 1) if seconds is not None else "?",
        cost=_cost(entry, locale),
        image=(entry.image_sha256 or "-")[:HASH_SHOWN],
        audio=(entry.audio_sha256 or "-")[:HASH_SHOWN],
        deleted=text(MessageKey.AUDIT_MEDIA_DELETED, locale) if entry.media_deleted else "",
    )


def audit_page(page: AuditPage, locale: str) -> str:
    if not page.entries:
        return text(MessageKey.AUDIT_EMPTY, locale)
    header = text(
        MessageKey.AUDIT_HEADER, locale, total=page.total, page=page.page, pages=page.pages
    )
    footer = (
        text(MessageKey.AUDIT_NEXT_PAGE, locale, next=page.page + 1)
        if page.page < page.pages
        else ""
    )
    return _fit([header, *(_audit_line(e, locale) for e in page.entries)], footer)


def forgotten(erased: Erased, locale: str) -> str:
    if not erased.jobs and not erased.unfinished:
        return text(MessageKey.FORGET_NOTHING, locale)
    parts = []
    if erased.jobs:
        parts.append(
            text(
                MessageKey.FORGET_DONE,
                locale,
                files=erased.files,
                megabytes=round(erased.bytes / 1024 / 1024, 1),
                jobs=erased.jobs,
            )
        )
    if erased.unfinished:
        parts.append(text(MessageKey.FORGET_PENDING, locale, count=erased.unfinished))
    return "\n\n".join(parts)


def _fit(lines: list[str], footer: str) -> str:
    """As many whole lines as fit, then the footer (the caller pages the rest)."""
    kept: list[str] = []
    used = len(footer) + 1
    for line in lines:
        if used + len(line) + 1 > _BUDGET:
            kept.append("…")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join([*kept, footer] if footer else kept)


def _clip(value: str) -> str:
    return value if len(value) <= MESSAGE_LIMIT else value[: MESSAGE_LIMIT - 1] + "…"
