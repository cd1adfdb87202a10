"""Answer shapes a client must cope with: SUSPENDED and unknown statuses, request ids and
retry hints in headers, `msg` for `message`, cancel without a body, reusable upload policies."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from bot.simulator import Simulator

from .conftest import KEY, Client, tone_wav
from .test_tasks import Inputs, submit_ok

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def short_inputs(client: Client, astronaut_png: bytes) -> Inputs:
    image = await client.upload("emo-v1", "portrait.png", astronaut_png)
    audio = await client.upload("emo-v1", "tone.wav", tone_wav(1))
    return Inputs(image, audio)


async def observed_statuses(client: Client, task_id: str, within: float = 10.0) -> list[str]:
    """Every distinct status a tight poll sees, until the task ends."""
    seen: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        status = (await client.task(task_id)).json["output"]["task_status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("SUCCEEDED", "FAILED", "CANCELED"):
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError(seen)


# ------------------------------------------------------------------ statuses


async def test_suspended_then_running_then_succeeded(
    client: Client, sim: Simulator, short_inputs: Inputs
) -> None:
    sim.update_knobs(suspend_seconds=0.6, render_overhead_seconds=0.2)
    sim.knobs.rate_limits.query = None
    task_id = await submit_ok(client, short_inputs)
    seen = await observed_statuses(client, task_id)
    assert seen[-3:] == ["SUSPENDED", "RUNNING", "SUCCEEDED"]
    task = sim.tasks[task_id]
    assert task.statuses == ["PENDING", "SUSPENDED", "RUNNING", "SUCCEEDED"]
    suspended, running, succeeded = (change.at for change in task.history[1:])
    assert running - suspended >= 0.55
    # The render did not progress while suspended: it took its full time after.
    assert succeeded - running >= 0.19
    assert task.scheduled_at == suspended  # it left the queue when it was suspended


async def test_running_status_alias(client: Client, sim: Simulator, short_inputs: Inputs) -> None:
    sim.update_knobs(running_status_alias="PROCESSING", render_overhead_seconds=30)
    task_id = await submit_ok(client, short_inputs)
    await sim.wait_for_task(task_id, frozenset({"RUNNING"}))
    assert (await client.task(task_id)).json["output"]["task_status"] == "PROCESSING"
    assert sim.tasks[task_id].statuses == ["PENDING", "RUNNING"]
    sim.update_knobs(running_status_alias=None)
    assert (await client.task(task_id)).json["output"]["task_status"] == "RUNNING"


# ------------------------------------------------------------------ request ids and retry hints


async def test_request_id_header_on_success_and_error(
    client: Client, sim: Simulator, http: aiohttp.ClientSession
) -> None:
    answers = [
        await client.get("/uploads", action="getPolicy", model="emo-v1"),  # 200
        await client.task("nope"),  # 200 UNKNOWN
        await client.get("/tasks"),  # 200 list
        await Client(http, sim, "sk-wrong").task("nope"),  # 401
        await client.get("/uploads", action="getPolicy"),  # 400
        await client.get("/no/such/route"),  # 404 from the router
    ]
    assert [reply.status for reply in answers] == [200, 200, 200, 401, 400, 404]
    ids = set()
    for reply in answers:
        assert reply.headers["X-Request-ID"] == reply.json["request_id"]
        ids.add(reply.json["request_id"])
    assert len(ids) == len(answers)


async def test_throttling_429_carries_retry_hints(client: Client, sim: Simulator) -> None:
    sim.knobs.rate_limits.query = 3
    codes = [(await client.task("x")).status for _ in range(3)]
    assert codes == [200] * 3
    throttled = await client.task("x")
    assert throttled.status == 429
    assert throttled.headers["X-Request-ID"] == throttled.json["request_id"]
    assert int(throttled.headers["Retry-After"]) == 1  # whole seconds, at least 1
    wait_ms = int(throttled.headers["retry-after-ms"])
    assert 0 < wait_ms <= 1000
    await asyncio.sleep(wait_ms / 1000 + 0.05)
    assert (await client.task("x")).status == 200
    assert "Retry-After" not in (await client.task("x")).headers


async def test_fail_next_may_carry_a_retry_hint(
    client: Client, sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.fail_next("query", 503, "ModelUnavailable", "Try later.", retry_after=2.5)
    reply = await client.task("x")
    assert reply.status == 503
    assert (reply.headers["Retry-After"], reply.headers["retry-after-ms"]) == ("3", "2500")
    sim.fail_next("query", 500, "InternalError", "No hint.")
    reply = await client.task("x")
    assert reply.status == 500
    assert "Retry-After" not in reply.headers
    assert "retry-after-ms" not in reply.headers
    # Over HTTP, and on the OSS upload host too.
    async with http.post(
        f"{sim.root_url}/_sim/fail_next",
        json={
            "endpoint": "upload",
            "status": 503,
            "code": "ServiceUnavailable",
            "message": "Busy.",
            "retry_after": 0.2,
        },
    ) as resp:
        assert resp.status == 200
    policy = await client.policy("emo-v1")
    reply = await client.post_form(policy["upload_host"], client.form(policy, "a.wav", b"x"))
    assert reply.status == 503
    assert "<Code>ServiceUnavailable</Code>" in reply.body
    assert (reply.headers["Retry-After"], reply.headers["retry-after-ms"]) == ("1", "200")


async def test_error_message_field_msg(
    client: Client, sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.update_knobs(error_message_field="msg")
    reply = await Client(http, sim, "sk-wrong").task("x")
    assert reply.status == 401
    assert set(reply.json) == {"code", "msg", "request_id"}
    assert reply.json["msg"] == "Invalid API-key provided."
    sim.fail_next("submit", 500, "InternalError", "Boom.")
    reply = await client.submit("a", "b", [0, 0, 1, 1], [0, 0, 1, 1])
    assert (reply.json["code"], reply.json["msg"]) == ("InternalError", "Boom.")
    sim.update_knobs(error_message_field="message")
    assert "message" in (await Client(http, sim, "sk-wrong").task("x")).json


# ------------------------------------------------------------------ cancel and policies


async def test_cancel_records_content_type_and_body(
    client: Client, sim: Simulator, short_inputs: Inputs
) -> None:
    sim.knobs.render_overhead_seconds = 30
    await submit_ok(client, short_inputs)  # holds the slot: the next ones stay PENDING
    bare, default, with_body = [await submit_ok(client, short_inputs) for _ in range(3)]
    url = f"{sim.base_url}/tasks/{{}}/cancel"
    async with client.http.post(
        url.format(bare), headers=client.headers(), skip_auto_headers=["Content-Type"]
    ) as resp:
        assert resp.status == 200
    # aiohttp's own default for a POST without data: a Content-Type all the same.
    assert (await client.cancel(default)).status == 200
    async with client.http.post(
        url.format(with_body), json={"why": "no"}, headers=client.headers()
    ) as resp:
        assert resp.status == 200
    records = [(c.task_id, c.content_type, c.body_length) for c in sim.cancels]
    assert records == [
        (bare, None, 0),
        (default, "application/octet-stream", 0),
        (with_body, "application/json", len(b'{"why": "no"}')),
    ]
    assert {c.api_key_id for c in sim.cancels} == {sim.api_key_id(KEY)}


async def test_policies_are_recorded_and_serve_several_uploads(
    client: Client, sim: Simulator, astronaut_png: bytes
) -> None:
    policy = await client.policy("emo-v1")
    await client.policy("emo-v1")
    await client.policy("emo-detect-v1")
    assert [p.model for p in sim.policies] == ["emo-v1", "emo-v1", "emo-detect-v1"]
    assert sum(p.model == "emo-v1" for p in sim.policies) == 2
    first = sim.policies[0]
    assert first.account == sim.account_id(KEY)
    assert first.api_key_id == sim.api_key_id(KEY)
    assert first.upload_dir == policy["upload_dir"]
    assert first.expires_at - first.at == pytest.approx(300)
    # One policy, two files: both stored. The same name twice: refused (no overwrite).
    host = policy["upload_host"]
    image = await client.post_form(host, client.form(policy, "portrait.png", astronaut_png))
    audio = await client.post_form(host, client.form(policy, "voice.wav", tone_wav(1)))
    assert (image.status, audio.status) == (200, 200)
    again = await client.post_form(host, client.form(policy, "voice.wav", tone_wav(1)))
    assert again.status == 409
    assert [u.filename for u in sim.uploads] == ["portrait.png", "voice.wav"]
    async with client.http.get(f"{sim.root_url}/_sim/state") as resp:
        state = await resp.json()
    assert [p["model"] for p in state["policies"]] == ["emo-v1", "emo-v1", "emo-detect-v1"]
