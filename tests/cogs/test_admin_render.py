"""The admin answers as members read them: complete, marked, and within Discord's 2,000
characters however much there is to show."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.guilds.audit import PAGE_SIZE, AuditEntry, AuditPage
from bot.guilds.retention import Erased
from bot.guilds.settings import GuildSettings, SettingName
from bot.guilds.usage import MemberUsage, ServerUsage
from bot.jobs.ledger import Totals
from bot.jobs.states import JobState
from cogs.shared import reports as render

NOW = datetime(2025, 6, 15, 12, tzinfo=UTC)
BIG = 123456789012345678  # Discord ids are 18-19 digits


def test_the_settings_view_marks_what_the_server_set_and_words_the_defaults() -> None:
    settings = GuildSettings(
        queue_cap=5,
        active_per_member=2,
        seconds_per_day=None,
        monthly_budget_usd=12.5,
        alert_channel_id=None,
        overridden=frozenset({SettingName.QUEUE_CAP, SettingName.MONTHLY_BUDGET}),
    )
    text = render.settings_view(settings, "en-US")
    lines = text.splitlines()
    assert "Videos waiting in this server's queue, at most: 5 ✱" in lines
    assert "Videos on their way per member, at most: 2" in lines
    assert "Seconds of video per member per day (UTC): no limit" in lines
    assert "Monthly budget (USD, UTC calendar month): $12.50 ✱" in lines
    assert "Output channel: the channel where the command is used" in lines
    assert "Operator alerts: the bot's log only" in lines
    assert "Results by direct message allowed: yes" in lines


def _entry(job_id: int) -> AuditEntry:
    return AuditEntry(
        job_id=job_id,
        user_id=BIG,
        requested_by=BIG + 1,
        channel_id=BIG + 2,
        state=JobState.SUBMITTED,
        created_at=NOW,
        audio_seconds=59.9,
        video_seconds=None,
        cost_usd=None,
        estimate_usd=1.37,
        image_sha256="f" * 64,
        audio_sha256="e" * 64,
        media_deleted=True,
    )


def test_a_full_audit_page_fits_in_one_message_with_the_next_page_named() -> None:
    page = AuditPage(
        entries=[_entry(100_000 + n) for n in range(PAGE_SIZE)], page=1, pages=3, total=20
    )
    text = render.audit_page(page, "en-US")
    assert len(text) <= render.MESSAGE_LIMIT
    lines = text.splitlines()
    assert lines[0] == "**Jobs of this server**: 20 found, page 1 of 3, newest first"
    assert len(lines) == PAGE_SIZE + 2
    assert lines[1] == (
        f"#100000 <t:{int(NOW.timestamp())}:f> <@{BIG}> (asked by <@{BIG + 1}>) in <#{BIG + 2}>:"
        " submitted, 59.9 s, about $1.37; image `ffffffff`, audio `eeeeeeee` (media deleted)"
    )
    assert lines[-1] == "Older jobs: `page:2`."


def test_an_overlong_page_is_cut_at_a_whole_line() -> None:
    long_entries = [_entry(n).model_copy(update={"image_sha256": None}) for n in range(40)]
    text = render.audit_page(AuditPage(entries=long_entries, page=1, pages=1, total=40), "en")
    assert len(text) <= render.MESSAGE_LIMIT
    assert text.splitlines()[-1] == "…"


def test_the_server_usage_lists_the_top_members_and_counts_the_rest() -> None:
    members = [(BIG + n, Totals(jobs=1, seconds=10, cost_usd=0.11)) for n in range(40)]
    report = ServerUsage(
        guild_id=1,
        month=Totals(jobs=40, seconds=400, cost_usd=4.4),
        monthly_budget_usd=None,
        month_resets_at=datetime(2025, 7, 1, tzinfo=UTC),
        by_member=members,
        by_month=[("2025-06", Totals(jobs=40, seconds=400, cost_usd=4.4))],
    )
    text = render.server_usage(report, "en-US")
    assert len(text) <= render.MESSAGE_LIMIT
    assert f"<@{BIG}>: 10.0 s in 1 videos, $0.110" in text
    assert "…and 25 more" in text
    assert "2025-06: 400.0 s in 40 videos, $4.40" in text
    assert "Budget: no limit." in text


def test_a_members_usage_shows_what_is_left_of_the_allowance() -> None:
    report = MemberUsage(
        user_id=7,
        today=Totals(jobs=2, seconds=20, cost_usd=0.23),
        month=Totals(jobs=5, seconds=50, cost_usd=0.57),
        seconds_per_day=60,
        day_resets_at=datetime(2025, 6, 16, tzinfo=UTC),
    )
    text = render.member_usage(report, "en-US")
    assert "Today (UTC): 20.0 s of video in 2 videos, $0.230" in text
    midnight = int(datetime(2025, 6, 16, tzinfo=UTC).timestamp())
    assert f"Daily allowance: 40.0 s of 60 s left, resets <t:{midnight}:R>" in text


def test_forget_says_what_was_deleted_and_what_waits() -> None:
    assert render.forgotten(Erased(), "en") == (
        "I keep no files of yours: there was nothing to delete."
    )
    both = render.forgotten(Erased(jobs=2, files=9, bytes=3 * 1024 * 1024, unfinished=1), "en")
    assert both.startswith("Deleted 9 stored files (3.0 MB) of 2 of your finished videos")
    assert "1 of your videos are still on their way" in both
