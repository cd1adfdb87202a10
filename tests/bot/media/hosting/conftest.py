"""Fixtures for the media-host tests: moto's S3 behind a SigV4 gate, the simulator, settings.

moto accepts any signature (and ignores expiry) on PUT and on presigned GETs, so requests go
through `SigV4Gate`: a small proxy that checks them with botocore's own signer, an
implementation independent of ours, and answers 403 like S3 would before forwarding to moto.
"""

from __future__ import annotations

import hashlib
import io
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import av
import boto3
import pytest
from aiohttp import web
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer
from PIL import Image
from pydantic import SecretStr
from yarl import URL

from bot.provider.client import DashScopeClient
from bot.settings import MediaHostKind, S3Addressing, Settings
from bot.simulator import Simulator, SimulatorKnobs

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"
API_KEY = "sk-hosting-test-0123456789"
S3_KEY_ID = "AKIDEMOBOTHOSTING001"
S3_SECRET = "emo/bot+hosting/secret-0123456789abcdefXYZ"
S3_REGION = "cn-beijing"
_HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@pytest.fixture(scope="session")
def jpeg_bytes() -> bytes:
    """The astronaut portrait as JPEG."""
    buffer = io.BytesIO()
    with Image.open(FIXTURES / "astronaut.png") as image:
        image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def mp3_bytes() -> bytes:
    """The English voice note as a mono MP3."""
    buffer = io.BytesIO()
    with (
        av.open(str(FIXTURES / "voice-note-en.ogg")) as source,
        av.open(buffer, mode="w", format="mp3") as target,
    ):
        stream = target.add_stream("libmp3lame", rate=16000, layout="mono")
        for frame in source.decode(audio=0):
            frame.pts = None
            target.mux(stream.encode(frame))
        target.mux(stream.encode(None))
    return buffer.getvalue()


