"""The query budget: a token bucket whose rate backs off on 429 and wins it back."""

from __future__ import annotations

import asyncio

from bot.jobs.budget import QueryBudget


async def test_a_burst_of_429s_halves_the_rate_once_and_answers_win_it_back() -> None:
    budget = QueryBudget(8.0)
    for _ in range(5):  # five queries were in flight when the provider said 429
        budget.penalize(retry_after=0.01)
    assert budget.rate == 4.0
    for _ in range(10):
        budget.succeeded()
    assert budget.rate == 8.0  # back to the ceiling, never above it
    budget.succeeded()
    assert budget.rate == 8.0


async def test_the_rate_never_falls_below_a_tenth_of_the_ceiling() -> None:
    budget = QueryBudget(10.0)
    for _ in range(8):
        budget.penalize(retry_after=0.001)
        await asyncio.sleep(0.003)  # each 429 its own burst
    assert budget.rate == 1.0
