"""Persistent buttons: their custom ids carry the job id, so they work after a restart.

The buttons are given what they run (``ButtonActions``) when they are made: they look
nothing up at run time.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, Self

import discord

from bot.messages import MessageKey, UserMessage, render

Button = discord.ui.Button[discord.ui.View]
CANCEL_TEMPLATE = r"emo:cancel:(?P<job>[0-9]+)"
RETRY_TEMPLATE = r"emo:retry:(?P<job>[0-9]+)"


class ButtonActions(Protocol):
    async def cancel_from_interaction(
        self, interaction: discord.Interaction[Any], job_id: int
    ) -> None: ...

    async def retry_from_interaction(
        self, interaction: discord.Interaction[Any], job_id: int
    ) -> None: ...


def _label(item: discord.ui.Item[Any], default: str) -> str:
    return (item.label if isinstance(item, discord.ui.Button) else None) or default


class JobButtons:
    """The Cancel and Retry buttons, bound to the actions they run."""

    def __init__(self, actions: ButtonActions) -> None:
        class CancelButton(discord.ui.DynamicItem[Button], template=CANCEL_TEMPLATE):
            """Cancel the job on whose card it sits."""

            def __init__(self, job_id: int, label: str = "Cancel") -> None:
                super().__init__(
                    discord.ui.Button(
                        label=label,
                        style=discord.ButtonStyle.secondary,
                        custom_id=f"emo:cancel:{job_id}",
                    )
                )
                self.job_id = job_id

            @classmethod
            async def from_custom_id(
                cls,
                interaction: discord.Interaction[Any],
                item: discord.ui.Item[Any],
                match: re.Match[str],
            ) -> Self:
                return cls(int(match["job"]), _label(item, "Cancel"))

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                await actions.cancel_from_interaction(interaction, self.job_id)

        class RetryButton(discord.ui.DynamicItem[Button], template=RETRY_TEMPLATE):
            """Run the job again with the same inputs (the button twin of the 🔁 reaction)."""

            def __init__(self, job_id: int, label: str = "Retry") -> None:
                super().__init__(
                    discord.ui.Button(
                        label=label,
                        style=discord.ButtonStyle.primary,
                        emoji="🔁",
                        custom_id=f"emo:retry:{job_id}",
                    )
                )
                self.job_id = job_id

            @classmethod
            async def from_custom_id(
                cls,
                interaction: discord.Interaction[Any],
                item: discord.ui.Item[Any],
                match: re.Match[str],
            ) -> Self:
                return cls(int(match["job"]), _label(item, "Retry"))

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                await actions.retry_from_interaction(interaction, self.job_id)

        self._cancel = CancelButton
        self._retry = RetryButton

    @property
    def dynamic_items(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        """What the client registers so a click finds its button after a restart."""
        return (self._cancel, self._retry)

    def view(
        self, job_id: int, locale: str, *, cancel: bool = False, retry: bool = False
    ) -> discord.ui.View:
        """The buttons a message about a job carries now (an empty view clears them)."""
        view = discord.ui.View(timeout=None)
        if cancel:
            label = render(UserMessage(key=MessageKey.BUTTON_CANCEL), locale)
            view.add_item(self._cancel(job_id, label))
        if retry:
            label = render(UserMessage(key=MessageKey.BUTTON_RETRY), locale)
            view.add_item(self._retry(job_id, label))
        return view
