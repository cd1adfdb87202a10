"""DashScope's temporary storage: a policy from ``getPolicy``, then a form POST per file.

A policy is not single-use: it serves every file of its model while it is valid (300 s), so
a job asks for one per model (the detector's, and emo-v1's for both the image and the
audio), and jobs close together share them.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

import aiohttp

from bot.provider.errors import ProviderTransientError
from bot.provider.models import UploadPolicy, UploadPolicyResponse
from bot.provider.transport import Transport

POLICY_MARGIN_SECONDS = 60.0  # a policy is used only while at least this long remains


@dataclass(frozen=True)
class _Held:
    policy: UploadPolicy
    usable_until: float  # time.monotonic()


class TemporaryStorage:
    """Uploads files for a model and returns their ``oss://`` URLs."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _policy(self, model: str) -> UploadPolicy:
        # One request per model at a time: uploads started together share the answer.
        async with self._locks.setdefault(model, asyncio.Lock()):
            held = self._held.get(model)
            if held is not None and time.monotonic() < held.usable_until:
                return held.policy
            transport = self._transport
            answer = await transport.call(
                "policy",
                "GET",
                "/uploads",
                UploadPolicyResponse,
                headers=transport.headers(),
                params={"action": "getPolicy", "model": model},
            )
            policy = answer.data
            life = max(0.0, policy.expire_in_seconds - POLICY_MARGIN_SECONDS)
            self._held[model] = _Held(policy, time.monotonic() + life)
            return policy

    def _forget(self, model: str, policy: UploadPolicy) -> None:
        held = self._held.get(model)
        if held is not None and held.policy is policy:
            del self._held[model]

    async def upload(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        """Store ``data`` for ``model``; return its ``oss://`` URL."""
        policy = await self._policy(model)
        # A policy serves several files of one folder, which forbids overwrites: a name of
        # ours, unique, keeps two uploads of one filename apart.
        key = f"{policy.upload_dir}/{secrets.token_hex(6)}-{filename}"
        form = aiohttp.FormData()
        form.add_field("OSSAccessKeyId", policy.oss_access_key_id)
        form.add_field("Signature", policy.signature)
        form.add_field("policy", policy.policy)
        form.add_field("key", key)
        form.add_field("x-oss-object-acl", policy.x_oss_object_acl)
        form.add_field("x-oss-forbid-overwrite", policy.x_oss_forbid_overwrite)
        form.add_field("success_action_status", "200")
        form.add_field("x-oss-content-type", content_type)
        # OSS ignores every field after the file: it must come last.
        form.add_field("file", data, filename=filename, content_type=content_type)
        transport = self._transport
        started = time.monotonic()
        try:
            async with transport.session.post(
                policy.upload_host, data=form, timeout=transport.timeout, allow_redirects=False
            ) as response:
                detail = (await response.read())[:200].decode("utf-8", "replace")
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            transport.observe("upload", None, started, "UploadFailed")
            raise ProviderTransientError("UploadFailed", type(error).__name__) from None
        transport.observe("upload", status, started, None if status == 200 else "UploadFailed")
        if status != 200:
            # Expired or refused: the next try asks for a fresh policy.
            self._forget(model, policy)
            raise ProviderTransientError("UploadFailed", detail.strip(), status=status)
        return f"oss://{key}"
