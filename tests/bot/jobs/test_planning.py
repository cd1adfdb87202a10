"""The engine's pure decisions: fairness, look-ahead, duration learning, poll spacing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.jobs.models import Framing, Job, Style
from bot.jobs.planning import (
    DurationModel,
    PollPlan,
    Usage,
    expected_ends,
    lookahead_open,
    next_poll_delay,
    pick_next,
)
from bot.jobs.states import JobState

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def job(job_id: int, guild: int | None, **fields: object) -> Job:
    values: dict[str, object] = {
        "id": job_id,
        "state": JobState.QUEUED,
        "guild_id": guild,
        "channel_id": 1,
        "user_id": 1,
        "locale": "en",
        "style": Style.NORMAL,
        "framing": Framing.HEAD,
        "upload_limit_bytes": 1,
        "image_source_url": "x",
        "audio_source_url": "x",
        "audio_seconds": 10.0,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Job.model_validate(values)


NOBODY = Usage(recent={}, last_served={})


def serve_all(queued: list[Job], usage: Usage = NOBODY) -> list[int]:
    """The order the fair share takes a queue in, each pick counting as a submission."""
    order: list[int] = []
    remaining = list(queued)
    clock = NOW
    while remaining:
        chosen = pick_next(remaining, usage, NOW)
        assert chosen is not None
        order.append(chosen.id)
        clock += timedelta(seconds=1)
        usage = usage.served(chosen.guild_id, clock)
        remaining.remove(chosen)
    return order


def test_equal_servers_take_turns_fifo_within_each() -> None:
    queued = [job(1, guild=1), job(2, guild=1), job(10, guild=2), job(11, guild=2)]
    even = Usage(recent={1: 2, 2: 2}, last_served={})
    assert serve_all(queued, even) == [1, 10, 2, 11]


def test_every_job_of_a_light_server_goes_before_a_flooding_one() -> None:
    flood = [job(i, guild=1) for i in range(1, 6)]
    light = [job(20, guild=2), job(21, guild=2), job(22, guild=3)]
    demand = Usage(recent={1: 100, 2: 2, 3: 1}, last_served={2: NOW})
    assert serve_all(flood + light, demand) == [22, 20, 21, 1, 2, 3, 4, 5]


def test_a_server_never_served_goes_before_one_just_served() -> None:
    queued = [job(1, guild=1), job(50, guild=2)]
    usage = Usage(recent={1: 1, 2: 1}, last_served={1: NOW - timedelta(seconds=5)})
    chosen = pick_next(queued, usage, NOW)
    assert chosen is not None
    assert chosen.id == 50


def test_jobs_in_backoff_are_skipped_until_due() -> None:
    later = NOW + timedelta(seconds=30)
    queued = [job(1, guild=1, not_before=later), job(2, guild=2)]
    chosen = pick_next(queued, NOBODY, NOW)
    assert chosen is not None
    assert chosen.id == 2
    assert pick_next([queued[0]], NOBODY, NOW) is None


def test_expected_ends_replay_the_providers_fifo_queue() -> None:
    model = DurationModel(rate=6.0)  # 10 s of audio -> 60 s of render
    running = job(
        1,
        1,
        state=JobState.SUBMITTED,
        submitted_at=NOW - timedelta(seconds=50),
        started_at=NOW - timedelta(seconds=40),
    )
    pending = job(2, 1, state=JobState.SUBMITTED, submitted_at=NOW - timedelta(seconds=5))
    ends = expected_ends([pending, running], model, 1, NOW)
    assert ends[1] == NOW + timedelta(seconds=20)
    assert ends[2] == NOW + timedelta(seconds=80)


def test_a_task_not_seen_running_starts_no_earlier_than_the_provider_was_free() -> None:
    model = DurationModel(rate=6.0)
    waiting = job(3, 1, state=JobState.SUBMITTED, submitted_at=NOW - timedelta(seconds=30))
    free_at = NOW - timedelta(seconds=2)  # the task before it ended 2 s ago
    ends = expected_ends([waiting], model, 1, NOW, provider_free_at=free_at)
    assert ends[3] == free_at + timedelta(seconds=60)


def test_an_overdue_render_is_expected_to_end_no_earlier_than_now() -> None:
    model = DurationModel(rate=1.0)
    late = job(1, 1, state=JobState.SUBMITTED, started_at=NOW - timedelta(seconds=99))
    assert expected_ends([late], model, 1, NOW)[1] == NOW


@pytest.mark.parametrize(
    ("running_ends_in", "expected"),
    [(60.0, False), (21.0, False), (19.0, True), (0.0, True)],
)
def test_the_lookahead_opens_only_near_the_end_of_the_running_task(
    running_ends_in: float, expected: bool
) -> None:
    ends = {1: NOW + timedelta(seconds=running_ends_in)}
    window = timedelta(seconds=20)
    assert lookahead_open(ends, concurrency=1, lookahead=1, window=window, now=NOW) is expected


def test_an_idle_provider_gets_a_task_at_once_and_a_full_one_none() -> None:
    window = timedelta(seconds=20)
    assert lookahead_open({}, concurrency=1, lookahead=1, window=window, now=NOW)
    both = {1: NOW, 2: NOW + timedelta(seconds=60)}
    assert not lookahead_open(both, concurrency=1, lookahead=1, window=window, now=NOW)
    assert not lookahead_open({1: NOW}, concurrency=1, lookahead=0, window=window, now=NOW)


def test_durations_are_learned_as_a_line_and_fall_back_to_the_prior() -> None:
    assert DurationModel.learn([], prior_rate=8.5).expected(10) == 85
    fitted = DurationModel.learn([(5, 25.0), (10, 45.0), (20, 85.0)], prior_rate=8.5)
    assert fitted.rate == pytest.approx(4.0)
    assert fitted.overhead == pytest.approx(5.0)
    same_length = DurationModel.learn([(10, 50.0), (10, 70.0), (10, 60.0)], prior_rate=8.5)
    assert same_length.expected(10) == pytest.approx(60.0)


def test_polls_are_sparse_early_and_dense_near_the_end() -> None:
    plan = PollPlan(minimum=1.0, maximum=15.0, jitter=0.0)
    rng = random.Random(1)
    far = next_poll_delay(plan, remaining=100, overdue_polls=0, rng=rng)
    near = next_poll_delay(plan, remaining=6, overdue_polls=0, rng=rng)
    due = next_poll_delay(plan, remaining=0, overdue_polls=0, rng=rng)
    late = next_poll_delay(plan, remaining=-30, overdue_polls=6, rng=rng)
    assert (far, near) == (15.0, 3.0)
    assert due == 1.0
    assert next_poll_delay(plan, remaining=1.5, overdue_polls=0, rng=rng) == pytest.approx(1.6)
    assert 1.0 < late <= 15.0


def test_queries_for_one_task_stay_few() -> None:
    """A 60 s render polled from its submission: a handful of queries, ending within 1 s."""
    plan = PollPlan(minimum=1.0, maximum=15.0, jitter=0.0)
    rng = random.Random(1)
    clock, end, polls, overdue = 0.0, 60.0, 0, 0
    while clock < end:
        remaining = end - clock
        if remaining <= plan.minimum:
            overdue += 1
        clock += next_poll_delay(plan, remaining=remaining, overdue_polls=overdue, rng=rng)
        polls += 1
    assert clock - end <= 1.0
    assert polls <= 12  # a query every 15 s, as the provider suggests, would be 4 + 15 s late
