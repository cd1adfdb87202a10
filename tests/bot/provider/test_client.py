"""The DashScope client against the simulator, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from pydantic import SecretStr

from bot.media.audio import prepare_audio
from bot.provider.client import DashScopeClient, with_retries
from bot.provider.errors import (
    ErrorKind,
    ProviderInputError,
    ProviderOperatorError,
    ProviderTransientError,
    classify,
)
from bot.provider.models import DETECT_MODEL, SYNTHESIS_MODEL, TaskStatus
from bot.simulator import Simulator, SimulatorKnobs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
KEY = "sk-client-test-secret"


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.02, render_overhead_seconds=0.1)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


@pytest.fixture
async def client(simulator: Simulator) -> AsyncIterator[DashScopeClient]:
    async with aiohttp.ClientSession() as session:
        yield DashScopeClient(session, simulator.base_url, SecretStr(KEY), timeout_seconds=10)


@pytest.fixture(scope="module")
def voice_mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    target = tmp_path_factory.mktemp("audio") / "voice.mp3"
    prepare_audio(FIXTURES / "voice-note-en.ogg", target, max_seconds=60)
    return target.read_bytes()


def _jpeg(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


async def _inputs(client: DashScopeClient, voice_mp3: bytes) -> tuple[str, str, str]:
    face = _jpeg(FIXTURES / "astronaut.png")
    detect_url = await client.upload_temporary(
        face, model=DETECT_MODEL, filename="f.jpg", content_type="image/jpeg"
    )
    image_url = await client.upload_temporary(
        face, model=SYNTHESIS_MODEL, filename="f.jpg", content_type="image/jpeg"
    )
    audio_url = await client.upload_temporary(
        voice_mp3, model=SYNTHESIS_MODEL, filename="v.mp3", content_type="audio/mpeg"
    )
    return detect_url, image_url, audio_url


async def test_the_whole_protocol_from_upload_to_a_result(
    client: DashScopeClient, simulator: Simulator, voice_mp3: bytes
) -> None:
    detect_url, image_url, audio_url = await _inputs(client, voice_mp3)
    assert detect_url.startswith("oss://")
    detection = await client.detect_face(detect_url, ratio="1:1")
    x1, y1, x2, y2 = detection.ext_bbox
    assert x2 - x1 == y2 - y1
    task_id = await client.submit_synthesis(
        image_url=image_url,
        audio_url=audio_url,
        face_bbox=detection.face_bbox,
        ext_bbox=detection.ext_bbox,
        style_level="calm",
    )
    await simulator.wait_for_task(task_id, within=30)
    task = await client.get_task(task_id)
    assert task.output.task_status is TaskStatus.SUCCEEDED
    assert task.video_url is not None
    assert task.usage is not None
    assert task.usage.video_duration == pytest.approx(9.98, abs=0.1)
    assert [s.style_level for s in simulator.submissions] == ["calm"]


@pytest.mark.parametrize("style", ["http400", "check_pass"])
async def test_a_faceless_image_is_an_input_error_in_both_answer_forms(
    client: DashScopeClient, simulator: Simulator, style: str
) -> None:
    simulator.update_knobs(detect_rejection_style=style)
    blank = io.BytesIO()
    Image.new("RGB", (600, 600), (120, 140, 160)).save(blank, format="JPEG")
    url = await client.upload_temporary(
        blank.getvalue(), model=DETECT_MODEL, filename="b.jpg", content_type="image/jpeg"
    )
    with pytest.raises(ProviderInputError) as caught:
        await client.detect_face(url, ratio="1:1")
    assert caught.value.code == "InvalidFile.NoHuman"
    assert caught.value.kind is ErrorKind.INPUT


async def test_an_image_uploaded_for_detection_cannot_be_used_for_synthesis(
    client: DashScopeClient, voice_mp3: bytes
) -> None:
    detect_url, _, audio_url = await _inputs(client, voice_mp3)
    detection = await client.detect_face(detect_url, ratio="1:1")
    with pytest.raises(ProviderTransientError) as caught:
        await client.submit_synthesis(
            image_url=detect_url,
            audio_url=audio_url,
            face_bbox=detection.face_bbox,
            ext_bbox=detection.ext_bbox,
            style_level="normal",
        )
    assert caught.value.code == "InvalidParameter.DataInspection"


async def test_cancel_works_only_while_pending(
    client: DashScopeClient, simulator: Simulator, voice_mp3: bytes
) -> None:
    simulator.update_knobs(render_overhead_seconds=30)  # the first task keeps the slot
    detect_url, image_url, audio_url = await _inputs(client, voice_mp3)
    detection = await client.detect_face(detect_url, ratio="1:1")

    async def submit() -> str:
        return await client.submit_synthesis(
            image_url=image_url,
            audio_url=audio_url,
            face_bbox=detection.face_bbox,
            ext_bbox=detection.ext_bbox,
            style_level="normal",
        )

    running, pending = await submit(), await submit()
    await simulator.wait_for_task(running, statuses={"RUNNING"}, within=10)
    assert (await client.get_task(pending)).output.task_status is TaskStatus.PENDING
    await client.cancel_task(pending)
    assert (await client.get_task(pending)).output.task_status is TaskStatus.CANCELED
    with pytest.raises(ProviderInputError) as caught:
        await client.cancel_task(running)
    assert caught.value.code == "UnsupportedOperation"


async def test_an_unknown_task_is_reported_as_unknown(client: DashScopeClient) -> None:
    task = await client.get_task("no-such-task")
    assert task.output.task_status is TaskStatus.UNKNOWN


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "Arrearage", ProviderOperatorError),
        (403, "AccessDenied.Unpurchased", ProviderOperatorError),
        (429, "Throttling.AllocationQuota", ProviderOperatorError),
        (429, "Throttling.RateQuota", ProviderTransientError),
        (500, "InternalError", ProviderTransientError),
        (503, "ModelUnavailable", ProviderTransientError),
        (400, "InvalidURL.Timeout", ProviderTransientError),
        (400, "InvalidParameter", ProviderInputError),
        (400, "DataInspectionFailed", ProviderInputError),
    ],
)
async def test_error_answers_become_typed_errors(
    client: DashScopeClient,
    simulator: Simulator,
    status: int,
    code: str,
    expected: type[Exception],
) -> None:
    simulator.fail_next("query", status, code, "injected")
    with pytest.raises(expected) as caught:
        await client.get_task("whatever")
    assert getattr(caught.value, "code", None) == code
    assert KEY not in str(caught.value)


async def test_a_wrong_key_is_an_operator_error_that_hides_the_key(simulator: Simulator) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = DashScopeClient(session, simulator.base_url, SecretStr("sk-wrong-secret"))
        with pytest.raises(ProviderOperatorError) as caught:
            await wrong.get_task("x")
    assert caught.value.code == "InvalidApiKey"
    assert "sk-wrong-secret" not in repr(caught.value.args)


async def test_transient_errors_are_retried_a_bounded_number_of_times(
    client: DashScopeClient, simulator: Simulator
) -> None:
    simulator.fail_next("query", 500, "InternalError", "boom", times=2)
    task = await with_retries(lambda: client.get_task("x"), retries=2, base_delay=0.01)
    assert task.output.task_status is TaskStatus.UNKNOWN

    simulator.fail_next("query", 503, "ModelUnavailable", "down", times=5)
    before = simulator.query_count.total
    with pytest.raises(ProviderTransientError):
        await with_retries(lambda: client.get_task("x"), retries=2, base_delay=0.01)
    assert simulator.query_count.total - before == 3


async def test_a_submit_without_an_answer_is_marked_maybe_accepted() -> None:
    async def never_answers(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", never_answers)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    submit = {
        "image_url": "oss://a",
        "audio_url": "oss://b",
        "face_bbox": [0, 0, 1, 1],
        "ext_bbox": [0, 0, 2, 2],
        "style_level": "normal",
    }
    try:
        async with aiohttp.ClientSession() as session:
            silent = DashScopeClient(
                session, f"http://127.0.0.1:{port}/api/v1", SecretStr(KEY), timeout_seconds=0.3
            )
            with pytest.raises(ProviderTransientError) as caught:
                await silent.submit_synthesis(**submit)  # type: ignore[arg-type]
            assert caught.value.maybe_accepted
            with pytest.raises(ProviderTransientError) as polled:
                await silent.get_task("x")
            assert not polled.value.maybe_accepted
            # Refused connections sent nothing: a submit there is certainly not accepted.
            dead = DashScopeClient(session, "http://127.0.0.1:9/api/v1", SecretStr(KEY))
            with pytest.raises(ProviderTransientError) as refused:
                await dead.submit_synthesis(**submit)  # type: ignore[arg-type]
            assert not refused.value.maybe_accepted
    finally:
        await runner.cleanup()


def test_classification_follows_the_spec_table() -> None:
    assert classify(401, "InvalidApiKey") is ErrorKind.OPERATOR
    assert classify(404, "ModelNotFound") is ErrorKind.OPERATOR
    assert classify(400, "InvalidFile.MultiHuman") is ErrorKind.INPUT
    assert classify(400, "InvalidParameter.DataInspection") is ErrorKind.TRANSIENT
    assert classify(504, "") is ErrorKind.TRANSIENT


# --- the real service's answers: retry hints, request ids, error fields -----------------------


async def test_a_retry_hint_is_honoured_and_the_request_id_kept(
    client: DashScopeClient, simulator: Simulator
) -> None:
    simulator.fail_next("query", 503, "ServiceUnavailable", "busy", retry_after=0.6)
    with pytest.raises(ProviderTransientError) as caught:
        await client.get_task("x")
    assert caught.value.retry_after == pytest.approx(0.6, abs=0.05)
    assert caught.value.request_id  # from the body or the X-Request-ID header
    assert caught.value.request_id in caught.value.reference

    simulator.fail_next("query", 503, "ServiceUnavailable", "busy", retry_after=0.6)
    started = asyncio.get_running_loop().time()
    task = await with_retries(lambda: client.get_task("x"), retries=1, base_delay=0.01)
    assert task.output.task_status is TaskStatus.UNKNOWN
    assert asyncio.get_running_loop().time() - started >= 0.55  # waited as asked, not 0.01 s


async def test_an_error_message_under_msg_is_read(
    client: DashScopeClient, simulator: Simulator
) -> None:
    simulator.update_knobs(error_message_field="msg")
    simulator.fail_next("query", 400, "InvalidParameter", "the task id is malformed")
    with pytest.raises(ProviderInputError) as caught:
        await client.get_task("x")
    assert caught.value.message == "the task id is malformed"


@pytest.mark.parametrize(
    "code", ["Model.NotExist", "Model.AccessDenied", "AccessDenied.Unpurchased", "NoSuchThing"]
)
async def test_account_and_unknown_4xx_codes_are_the_operators(
    client: DashScopeClient, simulator: Simulator, code: str
) -> None:
    simulator.fail_next("query", 400, code, "refused")
    with pytest.raises(ProviderOperatorError):
        await client.get_task("x")


async def test_cancel_sends_no_body_and_no_content_type(
    client: DashScopeClient, simulator: Simulator, voice_mp3: bytes
) -> None:
    simulator.update_knobs(render_overhead_seconds=30)  # the first runs, the second waits
    detect_url, image_url, audio_url = await _inputs(client, voice_mp3)
    detection = await client.detect_face(detect_url, ratio="1:1")
    submit = {
        "image_url": image_url,
        "audio_url": audio_url,
        "face_bbox": detection.face_bbox,
        "ext_bbox": detection.ext_bbox,
        "style_level": "normal",
    }
    await client.submit_synthesis(**submit)  # type: ignore[arg-type]
    pending = await client.submit_synthesis(**submit)  # type: ignore[arg-type]
    await client.cancel_task(pending)
    (record,) = simulator.cancels
    assert (record.accepted, record.content_type, record.body_length) == (True, None, 0)


async def test_one_upload_policy_serves_every_file_of_its_model(
    client: DashScopeClient, simulator: Simulator, voice_mp3: bytes
) -> None:
    """A job uploads the image for the detector, the image and the audio for emo-v1: two
    policies, one per model, not three."""
    await _inputs(client, voice_mp3)
    assert sorted(policy.model for policy in simulator.policies) == [DETECT_MODEL, SYNTHESIS_MODEL]
