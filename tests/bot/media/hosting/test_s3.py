"""The S3 backend: SigV4 against AWS's published examples and botocore, privacy, expiry, errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import boto3
import pytest
from aiohttp import web
from botocore.config import Config
from pydantic import SecretStr
from yarl import URL

from bot.media.hosting import MediaHostError, open_media_host
from bot.media.hosting.s3 import (
    S3Config,
    S3MediaHost,
    S3Signer,
    canonical_request,
    signing_key,
    string_to_sign,
    uri_encode,
)
from bot.provider.client import DashScopeClient
from bot.provider.errors import ProviderTransientError
from bot.provider.models import DETECT_MODEL
from bot.settings import S3Addressing, Settings
from tests.bot.media.hosting.conftest import S3_KEY_ID, S3_REGION, S3_SECRET, SigV4Gate, free_port

pytestmark = pytest.mark.timeout(20)

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_EXAMPLE_TIME = datetime(2013, 5, 24, tzinfo=UTC)
OSS_ENDPOINT = "https://s3.oss-cn-beijing.aliyuncs.com"
KEY_SHAPE = re.compile(r"emo-bot/\d{4}-\d{2}-\d{2}/[0-9a-f]{32}-portrait\.jpg")


def config(**overrides: Any) -> S3Config:
    values: dict[str, Any] = {
        "endpoint": OSS_ENDPOINT,
        "bucket": "emo-media",
        "region": S3_REGION,
        "access_key_id": SecretStr(S3_KEY_ID),
        "secret_access_key": SecretStr(S3_SECRET),
        **overrides,
    }
    return S3Config(**values)


@pytest.fixture
async def s3_host(
    s3_settings: Callable[..., Settings],
    session: aiohttp.ClientSession,
    client: DashScopeClient,
) -> AsyncIterator[S3MediaHost]:
    """The S3 backend as the factory builds it, against the gate in front of moto."""
    async with open_media_host(s3_settings(), client=client, session=session) as host:
        assert isinstance(host, S3MediaHost)
        yield host


def key_of(url: str, bucket: str) -> str:
    """The object key in a path-style URL."""
    return URL(url).path.removeprefix(f"/{bucket}/")


# ----------------------------------------------------------------- signing, offline


def test_presigned_url_matches_the_aws_documentation_example() -> None:
    # docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
    signer = S3Signer(
        config(
            endpoint="https://s3.amazonaws.com",
            bucket="examplebucket",
            region="us-east-1",
            access_key_id=SecretStr(AWS_KEY_ID),
            secret_access_key=SecretStr(AWS_SECRET),
            addressing=S3Addressing.VIRTUAL,
        ),
    )

    url = signer.presign_get("test.txt", now=AWS_EXAMPLE_TIME, expires=86400)

    assert url == (
        "https://examplebucket.s3.amazonaws.com/test.txt"
        "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_header_signature_matches_the_aws_documentation_put_example() -> None:
    # docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "PUT Object"
    payload_hash = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": payload_hash,
    }
    canonical, signed = canonical_request(
        "PUT", "/" + uri_encode("test$file.text", keep_slash=True), {}, headers, payload_hash
    )
    key = signing_key(AWS_SECRET, "20130524", "us-east-1")
    to_sign = string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", canonical)

    assert signed == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class"
    assert canonical.splitlines()[1] == "/test%24file.text"
    assert (
        hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    )


@pytest.mark.parametrize(
    "key",
    ["plain/key.jpg", "with space/and+plus.mp3", "ünïcödé/€ and ~tilde", "a$b&c=d?e#f/%41.jpg"],
)
@pytest.mark.parametrize("addressing", [S3Addressing.PATH, S3Addressing.VIRTUAL])
def test_presigned_urls_match_botocore(
    key: str, addressing: S3Addressing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same key, time and credentials: botocore (the reference) and we must sign alike."""
    now = datetime(2024, 3, 1, 12, 30, 45, tzinfo=UTC)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: now.replace(tzinfo=None))
    reference = boto3.client(
        "s3",
        endpoint_url=OSS_ENDPOINT,
        region_name=S3_REGION,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": addressing.value}),
    ).generate_presigned_url(
        "get_object", Params={"Bucket": "emo-media", "Key": key}, ExpiresIn=3600
    )
    ours = S3Signer(config(addressing=addressing)).presign_get(key, now=now, expires=3600)

    theirs_parts, our_parts = urlsplit(reference), urlsplit(ours)
    assert our_parts.netloc == theirs_parts.netloc
    assert our_parts.path == theirs_parts.path
    assert parse_qs(our_parts.query) == parse_qs(theirs_parts.query)


