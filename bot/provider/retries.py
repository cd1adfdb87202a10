"""Which provider errors are worth another try, and the one retry loop for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.provider.errors import ProviderTransientError
from bot.retry import Backoff, retrying

ResultT = TypeVar("ResultT")


def transient(error: Exception) -> bool:
    """Worth another try: a transient error of a request that certainly created nothing, and
    that the provider did not tell us not to retry."""
    return (
        isinstance(error, ProviderTransientError)
        and not error.maybe_accepted
        and error.should_retry is not False
    )


def retry_hint(error: Exception) -> float | None:
    """The wait the provider asked for, if any."""
    return error.retry_after if isinstance(error, ProviderTransientError) else None


async def with_retries(
    attempt: Callable[[], Awaitable[ResultT]],
    *,
    retries: int,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
) -> ResultT:
    """Run ``attempt``, retrying transient provider errors with capped exponential backoff
    (at least as long as the provider's Retry-After, within the cap)."""
    return await retrying(
        attempt,
        attempts=retries + 1,
        backoff=Backoff(first=base_delay, cap=max_delay),
        retry_if=transient,
        what="provider request",
        hint=retry_hint,
    )
