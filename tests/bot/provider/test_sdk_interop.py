"""The official ``dashscope`` SDK (a test dependency only) against the simulator, and beside
the bot's own client: an independent check that both speak the real service's protocol."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import dashscope
import pytest
from dashscope.client.base_api import BaseApi, BaseAsyncApi
from dashscope.utils.oss_utils import OssUtils
from pydantic import SecretStr

from bot.provider.client import DashScopeClient
from bot.provider.listing import compact
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL
from bot.simulator import Simulator, SimulatorKnobs
from tests.support import media
from tests.support.recording_proxy import Recorded, RecordingProxy

KEY = "sk-sdk-interop-secret"
RESOLVE = {"X-DashScope-OssResourceResolve": "enable"}
pytestmark = pytest.mark.timeout(120)
T = TypeVar("T")


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.5)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


@contextlib.contextmanager
def sdk_pointed_at(base_url: str) -> Iterator[None]:
    """The SDK's endpoint is a module setting: set it for the test, then put it back."""
    before = dashscope.base_http_api_url
    dashscope.base_http_api_url = base_url
    try:
        yield
    finally:
        dashscope.base_http_api_url = before


async def sdk(call: Callable[..., T], **arguments: Any) -> T:
    """The SDK is synchronous (requests): run it beside the event loop serving it."""
    return await asyncio.to_thread(call, **arguments)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    face, voice = tmp_path / "face.jpg", tmp_path / "voice.mp3"
    face.write_bytes(media.portrait_jpeg())
    voice.write_bytes(
        media.encode_audio(media.speech_pcm(4.0), container="mp3", codec="libmp3lame")
    )
    return face, voice


def _synthesis(image: str, audio: str, face_bbox: list[int], ext_bbox: list[int]) -> Any:
    return {"image_url": image, "audio_url": audio, "face_bbox": face_bbox, "ext_bbox": ext_bbox}


async def test_the_official_sdk_drives_the_simulator_through_every_call(
    simulator: Simulator, files: tuple[Path, Path]
) -> None:
    face, voice = files
    with sdk_pointed_at(simulator.base_url):
        detect_url, _ = await sdk(
            OssUtils.upload, model=DETECT_MODEL, file_path=str(face), api_key=KEY
        )
        detected = await sdk(
            BaseApi.call,
            model=DETECT_MODEL,
            input={"image_url": detect_url},
            task_group="aigc",
            task="image2video",
            function="face-detect",
            api_key=KEY,
            headers=RESOLVE,
            ratio="1:1",
        )
        assert detected.status_code == 200, detected
        assert detected.output["check_pass"] is True
        # One upload certificate (policy) serves both files of emo-v1.
        image_url, certificate = await sdk(
            OssUtils.upload, model=SYNTHESIS_MODEL, file_path=str(face), api_key=KEY
        )
        audio_url, _ = await sdk(
            OssUtils.upload,
            model=SYNTHESIS_MODEL,
            file_path=str(voice),
            api_key=KEY,
            upload_certificate=certificate,
        )
        body = _synthesis(
            image_url, audio_url, detected.output["face_bbox"], detected.output["ext_bbox"]
        )
        submitted = [
            await sdk(
                BaseAsyncApi.async_call,
                model=SYNTHESIS_MODEL,
                input=body,
                task_group="aigc",
                task="image2video",
                function="video-synthesis",
                api_key=KEY,
                headers=RESOLVE,
                style_level="normal",
            )
            for _ in range(2)
        ]
        assert [answer.status_code for answer in submitted] == [200, 200], submitted
        first, second = (answer.output["task_id"] for answer in submitted)
        fetched = await sdk(BaseAsyncApi.fetch, task=first, api_key=KEY)
        assert fetched.status_code == 200
        assert fetched.output["task_status"] in ("PENDING", "RUNNING")
        cancelled = await sdk(BaseAsyncApi.cancel, task=second, api_key=KEY)  # still pending
        assert cancelled.status_code == 200, cancelled
        done = await sdk(BaseAsyncApi.wait, task=first, api_key=KEY, wait_timeout=60)
        assert done.status_code == 200
        assert done.output["task_status"] == "SUCCEEDED"
        assert done.output["results"]["video_url"]
        now = datetime.now(UTC)
        listed = await sdk(
            BaseAsyncApi.list,
            start_time=compact(now - timedelta(hours=1)),
            end_time=compact(now + timedelta(hours=1)),
            model_name=SYNTHESIS_MODEL,
            api_key=KEY,
        )
    assert listed.status_code == 200
    assert listed.output["total"] == 2
    statuses = {row["task_id"]: row["status"] for row in listed.output["data"]}
    assert statuses == {first: "SUCCEEDED", second: "CANCELED"}
    assert [policy.model for policy in simulator.policies] == [DETECT_MODEL, SYNTHESIS_MODEL]
    async with (
        aiohttp.ClientSession() as session,
        session.get(done.output["results"]["video_url"]) as video,
    ):
        assert video.status == 200
        assert (await video.read())[4:8] == b"ftyp"  # an MP4


