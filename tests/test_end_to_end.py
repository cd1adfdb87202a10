"""The whole product: `python -m bot` against the fake Discord and the DashScope simulator.

Nothing is patched: the bot process is configured only through its environment.
"""

from __future__ import annotations

import asyncio
import io
import signal
import sys
from pathlib import Path

import av
import pytest
from PIL import Image

from bot.simulator import Simulator
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord, FakeMessage
from tests.support.backends import BOTH_BACKENDS
from tests.support.bot_process import BotProcess
from tests.support.e2e import attachments, is_video, job_histories, started

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120), BOTH_BACKENDS]


def _video_facts(data: bytes) -> tuple[int, int, float, bool]:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        frames = sum(1 for _ in container.decode(video))
        assert frames > 0
        return video.width, video.height, float(container.duration or 0) / 1e6, has_audio


async def test_animate_posts_the_video_in_the_channel(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    bot = bot_process()
    await started(bot, discord_fake)
    names = {command["name"] for command in discord_fake.registered_commands()}
    assert "emo" in names

    member = discord_fake.add_member(name="alice")
    interaction = await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )

    def is_result(message: FakeMessage) -> bool:
        return is_video(message)

    try:
        result = await discord_fake.wait_for_message(predicate=is_result, timeout=90)
    except TimeoutError:
        pytest.fail(f"no video was posted:\n{bot.log_text()}")

    # Acknowledged in time, by the bot user, in the channel, not through the interaction token.
    assert interaction.acked.is_set()
    assert result.author_id == discord_fake.bot_user_id
    assert not result.via_webhook
    assert result.interaction_id is None
    assert f"<@{member}>" in result.content
    (video,) = result.files
    assert video.filename.endswith(".mp4")
    width, height, seconds, has_audio = _video_facts(video.data)
    assert (width, height) == (512, 512)
    assert has_audio
    assert seconds == pytest.approx(9.98, rel=0.10)

    assert len(simulator.submissions) == 1
    assert [m for m in discord_fake.messages() if is_video(m)] == [result]
    assert discord_fake.violations == []
    assert await _settled_history(bot) == [HAPPY_PATH]


async def test_a_faceless_photo_is_refused_before_anything_is_submitted(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    blank = io.BytesIO()
    Image.linear_gradient("L").resize((640, 640)).convert("RGB").save(blank, format="PNG")
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="bob")
    files = attachments(fixtures)
    files["image"] = (blank.getvalue(), "wall.png", "image/png")
    interaction = await discord_fake.invoke_slash("emo animate", user_id=member, attachments=files)
    original = await interaction.wait_original_edit(
        lambda message: "could not find a person" in message.content, timeout=60
    )
    assert "front-facing photo of one person" in original.content
    assert simulator.submissions == []
    assert [m for m in discord_fake.messages() if is_video(m)] == []
    assert discord_fake.violations == []
    assert await _settled_history(bot) == [["received", "preparing", "rejected"]]


async def test_the_built_in_simulator_needs_no_provider_settings(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    bot = bot_process(EMO_PROVIDER="simulator", DASHSCOPE_API_KEY="", DASHSCOPE_BASE_URL="")
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="carol")
    await discord_fake.invoke_slash(
        "emo animate",
        user_id=member,
        attachments=attachments(fixtures),
        options={"framing": "3:4"},
    )
    try:
        result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    except TimeoutError:
        pytest.fail(f"no video was posted:\n{bot.log_text()}")
    width, height, _, has_audio = _video_facts(result.files[0].data)
    assert (width, height) == (512, 704)
    assert has_audio
    assert simulator.submissions == []  # the bot used its own simulator, not the test's


async def _settled_history(bot: BotProcess, within: float = 10.0) -> list[list[str]]:
    """The job histories once every job reached a final state (the post precedes its record)."""
    final = {"delivered", "rejected", "failed", "canceled", "expired"}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        histories = job_histories(bot)
        if all(h[-1] in final for h in histories) or loop.time() > deadline:
            return histories
        await asyncio.sleep(0.05)


async def _until_submitted(bot: BotProcess) -> None:
    """Wait until the task id is on the row (killing between the provider's answer and that
    write is the uncertain window, tested on its own)."""
    for _ in range(400):
        if any("submitted" in h for h in job_histories(bot)):
            return
        await asyncio.sleep(0.05)
    pytest.fail("the job never reached the provider")


async def _restart_and_expect_one_video(
    bot: BotProcess, discord_fake: FakeDiscord, simulator: Simulator
) -> FakeMessage:
    """Start the stopped bot again: the job resumes from its row and arrives exactly once."""
    connected = discord_fake.identify_count + discord_fake.resume_count
    await bot.start()
    await discord_fake.wait_for_identify(timeout=60, count=connected + 1)
    try:
        result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    except TimeoutError:
        pytest.fail(f"no video after the restart:\n{bot.log_text()}")
    assert len(simulator.submissions) == 1
    await asyncio.sleep(1.0)  # a duplicate post would show up by now
    assert len([m for m in discord_fake.messages() if is_video(m)]) == 1
    assert await _settled_history(bot) == [HAPPY_PATH]
    return result


