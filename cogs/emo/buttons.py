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
CONFIRM_TEMPLATE = r"emo:confirm:(?P<job>[0-9]+)"
REFRAME_TEMPLATE = r"emo:reframe:(?P<job>[0-9]+)"


class ButtonActions(Protocol):
    async def cancel_from_interaction(
        self, interaction: discord.Interaction[Any], job_id: int
    ) -> None: ...

    async def retry_from_interaction(
        self, interaction: discord.Interaction[Any], job_id: int
    ) -> None: ...


class SpendingActions(Protocol):
    """What the Confirm button and a half-body refusal's 1:1 button run."""

    async def confirm_from_interaction(
        self, interaction: discord.Interaction[Any], job_id: int
    ) -> None: ...

    async def reframe_from_interaction(
        self, interaction: discord.Interaction[Any], job_id: int
    ) -> None: ...


def _label(item: discord.ui.Item[Any], default: str) -> str:
    return (item.label if isinstance(item, discord.ui.Button) else None) or default


class JobButtons:
    """The Cancel, Retry, Confirm and 1:1 buttons, bound to the actions they run."""

    def __init__(self, actions: ButtonActions, spending: SpendingActions) -> None:
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

        class ConfirmButton(discord.ui.DynamicItem[Button], template=CONFIRM_TEMPLATE):
            """Make the video: the job waits for this before anything is spent."""

            def __init__(self, job_id: int, label: str = "Confirm") -> None:
                super().__init__(
                    discord.ui.Button(
                        label=label,
                        style=discord.ButtonStyle.success,
                        custom_id=f"emo:confirm:{job_id}",
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
                return cls(int(match["job"]), _label(item, "Confirm"))

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                await spending.confirm_from_interaction(interaction, self.job_id)

        class ReframeButton(discord.ui.DynamicItem[Button], template=REFRAME_TEMPLATE):
            """A half-body refusal's way out: the same inputs again, framed at the head."""

            def __init__(self, job_id: int, label: str = "Head shot 1:1") -> None:
                super().__init__(
                    discord.ui.Button(
                        label=label,
                        style=discord.ButtonStyle.primary,
                        custom_id=f"emo:reframe:{job_id}",
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
                return cls(int(match["job"]), _label(item, "Head shot 1:1"))

            async def callback(self, interaction: discord.Interaction[Any]) -> None:
                await spending.reframe_from_interaction(interaction, self.job_id)

        self._cancel = CancelButton
        self._retry = RetryButton
        self._confirm = ConfirmButton
        self._reframe = ReframeButton

    @property
    def dynamic_items(self) -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
        """What the client registers so a click finds its button after a restart."""
        return (self._cancel, self._retry, self._confirm, self._reframe)

    def view(
        self,
        job_id: int,
        locale: str,
        *,
        cancel: bool = False,
        retry: bool = False,
        confirm: bool = False,
        reframe: bool = False,
    ) -> discord.ui.View:
        """The buttons a message about a job carries now (an empty view clears them)."""
        view = discord.ui.View(timeout=None)
        if confirm:
            label = render(UserMessage(key=MessageKey.BUTTON_CONFIRM), locale)
            view.add_item(self._confirm(job_id, label))
        if cancel:
            label = render(UserMessage(key=MessageKey.BUTTON_CANCEL), locale)
            view.add_item(self._cancel(job_id, label))
        if retry:
            label = render(UserMessage(key=MessageKey.BUTTON_RETRY), locale)
            view.add_item(self._retry(job_id, label))
        if reframe:
            label = render(UserMessage(key=MessageKey.BUTTON_REFRAME), locale)
            view.add_item(self._reframe(job_id, label))
        return view