def _fields(upload: Recorded) -> list[str]:
    """The multipart form's field names, in order."""
    return [name.decode() for name in re.findall(rb'; name="([^"]+)"', upload.body)]


def _route(record: Recorded) -> str:
    """The path with a task's id left out (each client made its own task)."""
    return re.sub(r"/tasks/[^/]+", "/tasks/{id}", record.path)


def _media_type(record: Recorded) -> str | None:
    value = record.content_type
    return None if value is None else value.split(";")[0].strip()


def _json(record: Recorded) -> Any:
    return json.loads(record.body)


async def test_the_sdk_and_the_bot_send_the_same_requests(
    simulator: Simulator, files: tuple[Path, Path]
) -> None:
    face, voice = files
    inputs = await _synthesis_inputs(simulator, face, voice)  # the same for both clients
    proxy = RecordingProxy(simulator.root_url)
    await proxy.start()
    try:
        sdk_calls = await _through_the_sdk(proxy, face, inputs)
        bot_calls = await _through_the_bot(proxy, face, inputs)
    finally:
        await proxy.close()
    assert list(sdk_calls) == list(bot_calls)
    for name in sdk_calls:
        theirs, ours = sdk_calls[name], bot_calls[name]
        assert (theirs.method, _route(theirs)) == (ours.method, _route(ours)), name
        # Authentication, and every header the service reads, agree.
        if name != "upload":  # the upload goes to OSS with the policy, not the key
            assert (
                theirs.headers["authorization"]
                == ours.headers["authorization"]
                == (f"Bearer {KEY}")
            )
        for header in ("x-dashscope-async", "x-dashscope-ossresourceresolve"):
            assert theirs.headers.get(header) == ours.headers.get(header), (name, header)
        assert _media_type(theirs) == _media_type(ours), name
    assert sdk_calls["policy"].query == bot_calls["policy"].query
    # The form: the same fields in the same order, the file last (OSS ignores what follows).
    assert _fields(sdk_calls["upload"]) == _fields(bot_calls["upload"])
    assert _fields(bot_calls["upload"])[-1] == "file"
    assert _json(sdk_calls["detect"]) == _json(bot_calls["detect"])
    submitted = _json(sdk_calls["submit"]), _json(bot_calls["submit"])
    assert submitted[0] == submitted[1]
    for quiet in ("query", "cancel"):  # no body, so no Content-Type either
        assert sdk_calls[quiet].body == bot_calls[quiet].body == b""
        assert bot_calls[quiet].content_type is None
    assert sdk_calls["cancel"].content_type is None
    listed = sdk_calls["list"].query, bot_calls["list"].query
    assert set(listed[0]) == set(listed[1])
    for name in ("model_name", "start_time", "end_time", "page_no"):
        assert listed[0][name] == listed[1][name]


WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def _by_name(recorded: list[Recorded], paths: dict[str, str]) -> dict[str, Recorded]:
    found: dict[str, Recorded] = {}
    for record in recorded:
        for name, pattern in paths.items():
            if name not in found and re.fullmatch(pattern, f"{record.method} {record.path}"):
                found[name] = record
    return found


