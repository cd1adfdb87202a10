from __future__ import annotations

from itertools import pairwise

import pytest

from bot.jobs.states import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    IllegalTransitionError,
    JobState,
    check_transition,
)


def test_terminal_states_have_no_way_out() -> None:
    for state in TERMINAL_STATES:
        assert state not in ALLOWED_TRANSITIONS
        for target in JobState:
            with pytest.raises(IllegalTransitionError):
                check_transition(state, target)


def test_every_live_state_can_reach_a_terminal_state() -> None:
    for start in JobState:
        seen, frontier = {start}, [start]
        while frontier:
            for target in ALLOWED_TRANSITIONS.get(frontier.pop(), frozenset()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert seen & TERMINAL_STATES, start


def test_the_happy_path_is_allowed_step_by_step() -> None:
    path = [
        JobState.RECEIVED,
        JobState.PREPARING,
        JobState.QUEUED,
        JobState.SUBMITTING,
        JobState.SUBMITTED,
        JobState.SUCCEEDED,
        JobState.DELIVERING,
        JobState.DELIVERED,
    ]
    for current, target in pairwise(path):
        check_transition(current, target)


def test_a_submitted_task_is_never_submitted_again_from_its_row() -> None:
    # Submitting again while the provider holds a task would bill twice. The one way back is
    # to the queue, taken only when the provider itself failed the task (it bills nothing):
    # tests/bot/jobs/test_provider_failures.py shows that rule.
    with pytest.raises(IllegalTransitionError):
        check_transition(JobState.SUBMITTED, JobState.SUBMITTING)
    check_transition(JobState.SUBMITTED, JobState.QUEUED)
    with pytest.raises(IllegalTransitionError):
        check_transition(JobState.DELIVERING, JobState.SUCCEEDED)
    with pytest.raises(IllegalTransitionError):
        check_transition(JobState.SUCCEEDED, JobState.QUEUED)