def free_port() -> int:
    """A port nothing listens on right now, on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ----------------------------------------------------------------- S3 (moto + gate)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's S3 in this process, path-style at http://127.0.0.1:PORT."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_admin(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 client for moto, for setting up and checking from the outside only."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto ignores the admin's signatures
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3", endpoint_url=moto_url, config=Config(s3={"addressing_style": "path"}))


@pytest.fixture
def bucket(s3_admin: Any) -> str:
    """A fresh, empty bucket."""
    name = f"emo-test-{uuid.uuid4().hex[:12]}"
    s3_admin.create_bucket(Bucket=name)
    return name


@dataclass
class GateRecord:
    method: str
    path: str
    verdict: str  # "ok", "anonymous" or the S3 error code answered


@dataclass
class SigV4Gate:
    """Checks SigV4 (header or query) with botocore before forwarding to moto."""

    upstream: str
    key_id: str = S3_KEY_ID
    secret: str = S3_SECRET
    region: str = S3_REGION
    clock: Callable[[], float] = time.time
    records: list[GateRecord] = field(default_factory=list)
    url: str = ""
    session: aiohttp.ClientSession | None = None

    def check(self, request: web.Request, body: bytes) -> str | None:
        """The S3 error code to answer, or None to let the request through."""
        if "Authorization" in request.headers:
            return self._check_header_auth(request, body)
        if "X-Amz-Signature" in request.query:
            return self._check_query_auth(request)
        return None

    def _scope_ok(self, credential: str) -> bool:
        parts = credential.split("/")
        return (
            len(parts) == 5
            and parts[0] == self.key_id
            and parts[2:]
            == [
                self.region,
                "s3",
                "aws4_request",
            ]
        )

    def _check_header_auth(self, request: web.Request, body: bytes) -> str | None:
        fields = dict(
            part.strip().split("=", 1)
            for part in request.headers["Authorization"]
            .removeprefix("AWS4-HMAC-SHA256 ")
            .split(",")
        )
        if not self._scope_ok(fields.get("Credential", "")):
            return "InvalidAccessKeyId"
        amz_date = request.headers.get("x-amz-date", "")
        if abs(_parse_amz_date(amz_date) - self.clock()) > 15 * 60:
            return "RequestTimeTooSkewed"
        if request.headers.get("x-amz-content-sha256") != hashlib.sha256(body).hexdigest():
            return "XAmzContentSHA256Mismatch"
        signed = fields.get("SignedHeaders", "").split(";")
        if not {"host", "x-amz-date", "x-amz-content-sha256"} <= set(signed):
            return "AccessDenied"
        aws = AWSRequest(
            method=request.method,
            url=f"http://{request.host}{quote(request.path, safe='/~')}",
            params=dict(request.query),
            headers={name: request.headers[name] for name in signed},
            data=body,
        )
        aws.context["timestamp"] = amz_date
        auth = S3SigV4Auth(Credentials(self.key_id, self.secret), "s3", self.region)
        expected = auth.signature(auth.string_to_sign(aws, auth.canonical_request(aws)), aws)
        return None if fields.get("Signature") == expected else "SignatureDoesNotMatch"

    def _check_query_auth(self, request: web.Request) -> str | None:
        query = dict(request.query)
        given = query.pop("X-Amz-Signature")
        if query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not self._scope_ok(
            query.get("X-Amz-Credential", "")
        ):
            return "AuthorizationQueryParametersError"
        if query.get("X-Amz-SignedHeaders") != "host":
            return "AccessDenied"
        amz_date = query.get("X-Amz-Date", "")
        expires = int(query.get("X-Amz-Expires", "0"))
        signed_at = _parse_amz_date(amz_date)
        if not 1 <= expires <= 7 * 24 * 3600 or signed_at > self.clock() + 15 * 60:
            return "AuthorizationQueryParametersError"
        aws = AWSRequest(
            method=request.method,
            url=f"http://{request.host}{quote(request.path, safe='/~')}",
            params=query,
            headers={"host": request.host},
        )
        aws.context["timestamp"] = amz_date
        auth = S3SigV4QueryAuth(Credentials(self.key_id, self.secret), "s3", self.region)
        expected = auth.signature(auth.string_to_sign(aws, auth.canonical_request(aws)), aws)
        if given != expected:
            return "SignatureDoesNotMatch"
        # S3 checks the signature first, then whether the URL is still valid.
        if signed_at + expires < self.clock():
            return "AccessDenied"
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        verdict = self.check(request, body)
        anonymous = (
            "Authorization" not in request.headers and "X-Amz-Signature" not in request.query
        )
        self.records.append(
            GateRecord(
                request.method, request.path, verdict or ("anonymous" if anonymous else "ok")
            )
        )
        if verdict is not None:
            xml = f"<Error><Code>{verdict}</Code><Message>refused by the gate</Message></Error>"
            return web.Response(status=403, text=xml, content_type="application/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        assert self.session is not None
        async with self.session.request(
            request.method,
            URL(self.upstream + request.raw_path, encoded=True),
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as answer:
            payload = await answer.read()
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() in ("content-type", "etag", "last-modified", "x-amz-request-id")
            }
            return web.Response(status=answer.status, body=payload, headers=kept)


def _parse_amz_date(text: str) -> float:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


@pytest.fixture
async def s3_gate(moto_url: str) -> AsyncIterator[SigV4Gate]:
    """The SigV4-checking front of moto, on its own free port."""
    gate = SigV4Gate(upstream=moto_url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", gate.handle)
    async with aiohttp.ClientSession() as upstream_session:
        gate.session = upstream_session
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        gate.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield gate
        finally:
            await runner.cleanup()


# ----------------------------------------------------------------- DashScope simulator


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(knobs=SimulatorKnobs(download_timeout_seconds=5), api_keys={API_KEY})
    await sim.start(host="127.0.0.1", port=0)
    try:
        yield sim
    finally:
        await sim.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(simulator: Simulator, session: aiohttp.ClientSession) -> DashScopeClient:
    return DashScopeClient(session, simulator.base_url, SecretStr(API_KEY), timeout_seconds=10)


# ----------------------------------------------------------------- settings

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SettingsFactory:
    """Settings for one backend, passed as keyword arguments; a stray .env is never read."""
    monkeypatch.chdir(tmp_path)

    def make(kind: MediaHostKind, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "discord_token": "x",
            "dashscope_api_key": API_KEY,
            "emo_media_host": kind,
            "emo_data_dir": tmp_path / "data",
        }
        if kind is MediaHostKind.HTTP and "emo_public_base_url" not in overrides:
            port = free_port()
            values["emo_media_server_bind"] = f"127.0.0.1:{port}"
            values["emo_public_base_url"] = f"http://127.0.0.1:{port}"
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def s3_settings(
    make_settings: SettingsFactory, s3_gate: SigV4Gate, bucket: str
) -> Callable[..., Settings]:
    """EMO_MEDIA_HOST=s3 settings pointing at the gate in front of moto."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "emo_s3_endpoint": s3_gate.url,
            "emo_s3_bucket": bucket,
            "emo_s3_region": S3_REGION,
            "emo_s3_access_key_id": S3_KEY_ID,
            "emo_s3_secret_access_key": S3_SECRET,
            "emo_s3_addressing": S3Addressing.PATH,
            **overrides,
        }
        return make_settings(MediaHostKind.S3, **values)

    return make
