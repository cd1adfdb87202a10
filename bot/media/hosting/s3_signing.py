"""AWS Signature Version 4 for one S3-compatible bucket, with hashlib/hmac: no AWS SDK.

Pure computation: keys, object addresses, presigned GET URLs and signed request headers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

from pydantic import SecretStr

from bot.media.hosting import MediaHostError, safe_name
from bot.settings import S3Addressing, Settings

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SERVICE = "s3"
KEY_PREFIX = "emo-bot"


def uri_encode(text: str, *, keep_slash: bool = False) -> str:
    """RFC 3986 percent-encoding as SigV4 wants it: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(text.encode("utf-8"), safe="/" if keep_slash else "")


def signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """The SigV4 signing key for ``date`` (YYYYMMDD), region and service."""
    key = _hmac(f"AWS4{secret}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def canonical_request(
    method: str,
    canonical_uri: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """The canonical request and its signed-headers list; every header given is signed."""
    canonical_query = "&".join(
        f"{name}={value}"
        for name, value in sorted((uri_encode(k), uri_encode(v)) for k, v in query.items())
    )
    lowered = {name.lower().strip(): " ".join(value.split()) for name, value in headers.items()}
    signed = ";".join(sorted(lowered))
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in sorted(lowered))
    text = "\n".join(
        [method, canonical_uri, canonical_query, canonical_headers, signed, payload_hash]
    )
    return text, signed


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """What the signing key signs: algorithm, time, credential scope, hash of the request."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _authority(scheme: str, host: str, port: int | None) -> str:
    bracketed = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return bracketed if port in (None, default) else f"{bracketed}:{port}"


@dataclass(frozen=True)
class S3Config:
    """Where and as whom to store objects. The repr hides both halves of the credentials."""

    endpoint: str
    bucket: str
    region: str
    access_key_id: SecretStr
    secret_access_key: SecretStr = field(repr=False)
    addressing: S3Addressing = S3Addressing.VIRTUAL
    url_ttl_seconds: int = 6 * 3600
    prefix: str = KEY_PREFIX

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Config:
        """The EMO_S3_* settings (their presence is checked when Settings is built)."""
        endpoint, bucket = settings.emo_s3_endpoint, settings.emo_s3_bucket
        key_id, secret = settings.emo_s3_access_key_id, settings.emo_s3_secret_access_key
        if endpoint is None or not bucket or key_id is None or secret is None:
            raise MediaHostError("EMO_MEDIA_HOST=s3 needs EMO_S3_ENDPOINT, _BUCKET and both keys")
        return cls(
            endpoint=str(endpoint),
            bucket=bucket,
            region=settings.emo_s3_region,
            access_key_id=key_id,
            secret_access_key=secret,
            addressing=settings.emo_s3_addressing,
            url_ttl_seconds=settings.emo_media_url_ttl_seconds,
        )


@dataclass(frozen=True)
class _Target:
    """One object's address: the URL to request and the Host header signed with it."""

    scheme: str
    host: str
    path: str  # already URI-encoded; also the canonical URI

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.path}"


