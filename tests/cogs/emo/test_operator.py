"""``/emo-operator accounts``' text: one line per account, within one Discord message."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.jobs.account_report import AccountStatus, PauseReason
from cogs.emo.operator import accounts_text

SINCE = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)


def _status(number: int, *, paused: bool = False) -> AccountStatus:
    return AccountStatus(
        name=f"acct-{number:012x}",
        label=f"server-{number}-own-account",
        slots_busy=1,
        slots_total=2,
        waiting=7,
        pause=PauseReason(code="InvalidApiKey", since=SINCE) if paused else None,
        spent_month_usd=0.115,
    )


def test_each_account_is_one_line_with_its_label_and_id() -> None:
    text = accounts_text([_status(1), _status(2, paused=True)], "en-US")
    assert text.splitlines() == [
        "Provider accounts: 2. Spend is this UTC calendar month's, as billed.",
        "**server-1-own-account (acct-000000000001)**: active, 1/2 slots busy, 7 waiting in the"
        " queue, $0.115 spent this month",
        "**server-2-own-account (acct-000000000002)**: paused since"
        f" <t:{int(SINCE.timestamp())}:R> (InvalidApiKey), 1/2 slots busy, 7 waiting in the"
        " queue, $0.115 spent this month",
    ]


def test_many_accounts_fit_one_message_and_the_rest_are_counted() -> None:
    statuses = [_status(number, paused=number % 2 == 0) for number in range(200)]
    for locale in ("en-US", "ja", "zh-CN"):
        lines = accounts_text(statuses, locale).split("\n")
        assert len("\n".join(lines)) <= 2000
        shown = [line for line in lines if line.startswith("**")]
        assert 10 < len(shown) < 200
        assert str(200 - len(shown)) in lines[-1]
        if locale == "en-US":
            assert lines[-1] == f"…and {200 - len(shown)} more accounts."
