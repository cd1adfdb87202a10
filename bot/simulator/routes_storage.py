"""Temporary storage: the upload policy (GET /api/v1/uploads) and the OSS-like form POST."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime

import aiohttp
from aiohttp import web

from .answers import ok
from .context import SimContext
from .errors import ApiError, OssError
from .oss import BUCKET, FORBID_OVERWRITE, OBJECT_ACL, PolicyDocument, policy_expired
from .plumbing import BEIJING, RequestGate
from .records import PolicyRecord, UploadRecord

log = logging.getLogger(__name__)

# Form fields other than the file are small; refuse absurd ones instead of buffering them.
_MAX_FIELD_BYTES = 64 * 1024


class StorageRoutes:
    """Hands out upload policies and stores the files posted with them."""

    def __init__(self, ctx: SimContext, gate: RequestGate) -> None:
        self.ctx = ctx
        self.gate = gate

    async def get_policy(self, request: web.Request) -> web.Response:
        """GET /api/v1/uploads?action=getPolicy&model=MODEL (recorded in `state.policies`).

        A policy serves any number of uploads under its directory until it expires; only a
        second file under the same key is refused (x-oss-forbid-overwrite)."""
        model = request.query.get("model", "")
        caller = await self.gate.enter(request, "policy", scope=model)
        account = caller.account
        if request.query.get("action") != "getPolicy":
            raise ApiError(400, "InvalidParameter", "Unsupported action: expected getPolicy.")
        if not model:
            raise ApiError(400, "InvalidParameter", "Missing parameter: model.")
        signer = self.ctx.signer
        knobs = self.ctx.state.knobs
        now = self.ctx.state.clock.now()
        day = datetime.fromtimestamp(now, tz=BEIJING).strftime("%Y-%m-%d")
        upload_dir = f"{BUCKET}/{account.dir_hash}/{day}/{uuid.uuid4()}"
        max_bytes = knobs.upload_max_file_size_mb * 1024 * 1024
        policy, signature = signer.make_policy(
            upload_dir=upload_dir,
            max_bytes=max_bytes,
            model=model,
            account=account.account_id,
            expires_at=now + knobs.policy_expire_seconds,
        )
        self.ctx.state.policies.append(
            PolicyRecord(
                account=account.account_id,
                api_key_id=caller.api_key_id,
                model=model,
                upload_dir=upload_dir,
                at=now,
                expires_at=now + knobs.policy_expire_seconds,
            )
        )
        return ok(
            {
                "data": {
                    "policy": policy,
                    "signature": signature,
                    "upload_dir": upload_dir,
                    "upload_host": f"{self.ctx.root_url}/oss",
                    "expire_in_seconds": int(knobs.policy_expire_seconds),
                    "max_file_size_mb": knobs.upload_max_file_size_mb,
                    "capacity_limit_mb": knobs.upload_capacity_limit_mb,
                    "oss_access_key_id": signer.access_key_id,
                    "x_oss_object_acl": OBJECT_ACL,
                    "x_oss_forbid_overwrite": FORBID_OVERWRITE,
                }
            }
        )

    async def upload(self, request: web.Request) -> web.Response:
        """POST {upload_host}: an OSS PostObject form whose last field is the file."""
        failure = self.gate.inject("upload")
        if failure is not None:
            raise OssError(
                failure.status, failure.code, failure.message, retry_after=failure.retry_after
            )
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
        doc = self.ctx.signer.open_policy(
            fields["policy"], fields["signature"], fields["ossaccesskeyid"]
        )
        if policy_expired(doc, self.ctx.state.clock.now()):
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
        state = self.ctx.state
        knobs = state.knobs
        now = state.clock.now()
        if key in state.uploads:
            raise OssError(
                409,
                "FileAlreadyExists",
                "The object you specified already exists and can not be overwritten.",
            )
        used = sum(
            upload.size
            for upload in state.uploads.values()
            if upload.account == doc.account and upload.expires_at >= now
        )
        if used + len(payload) > knobs.upload_capacity_limit_mb * 1024 * 1024:
            raise OssError(403, "AccessDenied", "The upload capacity of this account is exhausted.")
        path = self.ctx.uploads_dir / f"{uuid.uuid4().hex}.bin"
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
        state.uploads[key] = record
        try:
            await asyncio.to_thread(path.write_bytes, payload)
        except OSError:
            del state.uploads[key]
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