class S3Signer:
    """Addresses and signs requests for one bucket; pure computation, no I/O."""

    def __init__(self, config: S3Config, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._config = config
        self._clock = clock
        parts = urlsplit(config.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MediaHostError("EMO_S3_ENDPOINT must be an http(s) URL")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._base_path = parts.path.rstrip("/")

    def __repr__(self) -> str:
        return f"S3Signer(endpoint={self._config.endpoint!r}, bucket={self._config.bucket!r})"

    @property
    def config(self) -> S3Config:
        return self._config

    def now(self) -> datetime:
        return self._clock()

    def new_key(self, filename: str, *, now: datetime | None = None) -> str:
        """A fresh unguessable key: ``<prefix>/<yyyy-mm-dd>/<token>-<safe filename>``."""
        day = (now or self._clock()).strftime("%Y-%m-%d")
        return f"{self._config.prefix}/{day}/{secrets.token_hex(16)}-{safe_name(filename)}"

    def target(self, key: str) -> _Target:
        """The object's address under the configured addressing style."""
        encoded_key = uri_encode(key, keep_slash=True)
        if self._config.addressing is S3Addressing.VIRTUAL:
            host = _authority(self._scheme, f"{self._config.bucket}.{self._host}", self._port)
            path = f"{self._base_path}/{encoded_key}"
        elif self._config.addressing is S3Addressing.DOMAIN:
            # A custom domain bound to the bucket: the endpoint already names the bucket.
            host = _authority(self._scheme, self._host, self._port)
            path = f"{self._base_path}/{encoded_key}"
        else:
            host = _authority(self._scheme, self._host, self._port)
            path = f"{self._base_path}/{uri_encode(self._config.bucket)}/{encoded_key}"
        return _Target(self._scheme, host, path)

    def _scope(self, now: datetime) -> tuple[str, str]:
        amz_date = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return amz_date, f"{amz_date[:8]}/{self._config.region}/{SERVICE}/aws4_request"

    def _signature(self, amz_date: str, scope: str, canonical: str) -> str:
        key = signing_key(
            self._config.secret_access_key.get_secret_value(), amz_date[:8], self._config.region
        )
        return hmac.new(
            key, string_to_sign(amz_date, scope, canonical).encode(), hashlib.sha256
        ).hexdigest()

    def presign_get(
        self, key: str, *, now: datetime | None = None, expires: int | None = None
    ) -> str:
        """A GET URL for ``key`` valid ``expires`` seconds (default: the configured TTL)."""
        target = self.target(key)
        amz_date, scope = self._scope(now or self._clock())
        key_id = self._config.access_key_id.get_secret_value()
        query = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{key_id}/{scope}",
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(expires if expires is not None else self._config.url_ttl_seconds),
            "X-Amz-SignedHeaders": "host",
        }
        canonical, _ = canonical_request(
            "GET", target.path, query, {"host": target.host}, UNSIGNED_PAYLOAD
        )
        query["X-Amz-Signature"] = self._signature(amz_date, scope, canonical)
        encoded = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in query.items())
        return f"{target.url}?{encoded}"

    def signed_put_headers(
        self, key: str, payload: bytes, content_type: str, *, now: datetime | None = None
    ) -> dict[str, str]:
        """Headers for PUT Object of ``payload``, Authorization included."""
        return self.signed_headers("PUT", key, payload, content_type=content_type, now=now)

    def signed_headers(
        self,
        method: str,
        key: str,
        payload: bytes = b"",
        *,
        content_type: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """Headers for ``method`` on the object ``key``, Authorization included."""
        target = self.target(key)
        amz_date, scope = self._scope(now or self._clock())
        headers = {"Host": target.host}
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers["x-amz-content-sha256"] = hashlib.sha256(payload).hexdigest()
        headers["x-amz-date"] = amz_date
        canonical, signed = canonical_request(
            method, target.path, {}, headers, headers["x-amz-content-sha256"]
        )
        signature = self._signature(amz_date, scope, canonical)
        key_id = self._config.access_key_id.get_secret_value()
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={key_id}/{scope}, SignedHeaders={signed}, "
            f"Signature={signature}"
        )
        return headers

    def key_of(self, url: str) -> str | None:
        """The key of an object of this bucket that ``url`` addresses (one of our presigned
        URLs), or None when it addresses anything else."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme != self._scheme or not parts.hostname:
            return None
        prefix = self.target("").path  # the bucket's root under the addressing style
        if not parts.path.startswith(prefix):
            return None
        key = unquote(parts.path.removeprefix(prefix))
        if not key.startswith(f"{self._config.prefix}/"):
            return None  # only keys this bot makes: never another object of the bucket
        target = self.target(key)
        if (
            target.host != _authority(parts.scheme, parts.hostname, port)
            or target.path != parts.path
        ):
            return None
        return key
