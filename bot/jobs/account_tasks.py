"""Which Alibaba Cloud account a key is of, as far as the provider lets the bot see.

Every key of an account shares the account's one EMO render slot, and the account's task
list holds the tasks of all its keys (``api_key_id`` tells them apart). So two keys whose
lists show a task in common are of one account, and a key whose list shows a task the bot
ran elsewhere is of that account. Reading the list is free. An account with no task in the
window cannot be told apart: nothing is concluded then.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import utcnow
from bot.jobs.identity import ZONE_SLACK
from bot.provider.client import DashScopeClient
from bot.provider.models import SYNTHESIS_MODEL

SAME_ACCOUNT_WINDOW = timedelta(hours=24)  # how far back an account's tasks are compared


async def account_task_ids(client: DashScopeClient) -> frozenset[str]:
    """The ids of the EMO tasks ``client``'s account listed in the last
    ``SAME_ACCOUNT_WINDOW`` (any key of it); ProviderError when the list cannot be read."""
    now = utcnow()
    listing = await client.list_tasks(
        model=SYNTHESIS_MODEL, start=now - SAME_ACCOUNT_WINDOW - ZONE_SLACK, end=now + ZONE_SLACK
    )
    return frozenset(task.task_id for task in listing.tasks)
