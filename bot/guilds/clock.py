"""The time the quotas and the retention go by: injectable, always aware UTC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current moment as an aware UTC datetime (tests pass their own)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of ``moment``'s day: when a member's daily allowance began."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def next_day(moment: datetime) -> datetime:
    """The next midnight UTC: when a member's daily allowance resets."""
    return day_start(moment) + timedelta(days=1)


def month_start(moment: datetime) -> datetime:
    """The first instant of ``moment``'s calendar month (UTC): when a budget month began."""
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    """The first instant of the next calendar month (UTC): when a server's budget resets."""
    start = month_start(moment)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def previous_month(moment: datetime) -> datetime:
    """The first instant of the calendar month before ``moment``'s (UTC)."""
    return month_start(month_start(moment) - timedelta(days=1))


def month_label(moment: datetime) -> str:
    """``YYYY-MM`` of ``moment`` in UTC, as the usage report groups months."""
    return moment.astimezone(UTC).strftime("%Y-%m")
