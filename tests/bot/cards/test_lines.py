"""What the status card says in each state, decided from the row alone."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.cards.lines import can_cancel, can_retry, card_lines
from bot.jobs.forecast import Spot
from bot.jobs.planning import DurationModel, forecast_ready
from bot.jobs.states import JobState
from bot.messages import PLAIN, Markup, MessageLink, render
from tests.bot.jobs.test_planning import NOW, job


def _when(moment: datetime) -> str:
    return f"<t:{int(moment.timestamp())}:R>"


def _link(target: MessageLink) -> str:
    return f"https://x/{target.message_id}"


# The edge's markup, as a test writes it: the core hands it typed values, never markup.
EDGE = Markup(mention=lambda user_id: f"<@{user_id}>", moment=_when, link=_link)


def _card(markup: Markup = EDGE, **fields: object) -> str:
    row = job(7, 1, **fields)
    spot = Spot(ahead=2, ready_at=NOW + timedelta(minutes=3))
    lines = card_lines(row, spot=spot, paused=False)
    return "\n".join(render(line, "en-US", markup) for line in lines)


def test_a_queued_card_shows_the_place_the_eta_and_the_estimate() -> None:
    text = _card(state=JobState.QUEUED, estimate_usd=0.1147)
    assert "2 ahead" in text
    assert f"<t:{int((NOW + timedelta(minutes=3)).timestamp())}:R>" in text
    assert "$0.11" in text
    assert "Retry" not in text


def test_a_paused_card_says_whose_attention_it_needs() -> None:
    def paused(**fields: object) -> str:
        lines = card_lines(job(7, 1, state=JobState.QUEUED, **fields), spot=None, paused=True)
        return "\n".join(render(line, "en-US", EDGE) for line in lines)

    assert "needs the bot operator's attention" in paused()
    own = paused(own_account="own-1-acct-000000000000")
    assert "this server's own DashScope key was refused" in own
    assert "`/emo-admin provider-key status`" in own
    assert "operator" not in own


def test_a_rendering_card_shows_since_when() -> None:
    started = NOW - timedelta(seconds=40)
    text = _card(state=JobState.SUBMITTED, started_at=started)
    assert f"Rendering since {_when(started)}" in text


def test_a_failed_card_says_why_and_what_to_do() -> None:
    text = _card(state=JobState.FAILED, error_key="provider_busy", error_detail='{"job": 7}')
    assert "❌" in text
    assert "Try again in a few minutes" in text
    assert "React 🔁" in text


def test_a_delivered_card_links_the_result_and_shows_the_real_cost() -> None:
    text = _card(state=JobState.DELIVERED, message_id=5, cost_usd=0.2294, video_seconds=20.0)
    assert "https://x/5" in text
    assert "$0.23 for 20.0 s" in text
    assert "Estimated" not in text


@pytest.mark.parametrize(
    ("state", "started", "cancel", "retry"),
    [
        (JobState.PREPARING, False, True, False),
        (JobState.QUEUED, False, True, False),
        (JobState.SUBMITTED, False, True, False),
        (JobState.SUBMITTED, True, False, False),
        (JobState.DELIVERED, True, False, True),
        (JobState.REJECTED, False, False, False),
        (JobState.CANCELED, False, False, True),
    ],
)
def test_the_buttons_offered_in_each_state(
    state: JobState, started: bool, cancel: bool, retry: bool
) -> None:
    row = job(1, 1, state=state, started_at=NOW if started else None)
    assert (can_cancel(row), can_retry(row)) == (cancel, retry)


def test_the_forecast_queues_behind_the_tasks_in_flight() -> None:
    model = DurationModel(rate=2.0)  # 10 s of audio -> 20 s of rendering
    ends = {1: NOW + timedelta(seconds=30)}
    ready = forecast_ready([job(2, 1), job(3, 2)], ends, model, concurrency=1, now=NOW)
    assert ready[2] == NOW + timedelta(seconds=50)
    assert ready[3] == NOW + timedelta(seconds=70)


@pytest.mark.parametrize(
    "fields",
    [
        {"state": JobState.QUEUED},
        {"state": JobState.SUBMITTED, "started_at": NOW},
        {"state": JobState.DELIVERED, "message_id": 5},
        {"state": JobState.FAILED, "error_key": "render_failed", "error_detail": '{"reason": "x"}'},
    ],
)
def test_the_core_writes_no_discord_markup(fields: dict[str, object]) -> None:
    text = _card(PLAIN, **fields)
    assert "<@" not in text
    assert "<t:" not in text
    assert "discord.com" not in text
    assert "#7" in text  # the job is still named
