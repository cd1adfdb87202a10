"""Persistent buttons: their custom ids carry the job id, so they work after a restart."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Self

import discord

from bot.jobs.models import Job
from bot.jobs.status import can_cancel, can_retry
from bot.messages import MessageKey, UserMessage, render

if TYPE_CHECKING:
    from cogs.emo.actions import JobActions

Button = discord.ui.Button[discord.ui.View]


def _actions(interaction: discord.Interaction[Any]) -> JobActions:
    cog = interaction.client.get_cog("emo")
    actions: JobActions | None = getattr(cog, "actions", None)
    if actions is None:
        raise RuntimeError("the emo extension is not loaded")
    return actions


class CancelButton(discord.ui.DynamicItem[Button], template=r"emo:cancel:(?P<job>[0-9]+)"):
    """Cancel the job on whose card it sits."""

    def __init__(self, job_id: int, label: str = "Cancel") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"emo:cancel:{job_id}"
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["job"]), label or "Cancel")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _actions(interaction).cancel_from_interaction(interaction, self.job_id)


class RetryButton(discord.ui.DynamicItem[Button], template=r"emo:retry:(?P<job>[0-9]+)"):
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
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Self:
        label = item.label if isinstance(item, discord.ui.Button) else None
        return cls(int(match["job"]), label or "Retry")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await _actions(interaction).retry_from_interaction(interaction, self.job_id)


def job_view(job: Job, *, retry: bool = True) -> discord.ui.View:
    """The buttons a message about ``job`` carries now (an empty view clears them)."""
    view = discord.ui.View(timeout=None)
    if can_cancel(job):
        label = render(UserMessage(key=MessageKey.BUTTON_CANCEL), job.locale)
        view.add_item(CancelButton(job.id, label))
    if retry and can_retry(job):
        label = render(UserMessage(key=MessageKey.BUTTON_RETRY), job.locale)
        view.add_item(RetryButton(job.id, label))
    return view
