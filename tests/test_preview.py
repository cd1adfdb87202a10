"""See before you spend: the status card carries the crop EMO will animate, uploaded once;
a half-body refusal offers the same inputs at 1:1 in one click. Through the real bot process,
the fake Discord and the simulator."""

from __future__ import annotations

import io
import json
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeFile, FakeMessage
from tests.support import media
from tests.support.backends import BOTH_BACKENDS
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, started, until
from tests.support.job_rows import job_row, job_rows, job_state

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240), BOTH_BACKENDS]

CROP_NAME = "crop.jpg"
TOLERANCE = 10.0  # mean absolute difference per channel (0-255) a JPEG re-encode stays within


def _card(fake: FakeDiscord, job_id: int) -> FakeMessage:
    return next(
        m
        for m in fake.messages()
        if m.author_id == fake.bot_user_id and m.nonce == f"emo-card-{job_id}"
    )


def _custom_ids(message: FakeMessage) -> list[str]:
    return [
        str(component["custom_id"])
        for row in message.components
        for component in row.get("components") or []
        if "custom_id" in component
    ]


def _crop_uploads(fake: FakeDiscord) -> int:
    """Every crop the bot uploaded, kept or not (each upload is a stored file)."""
    return sum(1 for blob in fake.blobs.values() if blob.filename == CROP_NAME)


def _difference(attached: FakeFile, photo: Image.Image, box: list[int]) -> float:
    """How far the attached crop is from ``box`` of ``photo``, cut and scaled here."""
    with Image.open(io.BytesIO(attached.data)) as opened:
        shown = np.asarray(opened.convert("RGB"), dtype=np.float64)
    expected = photo.crop(tuple(box)).resize(
        (shown.shape[1], shown.shape[0]), Image.Resampling.LANCZOS
    )
    return float(np.abs(shown - np.asarray(expected, dtype=np.float64)).mean())


async def _delivered(bot: BotProcess, job_id: int) -> None:
    await until(lambda: job_state(bot, job_id) == "delivered", f"job {job_id} delivered", 120)


async def test_the_card_shows_the_exact_crop_at_the_outputs_aspect_uploaded_once(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    # Renders of a few seconds: the card is edited several times after the crop is on it
    # (edits are coalesced, so a job done at once would leave a single edit to look at).
    simulator.update_knobs(render_seconds_per_audio_second=0.4)
    fake = discord_fake
    bot = bot_process()
    await started(bot, fake)
    member = fake.add_member(name="quinn")
    photo = Image.open(fixtures / "astronaut.png").convert("RGB")

    for job_id, framing, ratio in ((1, "1:1", (1, 1)), (2, "3:4", (3, 4))):
        await fake.invoke_slash(
            "emo animate",
            user_id=member,
            attachments=attachments(fixtures),
            options={"framing": framing},
        )
        await _delivered(bot, job_id)
        await until(lambda j=job_id: "✅" in _card(fake, j).content, f"card {job_id} done")
        card = _card(fake, job_id)
        # One image on the card itself (no second message), of the output's aspect.
        (crop,) = card.files
        assert crop.filename == CROP_NAME
        assert crop.width is not None
        assert crop.height is not None
        assert 256 <= crop.width <= 512
        assert crop.width * ratio[1] == crop.height * ratio[0]
        # Its pixels are the detector's ext_bbox of the uploaded photo.
        box = json.loads(job_row(bot, job_id)["ext_box"])
        assert (box[2] - box[0]) * ratio[1] == (box[3] - box[1]) * ratio[0]
        assert _difference(crop, photo, box) < TOLERANCE
        shifted = [box[0] + 40, box[1] + 40, box[2] + 40, box[3] + 40]
        assert _difference(crop, photo, shifted) > 2 * TOLERANCE  # the comparison can fail
        # Framing, style and length beside it; the card went on being edited, crop kept.
        history = "\n".join(card.content_history)
        assert ("head shot 1:1" if framing == "1:1" else "half body 3:4") in history
        assert "normal motion" in history
        assert len(card.edit_log) >= 2
        assert job_row(bot, job_id)["card_preview"]
        assert _crop_uploads(fake) == job_id  # exactly one upload per card

    results = [m for m in fake.messages() if is_video(m)]
    assert len(results) == 2
    assert all(CROP_NAME not in {f.filename for f in m.files} for m in results)

    # The crop is the member's photo: /emo forget takes it off the cards with their files.
    forget = await fake.invoke_slash("emo forget", user_id=member)
    await forget.wait_original_edit(lambda m: "Deleted" in m.content, timeout=30)
    await until(
        lambda: _card(fake, 1).files == [] and _card(fake, 2).files == [],
        "the crops to be taken off the cards",
        within=30,
    )
    assert "✅" in _card(fake, 1).content  # the rest of the card stays
    await until(lambda: not job_row(bot, 1)["card_preview"], "the card's record to follow")
    assert _crop_uploads(fake) == 2
    assert fake.violations == []


async def test_a_half_body_refusal_retries_at_1_1_in_one_click_without_a_new_upload(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    fake = discord_fake
    bot = bot_process()
    await started(bot, fake)
    member = fake.add_member(name="rui")
    stranger = fake.add_member(name="sol")
    files = attachments(fixtures)
    files["image"] = (media.head_only(), "me.jpg", "image/jpeg")
    asked = await fake.invoke_slash(
        "emo animate", user_id=member, attachments=files, options={"framing": "3:4"}
    )
    refusal = await asked.wait_original_edit(lambda m: "hips" in m.content, timeout=60)
    assert refusal.ephemeral
    await until(lambda: job_state(bot, 1) == "rejected", "the half-body refusal")
    assert job_row(bot, 1)["error_key"] == "needs_half_body"
    await until(lambda: "emo:reframe:1" in _custom_ids(_card(fake, 1)), "the 1:1 button")
    card = _card(fake, 1)
    assert "hips" in card.content
    assert "Head shot 1:1" in card.content
    assert card.files == []  # the face check did not pass: no crop
    assert simulator.submissions == []
    downloads = list(fake.cdn_requests)

    # Someone else's click changes nothing.
    refused = await fake.invoke_component(card.id, "emo:reframe:1", user_id=stranger)
    answer = await refused.wait_original_edit(lambda m: "Only the member" in m.content)
    assert answer.ephemeral
    assert len(job_rows(bot)) == 1

    click = await fake.invoke_component(card.id, "emo:reframe:1", user_id=member)
    answer = await click.wait_original_edit(lambda m: "#2" in m.content, timeout=60)
    assert "head shot (1:1)" in answer.content
    await _delivered(bot, 2)
    second = job_row(bot, 2)
    assert (second["retry_of"], second["framing"], second["user_id"]) == (1, "1:1", member)
    (result,) = [m for m in fake.messages() if is_video(m)]
    (video,) = result.files
    with av.open(io.BytesIO(video.data)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (512, 512)
    # Nothing was uploaded or downloaded again: the converted files of job 1 were reused.
    assert fake.cdn_requests == downloads
    assert len(simulator.submissions) == 1
    # The new job's card carries its own crop once it has caught up (edits are coalesced).
    await until(lambda: "✅" in _card(fake, 2).content, "card 2 done")
    assert len(_card(fake, 2).files) == 1
    assert fake.violations == []
