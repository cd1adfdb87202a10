"""The copies of a member's files the bot hosts for the provider, through `python -m bot` with
its own media server (EMO_MEDIA_HOST=http): a preparation refused at the face check leaves
none behind (no row will ever name them, so no retention sweep would delete them). Nothing
is patched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support import media
from tests.support.e2e import attachments, is_video, job_histories, started, until
from tests.support.postgres import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_a_face_check_refusal_leaves_no_hosted_copy(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    fake = discord_fake
    port = free_port()
    bot = bot_process(
        EMO_MEDIA_HOST="http",
        EMO_MEDIA_SERVER_BIND=f"127.0.0.1:{port}",
        EMO_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    await started(bot, fake)
    await fake.wait_for_commands(names=["emo"])
    hosted = tmp_path / "data" / "media" / "hosted"
    member = fake.add_member(name="mo")

    def copies() -> list[str]:
        return sorted(p.name for p in hosted.rglob("*") if p.is_file()) if hosted.exists() else []

    # A wall: no face. The image and the voice were hosted for the check, then deleted.
    wall = await fake.invoke_slash(
        "emo animate",
        user_id=member,
        attachments={
            "image": (media.blank(640, 640), "wall.jpg", "image/jpeg"),
            "audio": attachments(fixtures)["audio"],
        },
    )
    await until(lambda: [h[-1] for h in job_histories(bot)] == ["rejected"], "the refusal")
    said = [m.content for m in (wall.original_response, *wall.followups) if m]
    assert any("could not find a person" in text for text in said), said
    assert [d.check_pass for d in simulator.detections] == [False]
    assert copies() == []

    # A portrait: its copies stay while the job needs them (the sweep deletes them later).
    await fake.invoke_slash("emo animate", user_id=member, attachments=attachments(fixtures))
    await fake.wait_for_message(predicate=is_video, timeout=90)
    assert len(copies()) == 2, copies()
    assert fake.violations == []
