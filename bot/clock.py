"""The time the bot goes by: injectable, always aware UTC, and the UTC calendar it counts in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""Returns the current moment as an aware UTC datetime (tests pass their own)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


system_clock: Clock = utcnow


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored moment (an ISO string from SQLite, a datetime from elsewhere) as aware UTC."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
