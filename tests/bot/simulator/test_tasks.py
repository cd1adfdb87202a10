"""Synthesis over real HTTP: input rules, the per-account queue, cancel, failures, result MP4."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import time
from dataclasses import dataclass
from typing import Any

import av
import pytest
import yarl

from bot.simulator import Simulator

from .conftest import KEY, Client, tone_wav

pytestmark = pytest.mark.timeout(30)

FACE = [177, 66, 272, 161]
EXT_1_1 = [106, 0, 344, 238]
EXT_3_4 = [82, 9, 367, 389]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")


@dataclass
class Inputs:
    image: str
    audio: str


@pytest.fixture
async def inputs(client: Client, astronaut_png: bytes, voice_wav: bytes) -> Inputs:
    image = await client.upload("emo-v1", "portrait.png", astronaut_png)
    audio = await client.upload("emo-v1", "voice.wav", voice_wav)
    return Inputs(image, audio)


async def poll(client: Client, task_id: str, within: float = 15.0) -> dict[str, object]:
    """Poll until the task leaves PENDING/RUNNING (quickly: the suite must stay fast)."""
    deadline = time.monotonic() + within
    while True:
        reply = await client.task(task_id)
        assert reply.status == 200, reply.body
        if reply.json["output"]["task_status"] not in ("PENDING", "RUNNING"):
            return reply.json
        assert time.monotonic() < deadline, reply.json
        await asyncio.sleep(0.05)


async def submit_ok(client: Client, inputs: Inputs, ext: list[int] = EXT_1_1) -> str:
    reply = await client.submit(inputs.image, inputs.audio, FACE, ext)
    assert reply.status == 200, reply.body
    output = reply.json["output"]
    assert output["task_status"] == "PENDING"
    task_id = output["task_id"]
    assert isinstance(task_id, str)
    return task_id


# ------------------------------------------------------------------ submission rules


async def test_submit_wav_succeeds_with_playable_mp4(
    client: Client, sim: Simulator, inputs: Inputs, voice_seconds: float
) -> None:
    task_id = await submit_ok(client, inputs)
    [submission] = sim.submissions
    assert submission.task_id == task_id
    assert submission.account == sim.account_id(KEY)
    assert submission.image_url == inputs.image
    assert submission.audio_url == inputs.audio
    assert list(submission.face_bbox) == FACE
    assert list(submission.ext_bbox) == EXT_1_1
    assert submission.style_level == "normal"
    assert submission.oss_resolve
    body = await poll(client, task_id)
    output = body["output"]
    assert isinstance(output, dict)
    assert output["task_status"] == "SUCCEEDED", body
    for name in ("submit_time", "scheduled_time", "end_time"):
        assert TIME_RE.match(output[name]), output[name]
    usage = body["usage"]
    assert isinstance(usage, dict)
    assert usage["video_ratio"] == "1:1"
    assert usage["video_duration"] == pytest.approx(voice_seconds, abs=0.01)
    assert sim.billed_seconds(KEY) == pytest.approx(voice_seconds, abs=0.01)
    assert sim.billed_usd(KEY) == pytest.approx(voice_seconds * 0.011469, rel=0.01)
    assert sim.tasks[task_id].statuses == ["PENDING", "RUNNING", "SUCCEEDED"]

    video_url = output["results"]["video_url"]
    url = yarl.URL(video_url)
    assert url.host == "127.0.0.1"
    assert {"Expires", "OSSAccessKeyId", "Signature"} <= set(url.query)
    async with client.http.get(video_url) as resp:
        assert resp.status == 200
        assert resp.content_type == "video/mp4"
        data = await resp.read()
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (512, 512)
        assert video.codec_context.name == "h264"
        assert container.streams.audio, "no audio stream"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.duration is not None
        duration = container.duration / 1_000_000
    assert duration == pytest.approx(voice_seconds, rel=0.1)

    tampered = url.update_query(Signature="AAAA")
    async with client.http.get(tampered) as resp:
        assert resp.status == 403
        assert "SignatureDoesNotMatch" in await resp.text()
    sim.advance_time(24 * 3600 + 5)
    async with client.http.get(video_url) as resp:
        assert resp.status == 403


async def test_submit_mp3_three_four(
    client: Client, inputs: Inputs, astronaut_png: bytes, voice_mp3: bytes
) -> None:
    audio = await client.upload("emo-v1", "voice.mp3", voice_mp3)
    reply = await client.submit(inputs.image, audio, FACE, EXT_3_4, style="active")
    assert reply.status == 200, reply.body
    body = await poll(client, reply.json["output"]["task_id"])
    output = body["output"]
    assert isinstance(output, dict)
    assert output["task_status"] == "SUCCEEDED", body
    assert body["usage"] == {"video_duration": pytest.approx(9.98, abs=0.05), "video_ratio": "3:4"}
    async with client.http.get(output["results"]["video_url"]) as resp:
        data = await resp.read()
    with av.open(io.BytesIO(data), mode="r") as container:
        video = container.streams.video[0].codec_context
        assert (video.width, video.height) == (512, 704)


async def test_submit_requires_async_header(client: Client, inputs: Inputs) -> None:
    reply = await client.submit(
        inputs.image, inputs.audio, FACE, EXT_1_1, headers={"X-DashScope-Async": "disable"}
    )
    assert reply.status == 403
    assert reply.json["code"] == "AccessDenied"
    assert reply.json["message"] == "current user api does not support synchronous calls"


async def test_submit_refuses_ogg(client: Client, inputs: Inputs, voice_ogg: bytes) -> None:
    audio = await client.upload("emo-v1", "voice.mp3", voice_ogg)
    reply = await client.submit(inputs.image, audio, FACE, EXT_1_1)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidURL"
    assert reply.json["message"] == "File type is not supported. Allowed types are: .wav, .mp3."


async def test_submit_refuses_long_and_big_audio(client: Client, inputs: Inputs) -> None:
    long_audio = await client.upload("emo-v1", "long.wav", tone_wav(61))
    reply = await client.submit(inputs.image, long_audio, FACE, EXT_1_1)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidURL"
    assert reply.json["message"] == "The input audio is longer than 60s."
    # 45 s of 96 kHz stereo: short enough, but over 15 MB.
    big_audio = await client.upload("emo-v1", "big.wav", tone_wav(45, rate=96000, channels=2))
    reply = await client.submit(inputs.image, big_audio, FACE, EXT_1_1)
    assert reply.status == 400
    assert reply.json["message"] == "File size is larger than 15MB."


async def test_submit_parameter_rules(client: Client, inputs: Inputs, sim: Simulator) -> None:
    sim.knobs.rate_limits.submit = None
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ext": [100, 0, 300, 250]}, "InvalidParameter"),  # neither 1:1 nor 3:4
        ({"ext": [300, 300, 812, 812]}, "InvalidParameter"),  # beyond the 512x512 image
        ({"face": [0, 0, 10, 10]}, "InvalidParameter"),  # face outside ext
        ({"style": "wild"}, "InvalidParameter"),
        ({"model": "emo-detect-v1"}, "InvalidParameter"),
    ]
    for change, code in cases:
        reply = await client.submit(
            inputs.image,
            inputs.audio,
            change.get("face", FACE),
            change.get("ext", EXT_1_1),
            style=str(change.get("style", "normal")),
            model=str(change.get("model", "emo-v1")),
        )
        assert reply.status == 400, change
        assert reply.json["code"] == code, (change, reply.json)
    unknown = await client.submit(inputs.image, inputs.audio, FACE, EXT_1_1, model="emo-v2")
    assert unknown.status == 404
    assert sim.submissions == []


async def test_detect_upload_not_usable_for_synthesis(
    client: Client, inputs: Inputs, astronaut_png: bytes
) -> None:
    detect_image = await client.upload("emo-detect-v1", "p.png", astronaut_png)
    reply = await client.submit(detect_image, inputs.audio, FACE, EXT_1_1)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidParameter.DataInspection"


# ------------------------------------------------------------------ queue


async def test_one_running_per_account_fifo(
    client: Client, other: Client, sim: Simulator, inputs: Inputs, astronaut_png: bytes
) -> None:
    sim.knobs.render_overhead_seconds = 30  # hold the first task RUNNING
    ids = [await submit_ok(client, inputs) for _ in range(3)]
    await sim.wait_for_task(ids[0], frozenset({"RUNNING"}))
    statuses = [(await client.task(i)).json["output"]["task_status"] for i in ids]
    assert statuses == ["RUNNING", "PENDING", "PENDING"]

    # Another account is not queued behind this one.
    other_image = await other.upload("emo-v1", "p.png", astronaut_png)
    other_audio = await other.upload("emo-v1", "v.wav", tone_wav(1))
    reply = await other.submit(other_image, other_audio, FACE, EXT_1_1)
    other_id = reply.json["output"]["task_id"]
    await sim.wait_for_task(other_id, frozenset({"RUNNING"}), within=5)
    # ... and cannot see this account's tasks.
    assert (await other.task(ids[0])).json["output"]["task_status"] == "UNKNOWN"

    sim.knobs.render_overhead_seconds = 0.05
    done = [await sim.wait_for_task(i) for i in ids]
    assert [t.status for t in done] == ["SUCCEEDED"] * 3
    # FIFO, and never two at once: each started after the previous one ended.
    for before, after in itertools.pairwise(done):
        assert before.ended_at is not None
        assert after.scheduled_at is not None
        assert after.scheduled_at >= before.ended_at
    assert sim.query_count.of(ids[0]) >= 1
    assert sim.query_count.total >= 3


async def test_cancel_pending_only(client: Client, sim: Simulator, inputs: Inputs) -> None:
    sim.knobs.render_overhead_seconds = 30
    running_id = await submit_ok(client, inputs)
    pending_id = await submit_ok(client, inputs)
    await sim.wait_for_task(running_id, frozenset({"RUNNING"}))

    ok = await client.cancel(pending_id)
    assert ok.status == 200
    assert set(ok.json) == {"request_id"}
    body = (await client.task(pending_id)).json["output"]
    assert body["task_status"] == "CANCELED"
    assert "end_time" in body

    refused = await client.cancel(running_id)
    assert refused.status == 400
    assert refused.json["code"] == "UnsupportedOperation"
    assert refused.json["message"] == (
        "Failed to cancel the task, please confirm if the task is in PENDING status."
    )
    unknown = await client.cancel("no-such-task")
    assert unknown.status == 404
    assert [(c.task_id, c.previous_status, c.accepted) for c in sim.cancels] == [
        (pending_id, "PENDING", True),
        (running_id, "RUNNING", False),
    ]


async def test_failed_task_answers_200(client: Client, sim: Simulator, inputs: Inputs) -> None:
    sim.fail_next_task(code="InternalError.Algo", message="The algorithm failed.")
    failed_id = await submit_ok(client, inputs)
    body = await poll(client, failed_id)
    output = body["output"]
    assert isinstance(output, dict)
    assert output["task_status"] == "FAILED"
    assert output["code"] == "InternalError.Algo"
    assert output["message"] == "The algorithm failed."
    assert "results" not in output
    assert "usage" not in body
    assert sim.billed_seconds(KEY) == 0
    # Only the next task fails.
    next_id = await submit_ok(client, inputs)
    assert (await poll(client, next_id))["output"]["task_status"] == "SUCCEEDED"  # type: ignore[index]


async def test_unknown_and_expired_tasks(client: Client, sim: Simulator, inputs: Inputs) -> None:
    reply = await client.task("00000000-0000-0000-0000-000000000000")
    assert reply.status == 200
    assert reply.json["output"] == {
        "task_id": "00000000-0000-0000-0000-000000000000",
        "task_status": "UNKNOWN",
    }
    task_id = await submit_ok(client, inputs)
    await sim.wait_for_task(task_id)
    sim.advance_time(86400 + 1)
    assert (await client.task(task_id)).json["output"]["task_status"] == "UNKNOWN"


async def test_submit_throttled_on_sixth_in_a_second(client: Client, inputs: Inputs) -> None:
    codes = []
    for _ in range(6):
        reply = await client.submit(inputs.image, inputs.audio, FACE, EXT_1_1)
        codes.append(reply.status)
    assert codes == [200] * 5 + [429]
    assert reply.json["code"] == "Throttling.RateQuota"
    assert reply.json["message"] == "Requests rate limit exceeded, please try again later."


async def test_query_throttled_and_injected(client: Client, sim: Simulator) -> None:
    sim.fail_next("query", 503, "ModelUnavailable", "Try later.")
    first = await client.task("x")
    assert (first.status, first.json["code"]) == (503, "ModelUnavailable")
    # The injected answer did not use up the window: 20 more pass, the 21st is throttled.
    codes = [(await client.task("x")).status for _ in range(21)]
    assert codes[:20] == [200] * 20
    assert codes[20] == 429
    assert sim.query_count.of("x") == 22