HAPPY_PATH = [
    "received",
    "preparing",
    "queued",
    "submitting",
    "submitted",
    "succeeded",
    "delivering",
    "delivered",
]


async def test_the_video_arrives_after_the_interaction_token_expired(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    discord_fake.token_lifetime = 1.5
    simulator.update_knobs(render_overhead_seconds=3.0)  # renders outlive the token
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="dave")
    interaction = await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    try:
        result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    except TimeoutError:
        pytest.fail(f"no video was posted:\n{bot.log_text()}")
    assert interaction.is_expired()
    assert not result.via_webhook
    assert f"<@{member}>" in result.content
    assert len([m for m in discord_fake.messages() if is_video(m)]) == 1
    assert len(simulator.submissions) == 1
    # The bot noticed the token's end itself; it never used an expired token.
    assert discord_fake.violations == []
    assert await _settled_history(bot) == [HAPPY_PATH]


async def test_a_restart_mid_render_resumes_without_a_second_submit(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    simulator.update_knobs(render_overhead_seconds=4.0)
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="erin")
    await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    await _until_submitted(bot)
    assert len(simulator.submissions) == 1
    await bot.kill()  # SIGKILL: no chance to clean up
    assert simulator.tasks[simulator.submissions[0].task_id].status in ("PENDING", "RUNNING")

    result = await _restart_and_expect_one_video(bot, discord_fake, simulator)
    assert f"<@{member}>" in result.content


async def test_a_video_over_the_upload_limit_becomes_a_link_with_the_reason(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    discord_fake.upload_limit = 64 * 1024  # before the bot connects: the guild's limit
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="frank")
    await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures, "astronaut.png")
    )
    try:
        result = await discord_fake.wait_for_message(
            predicate=lambda m: "upload limit" in m.content, timeout=90
        )
    except TimeoutError:
        pytest.fail(f"no answer was posted:\n{bot.log_text()}")
    assert result.files == []
    assert f"<@{member}>" in result.content
    assert "http://127.0.0.1" in result.content
    assert discord_fake.violations == []


async def test_sigterm_mid_render_exits_quickly_and_the_job_arrives_once_after_restart(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    simulator.update_knobs(render_overhead_seconds=3.0)
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="gina")
    await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    await _until_submitted(bot)
    began = asyncio.get_running_loop().time()
    status = await bot.stop(signal.SIGTERM, grace=10.0)
    took = asyncio.get_running_loop().time() - began
    assert status == 0, bot.log_text()[-3000:]
    assert took < 10.0
    assert "unfinished jobs resume on the next start" in bot.log_text()

    await _restart_and_expect_one_video(bot, discord_fake, simulator)


async def test_sync_commands_registers_them_in_one_server_without_starting_the_bot(
    bot_process: BotFactory, discord_fake: FakeDiscord, tmp_path: Path
) -> None:
    bot = bot_process()
    done = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sync-commands",
        "--guild",
        str(discord_fake.guild_id),
        cwd=tmp_path,
        env=bot.environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(done.communicate(), timeout=60)
    assert done.returncode == 0, err.decode()
    assert out.decode().strip() == f"Registered 4 commands in server {discord_fake.guild_id}."
    names = {command["name"] for command in discord_fake.registered_commands(discord_fake.guild_id)}
    assert names == {"emo", "emo-admin", "emo-operator", "Animate this voice message"}
    assert discord_fake.identify_count == 0  # it logged in over REST only
    assert discord_fake.violations == []


async def test_a_request_caught_by_a_restart_is_told_to_try_again(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
) -> None:
    simulator.update_knobs(api_latency_seconds=5.0)  # the request is still being checked
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="hugo")
    interaction = await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    await interaction.wait_original_edit(lambda m: "Checking" in m.content, timeout=30)
    assert await bot.stop(signal.SIGTERM, grace=10.0) == 0
    answer = await interaction.wait_original_edit(lambda m: "restarting" in m.content, timeout=5)
    assert "Try again in a minute" in answer.content
    assert simulator.submissions == []
    assert "Traceback" not in bot.log_text()


async def test_a_video_over_the_upload_limit_is_re_encoded_to_fit(
    bot_process: BotFactory, discord_fake: FakeDiscord, simulator: Simulator, fixtures: Path
) -> None:
    limit = 120 * 1024
    discord_fake.upload_limit = limit  # the rendered clip is about 135 kB
    bot = bot_process()
    await started(bot, discord_fake)
    member = discord_fake.add_member(name="ivy")
    await discord_fake.invoke_slash(
        "emo animate", user_id=member, attachments=attachments(fixtures)
    )
    try:
        result = await discord_fake.wait_for_message(predicate=lambda m: is_video(m), timeout=90)
    except TimeoutError:
        pytest.fail(f"no video was posted:\n{bot.log_text()}")
    (video,) = result.files
    assert video.size <= limit
    assert "re-encoded to fit" in result.content
    width, height, seconds, has_audio = _video_facts(video.data)
    assert (width, height) == (512, 512)
    assert has_audio
    assert seconds == pytest.approx(9.98, rel=0.10)
    assert discord_fake.violations == []