def test_url_shapes_for_path_and_virtual_addressing() -> None:
    key = "emo-bot/2024-03-01/0123456789abcdef0123456789abcdef-portrait.jpg"
    virtual = S3Signer(config(addressing=S3Addressing.VIRTUAL)).presign_get(key)
    path = S3Signer(config(addressing=S3Addressing.PATH)).presign_get(key)
    minio = S3Signer(
        config(endpoint="http://minio.local:9000/s3/", addressing=S3Addressing.PATH)
    ).presign_get(key)

    assert virtual.startswith(f"https://emo-media.s3.oss-cn-beijing.aliyuncs.com/{key}?")
    assert path.startswith(f"https://s3.oss-cn-beijing.aliyuncs.com/emo-media/{key}?")
    assert minio.startswith(f"http://minio.local:9000/s3/emo-media/{key}?")
    # A custom domain bound to the bucket (OSS CNAME): the host already names the bucket.
    domain = S3Signer(
        config(endpoint="https://media.example.cn", addressing=S3Addressing.DOMAIN)
    ).presign_get(key)
    assert domain.startswith(f"https://media.example.cn/{key}?")
    query = parse_qs(urlsplit(virtual).query)
    assert query["X-Amz-Expires"] == ["21600"]
    assert query["X-Amz-SignedHeaders"] == ["host"]
    assert query["X-Amz-Credential"][0].endswith(f"/{S3_REGION}/s3/aws4_request")


def test_keys_are_uri_encoded_with_slashes_kept() -> None:
    assert uri_encode("a b/€~x$y", keep_slash=True) == "a%20b/%E2%82%AC~x%24y"
    assert uri_encode("AKID/20240301/region") == "AKID%2F20240301%2Fregion"


async def test_secrets_stay_out_of_reprs(session: aiohttp.ClientSession) -> None:
    host = S3MediaHost(session, config())
    for text in (repr(host), repr(host.signer), repr(host.signer.config), str(host.signer.config)):
        assert S3_SECRET not in text
        assert S3_KEY_ID not in text


# ----------------------------------------------------------------- against moto, over HTTP


async def test_upload_is_signed_and_the_presigned_url_works(
    s3_host: S3MediaHost,
    s3_gate: SigV4Gate,
    s3_admin: Any,
    bucket: str,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
) -> None:
    url = await s3_host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )

    key = key_of(url, bucket)
    assert KEY_SHAPE.fullmatch(key), key
    async with session.get(URL(url, encoded=True)) as response:
        assert response.status == 200
        assert await response.read() == jpeg_bytes
        assert response.headers["Content-Type"] == "image/jpeg"
    # The gate verified both signatures with botocore; moto alone would accept anything.
    assert [(r.method, r.verdict) for r in s3_gate.records] == [("PUT", "ok"), ("GET", "ok")]
    stored = s3_admin.head_object(Bucket=bucket, Key=key)
    assert stored["ContentType"] == "image/jpeg"
    assert stored["ContentLength"] == len(jpeg_bytes)


async def test_objects_are_private(
    s3_host: S3MediaHost,
    s3_admin: Any,
    bucket: str,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
) -> None:
    url = await s3_host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )

    unsigned = url.split("?", 1)[0]
    async with session.get(URL(unsigned, encoded=True)) as response:
        assert response.status == 403
        assert await response.read() != jpeg_bytes
    grants = s3_admin.get_object_acl(Bucket=bucket, Key=key_of(url, bucket))["Grants"]
    assert all("URI" not in grant["Grantee"] for grant in grants), grants


async def test_a_hostile_filename_stays_inside_the_prefix(
    s3_host: S3MediaHost, s3_admin: Any, bucket: str, jpeg_bytes: bytes
) -> None:
    for filename in ("../../etc/passwd.jpg", "..\\..\\boot.ini", "/abs/path.jpg", "....jpg"):
        await s3_host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename=filename, content_type="image/jpeg"
        )

    keys = [item["Key"] for item in s3_admin.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 4
    for key in keys:
        assert re.fullmatch(
            r"emo-bot/\d{4}-\d{2}-\d{2}/[0-9a-f]{32}-[A-Za-z0-9_-][A-Za-z0-9._-]*", key
        )
        assert ".." not in key


def _tamper_signature(url: str) -> str:
    last = url[-1]
    return url[:-1] + ("0" if last != "0" else "1")


def _replace_param(url: str, name: str, value: str) -> str:
    return re.sub(rf"{name}=[^&]*", f"{name}={value}", url)


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_signature,
        lambda url: _replace_param(url, "X-Amz-Expires", "604800"),
        lambda url: url.replace("-portrait.jpg", "-portrait.jpeg"),
    ],
    ids=["signature", "expires", "key"],
)
async def test_a_tampered_url_is_refused(
    s3_host: S3MediaHost,
    session: aiohttp.ClientSession,
    jpeg_bytes: bytes,
    tamper: Callable[[str], str],
) -> None:
    url = await s3_host.publish(
        jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
    )

    async with session.get(URL(tamper(url), encoded=True)) as response:
        assert response.status == 403
        assert b"SignatureDoesNotMatch" in await response.read()


