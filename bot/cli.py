"""``python -m bot animate``: the same pipeline as ``/emo animate``, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from bot.core import Edge, open_core
from bot.errors import UserFacingError
from bot.jobs.edge import ResultPost
from bot.jobs.events import JobEvent, OperatorAlert
from bot.jobs.models import AnimateRequest, Framing, InputRef, Job, Style
from bot.jobs.states import JobState
from bot.messages import UserMessage, render
from bot.settings import Settings

EXIT_OK, EXIT_REFUSED = 0, 1

_STAGES: dict[JobState, str] = {
    JobState.PREPARING: "checking and converting the inputs, face check",
    JobState.SUBMITTING: "submitting to the provider",
    JobState.SUBMITTED: "rendering",
    JobState.SUCCEEDED: "downloading the video",
    JobState.DELIVERED: "done",
    JobState.CANCELED: "canceled",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", type=Path, help="portrait photo (JPEG, PNG, WebP, HEIC, …)")
    parser.add_argument("audio", type=Path, help="recording of up to 60 s (any common format)")
    parser.add_argument("--style", choices=[s.value for s in Style], default=Style.NORMAL.value)
    parser.add_argument(
        "--framing",
        choices=["head", "half-body"],
        default="head",
        help="head: 512×512 (1:1); half-body: 512×704 (3:4)",
    )
    parser.add_argument("--trim", action="store_true", help="use the first 60 s of a longer file")
    parser.add_argument("-o", "--output", type=Path, default=Path("out.mp4"))
    parser.add_argument(
        "--simulate", action="store_true", help="use the local simulator: free, no API key"
    )
    parser.add_argument(
        "--preview-only",
        action="store_true",
        help="check the inputs, write the crop that would be animated and print the cost "
        "estimate, then stop: no video is made, nothing is charged",
    )


def crop_path(output: Path) -> Path:
    """Where the crop is written: beside the video, ``out.mp4`` -> ``out.crop.jpg``."""
    return output.with_name(f"{output.stem}.crop.jpg")


def _plain(message: UserMessage, locale: str) -> str:
    """A message as the command line prints it: nobody to mention, so no leading gap."""
    return render(message, locale).strip()


class CommandLineProgress:
    """The command line's edge: prints each stage with the time since start, and what went
    wrong in plain words; writes the video where asked."""

    def __init__(self, output: Path, stream: TextIO, locale: str) -> None:
        self._output = output
        self._stream = stream
        self._locale = locale
        self._started = time.monotonic()
        self._last = ""
        self.finished = asyncio.Event()
        self.failure: UserMessage | None = None
        self.final: Job | None = None

    def stage(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:6.1f}s] {text}", file=self._stream, flush=True)

    def edge(self) -> Edge:
        return Edge(results=self, listen=self.job_changed, alerts=self.alert)

    async def job_changed(self, event: JobEvent) -> None:
        job = event.after
        if event.notice is not None:
            self.failure = event.notice
            print(_plain(event.notice, self._locale), file=self._stream, flush=True)
        if not event.state_changed:
            return
        text = _STAGES.get(job.state)
        if job.state is JobState.SUBMITTED and job.task_id:
            text = f"rendering (provider task {job.task_id})"
        if text:
            self.stage(text)
        if job.state.is_terminal:
            self.final = job
            self.finished.set()

    async def upload_limit(self, job: Job) -> int:
        return 1 << 40  # a file on disk has no upload limit

    async def post(self, job: Job, result: ResultPost) -> int:
        if result.video is None:
            print(_plain(result.message, self._locale), file=self._stream, flush=True)
            return 0
        await asyncio.to_thread(shutil.copyfile, result.video, self._output)
        return 0

    async def find_posted(self, job: Job) -> int | None:
        return 0 if self._output.exists() else None

    async def alert(self, alert: OperatorAlert) -> None:
        print(_plain(alert.message, self._locale), file=self._stream, flush=True)


async def animate(settings: Settings, args: argparse.Namespace, stream: TextIO) -> int:
    """Run one job to its end; return the process exit status."""
    progress = CommandLineProgress(args.output, stream, "en")
    with tempfile.TemporaryDirectory(prefix="emo-cli-") as scratch:
        # A private data dir and database: a bot running from the same folder (or on the
        # same PostgreSQL) never sees these jobs.
        # No ops server either: a bot on this machine may already hold its port.
        settings = settings.model_copy(
            update={"emo_data_dir": Path(scratch), "emo_ops_bind": "off", "emo_database_url": None}
        )
        async with open_core(settings, local_files=True) as core:
            core.attach(progress.edge())
            await core.start()
            request = AnimateRequest(
                guild_id=None,
                channel_id=0,
                user_id=0,
                image=InputRef(url=args.image.resolve().as_uri(), declared_size=0),
                audio=InputRef(url=args.audio.resolve().as_uri(), declared_size=0),
                style=Style(args.style),
                framing=Framing.HEAD if args.framing == "head" else Framing.HALF_BODY,
                trim=args.trim,
                # A preview stops where a member would be asked to confirm: nothing is spent.
                confirm_first=args.preview_only,
            )
            progress.stage("checking and converting the inputs, face check")
            try:
                accepted = await core.service.request(request)
            except UserFacingError as refusal:
                print(_plain(refusal.message, "en"), file=stream, flush=True)
                return EXIT_REFUSED
            job = accepted.job
            crop = crop_path(args.output)
            if await asyncio.to_thread(_copy_crop, core.cache.preview(job.id), crop):
                print(f"crop that will be animated: {crop}", file=stream, flush=True)
            if args.preview_only:
                seconds, usd = job.audio_seconds or 0.0, job.estimate_usd or 0.0
                print(
                    f"estimate: about USD {usd:.3f} for {seconds:.1f} s of video "
                    f"({job.framing.value}); preview only: no video made, nothing charged but "
                    "the face check",
                    file=stream,
                    flush=True,
                )
                return EXIT_OK
            progress.stage(f"queued as job {job.id} ({accepted.ahead} ahead)")
            await progress.finished.wait()
    final = progress.final
    if final is None or final.state is not JobState.DELIVERED:
        return EXIT_REFUSED
    cost = f", about USD {final.cost_usd:.3f}" if final.cost_usd is not None else ""
    seconds = final.video_seconds or 0.0
    print(f"wrote {args.output} ({seconds:.1f} s of video{cost})", file=stream, flush=True)
    return EXIT_OK


def _copy_crop(source: Path, destination: Path) -> bool:
    if not source.is_file():
        return False
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)
    return True


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(animate(settings, args, sys.stderr))
