"""Whose provider account a server's jobs run on: the operator's shared accounts, or its own.

The operator's ceilings and the bot-wide monthly budget protect the operator's money, so they
apply only to servers on the shared accounts; a server on its own account (bring your own
key) sets its own limits and is neither counted in nor refused by the bot-wide budget.
``ProviderKeys`` (``provider_keys.py``) answers for a bot that lets servers bring a key;
``SharedAccountsOnly`` where none can.
"""

from __future__ import annotations

from typing import Protocol


class AccountPlans(Protocol):
    async def own_account(self, guild_id: int) -> bool:
        """Whether ``guild_id``'s jobs run on an account of its own, billed to it."""
        ...

    async def own_account_guilds(self) -> frozenset[int]:
        """Every server on an account of its own (left out of the bot-wide budget's sum)."""
        ...


class SharedAccountsOnly:
    """Every server's jobs run on the operator's accounts."""

    async def own_account(self, guild_id: int) -> bool:
        return False

    async def own_account_guilds(self) -> frozenset[int]:
        return frozenset()