async def test_an_expired_url_is_refused(
    s3_settings: Callable[..., Settings],
    s3_gate: SigV4Gate,
    session: aiohttp.ClientSession,
    client: DashScopeClient,
    jpeg_bytes: bytes,
) -> None:
    async with open_media_host(
        s3_settings(emo_media_url_ttl_seconds=60), client=client, session=session
    ) as host:
        url = await host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
        )
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["60"]
    async with session.get(URL(url, encoded=True)) as response:
        assert response.status == 200

    s3_gate.clock = lambda: time.time() + 61
    async with session.get(URL(url, encoded=True)) as response:
        assert response.status == 403
        assert await response.read() != jpeg_bytes


async def test_wrong_credentials_raise_a_clear_error_without_secrets(
    s3_settings: Callable[..., Settings],
    session: aiohttp.ClientSession,
    client: DashScopeClient,
    jpeg_bytes: bytes,
) -> None:
    wrong_secret = "not-the-right-secret-0123456789/abcdef"
    async with open_media_host(
        s3_settings(emo_s3_secret_access_key=wrong_secret), client=client, session=session
    ) as host:
        with pytest.raises(MediaHostError) as caught:
            await host.publish(
                jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
            )
        assert wrong_secret not in repr(host)

    error = caught.value
    assert error.code == "SignatureDoesNotMatch"
    assert error.status == 403
    for text in (str(error), repr(error)):
        assert "SignatureDoesNotMatch" in text
        assert wrong_secret not in text
        assert not re.search(r"[0-9a-f]{64}", text)


async def test_a_missing_bucket_is_a_media_host_error(
    s3_settings: Callable[..., Settings],
    session: aiohttp.ClientSession,
    client: DashScopeClient,
    jpeg_bytes: bytes,
) -> None:
    async with open_media_host(
        s3_settings(emo_s3_bucket="no-such-bucket-here"), client=client, session=session
    ) as host:
        with pytest.raises(MediaHostError, match="NoSuchBucket") as caught:
            await host.publish(
                jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
            )
    assert caught.value.status == 404
    assert S3_SECRET not in str(caught.value)


# ----------------------------------------------------------------- transient failures


@pytest.fixture
async def broken_s3() -> AsyncIterator[str]:
    """An endpoint answering 500 under /fail/, 503 SlowDown under /slow/, hanging under /hang/."""

    async def answer(request: web.Request) -> web.Response:
        if request.path.startswith("/hang/"):
            await asyncio.sleep(5)
        if request.path.startswith("/fail/"):
            xml = "<Error><Code>InternalError</Code><Message>Oops.</Message></Error>"
            return web.Response(status=500, text=xml, content_type="application/xml")
        xml = "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
        return web.Response(status=503, text=xml, content_type="application/xml")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("where", ["fail", "slow", "hang", "refused"])
async def test_server_and_network_failures_are_transient(
    where: str, broken_s3: str, session: aiohttp.ClientSession, jpeg_bytes: bytes
) -> None:
    endpoint = {
        "fail": f"{broken_s3}/fail",
        "slow": f"{broken_s3}/slow",
        "hang": f"{broken_s3}/hang",
        "refused": f"http://127.0.0.1:{free_port()}",
    }[where]
    host = S3MediaHost(
        session, config(endpoint=endpoint, addressing=S3Addressing.PATH), timeout_seconds=0.5
    )

    with pytest.raises(ProviderTransientError) as caught:
        await host.publish(
            jpeg_bytes, model=DETECT_MODEL, filename="portrait.jpg", content_type="image/jpeg"
        )

    assert caught.value.code == "MediaHostUnavailable"
    if where in ("fail", "slow"):
        assert caught.value.status == {"fail": 500, "slow": 503}[where]
        assert ("InternalError" if where == "fail" else "SlowDown") in str(caught.value)
    assert S3_SECRET not in str(caught.value)
