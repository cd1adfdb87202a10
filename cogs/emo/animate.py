"""``/emo``: parse the interaction, call the service, render the answer."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.cards.lines import state_name
from bot.jobs.models import Framing, InputRef, Job, Style
from bot.jobs.states import JobState
from bot.media.audio import MAX_SECONDS
from bot.messages import MessageKey, UserMessage
from bot.wiring import EmoBot
from cogs.emo.actions import JobActions
from cogs.emo.privacy import PrivacyCommands
from cogs.shared.locale import interaction_locale
from cogs.shared.markup import message_link, say

log = logging.getLogger(__name__)

JOBS_LISTED = 10


@app_commands.guild_only()
class EmoCog(
    PrivacyCommands,
    commands.GroupCog,
    name="emo",
    group_name="emo",
    group_description="Talking portraits",
):
    """Talking-portrait commands."""

    def __init__(self, bot: EmoBot, actions: JobActions) -> None:
        self.bot = bot
        self.service = bot.core.service
        self.rows = bot.core.jobs
        self.card_rows = bot.core.cards
        self.actions = actions
        super().__init__()

    async def cog_unload(self) -> None:
        """Shutting down: requests still being checked are told to try again (their rows are
        resumed on the next start), while Discord and the database are still reachable."""
        await self.actions.stop()

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.actions.retry_from_reaction(payload)

    @app_commands.command(
        name="animate", description="Turn a portrait and a voice recording into a talking video"
    )
    @app_commands.describe(
        image="A photo of one person, face clearly visible",
        audio="A voice message or audio file of up to 60 seconds",
        style="How lively the motion is",
        framing="Head shot (square) or half body (portrait)",
        trim="Use the first 60 seconds of a longer recording instead of refusing it",
        dm="Send me the video by direct message",
        confirm="Show me the crop and the cost first; nothing is made until I press Confirm",
    )
    @app_commands.choices(
        style=[
            app_commands.Choice(name="normal", value=Style.NORMAL.value),
            app_commands.Choice(name="calm", value=Style.CALM.value),
            app_commands.Choice(name="active", value=Style.ACTIVE.value),
        ],
        framing=[
            app_commands.Choice(name="head 1:1", value=Framing.HEAD.value),
            app_commands.Choice(name="half body 3:4", value=Framing.HALF_BODY.value),
        ],
    )
    async def animate(
        self,
        interaction: discord.Interaction[EmoBot],
        image: discord.Attachment,
        audio: discord.Attachment,
        style: app_commands.Choice[str] | None = None,
        framing: app_commands.Choice[str] | None = None,
        trim: bool = False,
        dm: bool = False,
        confirm: bool = False,
    ) -> None:
        # Acknowledge first: everything after may take longer than Discord's 3 s.
        await interaction.response.defer(ephemeral=True, thinking=True)
        request = await self.actions.build_request(
            interaction,
            image=InputRef(url=image.url, declared_size=image.size),
            audio=InputRef(url=audio.url, declared_size=audio.size),
            style=Style(style.value) if style else None,
            framing=Framing(framing.value) if framing else None,
            trim=trim,
            dm=dm,
            confirm=confirm,
        )
        # A refusal raises UserFacingError, which the tree's error handler shows privately.
        await self.actions.start(interaction, request)

    @app_commands.command(name="cancel", description="Cancel your latest video, or a given job")
    @app_commands.describe(job="The job number (default: your latest job on its way)")
    async def cancel(
        self,
        interaction: discord.Interaction[EmoBot],
        job: app_commands.Range[int, 1] | None = None,
    ) -> None:
        if job is None:
            mine = await self._my_jobs(interaction, live_only=True)
            if not mine:
                text = say(
                    UserMessage(key=MessageKey.NOTHING_TO_CANCEL), interaction_locale(interaction)
                )
                await interaction.response.send_message(text, ephemeral=True)
                return
            job = mine[0].id
        await self.actions.cancel_from_interaction(interaction, job)

    @app_commands.command(name="queue", description="Where your videos are in the queue")
    async def queue(self, interaction: discord.Interaction[EmoBot]) -> None:
        locale = interaction_locale(interaction)
        spots = await self.service.forecast()
        waiting = await self.rows.in_states(
            (JobState.QUEUED, JobState.SUBMITTING, JobState.SUBMITTED)
        )
        here = [job for job in waiting if job.guild_id == interaction.guild_id]
        rendering = sum(1 for job in here if job.started_at is not None)
        lines = [
            say(
                UserMessage(
                    key=MessageKey.QUEUE_SERVER,
                    params={
                        "waiting": len(here) - rendering,
                        "rendering": rendering,
                        "total": len(waiting),
                    },
                ),
                locale,
            )
        ]
        mine = [job for job in here if job.user_id == interaction.user.id]
        for job in mine:
            spot = spots.get(job.id)
            eta = discord.utils.format_dt(spot.ready_at, "R") if spot and spot.ready_at else "?"
            params = {
                "job": job.id,
                "state": say(state_name(job), locale),
                "ahead": spot.ahead if spot else 0,
                "eta": eta,
            }
            lines.append(say(UserMessage(key=MessageKey.QUEUE_MINE, params=params), locale))
        if not mine:
            lines.append(say(UserMessage(key=MessageKey.QUEUE_NOT_MINE), locale))
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @app_commands.command(name="jobs", description="Your latest videos and their states")
    async def jobs(self, interaction: discord.Interaction[EmoBot]) -> None:
        locale = interaction_locale(interaction)
        mine = await self._my_jobs(interaction, live_only=False)
        if not mine:
            text = say(UserMessage(key=MessageKey.JOBS_NONE), locale)
            await interaction.response.send_message(text, ephemeral=True)
            return
        lines = [say(UserMessage(key=MessageKey.JOBS_HEADER), locale)]
        for job in mine:
            params = {
                "job": job.id,
                "state": say(state_name(job), locale),
                "when": discord.utils.format_dt(job.created_at, "R"),
                "link": await self._link(job),
            }
            lines.append(say(UserMessage(key=MessageKey.JOBS_LINE, params=params), locale))
        await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True)

    @app_commands.command(name="help", description="How to make a talking portrait")
    async def help(self, interaction: discord.Interaction[EmoBot]) -> None:
        text = say(
            UserMessage(key=MessageKey.HELP, params={"seconds": int(MAX_SECONDS)}),
            interaction_locale(interaction),
        )
        await interaction.response.send_message(text, ephemeral=True)

    async def _my_jobs(
        self, interaction: discord.Interaction[EmoBot], *, live_only: bool
    ) -> list[Job]:
        jobs = await self.rows.recent(
            user_id=interaction.user.id, guild_id=interaction.guild_id, limit=JOBS_LISTED
        )
        return [job for job in jobs if not (live_only and job.state.is_terminal)]

    async def _link(self, job: Job) -> str:
        if job.message_id and not job.deliver_dm:
            return message_link(job.guild_id, job.channel_id, job.message_id)
        card = await self.card_rows.get(job.id)
        if card is None or not card.message_id:
            return ""
        return message_link(job.guild_id, job.channel_id, card.message_id)
