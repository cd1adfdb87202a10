"""The card before anything is spent: what will be made, the Confirm a job waits for, and a
half-body refusal's way out at 1:1; in every language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cards.lines import can_cancel, can_confirm, can_reframe, can_retry, card_view
from bot.jobs.models import Box, Framing, Style
from bot.jobs.states import JobState
from bot.messages import Markup, render
from tests.bot.jobs.test_planning import NOW, job

EDGE = Markup(
    mention=lambda user_id: f"<@{user_id}>",
    moment=lambda at: f"<t:{int(at.timestamp())}:R>",
    link=lambda target: f"https://x/{target.message_id}",
)
BOX = Box(x1=10, y1=10, x2=310, y2=310)


def _text(locale: str = "en", markup: Markup = EDGE, **fields: object) -> str:
    view = card_view(job(3, 1, **fields), spot=None, paused=False)
    return "\n".join(render(line, locale, markup) for line in view.lines)


def test_a_job_waiting_for_its_confirm_says_what_will_be_made_and_until_when() -> None:
    deadline = NOW + timedelta(minutes=10)
    fields: dict[str, object] = {
        "state": JobState.AWAITING_CONFIRMATION,
        "ext_box": BOX,
        "estimate_usd": 0.1147,
        "confirm_by": deadline,
        "style": Style.CALM,
        "framing": Framing.HALF_BODY,
        "audio_seconds": 9.98,
    }
    text = _text(**fields)
    assert "**Confirm**" in text
    assert f"<t:{int(deadline.timestamp())}:R>" in text
    assert "half body 3:4 · calm motion · 10.0 s" in text
    assert "Estimated cost: $0.11" in text
    row = job(3, 1, **fields)
    assert (can_confirm(row), can_cancel(row), can_retry(row)) == (True, True, False)
    view = card_view(row, spot=None, paused=False)
    assert (view.confirm, view.cancel, view.retry, view.reframe) == (True, True, False, False)
    for locale in ("ja", "zh-CN"):
        translated = _text(locale, **fields)
        assert "Confirm" not in translated
        assert "10.0" in translated


def test_nothing_is_said_about_the_crop_before_the_face_check_passed() -> None:
    assert "🖼️" not in _text(state=JobState.PREPARING)
    assert "🖼️" in _text(state=JobState.QUEUED, ext_box=BOX)


@pytest.mark.parametrize(
    ("framing", "error", "offered"),
    [
        (Framing.HALF_BODY, "needs_half_body", True),
        (Framing.HEAD, "needs_half_body", False),
        (Framing.HALF_BODY, "no_face", False),
    ],
)
def test_only_a_half_body_refusal_offers_the_head_shot(
    framing: Framing, error: str, offered: bool
) -> None:
    row = job(3, 1, state=JobState.REJECTED, framing=framing, error_key=error)
    assert can_reframe(row) is offered
    assert card_view(row, spot=None, paused=False).reframe is offered
    text = _text(state=JobState.REJECTED, framing=framing, error_key=error)
    assert ("**Head shot 1:1**" in text) is offered
    assert not can_retry(row)