PATHS = {
    "policy": r"GET /api/v1/uploads",
    "upload": r"POST /oss.*",
    "detect": r"POST /api/v1/services/aigc/image2video/face-detect",
    "submit": r"POST /api/v1/services/aigc/image2video/video-synthesis",
    "query": r"GET /api/v1/tasks/[^/]+",
    "cancel": r"POST /api/v1/tasks/[^/]+/cancel",
    "list": r"GET /api/v1/tasks",
}


async def _synthesis_inputs(simulator: Simulator, face: Path, voice: Path) -> dict[str, Any]:
    """emo-v1 inputs uploaded and checked once, straight at the simulator."""
    async with aiohttp.ClientSession() as session:
        client = DashScopeClient(session, simulator.base_url, SecretStr(KEY))
        detect = await client.upload_temporary(
            face.read_bytes(), model=DETECT_MODEL, filename="f.jpg", content_type="image/jpeg"
        )
        boxes = await client.detect_face(detect, ratio="1:1")
        image = await client.upload_temporary(
            face.read_bytes(), model=SYNTHESIS_MODEL, filename="f.jpg", content_type="image/jpeg"
        )
        audio = await client.upload_temporary(
            voice.read_bytes(), model=SYNTHESIS_MODEL, filename="v.mp3", content_type="audio/mpeg"
        )
    return {"detect": detect, **_synthesis(image, audio, boxes.face_bbox, boxes.ext_bbox)}


async def _through_the_sdk(
    proxy: RecordingProxy, face: Path, inputs: dict[str, Any]
) -> dict[str, Recorded]:
    with sdk_pointed_at(f"{proxy.root}/api/v1"):
        await sdk(OssUtils.upload, model=DETECT_MODEL, file_path=str(face), api_key=KEY)
        await sdk(
            BaseApi.call,
            model=DETECT_MODEL,
            input={"image_url": inputs["detect"]},
            task_group="aigc",
            task="image2video",
            function="face-detect",
            api_key=KEY,
            headers=RESOLVE,
            ratio="1:1",
        )
        answer = await sdk(
            BaseAsyncApi.async_call,
            model=SYNTHESIS_MODEL,
            input={name: value for name, value in inputs.items() if name != "detect"},
            task_group="aigc",
            task="image2video",
            function="video-synthesis",
            api_key=KEY,
            headers=RESOLVE,
            style_level="normal",
        )
        task_id = answer.output["task_id"]
        await sdk(BaseAsyncApi.fetch, task=task_id, api_key=KEY)
        await sdk(BaseAsyncApi.cancel, task=task_id, api_key=KEY)
        await sdk(
            BaseAsyncApi.list,
            start_time=compact(WINDOW[0]),
            end_time=compact(WINDOW[1]),
            model_name=SYNTHESIS_MODEL,
            api_key=KEY,
        )
    return _by_name(proxy.take(), PATHS)


async def _through_the_bot(
    proxy: RecordingProxy, face: Path, inputs: dict[str, Any]
) -> dict[str, Recorded]:
    async with aiohttp.ClientSession() as session:
        client = DashScopeClient(session, f"{proxy.root}/api/v1", SecretStr(KEY))
        await client.upload_temporary(
            face.read_bytes(), model=DETECT_MODEL, filename="face.jpg", content_type="image/jpeg"
        )
        await client.detect_face(inputs["detect"], ratio="1:1")
        task_id = await client.submit_synthesis(
            image_url=inputs["image_url"],
            audio_url=inputs["audio_url"],
            face_bbox=inputs["face_bbox"],
            ext_bbox=inputs["ext_bbox"],
            style_level="normal",
        )
        await client.get_task(task_id)
        with contextlib.suppress(Exception):  # the simulator may have started it already
            await client.cancel_task(task_id)
        await client.list_tasks(model=SYNTHESIS_MODEL, start=WINDOW[0], end=WINDOW[1])
    return _by_name(proxy.take(), PATHS)
