"""What the card keeper asks of the edge: post a card, edit it."""

from __future__ import annotations

from typing import Protocol

from bot.cards.lines import CardView
from bot.jobs.models import Job


class CardGoneError(Exception):
    """The card's message was deleted (or its channel): do not post another."""


class CardForbiddenError(Exception):
    """The bot may not post or edit there: retrying cannot help."""


class CardSurface(Protocol):
    async def post(self, job: Job, view: CardView) -> int:
        """Post ``job``'s card once (the edge dedupes by job); return its message id."""
        ...

    async def edit(self, job: Job, message_id: int, view: CardView) -> None:
        """Show ``view`` on the card ``message_id``."""
        ...
