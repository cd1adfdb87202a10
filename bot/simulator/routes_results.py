"""Result download: pre-signed OSS-style URLs of task videos and GET /results/{name}."""

from __future__ import annotations

import logging

from aiohttp import web
from yarl import URL

from .context import SimContext
from .errors import OssError
from .plumbing import RequestGate

log = logging.getLogger(__name__)

# An MP4's first box, then no video at all (the knob ``result_not_a_video``).
_NOT_A_VIDEO = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 4096


class ResultRoutes:
    """Signs result URLs and serves the MP4s behind them."""

    def __init__(self, ctx: SimContext, gate: RequestGate) -> None:
        self.ctx = ctx
        self.gate = gate

    def sign_result_url(self, task_id: str, expires: int) -> str:
        """Pre-signed URL of a task's MP4 (OSS style: Expires, OSSAccessKeyId, Signature)."""
        signer = self.ctx.signer
        path = f"/results/{task_id}.mp4"
        signature = signer.sign(signer.result_string(path, expires))
        base = self.ctx.state.knobs.result_url_base or self.ctx.root_url
        url = (
            URL(base)
            .with_path(path)
            .with_query(
                {
                    "Expires": str(expires),
                    "OSSAccessKeyId": signer.access_key_id,
                    "Signature": signature,
                }
            )
        )
        return str(url)

    async def result(self, request: web.Request) -> web.StreamResponse:
        """GET /results/{task_id}.mp4 with a valid, unexpired OSS-style signature."""
        failure = self.gate.inject("result")
        if failure is not None:
            raise OssError(
                failure.status, failure.code, failure.message, retry_after=failure.retry_after
            )
        signer = self.ctx.signer
        name = request.match_info["name"]
        query = request.query
        expires_text = query.get("Expires", "")
        signature = query.get("Signature", "")
        if not expires_text or not signature or "OSSAccessKeyId" not in query:
            raise OssError(403, "AccessDenied", "You have no right to access this object.")
        if query["OSSAccessKeyId"] != signer.access_key_id:
            raise OssError(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
            )
        try:
            expires = int(expires_text)
        except ValueError as exc:
            raise OssError(403, "AccessDenied", "Invalid Expires.") from exc
        if not signer.verify(signer.result_string(request.path, expires), signature):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self.ctx.state.clock.now() > expires:
            raise OssError(403, "AccessDenied", "Request has expired.")
        task = self.ctx.state.tasks.get(name.removesuffix(".mp4"))
        if task is None or task.result_path is None or not task.result_path.exists():
            raise OssError(404, "NoSuchKey", "The specified key does not exist.")
        knobs = self.ctx.state.knobs
        if knobs.result_redirect_location is not None:
            return web.Response(status=302, headers={"Location": knobs.result_redirect_location})
        if knobs.result_not_a_video:
            return web.Response(body=_NOT_A_VIDEO, headers={"Content-Type": "video/mp4"})
        return web.FileResponse(task.result_path, headers={"Content-Type": "video/mp4"})
