"""Synthesis submission: POST video-synthesis (asynchronous, emo-v1) queues a task."""

from __future__ import annotations

import asyncio
import logging
import uuid

from aiohttp import web

from .answers import new_request_id, ok
from .context import SimContext
from .errors import ApiError
from .inputs import InputFetcher
from .media import inspect_image, probe_audio, sniff_audio
from .payloads import SYNTH_MODEL, SynthesisRequest
from .plumbing import RequestGate, async_header, check_model, json_body, parse, resolve_header
from .records import SubmissionRecord
from .render import ratio_of
from .scheduler import TaskPayload
from .tasks import BBox, Ratio, SimTask, StyleLevel

log = logging.getLogger(__name__)

STYLES: tuple[StyleLevel, ...] = ("normal", "calm", "active")


class SynthesisRoutes:
    """Validates a synthesis request, fetches its inputs and hands the task to the scheduler."""

    def __init__(self, ctx: SimContext, gate: RequestGate, inputs: InputFetcher) -> None:
        self.ctx = ctx
        self.gate = gate
        self.inputs = inputs

    async def submit(self, request: web.Request) -> web.Response:
        """POST video-synthesis (asynchronous only): validate, fetch inputs, queue a task."""
        caller = await self.gate.enter(request, "submit")
        account = caller.account
        if not async_header(request):
            raise ApiError(
                403, "AccessDenied", "current user api does not support synchronous calls"
            )
        body = await json_body(request)
        check_model(body, SYNTH_MODEL)
        req = parse(SynthesisRequest, body)
        style = self._style(req.parameters.style_level)
        face, ext, ratio = self._boxes(req)
        resolve = resolve_header(request)
        image = await self.inputs.fetch(req.input.image_url, account, SYNTH_MODEL, resolve)
        audio = await self.inputs.fetch(req.input.audio_url, account, SYNTH_MODEL, resolve)
        info = inspect_image(image)
        if ext[2] > info.width or ext[3] > info.height:
            raise ApiError(
                400,
                "InvalidParameter",
                "Invalid parameter ext_bbox: it must lie inside the image "
                f"({info.width}x{info.height}).",
            )
        duration = await self._audio_duration(audio)
        state = self.ctx.state
        now = state.clock.now()
        task = SimTask(
            task_id=str(uuid.uuid4()),
            account=account.account_id,
            api_key_id=caller.api_key_id,
            request_id=new_request_id(),
            model=SYNTH_MODEL,
            image_url=req.input.image_url,
            audio_url=req.input.audio_url,
            face_bbox=face,
            ext_bbox=ext,
            style_level=style,
            ratio=ratio,
            audio_duration=duration,
            submitted_at=now,
        )
        task.set_status("PENDING", now)
        state.submissions.append(
            SubmissionRecord(
                account=account.account_id,
                api_key_id=caller.api_key_id,
                task_id=task.task_id,
                model=SYNTH_MODEL,
                image_url=task.image_url,
                audio_url=task.audio_url,
                face_bbox=face,
                ext_bbox=ext,
                style_level=style,
                submitted_at=now,
                oss_resolve=resolve,
            )
        )
        self.ctx.scheduler.enqueue(task, TaskPayload(image=image, audio=audio))
        log.info("simulated task %s queued (%.2fs audio, %s)", task.task_id, duration, ratio)
        if state.knobs.submit_answer_delay_seconds:
            # The task exists already; only its answer is slow on the way back.
            await asyncio.sleep(state.knobs.submit_answer_delay_seconds)
        return ok(
            {"output": {"task_id": task.task_id, "task_status": "PENDING"}},
            request_id=task.request_id,
        )

    def _boxes(self, req: SynthesisRequest) -> tuple[BBox, BBox, Ratio]:
        """The request's face and crop boxes, checked, and the crop's aspect."""
        face = self._box(req.input.face_bbox, "face_bbox")
        ext = self._box(req.input.ext_bbox, "ext_bbox")
        ratio = ratio_of(ext)
        if ratio is None:
            raise ApiError(
                400, "InvalidParameter", "Invalid parameter ext_bbox: its ratio must be 1:1 or 3:4."
            )
        if not (
            ext[0] <= face[0] and ext[1] <= face[1] and face[2] <= ext[2] and face[3] <= ext[3]
        ):
            raise ApiError(
                400, "InvalidParameter", "Invalid parameter face_bbox: it must lie inside ext_bbox."
            )
        return face, ext, ratio

    async def _audio_duration(self, audio: bytes) -> float:
        knobs = self.ctx.state.knobs
        if sniff_audio(audio) is None:
            raise ApiError(
                400, "InvalidURL", "File type is not supported. Allowed types are: .wav, .mp3."
            )
        if len(audio) > knobs.max_audio_mb * 1024 * 1024:
            raise ApiError(400, "InvalidURL", f"File size is larger than {knobs.max_audio_mb:g}MB.")
        info = await asyncio.to_thread(probe_audio, audio)
        if info.duration > knobs.max_audio_seconds:
            raise ApiError(
                400, "InvalidURL", f"The input audio is longer than {knobs.max_audio_seconds:g}s."
            )
        return info.duration

    @staticmethod
    def _style(value: str) -> StyleLevel:
        for style in STYLES:
            if value == style:
                return style
        raise ApiError(
            400,
            "InvalidParameter",
            "Invalid parameter style_level: must be normal, calm or active.",
        )

    @staticmethod
    def _box(values: list[int], name: str) -> BBox:
        x1, y1, x2, y2 = values
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            raise ApiError(
                400, "InvalidParameter", f"Invalid parameter {name}: expected [x1, y1, x2, y2]."
            )
        return (x1, y1, x2, y2)
