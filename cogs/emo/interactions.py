"""The commands' interactions, kept while their tokens live: a way to answer a member when
the bot may not post in the channel."""

from __future__ import annotations

import discord

from bot.wiring import EmoBot


class LiveInteractions:
    """Job id -> the interaction that started it, until its token expires or the job ends."""

    def __init__(self) -> None:
        self._interactions: dict[int, discord.Interaction[EmoBot]] = {}

    def track(self, job_id: int, interaction: discord.Interaction[EmoBot]) -> None:
        self._interactions[job_id] = interaction

    def live(self, job_id: int) -> discord.Interaction[EmoBot] | None:
        interaction = self._interactions.get(job_id)
        if interaction is None or interaction.is_expired():
            self._interactions.pop(job_id, None)
            return None
        return interaction

    def forget(self, job_id: int) -> None:
        self._interactions.pop(job_id, None)
