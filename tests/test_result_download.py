"""The result download through the whole product: `python -m bot` against the fake Discord
and the simulator, whose knobs point the result elsewhere, redirect it, or spoil it.

Each case is one `/emo animate`; the job must fail with its own message in the channel
(never an "unexpected error", never a job left delivering), and the bot must go on to
deliver the next video. Nothing in the bot is patched: it is configured by environment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.e2e import attachments, job_histories, started, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

REFUSED = "the bot does not download from"
NOT_VIDEO = "is not a playable"
NOT_STORED = "could not be saved on the bot's server"


@dataclass
class Case:
    name: str
    knobs: dict[str, Any]
    told: str  # what the member's message says
    logged: str  # what the operator's log says
    disk_full: bool = False
    seconds: list[float] = field(default_factory=list)


CASES = [
    Case(
        "a host off the allowlist",
        {"result_url_base": "https://results.example.net"},
        REFUSED,
        "host 'results.example.net' is not allowed",
    ),
    Case(
        "an allowed name at a private address",
        {"result_url_base": "https://localhost"},
        REFUSED,
        "not a public address",
    ),
    Case(
        "a malformed redirect",
        {"result_redirect_location": "http://[::1"},
        REFUSED,
        "a redirect with a malformed Location",
    ),
    Case("bytes that are no video", {"result_not_a_video": True}, NOT_VIDEO, "not a playable"),
    Case("a full disk", {}, NOT_STORED, "No space left on device", disk_full=True),
]
RESET = {"result_url_base": None, "result_redirect_location": None, "result_not_a_video": False}


def _is_video(message: FakeMessage) -> bool:
    return any(file.filename.endswith(".mp4") for file in message.files)


async def test_refused_and_spoilt_results_fail_their_jobs_clearly_and_the_bot_goes_on(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    # The operator allowed "localhost" by name: its address is still loopback, so refused.
    bot = bot_process(EMO_RESULT_HOSTS="*.aliyuncs.com,localhost")
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="alice")
    media = Path(bot.environment["EMO_DATA_DIR"]) / "media"

    for job_id, case in enumerate(CASES, start=1):
        simulator.update_knobs(**{**RESET, **case.knobs})
        if case.disk_full:
            folder = media / f"job-{job_id}"
            folder.mkdir(parents=True, exist_ok=True)
            # Where the result is written: every write to /dev/full fails with ENOSPC.
            (folder / "result.mp4.part").symlink_to("/dev/full")
        began = time.monotonic()
        await discord_fake.invoke_slash(
            "emo animate", user_id=member, attachments=attachments(fixtures)
        )

        def told(message: FakeMessage, case: Case = case, job_id: int = job_id) -> bool:
            return case.told in message.content and f"#{job_id}" in message.content

        try:
            notice = await discord_fake.wait_for_message(predicate=told, timeout=90)
        except TimeoutError:
            pytest.fail(f"{case.name}: the member was never told:\n{bot.log_text()[-6000:]}")
        case.seconds.append(time.monotonic() - began)
        assert f"<@{member}>" in notice.content
        assert case.logged in bot.log_text(), case.name

    simulator.update_knobs(**RESET)
    await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    try:
        await discord_fake.wait_for_message(predicate=_is_video, timeout=90)
    except TimeoutError:
        pytest.fail(f"the bot delivered nothing after the failures:\n{bot.log_text()[-6000:]}")

    assert bot.running
    log = bot.log_text()
    assert "Traceback" not in log
    assert "unexpected" not in log.lower()
    assert len([m for m in discord_fake.messages() if _is_video(m)]) == 1
    expected = ["failed"] * len(CASES) + ["delivered"]
    await until(lambda: [h[-1] for h in job_histories(bot)] == expected, "the last job's end", 10)
    histories = job_histories(bot)
    assert all("delivering" in history for history in histories)
    assert discord_fake.violations == []
    print({case.name: round(case.seconds[0], 1) for case in CASES})
