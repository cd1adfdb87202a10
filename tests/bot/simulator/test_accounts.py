"""Accounts with several API keys, arrears, and the batch task list as the real service sends it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from bot.simulator import Simulator, SimulatorKnobs
from bot.simulator.__main__ import accounts_from, parse_args

from .conftest import Client, tone_wav
from .test_tasks import EXT_1_1, FACE, Inputs, submit_ok

pytestmark = pytest.mark.timeout(30)

TEAM_A = "sk-team-a"
TEAM_B = "sk-team-b"
SOLO = "sk-solo"
ARREARAGE = "Access denied, please make sure your account is in good standing."
BEIJING = timezone(timedelta(hours=8))
ROW_KEYS = {
    "task_id",
    "status",
    "model_name",
    "api_key_id",
    "caller_uid",
    "caller_parent_id",
    "region",
    "request_id",
    "gmt_create",
}


@pytest.fixture
async def team_sim(knobs: SimulatorKnobs) -> AsyncIterator[Simulator]:
    """One account "team" with two keys, and SOLO, a key that is its own account."""
    simulator = Simulator(knobs=knobs, api_keys={SOLO}, accounts={"team": [TEAM_A, TEAM_B]})
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()


@pytest.fixture
def team_a(http: aiohttp.ClientSession, team_sim: Simulator) -> Client:
    return Client(http, team_sim, TEAM_A)


@pytest.fixture
def team_b(http: aiohttp.ClientSession, team_sim: Simulator) -> Client:
    return Client(http, team_sim, TEAM_B)


@pytest.fixture
def solo(http: aiohttp.ClientSession, team_sim: Simulator) -> Client:
    return Client(http, team_sim, SOLO)


@pytest.fixture
async def team_inputs(team_a: Client, astronaut_png: bytes) -> Inputs:
    image = await team_a.upload("emo-v1", "portrait.png", astronaut_png)
    audio = await team_a.upload("emo-v1", "tone.wav", tone_wav(1))
    return Inputs(image, audio)


async def listing(client: Client, **params: str) -> dict[str, object]:
    reply = await client.get("/tasks", **params)
    assert reply.status == 200, reply.body
    return reply.json


def rows(body: dict[str, object], key: str = "data") -> list[dict[str, object]]:
    found = body[key]
    assert isinstance(found, list)
    return found


# ------------------------------------------------------------------ keys and accounts


def test_ids_are_stable_digits_and_never_the_key() -> None:
    first = Simulator.api_key_id(TEAM_A)
    assert first.isdigit()
    assert first == Simulator.api_key_id(TEAM_A)
    assert first != Simulator.api_key_id(TEAM_B)
    sim = Simulator(api_keys={SOLO}, accounts={"team": [TEAM_A, TEAM_B]})
    assert sim.account_id(TEAM_A) == sim.account_id(TEAM_B) != sim.account_id(SOLO)
    assert TEAM_A not in sim.account_id(TEAM_A)
    # Without accounts, every key is its own account, as before.
    assert Simulator(api_keys={TEAM_A, TEAM_B}).account_id(TEAM_A) != sim.account_id(TEAM_B)
    with pytest.raises(ValueError, match="listed in accounts"):
        Simulator(accounts={"one": [TEAM_A], "two": [TEAM_A]})


async def test_keys_of_one_account_share_the_slot_the_tasks_and_the_bill(
    team_a: Client, team_b: Client, solo: Client, team_sim: Simulator, team_inputs: Inputs
) -> None:
    sim = team_sim
    sim.knobs.render_overhead_seconds = 30  # hold the first task RUNNING
    # An oss:// URL belongs to the account: key B may use what key A uploaded.
    first = await submit_ok(team_a, team_inputs)
    second = await submit_ok(team_b, team_inputs)
    await sim.wait_for_task(first, frozenset({"RUNNING"}))
    # One slot for the account, whichever key submitted.
    assert (await team_a.task(second)).json["output"]["task_status"] == "PENDING"
    assert sim.tasks[first].api_key_id == sim.api_key_id(TEAM_A)
    assert sim.tasks[second].api_key_id == sim.api_key_id(TEAM_B)
    assert [(s.task_id, s.api_key_id) for s in sim.submissions] == [
        (first, sim.api_key_id(TEAM_A)),
        (second, sim.api_key_id(TEAM_B)),
    ]
    assert {s.account for s in sim.submissions} == {sim.account_id(TEAM_A)}
    account = sim.account("team")
    assert account is not None
    assert set(account.api_key_ids) == {sim.api_key_id(TEAM_A), sim.api_key_id(TEAM_B)}

    # Any key of the account sees either task; another account's key sees neither.
    assert (await team_b.task(first)).json["output"]["task_status"] == "RUNNING"
    assert (await solo.task(first)).json["output"]["task_status"] == "UNKNOWN"
    assert (await solo.cancel(second)).status == 404
    assert rows(await listing(solo)) == []

    # The list covers the whole account, each row with the id of its own key.
    listed = rows(await listing(team_a))
    assert [(r["task_id"], r["api_key_id"]) for r in listed] == [
        (second, sim.api_key_id(TEAM_B)),
        (first, sim.api_key_id(TEAM_A)),
    ]
    only_b = rows(await listing(team_a, api_key_id=sim.api_key_id(TEAM_B)))
    assert [r["task_id"] for r in only_b] == [second]

    # Key A cancels key B's pending task; the first one's bill is the account's.
    assert (await team_a.cancel(second)).status == 200
    assert sim.cancels[0].api_key_id == sim.api_key_id(TEAM_A)
    sim.knobs.render_overhead_seconds = 0.05
    assert (await sim.wait_for_task(first)).status == "SUCCEEDED"
    billed = sim.billed_seconds("team")
    assert billed > 0
    assert billed == sim.billed_seconds(TEAM_B) == sim.billed_seconds(sim.account_id(TEAM_A))
    assert sim.billed_seconds(SOLO) == 0


async def test_rate_limits_belong_to_the_account(
    team_a: Client, team_b: Client, solo: Client, team_sim: Simulator
) -> None:
    team_sim.knobs.rate_limits.query = 4
    codes = [(await client.task("x")).status for client in (team_a, team_b) * 2]
    assert codes == [200] * 4
    assert (await team_b.task("x")).status == 429
    assert (await solo.task("x")).status == 200


# ------------------------------------------------------------------ arrears


async def test_arrears_refuse_every_call_of_that_account_only(
    team_a: Client,
    team_b: Client,
    solo: Client,
    team_sim: Simulator,
    team_inputs: Inputs,
    http: aiohttp.ClientSession,
) -> None:
    sim = team_sim
    policy = await team_a.policy("emo-v1")
    task_id = await submit_ok(team_a, team_inputs)
    sim.set_arrears("team", True)
    for client in (team_a, team_b):
        answers = [
            await client.get("/uploads", action="getPolicy", model="emo-v1"),
            await client.detect(team_inputs.image),
            await client.submit(team_inputs.image, team_inputs.audio, FACE, EXT_1_1),
            await client.task(task_id),
            await client.get("/tasks"),
            await client.cancel(task_id),
        ]
        for reply in answers:
            assert reply.status == 400, reply.body
            assert reply.json["code"] == "Arrearage"
            assert reply.json["message"] == ARREARAGE
            assert reply.headers["X-Request-ID"] == reply.json["request_id"]
    # The upload host is OSS: it does not know about keys, nor about arrears.
    form = team_a.form(policy, "later.wav", tone_wav(1))
    assert (await team_a.post_form(policy["upload_host"], form)).status == 200
    # Another account is not affected.
    assert (await solo.get("/uploads", action="getPolicy", model="emo-v1")).status == 200
    assert (await solo.task(task_id)).json["output"]["task_status"] == "UNKNOWN"

    # Cleared (by account id, over HTTP this time): served again.
    async with http.post(
        f"{sim.root_url}/_sim/arrears",
        json={"account": sim.account_id(TEAM_B), "arrears": False},
    ) as resp:
        assert resp.status == 200
    assert (await team_b.task(task_id)).json["output"]["task_status"] != "UNKNOWN"
    assert (await team_a.get("/tasks")).status == 200
    with pytest.raises(KeyError):
        sim.set_arrears("nobody", True)


# ------------------------------------------------------------------ the task list


async def test_list_rows_have_the_real_shape(
    team_a: Client, team_sim: Simulator, team_inputs: Inputs
) -> None:
    sim = team_sim
    before_ms = int(time.time() * 1000)
    reply = await team_a.submit(team_inputs.image, team_inputs.audio, FACE, EXT_1_1)
    done_id = reply.json["output"]["task_id"]
    await sim.wait_for_task(done_id)
    sim.knobs.render_overhead_seconds = 30
    running_id = await submit_ok(team_a, team_inputs)
    pending_id = await submit_ok(team_a, team_inputs)
    await sim.wait_for_task(running_id, frozenset({"RUNNING"}))
    after_ms = int(time.time() * 1000)

    body = await listing(team_a)
    assert set(body) == {"data", "total", "total_page", "page_no", "page_size", "request_id"}
    assert (body["total"], body["total_page"], body["page_no"], body["page_size"]) == (3, 1, 1, 10)
    pending, running, done = rows(body)
    assert [pending["task_id"], running["task_id"], done["task_id"]] == [
        pending_id,
        running_id,
        done_id,
    ]
    assert [pending["status"], running["status"], done["status"]] == [
        "PENDING",
        "RUNNING",
        "SUCCEEDED",
    ]
    account = sim.account("team")
    assert account is not None
    for row in (pending, running, done):
        assert ROW_KEYS <= set(row) <= ROW_KEYS | {"start_time", "end_time"}
        assert "submit_time" not in row
        assert row["model_name"] == "emo-v1"
        assert row["region"] == "cn-beijing"
        assert row["caller_uid"] == account.uid
        assert str(row["caller_uid"]).isdigit()
        created = row["gmt_create"]
        assert isinstance(created, int)
        assert before_ms <= created <= after_ms
    assert done["request_id"] == reply.json["request_id"]
    assert "start_time" not in pending
    assert "end_time" not in pending
    assert "end_time" not in running
    task = sim.tasks[done_id]
    assert task.scheduled_at is not None
    assert task.ended_at is not None
    assert done["start_time"] == int(task.scheduled_at * 1000)
    assert done["end_time"] == int(task.ended_at * 1000)
    created = done["gmt_create"]
    assert isinstance(created, int)
    assert created <= int(done["start_time"]) <= int(done["end_time"])  # type: ignore[call-overload]


async def test_list_pages_are_capped_by_the_server(
    team_a: Client, team_sim: Simulator, team_inputs: Inputs
) -> None:
    team_sim.knobs.render_overhead_seconds = 30
    team_sim.knobs.rate_limits.submit = None
    ids = [await submit_ok(team_a, team_inputs) for _ in range(15)]
    first = await listing(team_a, page_size="100")
    assert (first["total"], first["total_page"], first["page_size"]) == (15, 2, 10)
    second = await listing(team_a, page_size="100", page_no="2")
    assert (second["page_no"], second["page_size"], len(rows(second))) == (2, 10, 5)
    seen = [r["task_id"] for r in rows(first) + rows(second)]
    assert seen == ids[::-1]  # newest first, each task once
    created = [r["gmt_create"] for r in rows(first) + rows(second)]
    assert created == sorted(created, reverse=True)  # type: ignore[type-var]
    small = await listing(team_a, page_size="4", page_no="4")
    assert (small["page_size"], small["total_page"], len(rows(small))) == (4, 4, 3)
    team_sim.knobs.list_page_size_cap = 100
    everything = await listing(team_a, page_size="100")
    assert (everything["page_size"], everything["total_page"], len(rows(everything))) == (
        100,
        1,
        15,
    )


async def test_list_shape_knobs_and_filters(
    team_a: Client, team_sim: Simulator, team_inputs: Inputs
) -> None:
    sim = team_sim
    done_id = await submit_ok(team_a, team_inputs)
    await sim.wait_for_task(done_id)
    sim.update_knobs(list_rows_key="tasks", list_omit_total=True)
    body = await listing(team_a)
    assert "data" not in body
    assert "total" not in body
    assert "total_page" not in body
    assert [r["task_id"] for r in rows(body, "tasks")] == [done_id]
    sim.update_knobs(list_rows_key="data", list_omit_total=False)

    assert rows(await listing(team_a, status="SUCCEEDED"))[0]["task_id"] == done_id
    assert rows(await listing(team_a, status="PENDING")) == []
    assert rows(await listing(team_a, model_name="emo-detect-v1")) == []
    assert rows(await listing(team_a, api_key_id=sim.api_key_id(TEAM_B))) == []
    # The window is on creation time, in Beijing time.
    created = datetime.fromtimestamp(sim.tasks[done_id].submitted_at, tz=BEIJING)
    around = {
        "start_time": (created - timedelta(seconds=5)).strftime("%Y%m%d%H%M%S"),
        "end_time": (created + timedelta(seconds=5)).strftime("%Y%m%d%H%M%S"),
    }
    assert len(rows(await listing(team_a, **around))) == 1
    later = (created + timedelta(seconds=5)).strftime("%Y%m%d%H%M%S")
    assert rows(await listing(team_a, start_time=later)) == []


def test_accounts_on_the_command_line() -> None:
    args = parse_args(["--account", "team=sk-a,sk-b", "--account", "team=sk-c", "--api-key", "x"])
    assert accounts_from(args) == {"team": ["sk-a", "sk-b", "sk-c"]}
    assert accounts_from(parse_args([])) is None
    with pytest.raises(SystemExit):
        accounts_from(parse_args(["--account", "no-keys"]))
