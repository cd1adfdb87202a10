"""Persistent buttons: their custom ids carry the job id, so they work after a restart.

The buttons are given what they run (``ButtonActions``) when they are made: they look
nothing up at run time.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, Self, cast

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


Run = Callable[[discord.Interaction[Any], int], Awaitable[None]]
JobButton = type[discord.ui.DynamicItem[Button]]


def _job_button(
    kind: str,
    template: str,
    run: Run,
    *,
    default: str,
    style: discord.ButtonStyle,
    emoji: str | None = None,
    doc: str,
) -> JobButton:
    """A persistent button ``emo:<kind>:<job id>`` that runs ``run`` for its job."""

    class _Button(discord.ui.DynamicItem[Button], template=template):
        def __init__(self, job_id: int, label: str = default) -> None:
            super().__init__(
                discord.ui.Button(
                    label=label, style=style, emoji=emoji, custom_id=f"emo:{kind}:{job_id}"
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
            return cls(int(match["job"]), _label(item, default))

        async def callback(self, interaction: discord.Interaction[Any]) -> None:
            await run(interaction, self.job_id)

    _Button.__name__ = _Button.__qualname__ = f"{kind.capitalize()}Button"
    _Button.__doc__ = doc
    return _Button


def _make(kind: JobButton, job_id: int, label: str) -> discord.ui.DynamicItem[Button]:
    """One button of ``kind`` for ``job_id`` (the class's own constructor, typed)."""
    make = cast(Callable[[int, str], discord.ui.DynamicItem[Button]], kind)
    return make(job_id, label)


class JobButtons:
    """The Cancel, Retry, Confirm and 1:1 buttons, bound to the actions they run."""

    def __init__(self, actions: ButtonActions, spending: SpendingActions) -> None:
        self._cancel = _job_button(
            "cancel",
            CANCEL_TEMPLATE,
            actions.cancel_from_interaction,
            default="Cancel",
            style=discord.ButtonStyle.secondary,
            doc="Cancel the job on whose card it sits.",
        )
        self._retry = _job_button(
            "retry",
            RETRY_TEMPLATE,
            actions.retry_from_interaction,
            default="Retry",
            style=discord.ButtonStyle.primary,
            emoji="🔁",
            doc="Run the job again with the same inputs (the button twin of the 🔁 reaction).",
        )
        self._confirm = _job_button(
            "confirm",
            CONFIRM_TEMPLATE,
            spending.confirm_from_interaction,
            default="Confirm",
            style=discord.ButtonStyle.success,
            doc="Make the video: the job waits for this before anything is spent.",
        )
        self._reframe = _job_button(
            "reframe",
            REFRAME_TEMPLATE,
            spending.reframe_from_interaction,
            default="Head shot 1:1",
            style=discord.ButtonStyle.primary,
            doc="A half-body refusal's way out: the same inputs again, framed at the head.",
        )

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
            view.add_item(_make(self._confirm, job_id, label))
        if cancel:
            label = render(UserMessage(key=MessageKey.BUTTON_CANCEL), locale)
            view.add_item(_make(self._cancel, job_id, label))
        if retry:
            label = render(UserMessage(key=MessageKey.BUTTON_RETRY), locale)
            view.add_item(_make(self._retry, job_id, label))
        if reframe:
            label = render(UserMessage(key=MessageKey.BUTTON_REFRAME), locale)
            view.add_item(_make(self._reframe, job_id, label))
        return view
