"""The simulator over real HTTP: auth, temporary uploads, face detection, controls."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.simulator import Simulator

from .conftest import ASTRONAUT_FACE, KEY, Client

pytestmark = pytest.mark.timeout(30)


def assert_request_id(body: dict[str, object]) -> None:
    uuid.UUID(str(body["request_id"]))


# ------------------------------------------------------------------ auth


async def test_missing_and_unknown_keys_are_401(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    for key in (None, "sk-nope"):
        reply = await Client(http, sim, key).task("whatever")
        assert reply.status == 401
        assert reply.json["code"] == "InvalidApiKey"
        assert reply.json["message"] == "Invalid API-key provided."
        assert_request_id(reply.json)


async def test_any_key_accepted_when_no_key_set(http: aiohttp.ClientSession) -> None:
    async with Simulator(api_keys=None) as sim:
        reply = await Client(http, sim, "sk-anything").task("nope")
        assert reply.status == 200
        assert reply.json["output"]["task_status"] == "UNKNOWN"
        empty = await Client(http, sim, "").task("nope")
        assert empty.status == 401


# ------------------------------------------------------------------ uploads


async def test_policy_shape(client: Client, sim: Simulator) -> None:
    reply = await client.get("/uploads", action="getPolicy", model="emo-v1")
    assert reply.status == 200
    assert_request_id(reply.json)
    data = reply.json["data"]
    assert data["upload_host"] == sim.upload_host
    assert data["expire_in_seconds"] == 300
    assert data["max_file_size_mb"] == 100
    assert data["x_oss_object_acl"] == "private"
    assert data["x_oss_forbid_overwrite"] == "true"
    assert data["upload_dir"].startswith("dashscope-instant/")
    policy = json.loads(base64.b64decode(data["policy"]))
    assert policy["model"] == "emo-v1"
    assert policy["upload_dir"] == data["upload_dir"]
    assert policy["account"] == sim.account_id(KEY)
    assert "expiration" in policy


async def test_policy_requires_action_and_model(client: Client) -> None:
    assert (await client.get("/uploads", action="other", model="emo-v1")).status == 400
    assert (await client.get("/uploads", action="getPolicy")).status == 400


async def test_upload_then_detect_with_oss_url(
    client: Client, sim: Simulator, astronaut_png: bytes
) -> None:
    url = await client.upload("emo-detect-v1", "portrait.png", astronaut_png)
    assert url.startswith("oss://dashscope-instant/")
    [record] = sim.uploads
    assert record.url == url
    assert record.model == "emo-detect-v1"
    assert record.size == len(astronaut_png)
    assert record.account == sim.account_id(KEY)
    reply = await client.detect(url)
    assert reply.status == 200, reply.body
    assert reply.json["output"]["check_pass"] is True


async def test_upload_rejects_file_not_last(
    client: Client, sim: Simulator, astronaut_png: bytes
) -> None:
    policy = await client.policy("emo-detect-v1")
    form = client.form(policy, "a.png", astronaut_png, file_last=False)
    reply = await client.post_form(policy["upload_host"], form)
    assert reply.status == 400
    assert "<Code>" in reply.body
    assert sim.uploads == []


async def test_upload_rejects_bad_signature_and_foreign_key(
    client: Client, astronaut_png: bytes
) -> None:
    policy = await client.policy("emo-detect-v1")
    bad_sig = client.form(policy, "a.png", astronaut_png, Signature="AAAA")
    reply = await client.post_form(policy["upload_host"], bad_sig)
    assert reply.status == 403
    assert "SignatureDoesNotMatch" in reply.body
    outside = client.form(policy, "a.png", astronaut_png, key="dashscope-instant/elsewhere/a.png")
    reply = await client.post_form(policy["upload_host"], outside)
    assert reply.status == 403
    assert "starts-with" in reply.body


async def test_upload_forbids_overwrite(client: Client, astronaut_png: bytes) -> None:
    policy = await client.policy("emo-detect-v1")
    first = await client.post_form(policy["upload_host"], client.form(policy, "a.png", b"one"))
    assert first.status == 200
    again = await client.post_form(policy["upload_host"], client.form(policy, "a.png", b"two"))
    assert again.status == 409
    assert "FileAlreadyExists" in again.body


async def test_upload_size_limit(client: Client, sim: Simulator) -> None:
    sim.knobs.upload_max_file_size_mb = 1
    policy = await client.policy("emo-detect-v1")
    big = b"\0" * (1024 * 1024 + 1)
    reply = await client.post_form(policy["upload_host"], client.form(policy, "big.bin", big))
    assert reply.status == 400
    assert "EntityTooLarge" in reply.body


async def test_expired_policy_is_403(client: Client, sim: Simulator, astronaut_png: bytes) -> None:
    policy = await client.policy("emo-detect-v1")
    sim.advance_time(301)
    reply = await client.post_form(
        policy["upload_host"], client.form(policy, "a.png", astronaut_png)
    )
    assert reply.status == 403
    assert "Policy expired" in reply.body


async def test_oss_url_bound_to_model_and_account(
    client: Client, other: Client, astronaut_png: bytes
) -> None:
    for_synthesis = await client.upload("emo-v1", "a.png", astronaut_png)
    wrong_model = await client.detect(for_synthesis)
    assert wrong_model.status == 400
    assert wrong_model.json["code"] == "InvalidParameter.DataInspection"
    for_detect = await client.upload("emo-detect-v1", "b.png", astronaut_png)
    foreign = await other.detect(for_detect)
    assert foreign.status == 400
    assert foreign.json["code"] == "InvalidParameter.DataInspection"
    assert (await client.detect(for_detect)).status == 200


async def test_oss_url_needs_resolve_header(client: Client, astronaut_png: bytes) -> None:
    url = await client.upload("emo-detect-v1", "a.png", astronaut_png)
    reply = await client.detect(url, headers={"X-DashScope-OssResourceResolve": "disable"})
    assert reply.status == 400
    assert reply.json["code"] == "InvalidParameter.DataInspection"


async def test_oss_url_expires_after_48h(
    client: Client, sim: Simulator, astronaut_png: bytes
) -> None:
    url = await client.upload("emo-detect-v1", "a.png", astronaut_png)
    sim.advance_time(48 * 3600 + 1)
    reply = await client.detect(url)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidParameter.DataInspection"


# ------------------------------------------------------------------ http(s) inputs


@pytest.fixture
async def file_server(astronaut_png: bytes) -> AsyncIterator[str]:
    """A loopback HTTP server with /astronaut.png, /missing (404) and /slow (never answers)."""

    async def portrait(request: web.Request) -> web.Response:
        return web.Response(body=astronaut_png, content_type="image/png")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=b"")

    app = web.Application()
    app.router.add_get("/astronaut.png", portrait)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_http_inputs_are_downloaded(client: Client, sim: Simulator, file_server: str) -> None:
    ok = await client.detect(f"{file_server}/astronaut.png")
    assert ok.status == 200
    missing = await client.detect(f"{file_server}/missing.png")
    assert missing.status == 400
    assert missing.json["code"] == "InvalidParameter.DataInspection"
    assert "Unable to download the media resource" in missing.json["message"]
    sim.knobs.download_timeout_seconds = 0.3
    slow = await client.detect(f"{file_server}/slow")
    assert slow.status == 400
    assert slow.json["code"] == "InvalidParameter.DataInspection"


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize("ratio", ["1:1", "3:4"])
async def test_detect_astronaut(
    client: Client, sim: Simulator, astronaut_png: bytes, ratio: str
) -> None:
    url = await client.upload("emo-detect-v1", "a.png", astronaut_png)
    reply = await client.detect(url, ratio)
    assert reply.status == 200, reply.body
    assert_request_id(reply.json)
    output = reply.json["output"]
    assert output["check_pass"] is True
    assert reply.json["usage"] == {"image_count": 1}
    face = output["face_bbox"]
    assert all(abs(a - b) <= 4 for a, b in zip(face, ASTRONAUT_FACE, strict=True)), face
    x1, y1, x2, y2 = output["ext_bbox"]
    width, height = x2 - x1, y2 - y1
    if ratio == "1:1":
        assert width == height
    else:
        assert width * 4 == height * 3
    assert 0 <= x1 < x2 <= 512
    assert 0 <= y1 < y2 <= 512
    assert x1 <= face[0]
    assert y1 <= face[1]
    assert face[2] <= x2
    assert face[3] <= y2
    # Head and shoulders: a few face widths, not the face alone.
    assert width >= 2 * (face[2] - face[0])
    [record] = sim.detections
    assert record.check_pass
    assert record.ratio == ratio
    assert len(record.faces) == 1


@pytest.mark.parametrize("style", ["http400", "check_pass"])
async def test_detect_no_face(
    client: Client, sim: Simulator, gradient_png: bytes, style: str
) -> None:
    sim.knobs.detect_rejection_style = style  # type: ignore[assignment]
    url = await client.upload("emo-detect-v1", "g.png", gradient_png)
    reply = await client.detect(url)
    if style == "http400":
        assert reply.status == 400
        assert reply.json["code"] == "InvalidFile.NoHuman"
        assert reply.json["message"].startswith("The input image has no human body")
    else:
        assert reply.status == 200
        output = reply.json["output"]
        assert output["check_pass"] is False
        assert output["code"] == "InvalidFile.NoHuman"
        assert output["message"].startswith("The input image has no human body")
    assert sim.detections[-1].faces == []


async def test_detect_two_faces(client: Client, two_faces_png: bytes) -> None:
    url = await client.upload("emo-detect-v1", "two.png", two_faces_png)
    reply = await client.detect(url)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidFile.MultiHuman"


async def test_detect_small_image(client: Client, small_png: bytes) -> None:
    url = await client.upload("emo-detect-v1", "small.png", small_png)
    reply = await client.detect(url)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidFile.Resolution"


async def test_detect_not_an_image(client: Client, voice_ogg: bytes) -> None:
    url = await client.upload("emo-detect-v1", "x.png", voice_ogg)
    reply = await client.detect(url)
    assert reply.status == 400
    assert reply.json["code"] == "InvalidFile.Format"


async def test_detect_request_rules(client: Client, astronaut_png: bytes) -> None:
    client.sim.knobs.rate_limits.detect = None
    url = await client.upload("emo-detect-v1", "a.png", astronaut_png)
    asynchronous = await client.detect(url, headers={"X-DashScope-Async": "enable"})
    assert asynchronous.status == 403
    assert asynchronous.json["code"] == "AccessDenied"
    assert asynchronous.json["message"] == "Current user api does not support asynchronous calls"
    bad_ratio = await client.detect(url, "16:9")
    assert bad_ratio.status == 400
    assert bad_ratio.json["code"] == "InvalidParameter"
    path = "/services/aigc/image2video/face-detect"
    body = {"model": "emo-v1", "input": {"image_url": url}, "parameters": {"ratio": "1:1"}}
    wrong_model = await client.post(path, body)
    assert wrong_model.status == 400
    assert wrong_model.json["code"] == "InvalidParameter"
    unknown = await client.post(path, {**body, "model": "emo-v9"})
    assert unknown.status == 404
    assert unknown.json["code"] == "ModelNotFound"
    no_input = await client.post(path, {"model": "emo-detect-v1", "input": {}})
    assert no_input.status == 400
    assert "image_url" in no_input.json["message"]
    async with client.http.post(
        client.sim.base_url + path, data=b"{}", headers=client.headers()
    ) as resp:
        assert resp.status == 400


async def test_detect_throttled_at_5_qps(client: Client, gradient_png: bytes) -> None:
    url = await client.upload("emo-detect-v1", "g.png", gradient_png)
    codes = [(await client.detect(url)).status for _ in range(6)]
    assert codes[:5] == [400] * 5
    assert codes[5] == 429


# ------------------------------------------------------------------ injection and controls


async def test_fail_next_on_policy_and_detect(
    client: Client, sim: Simulator, astronaut_png: bytes
) -> None:
    sim.fail_next("policy", 503, "ModelServingError", "Busy", times=2)
    for _ in range(2):
        reply = await client.get("/uploads", action="getPolicy", model="emo-detect-v1")
        assert reply.status == 503
        assert reply.json["code"] == "ModelServingError"
    url = await client.upload("emo-detect-v1", "a.png", astronaut_png)
    sim.fail_next("detect", 200, "InvalidFile.FacePose", "Face turned away.")
    verdict = await client.detect(url)
    assert verdict.status == 200
    assert verdict.json["output"] == {
        "check_pass": False,
        "code": "InvalidFile.FacePose",
        "message": "Face turned away.",
    }
    assert (await client.detect(url)).json["output"]["check_pass"] is True


async def test_fail_next_on_upload_is_xml(client: Client, sim: Simulator) -> None:
    policy = await client.policy("emo-detect-v1")
    sim.fail_next("upload", 500, "InternalError", "OSS hiccup")
    reply = await client.post_form(policy["upload_host"], client.form(policy, "a.png", b"x"))
    assert reply.status == 500
    assert "<Code>InternalError</Code>" in reply.body


async def test_control_endpoints(sim: Simulator, http: aiohttp.ClientSession) -> None:
    root = sim.root_url
    async with http.post(f"{root}/_sim/knobs", json={"render_overhead_seconds": 2.5}) as resp:
        assert resp.status == 200
        assert (await resp.json())["render_overhead_seconds"] == 2.5
    assert sim.knobs.render_overhead_seconds == 2.5
    async with http.post(f"{root}/_sim/knobs", json={"rate_limits": {"submit": 1}}) as resp:
        assert resp.status == 200
    assert sim.knobs.rate_limits.submit == 1
    assert sim.knobs.rate_limits.query == 20
    async with http.post(f"{root}/_sim/knobs", json={"detect_rejection_style": "x"}) as resp:
        assert resp.status == 400
    async with http.post(
        f"{root}/_sim/fail_next",
        json={"endpoint": "query", "status": 500, "code": "InternalError", "message": "boom"},
    ) as resp:
        assert resp.status == 200
    reply = await Client(http, sim, KEY).task("abc")
    assert reply.status == 500
    assert reply.json["code"] == "InternalError"
    async with http.post(f"{root}/_sim/advance_time", json={"seconds": 60}) as resp:
        assert resp.status == 200
    async with http.get(f"{root}/_sim/state") as resp:
        state = await resp.json()
    assert state["knobs"]["render_overhead_seconds"] == 2.5
    assert state["query_count"]["total"] == 1
    assert state["accounts"][0]["account_id"] == sim.account_id(KEY)
