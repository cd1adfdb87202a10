"""Face detection: POST face-detect (synchronous, emo-detect-v1)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from .answers import ok
from .context import SimContext
from .errors import ApiError, ImageRejectedError
from .faces import compute_boxes, detect_faces
from .inputs import InputFetcher
from .media import inspect_image
from .payloads import DETECT_MODEL, DetectRequest
from .plumbing import RequestGate, async_header, check_model, json_body, parse, resolve_header
from .records import DetectionRecord
from .tasks import Ratio

log = logging.getLogger(__name__)

RATIOS: tuple[Ratio, ...] = ("1:1", "3:4")


class DetectRoutes:
    """Runs the detector on an image and answers the boxes, or why it refused."""

    def __init__(self, ctx: SimContext, gate: RequestGate, inputs: InputFetcher) -> None:
        self.ctx = ctx
        self.gate = gate
        self.inputs = inputs

    async def detect(self, request: web.Request) -> web.Response:
        """POST face-detect (synchronous)."""
        state = self.ctx.state
        if state.knobs.api_latency_seconds:
            await asyncio.sleep(state.knobs.api_latency_seconds)
        caller = self.gate.authenticate(request)
        self.gate.check_standing(caller)
        account = caller.account
        failure = self.gate.inject("detect")
        if failure is not None:
            if failure.status == 200:
                # A forced 200 is a check_pass=false verdict, whatever the rejection style.
                return self._rejection(failure.code, failure.message, as_http_error=False)
            raise ApiError(
                failure.status, failure.code, failure.message, retry_after=failure.retry_after
            )
        self.gate.throttle(account, "detect")
        if async_header(request):
            raise ApiError(
                403, "AccessDenied", "Current user api does not support asynchronous calls"
            )
        body = await json_body(request)
        check_model(body, DETECT_MODEL)
        req = parse(DetectRequest, body)
        ratio = self._ratio(req.parameters.ratio)
        resolve = resolve_header(request)
        data = await self.inputs.fetch(req.input.image_url, account, DETECT_MODEL, resolve)
        inspect_image(data)
        detected = await asyncio.to_thread(detect_faces, data)
        record = DetectionRecord(
            account=account.account_id,
            image_url=req.input.image_url,
            ratio=ratio,
            faces=list(detected.faces),
            check_pass=False,
            at=state.clock.now(),
        )
        knobs = state.knobs
        try:
            face, ext = compute_boxes(
                detected,
                ratio,
                min_face_fraction=knobs.detect_min_face_fraction,
                max_face_fraction=knobs.detect_max_face_fraction,
            )
        except ImageRejectedError as rejected:
            record.code, record.message = rejected.code, rejected.message
            state.detections.append(record)
            return self._rejection(
                rejected.code,
                rejected.message,
                as_http_error=knobs.detect_rejection_style == "http400",
            )
        record.check_pass, record.face_bbox, record.ext_bbox = True, face, ext
        state.detections.append(record)
        return ok(
            {
                "output": {"check_pass": True, "face_bbox": list(face), "ext_bbox": list(ext)},
                "usage": {"image_count": 1},
            }
        )

    @staticmethod
    def _rejection(code: str, message: str, *, as_http_error: bool) -> web.Response:
        if as_http_error:
            raise ApiError(400, code, message)
        return ok(
            {
                "output": {"check_pass": False, "code": code, "message": message},
                "usage": {"image_count": 1},
            }
        )

    @staticmethod
    def _ratio(value: str) -> Ratio:
        for ratio in RATIOS:
            if value == ratio:
                return ratio
        raise ApiError(400, "InvalidParameter", "Invalid parameter ratio: must be 1:1 or 3:4.")
