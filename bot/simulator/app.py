"""HTTP routes: the DashScope API (/api/v1), OSS-like storage (/oss, /results), /_sim controls."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError
from yarl import URL

from .errors import ApiError, ImageRejectedError, OssError, oss_error_xml
from .faces import compute_boxes, detect_faces
from .knobs import SimulatorKnobs, apply_changes
from .media import inspect_image, probe_audio, sniff_audio
from .oss import BUCKET, FORBID_OVERWRITE, OBJECT_ACL, PolicyDocument, Signer, policy_expired
from .render import ratio_of
from .scheduler import Scheduler, TaskPayload
from .state import (
    Account,
    BBox,
    CancelRecord,
    DetectionRecord,
    Endpoint,
    InjectedFailure,
    InjectedTaskFailure,
    QueryCount,
    Ratio,
    SimState,
    SimTask,
    StyleLevel,
    SubmissionRecord,
    UploadRecord,
    format_provider_time,
)

log = logging.getLogger(__name__)

API = "/api/v1"
DETECT_MODEL = "emo-detect-v1"
SYNTH_MODEL = "emo-v1"
KNOWN_MODELS = frozenset({DETECT_MODEL, SYNTH_MODEL})
RATIOS: tuple[Ratio, ...] = ("1:1", "3:4")
STYLES: tuple[StyleLevel, ...] = ("normal", "calm", "active")

DOWNLOAD_FAILED = "Unable to download the media resource during the data inspection process."
DOWNLOAD_TIMEOUT = "Download the media resource timed out during the data inspection process."
NOT_ACCESSIBLE = "The media resource is not accessible."
CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."

_Model = TypeVar("_Model", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BoxList = Annotated[list[StrictInt], Field(min_length=4, max_length=4)]
_BEIJING = timezone(timedelta(hours=8))
# Form fields other than the file are small; refuse absurd ones instead of buffering them.
_MAX_FIELD_BYTES = 64 * 1024


class _DetectInput(BaseModel):
    image_url: StrictStr


class _DetectParameters(BaseModel):
    ratio: StrictStr = "1:1"


class DetectRequest(BaseModel):
    """Body of face-detect."""

    model: StrictStr
    input: _DetectInput
    parameters: _DetectParameters = Field(default_factory=_DetectParameters)


class _SynthesisInput(BaseModel):
    image_url: StrictStr
    audio_url: StrictStr
    face_bbox: BoxList
    ext_bbox: BoxList


class _SynthesisParameters(BaseModel):
    style_level: StrictStr = "normal"


class SynthesisRequest(BaseModel):
    """Body of video-synthesis."""

    model: StrictStr
    input: _SynthesisInput
    parameters: _SynthesisParameters = Field(default_factory=_SynthesisParameters)


class FailNextRequest(BaseModel):
    """Body of POST /_sim/fail_next."""

    endpoint: Endpoint
    status: int = Field(ge=200, le=599)
    code: str
    message: str
    times: int = Field(default=1, ge=1)


class FailNextTaskRequest(BaseModel):
    """Body of POST /_sim/fail_next_task."""

    code: str = "InternalError.Algo"
    message: str = "Simulated algorithm failure."
    times: int = Field(default=1, ge=1)


class AdvanceTimeRequest(BaseModel):
    """Body of POST /_sim/advance_time."""

    seconds: float = Field(ge=0)


class SimStateSnapshot(BaseModel):
    """Everything GET /_sim/state reports."""

    now: float
    knobs: SimulatorKnobs
    accounts: list[Account]
    tasks: list[SimTask]
    submissions: list[SubmissionRecord]
    uploads: list[UploadRecord]
    detections: list[DetectionRecord]
    cancels: list[CancelRecord]
    query_count: QueryCount


def new_request_id() -> str:
    """A fresh request id, as every provider answer carries."""
    return str(uuid.uuid4())


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.json_response(dict(body), status=status)


def _parse_compact_time(text: str | None) -> float | None:
    """``20250911143338`` (Beijing time) as a unix time; None when absent."""
    if not text:
        return None
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=_BEIJING).timestamp()


def _ok(body: Mapping[str, Any]) -> web.Response:
    return _json(200, {"request_id": new_request_id(), **body})


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"Invalid parameter {where}: {error['msg']}" if where else str(error["msg"])


class SimulatorApp:
    """The simulated provider: state plus the handlers that speak its protocol."""

    def __init__(
        self,
        state: SimState,
        api_keys: set[str] | None,
        results_dir: Path,
        uploads_dir: Path,
        scheduler: Scheduler,
        signer: Signer,
        *,
        control_endpoints: bool,
    ) -> None:
        self.state = state
        self.api_keys = api_keys
        self.results_dir = results_dir
        self.uploads_dir = uploads_dir
        self.scheduler = scheduler
        self.signer = signer
        self.control_endpoints = control_endpoints
        self.root_url = ""
        self.session: aiohttp.ClientSession | None = None

    def build(self) -> web.Application:
        """The aiohttp application with every route."""
        app = web.Application(middlewares=[self._middleware], client_max_size=4 * 1024 * 1024)
        app.router.add_get(f"{API}/uploads", self.get_policy)
        app.router.add_post("/oss", self.upload)
        app.router.add_post(f"{API}/services/aigc/image2video/face-detect", self.detect)
        app.router.add_post(f"{API}/services/aigc/image2video/video-synthesis", self.submit)
        app.router.add_get(f"{API}/tasks", self.list_tasks)
        app.router.add_get(f"{API}/tasks/", self.list_tasks)
        app.router.add_get(f"{API}/tasks/{{task_id}}", self.query)
        app.router.add_post(f"{API}/tasks/{{task_id}}/cancel", self.cancel)
        app.router.add_get("/results/{name}", self.result)
        if self.control_endpoints:
            app.router.add_get("/_sim/state", self.sim_state)
            app.router.add_get("/_sim/knobs", self.sim_get_knobs)
            app.router.add_post("/_sim/knobs", self.sim_set_knobs)
            app.router.add_post("/_sim/fail_next", self.sim_fail_next)
            app.router.add_post("/_sim/fail_next_task", self.sim_fail_next_task)
            app.router.add_post("/_sim/advance_time", self.sim_advance_time)
        return app

    # ----------------------------------------------------------------- plumbing

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Turn raised errors into the provider's JSON bodies or OSS's XML ones."""
        try:
            return await handler(request)
        except ApiError as exc:
            log.debug("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
            return _json(
                exc.status,
                {"code": exc.code, "message": exc.message, "request_id": new_request_id()},
            )
        except OssError as exc:
            log.debug("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
            return web.Response(
                status=exc.status,
                text=oss_error_xml(exc.code, exc.message, new_request_id()),
                content_type="application/xml",
            )
        except web.HTTPException as exc:
            if not request.path.startswith(f"{API}/"):
                raise
            code = "NotFound" if exc.status == 404 else "InvalidParameter"
            return _json(
                exc.status, {"code": code, "message": exc.reason, "request_id": new_request_id()}
            )
        except Exception:
            log.exception("simulator handler failed: %s %s", request.method, request.path)
            return _json(
                500,
                {
                    "code": "InternalError",
                    "message": "An internal error has occured, please try again later.",
                    "request_id": new_request_id(),
                },
            )

    def _authenticate(self, request: web.Request) -> Account:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if (
            scheme.lower() != "bearer"
            or not key
            or (self.api_keys is not None and key not in self.api_keys)
        ):
            raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")
        return self.state.account(key)

    def _inject(self, endpoint: Endpoint) -> InjectedFailure | None:
        """Take a queued forced failure for this endpoint (the caller decides how to answer)."""
        failure = self.state.injections.take(endpoint)
        if failure is not None:
            log.info("injecting %s %s on %s", failure.status, failure.code, endpoint)
        return failure

    def _throttle(self, account: Account, endpoint: Endpoint, scope: str = "") -> None:
        knobs = self.state.knobs
        limits = knobs.rate_limits
        limit = {
            "policy": limits.policy,
            "detect": limits.detect,
            "submit": limits.submit,
            "query": limits.query,
            "cancel": limits.cancel,
        }.get(endpoint)
        key = (account.account_id, endpoint, scope)
        if not self.state.limiter.allow(key, limit, knobs.rate_window_seconds):
            self.state.throttled[endpoint] = self.state.throttled.get(endpoint, 0) + 1
            raise ApiError(
                429,
                "Throttling.RateQuota",
                "Requests rate limit exceeded, please try again later.",
            )

    async def _enter(
        self, request: web.Request, endpoint: Endpoint, *, scope: str = "", count: bool = False
    ) -> Account:
        """Common front of every API call: latency, auth, forced failure, throttling."""
        if self.state.knobs.api_latency_seconds:
            await asyncio.sleep(self.state.knobs.api_latency_seconds)
        account = self._authenticate(request)
        if count:
            self.state.query_count.add(request.match_info.get("task_id", ""))
        failure = self._inject(endpoint)
        if failure is not None:
            raise ApiError(failure.status, failure.code, failure.message)
        self._throttle(account, endpoint, scope)
        return account

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type != "application/json":
            raise ApiError(400, "InvalidParameter", "Content-Type must be application/json.")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", "The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidParameter", "The request body must be a JSON object.")
        return body

    @staticmethod
    def _check_model(body: Mapping[str, Any], expected: str) -> None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "InvalidParameter", "Model not specified.")
        if model not in KNOWN_MODELS:
            raise ApiError(404, "ModelNotFound", "Model not exist.")
        if model != expected:
            raise ApiError(
                400,
                "InvalidParameter",
                f"Model {model} is not supported by this API: use {expected}.",
            )

    @staticmethod
    def _parse(model: type[_Model], body: Mapping[str, Any]) -> _Model:
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            raise ApiError(400, "InvalidParameter", _first_error(exc)) from exc

    @staticmethod
    def _async_header(request: web.Request) -> bool:
        return request.headers.get("X-DashScope-Async", "").strip().lower() == "enable"

    async def _fetch(self, url: str, account: Account, model: str, resolve: bool) -> bytes:
        """Get an input the way the provider does: oss:// from its storage, else download it."""
        if url.startswith("oss://"):
            if not resolve:
                raise ApiError(
                    400,
                    "InvalidParameter.DataInspection",
                    f"{DOWNLOAD_FAILED} oss:// URLs need the header "
                    "X-DashScope-OssResourceResolve: enable.",
                )
            record = self.state.uploads.get(url.removeprefix("oss://"))
            if (
                record is None
                or record.account != account.account_id
                or record.model != model
                or record.expires_at < self.state.clock.now()
            ):
                raise ApiError(400, "InvalidParameter.DataInspection", NOT_ACCESSIBLE)
            try:
                return await asyncio.to_thread(record.path.read_bytes)
            except OSError as exc:
                raise ApiError(400, "InvalidParameter.DataInspection", NOT_ACCESSIBLE) from exc
        try:
            parsed = URL(url)
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"The URL is not valid: {url!r}.") from exc
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ApiError(400, "InvalidParameter", f"The URL is not valid: {url!r}.")
        return await self._download(url)

    async def _download(self, url: str) -> bytes:
        if self.session is None:
            raise ApiError(500, "InternalError", "The simulator is not started.")
        knobs = self.state.knobs
        cap = knobs.upload_max_file_size_mb * 1024 * 1024
        timeout = aiohttp.ClientTimeout(total=knobs.download_timeout_seconds)
        try:
            async with self.session.get(url, timeout=timeout) as resp:
                if resp.status != 200:
                    raise ApiError(400, "InvalidParameter.DataInspection", DOWNLOAD_FAILED)
                buf = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    buf += chunk
                    if len(buf) > cap:
                        raise ApiError(
                            400,
                            "InvalidParameter.DataInspection",
                            "The media resource is too large.",
                        )
                return bytes(buf)
        except TimeoutError as exc:
            raise ApiError(400, "InvalidParameter.DataInspection", DOWNLOAD_TIMEOUT) from exc
        except aiohttp.ClientError as exc:
            raise ApiError(400, "InvalidParameter.DataInspection", DOWNLOAD_FAILED) from exc

    def sign_result_url(self, task_id: str, expires: int) -> str:
        """Pre-signed URL of a task's MP4 (OSS style: Expires, OSSAccessKeyId, Signature)."""
        path = f"/results/{task_id}.mp4"
        signature = self.signer.sign(self.signer.result_string(path, expires))
        url = (
            URL(self.root_url)
            .with_path(path)
            .with_query(
                {
                    "Expires": str(expires),
                    "OSSAccessKeyId": self.signer.access_key_id,
                    "Signature": signature,
                }
            )
        )
        return str(url)

    # ----------------------------------------------------------------- uploads

    async def get_policy(self, request: web.Request) -> web.Response:
        """GET /api/v1/uploads?action=getPolicy&model=MODEL."""
        model = request.query.get("model", "")
        account = await self._enter(request, "policy", scope=model)
        if request.query.get("action") != "getPolicy":
            raise ApiError(400, "InvalidParameter", "Unsupported action: expected getPolicy.")
        if not model:
            raise ApiError(400, "InvalidParameter", "Missing parameter: model.")
        knobs = self.state.knobs
        now = self.state.clock.now()
        day = datetime.fromtimestamp(now, tz=_BEIJING).strftime("%Y-%m-%d")
        upload_dir = f"{BUCKET}/{account.dir_hash}/{day}/{uuid.uuid4()}"
        max_bytes = knobs.upload_max_file_size_mb * 1024 * 1024
        policy, signature = self.signer.make_policy(
            upload_dir=upload_dir,
            max_bytes=max_bytes,
            model=model,
            account=account.account_id,
            expires_at=now + knobs.policy_expire_seconds,
        )
        return _ok(
            {
                "data": {
                    "policy": policy,
                    "signature": signature,
                    "upload_dir": upload_dir,
                    "upload_host": f"{self.root_url}/oss",
                    "expire_in_seconds": int(knobs.policy_expire_seconds),
                    "max_file_size_mb": knobs.upload_max_file_size_mb,
                    "capacity_limit_mb": knobs.upload_capacity_limit_mb,
                    "oss_access_key_id": self.signer.access_key_id,
                    "x_oss_object_acl": OBJECT_ACL,
                    "x_oss_forbid_overwrite": FORBID_OVERWRITE,
                }
            }
        )

    async def upload(self, request: web.Request) -> web.Response:
        """POST {upload_host}: an OSS PostObject form whose last field is the file."""
        failure = self._inject("upload")
        if failure is not None:
            raise OssError(failure.status, failure.code, failure.message)
        if request.content_type != "multipart/form-data":
            raise OssError(400, "InvalidArgument", "The body must be multipart/form-data.")
        reader = await request.multipart()
        fields: dict[str, str] = {}
        payload: bytes | None = None
        part_type: str | None = None
        doc: PolicyDocument | None = None
        key = ""
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, aiohttp.BodyPartReader):
                raise OssError(400, "InvalidArgument", "Nested multipart bodies are not supported.")
            if payload is not None:
                raise OssError(
                    400, "InvalidArgument", "The file field must be the last field of the form."
                )
            name = (part.name or "").lower()
            if name == "file":
                doc, key = self._check_form(fields)
                payload = await self._read_part(part, doc.max_bytes, "EntityTooLarge")
                part_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            else:
                raw = await self._read_part(part, _MAX_FIELD_BYTES, "InvalidArgument")
                fields[name] = raw.decode("utf-8", errors="replace")
        if payload is None or doc is None:
            raise OssError(400, "InvalidArgument", "The form has no file field.")
        return await self._store(
            doc, key, payload, fields.get("x-oss-content-type") or part_type, fields
        )

    def _check_form(self, fields: Mapping[str, str]) -> tuple[PolicyDocument, str]:
        """Verify what must precede the file: credentials, policy, its conditions."""
        for name in ("ossaccesskeyid", "policy", "signature", "key"):
            if not fields.get(name):
                raise OssError(400, "InvalidArgument", f"Missing form field before file: {name}.")
        doc = self.signer.open_policy(
            fields["policy"], fields["signature"], fields["ossaccesskeyid"]
        )
        if policy_expired(doc, self.state.clock.now()):
            raise OssError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = fields["key"]
        prefix = doc.upload_dir + "/"
        if not key.startswith(prefix) or key == prefix or ".." in key.split("/"):
            raise OssError(
                403,
                "AccessDenied",
                "Invalid according to Policy: Policy Condition failed: "
                f'["starts-with", "$key", "{doc.upload_dir}"]',
            )
        for name, expected in (
            ("x-oss-object-acl", OBJECT_ACL),
            ("x-oss-forbid-overwrite", FORBID_OVERWRITE),
        ):
            if fields.get(name) != expected:
                raise OssError(
                    403,
                    "AccessDenied",
                    "Invalid according to Policy: Policy Condition failed: "
                    f'["eq", "${name}", "{expected}"]',
                )
        return doc, key

    @staticmethod
    async def _read_part(part: aiohttp.BodyPartReader, cap: int, code: str) -> bytes:
        buf = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            buf += chunk
            if len(buf) > cap:
                raise OssError(400, code, "Your proposed upload exceeds the maximum allowed size.")
        return bytes(buf)

    async def _store(
        self,
        doc: PolicyDocument,
        key: str,
        payload: bytes,
        content_type: str | None,
        fields: Mapping[str, str],
    ) -> web.Response:
        knobs = self.state.knobs
        now = self.state.clock.now()
        if key in self.state.uploads:
            raise OssError(
                409,
                "FileAlreadyExists",
                "The object you specified already exists and can not be overwritten.",
            )
        used = sum(
            upload.size
            for upload in self.state.uploads.values()
            if upload.account == doc.account and upload.expires_at >= now
        )
        if used + len(payload) > knobs.upload_capacity_limit_mb * 1024 * 1024:
            raise OssError(403, "AccessDenied", "The upload capacity of this account is exhausted.")
        path = self.uploads_dir / f"{uuid.uuid4().hex}.bin"
        # Reserve the key before the await, so a concurrent form cannot overwrite it.
        record = UploadRecord(
            account=doc.account,
            model=doc.model,
            key=key,
            url=f"oss://{key}",
            filename=key.removeprefix(doc.upload_dir + "/"),
            size=len(payload),
            content_type=content_type,
            uploaded_at=now,
            expires_at=now + knobs.oss_url_ttl_seconds,
            path=path,
        )
        self.state.uploads[key] = record
        try:
            await asyncio.to_thread(path.write_bytes, payload)
        except OSError:
            del self.state.uploads[key]
            raise
        log.debug("stored %s (%d bytes) for %s", record.url, record.size, doc.model)
        status = fields.get("success_action_status", "")
        if status == "200":
            return web.Response(status=200)
        if status == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Bucket>{BUCKET}</Bucket><Key>{key}</Key></PostResponse>\n"
            )
            return web.Response(status=201, text=body, content_type="application/xml")
        return web.Response(status=204)

    # ----------------------------------------------------------------- detection

    async def detect(self, request: web.Request) -> web.Response:
        """POST face-detect (synchronous)."""
        if self.state.knobs.api_latency_seconds:
            await asyncio.sleep(self.state.knobs.api_latency_seconds)
        account = self._authenticate(request)
        failure = self._inject("detect")
        if failure is not None:
            if failure.status == 200:
                # A forced 200 is a check_pass=false verdict, whatever the rejection style.
                return self._rejection(failure.code, failure.message, as_http_error=False)
            raise ApiError(failure.status, failure.code, failure.message)
        self._throttle(account, "detect")
        if self._async_header(request):
            raise ApiError(
                403, "AccessDenied", "Current user api does not support asynchronous calls"
            )
        body = await self._json_body(request)
        self._check_model(body, DETECT_MODEL)
        req = self._parse(DetectRequest, body)
        ratio = self._ratio(req.parameters.ratio)
        resolve = self._resolve_header(request)
        data = await self._fetch(req.input.image_url, account, DETECT_MODEL, resolve)
        inspect_image(data)
        detected = await asyncio.to_thread(detect_faces, data)
        record = DetectionRecord(
            account=account.account_id,
            image_url=req.input.image_url,
            ratio=ratio,
            faces=list(detected.faces),
            check_pass=False,
            at=self.state.clock.now(),
        )
        knobs = self.state.knobs
        try:
            face, ext = compute_boxes(
                detected,
                ratio,
                min_face_fraction=knobs.detect_min_face_fraction,
                max_face_fraction=knobs.detect_max_face_fraction,
            )
        except ImageRejectedError as rejected:
            record.code, record.message = rejected.code, rejected.message
            self.state.detections.append(record)
            return self._rejection(
                rejected.code,
                rejected.message,
                as_http_error=knobs.detect_rejection_style == "http400",
            )
        record.check_pass, record.face_bbox, record.ext_bbox = True, face, ext
        self.state.detections.append(record)
        return _ok(
            {
                "output": {"check_pass": True, "face_bbox": list(face), "ext_bbox": list(ext)},
                "usage": {"image_count": 1},
            }
        )

    @staticmethod
    def _rejection(code: str, message: str, *, as_http_error: bool) -> web.Response:
        if as_http_error:
            raise ApiError(400, code, message)
        return _ok(
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

    @staticmethod
    def _resolve_header(request: web.Request) -> bool:
        value = request.headers.get("X-DashScope-OssResourceResolve", "")
        return value.strip().lower() == "enable"

    # ----------------------------------------------------------------- synthesis

    async def submit(self, request: web.Request) -> web.Response:
        """POST video-synthesis (asynchronous only): validate, fetch inputs, queue a task."""
        account = await self._enter(request, "submit")
        if not self._async_header(request):
            raise ApiError(
                403, "AccessDenied", "current user api does not support synchronous calls"
            )
        body = await self._json_body(request)
        self._check_model(body, SYNTH_MODEL)
        req = self._parse(SynthesisRequest, body)
        style = self._style(req.parameters.style_level)
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
        resolve = self._resolve_header(request)
        image = await self._fetch(req.input.image_url, account, SYNTH_MODEL, resolve)
        audio = await self._fetch(req.input.audio_url, account, SYNTH_MODEL, resolve)
        info = inspect_image(image)
        if ext[2] > info.width or ext[3] > info.height:
            raise ApiError(
                400,
                "InvalidParameter",
                "Invalid parameter ext_bbox: it must lie inside the image "
                f"({info.width}x{info.height}).",
            )
        duration = await self._audio_duration(audio)
        now = self.state.clock.now()
        task = SimTask(
            task_id=str(uuid.uuid4()),
            account=account.account_id,
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
        self.state.submissions.append(
            SubmissionRecord(
                account=account.account_id,
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
        self.scheduler.enqueue(task, TaskPayload(image=image, audio=audio))
        log.info("simulated task %s queued (%.2fs audio, %s)", task.task_id, duration, ratio)
        if self.state.knobs.submit_answer_delay_seconds:
            # The task exists already; only its answer is slow on the way back.
            await asyncio.sleep(self.state.knobs.submit_answer_delay_seconds)
        return _ok({"output": {"task_id": task.task_id, "task_status": "PENDING"}})

    async def _audio_duration(self, audio: bytes) -> float:
        knobs = self.state.knobs
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

    # ----------------------------------------------------------------- tasks

    async def query(self, request: web.Request) -> web.Response:
        """GET /tasks/{task_id}: the task's status; UNKNOWN if not this account's or expired."""
        account = await self._enter(request, "query", count=True)
        task_id = request.match_info["task_id"]
        task = self._own_task(account, task_id)
        if task is None:
            return _ok({"output": {"task_id": task_id, "task_status": "UNKNOWN"}})
        output: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": task.status,
            "submit_time": format_provider_time(task.submitted_at),
        }
        if task.scheduled_at is not None:
            output["scheduled_time"] = format_provider_time(task.scheduled_at)
        if task.ended_at is not None:
            output["end_time"] = format_provider_time(task.ended_at)
        body: dict[str, Any] = {"output": output}
        if task.status == "SUCCEEDED":
            output["results"] = {"video_url": task.video_url}
            body["usage"] = {"video_duration": task.video_duration, "video_ratio": task.ratio}
        elif task.status == "FAILED":
            output["code"] = task.code
            output["message"] = task.message
        return _ok(body)

    async def list_tasks(self, request: web.Request) -> web.Response:
        """GET /tasks: the account's tasks in a time range (Beijing time, YYYYMMDDhhmmss),
        optionally of one model and status, newest first, paged. The real endpoint's exact
        fields are not confirmed (see docs/architecture.md); the bot parses it tolerantly."""
        account = await self._enter(request, "query")
        query = request.query
        now = self.state.clock.now()
        try:
            start = _parse_compact_time(query.get("start_time")) or now - 86_400
            end = _parse_compact_time(query.get("end_time")) or now
            page_no = max(1, int(query.get("page_no", "1")))
            page_size = min(100, max(1, int(query.get("page_size", "10"))))
        except ValueError as exc:
            raise ApiError(400, "InvalidParameter", f"Bad task list parameter: {exc}") from exc
        model = query.get("model_name")
        status = query.get("status")
        found = [
            task
            for task in self.state.tasks.values()
            if task.account == account.account_id
            and self.state.task_alive(task)
            and start <= task.submitted_at <= end
            and (model is None or task.model == model)
            and (status is None or task.status == status)
        ]
        found.sort(key=lambda task: task.submitted_at, reverse=True)
        page = found[(page_no - 1) * page_size : page_no * page_size]
        return _ok(
            {
                "data": [
                    {
                        "task_id": task.task_id,
                        "status": task.status,
                        "model_name": task.model,
                        "gmt_create": int(task.submitted_at * 1000),
                        "submit_time": format_provider_time(task.submitted_at),
                    }
                    for task in page
                ],
                "total": len(found),
                "total_page": -(-len(found) // page_size),
                "page_no": page_no,
                "page_size": page_size,
            }
        )

    async def cancel(self, request: web.Request) -> web.Response:
        """POST /tasks/{task_id}/cancel: only PENDING tasks can be cancelled."""
        account = await self._enter(request, "cancel")
        task_id = request.match_info["task_id"]
        task = self._own_task(account, task_id)
        if task is None:
            raise ApiError(404, "NotFound", "The task does not exist or has expired.")
        previous = task.status
        accepted = self.scheduler.cancel(task)
        self.state.cancels.append(
            CancelRecord(
                account=account.account_id,
                task_id=task_id,
                previous_status=previous,
                accepted=accepted,
                at=self.state.clock.now(),
            )
        )
        if not accepted:
            raise ApiError(400, "UnsupportedOperation", CANCEL_REFUSED)
        return _ok({})

    def _own_task(self, account: Account, task_id: str) -> SimTask | None:
        task = self.state.tasks.get(task_id)
        if task is None or task.account != account.account_id or not self.state.task_alive(task):
            return None
        return task

    async def result(self, request: web.Request) -> web.StreamResponse:
        """GET /results/{task_id}.mp4 with a valid, unexpired OSS-style signature."""
        failure = self._inject("result")
        if failure is not None:
            raise OssError(failure.status, failure.code, failure.message)
        name = request.match_info["name"]
        query = request.query
        expires_text = query.get("Expires", "")
        signature = query.get("Signature", "")
        if not expires_text or not signature or "OSSAccessKeyId" not in query:
            raise OssError(403, "AccessDenied", "You have no right to access this object.")
        if query["OSSAccessKeyId"] != self.signer.access_key_id:
            raise OssError(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
            )
        try:
            expires = int(expires_text)
        except ValueError as exc:
            raise OssError(403, "AccessDenied", "Invalid Expires.") from exc
        if not self.signer.verify(self.signer.result_string(request.path, expires), signature):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if self.state.clock.now() > expires:
            raise OssError(403, "AccessDenied", "Request has expired.")
        task = self.state.tasks.get(name.removesuffix(".mp4"))
        if task is None or task.result_path is None or not task.result_path.exists():
            raise OssError(404, "NoSuchKey", "The specified key does not exist.")
        return web.FileResponse(task.result_path, headers={"Content-Type": "video/mp4"})

    # ----------------------------------------------------------------- /_sim controls

    def snapshot(self) -> SimStateSnapshot:
        """Everything the simulator knows, for out-of-process inspection."""
        state = self.state
        return SimStateSnapshot(
            now=state.clock.now(),
            knobs=state.knobs,
            accounts=list(state.accounts.values()),
            tasks=list(state.tasks.values()),
            submissions=state.submissions,
            uploads=list(state.uploads.values()),
            detections=state.detections,
            cancels=state.cancels,
            query_count=state.query_count,
        )

    def update_knobs(self, changes: Mapping[str, Any]) -> SimulatorKnobs:
        """Apply a partial knob update and let the scheduler see it at once."""
        knobs = apply_changes(self.state.knobs, changes)
        self.scheduler.wake()
        return knobs

    async def sim_state(self, request: web.Request) -> web.Response:
        """GET /_sim/state."""
        return web.json_response(text=self.snapshot().model_dump_json())

    async def sim_get_knobs(self, request: web.Request) -> web.Response:
        """GET /_sim/knobs."""
        return web.json_response(text=self.state.knobs.model_dump_json())

    async def sim_set_knobs(self, request: web.Request) -> web.Response:
        """POST /_sim/knobs with a partial JSON object."""
        body = await self._json_body(request)
        try:
            knobs = self.update_knobs(body)
        except ValidationError as exc:
            raise ApiError(400, "InvalidParameter", _first_error(exc)) from exc
        return web.json_response(text=knobs.model_dump_json())

    async def sim_fail_next(self, request: web.Request) -> web.Response:
        """POST /_sim/fail_next {endpoint, status, code, message, times}."""
        req = self._parse(FailNextRequest, await self._json_body(request))
        self.state.injections.add(
            req.endpoint,
            InjectedFailure(
                status=req.status, code=req.code, message=req.message, remaining=req.times
            ),
        )
        return _ok({})

    async def sim_fail_next_task(self, request: web.Request) -> web.Response:
        """POST /_sim/fail_next_task {code, message, times}."""
        req = self._parse(FailNextTaskRequest, await self._json_body(request))
        self.state.injections.tasks.append(
            InjectedTaskFailure(code=req.code, message=req.message, remaining=req.times)
        )
        return _ok({})

    async def sim_advance_time(self, request: web.Request) -> web.Response:
        """POST /_sim/advance_time {seconds}: jump the simulated clock forward."""
        req = self._parse(AdvanceTimeRequest, await self._json_body(request))
        self.state.clock.advance(req.seconds)
        self.scheduler.wake()
        return _ok({"now": self.state.clock.now()})
