"""The bot's configuration: one pydantic-settings class, built once in ``__main__``."""

from __future__ import annotations

import enum
import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import (
    AnyHttpUrl,
    AnyUrl,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.provider.pricing import HALF_BODY_USD_PER_SECOND, HEAD_USD_PER_SECOND

DASHSCOPE_BEIJING = "https://dashscope.aliyuncs.com/api/v1"
DISCORD_API = "https://discord.com/api/v10"
DISCORD_CDN = "https://cdn.discordapp.com"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DISCORD_ATTACHMENT_HOSTS = ("cdn.discordapp.com", "media.discordapp.net")
DASHSCOPE_RESULT_HOSTS = ("*.aliyuncs.com",)  # where the provider keeps result videos
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
SECRET_KEY_MIN_LENGTH = 32  # EMO_SECRET_KEY, which encrypts servers' own provider keys
BIND_OFF = ("", "off")  # EMO_OPS_BIND values that mean no server
_BIND = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:\[\]\s]+)):(?P<port>\d{1,5})$")


def split_bind(value: str) -> tuple[str, int]:
    """``host:port`` or ``[IPv6 address]:port`` as a pair; ValueError saying what is wrong."""
    found = _BIND.match(value.strip())
    if found is None:
        raise ValueError("use host:port, or [IPv6 address]:port")
    host = found["v6"] or found["host"]
    if found["v6"]:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("the address in brackets is not an IPv6 address") from None
    port = int(found["port"])
    if not 1 <= port <= 65535:
        raise ValueError("the port must be from 1 to 65535")
    return host, port


class ProviderKind(enum.StrEnum):
    """Which DashScope the bot talks to."""

    DASHSCOPE = "dashscope"
    SIMULATOR = "simulator"


class MediaHostKind(enum.StrEnum):
    """Where prepared inputs are re-hosted for the provider to fetch."""

    DASHSCOPE = "dashscope"  # DashScope's temporary storage (oss:// URLs)
    S3 = "s3"  # an S3-compatible bucket, presigned GET URLs
    HTTP = "http"  # the bot's own HTTP server, HMAC-signed links


class S3Addressing(enum.StrEnum):
    PATH = "path"  # https://endpoint/bucket/key (MinIO, most self-hosted servers)
    VIRTUAL = "virtual"  # https://bucket.endpoint/key (Alibaba OSS, AWS)
    DOMAIN = "domain"  # https://endpoint/key: a custom domain bound to the bucket (OSS CNAME)


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _split_hosts(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip().lower() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every setting the bot reads. Names are the environment variables (see .env.example)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # "NAME=" in .env means "not set", as it does in .env.example.
        env_ignore_empty=True,
        frozen=True,
    )

    discord_token: SecretStr | None = None  # required to run the bot, not the command line
    # One key, or several separated by commas: each a separate Alibaba Cloud account.
    dashscope_api_key: SecretStr | None = None
    # Instead: a TOML file of accounts (label, key, concurrency, lookahead, enabled).
    dashscope_accounts_file: Path | None = None
    # Encrypts the DashScope keys servers bring (/emo-admin provider-key); None: refused.
    emo_secret_key: SecretStr | None = None
    dashscope_base_url: AnyHttpUrl = AnyHttpUrl(DASHSCOPE_BEIJING)
    discord_api_base_url: AnyHttpUrl = AnyHttpUrl(DISCORD_API)
    discord_gateway_url: AnyUrl = AnyUrl(DISCORD_GATEWAY)
    discord_cdn_base_url: AnyHttpUrl = AnyHttpUrl(DISCORD_CDN)  # avatars are fetched from here
    discord_command_guild_id: int | None = Field(default=None, gt=0)
    # Sharding: how many shards the bot has in all, and which of them this process runs
    # ("0,1"). Both unset: this process runs every shard Discord recommends.
    discord_shard_count: int | None = Field(default=None, ge=1, le=10_000)
    discord_shard_ids: Annotated[tuple[int, ...], NoDecode] = ()
    emo_data_dir: Path = Path("./data")
    # Empty: SQLite in EMO_DATA_DIR (one process). postgresql://...: several processes.
    emo_database_url: SecretStr | None = None
    # PostgreSQL: connections this process keeps open at most.
    emo_database_pool_size: int = Field(default=10, ge=2, le=100)
    # How long a write waits for another process holding the SQLite file's write lock.
    emo_sqlite_busy_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    # This process among several (unique per process; its leases come back to it on restart).
    emo_instance_name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")
    # How long a process's hold on a duty or a job outlives its last heartbeat.
    emo_lease_seconds: float = Field(default=15.0, ge=3, le=600)
    emo_provider: ProviderKind = ProviderKind.DASHSCOPE
    emo_attachment_hosts: Annotated[tuple[str, ...], NoDecode] = DISCORD_ATTACHMENT_HOSTS
    emo_max_input_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    emo_max_image_pixels: int = Field(default=50_000_000, gt=0)
    emo_max_image_side: int = Field(default=2048, ge=400, le=7000)
    # Preparations (download, conversion, face check) at once in this process; the others
    # wait. Also how many media worker processes convert files (each up to about 300 MB).
    emo_max_preparations: int = Field(default=2, ge=1, le=32)
    emo_media_host: MediaHostKind = MediaHostKind.DASHSCOPE
    emo_s3_endpoint: AnyHttpUrl | None = None
    emo_s3_bucket: str | None = None
    emo_s3_region: str = "cn-beijing"  # the signing region ID (OSS: cn-beijing, not oss-cn-…)
    emo_s3_access_key_id: SecretStr | None = None
    emo_s3_secret_access_key: SecretStr | None = None
    emo_s3_addressing: S3Addressing = S3Addressing.VIRTUAL
    emo_media_url_ttl_seconds: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)
    emo_public_base_url: AnyHttpUrl | None = None
    # Loopback unless told otherwise: a TLS proxy on this host forwards to it.
    emo_media_server_bind: str = "127.0.0.1:8090"
    emo_media_link_secret: SecretStr | None = None
    emo_max_result_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    # Hosts result videos are downloaded from (https, port 443, public addresses): names, or
    # "*.example.com" for any name under it. DASHSCOPE_BASE_URL's own origin is added.
    emo_result_hosts: Annotated[tuple[str, ...], NoDecode] = DASHSCOPE_RESULT_HOSTS
    emo_poll_min_seconds: float = Field(default=2.0, gt=0)
    emo_poll_max_seconds: float = Field(default=15.0, gt=0)
    emo_http_timeout_seconds: float = Field(default=60.0, gt=0)
    # At start, how long Discord and the provider are tried again before the bot exits (1).
    emo_startup_retry_seconds: float = Field(default=300.0, ge=0, le=86_400)
    emo_provider_retries: int = Field(default=4, ge=0, le=20)
    emo_retry_base_seconds: float = Field(default=2.0, gt=0)
    emo_max_active_per_member: int = Field(default=2, ge=1)
    emo_max_queued_per_server: int = Field(default=20, ge=1)
    # Server administration: bot-wide defaults a server's admins may lower, never raise
    # (/emo-admin; the two caps above are ceilings too, bot/guilds/ceilings.py).
    emo_member_seconds_per_day: int | None = Field(default=None, ge=0)  # None: no limit
    emo_monthly_budget_usd: float | None = Field(default=None, ge=0)  # None: no budget
    # What every server on the shared accounts may spend together per UTC month; None: no limit.
    emo_total_monthly_budget_usd: float | None = Field(default=None, ge=0)
    emo_price_head_usd_per_second: float = Field(default=HEAD_USD_PER_SECOND, ge=0)
    emo_price_half_body_usd_per_second: float = Field(default=HALF_BODY_USD_PER_SECOND, ge=0)
    emo_input_retention_hours: float = Field(default=48.0, gt=0)
    emo_output_retention_hours: float = Field(default=168.0, gt=0)
    emo_cleanup_interval_seconds: float = Field(default=600.0, gt=0)
    emo_provider_concurrency: int = Field(default=1, ge=1)
    emo_lookahead: int = Field(default=1, ge=0)
    emo_lookahead_window_seconds: float = Field(default=20.0, ge=0)
    emo_fairness_window_seconds: float = Field(default=3600.0, gt=0)
    emo_query_budget_per_second: float = Field(default=10.0, gt=0, le=20)
    emo_render_seconds_per_audio_second: float = Field(default=8.5, gt=0)
    emo_stuck_task_seconds: float = Field(default=3 * 3600.0, gt=0)
    emo_confirm_timeout_seconds: float = Field(default=600.0, gt=0)
    emo_probe_interval_seconds: float = Field(default=60.0, gt=0)
    emo_alert_channel_id: int | None = Field(default=None, gt=0)
    emo_log_level: str = Field(default="INFO", pattern=r"^(?i:debug|info|warning|error)$")
    emo_log_json: bool = False
    # host:port of the internal /healthz, /readyz and /metrics server; "off" (or ""): none.
    emo_ops_bind: str = "127.0.0.1:8091"

    @model_validator(mode="before")
    @classmethod
    def _parse_host_list(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in (
                "emo_attachment_hosts",
                "EMO_ATTACHMENT_HOSTS",
                "emo_result_hosts",
                "EMO_RESULT_HOSTS",
            ):
                if key in data:
                    data[key] = _split_hosts(data[key])
            for key in ("discord_shard_ids", "DISCORD_SHARD_IDS"):
                if key in data:
                    data[key] = _split_ids(data[key])
        return data

    @field_validator("emo_result_hosts")
    @classmethod
    def _valid_result_hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            name = host.removeprefix("*.")
            if not _HOST_NAME.fullmatch(name) or (host.startswith("*.") and "." not in name):
                raise ValueError(f"{host!r} is not a host name or a *.domain.tld pattern")
        return value

    @field_validator("emo_secret_key")
    @classmethod
    def _long_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < SECRET_KEY_MIN_LENGTH:
            raise ValueError(
                f"must be at least {SECRET_KEY_MIN_LENGTH} characters; generate one with"
                ' python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
        return value

    @field_validator("emo_media_server_bind", "emo_ops_bind")
    @classmethod
    def _valid_bind(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "emo_ops_bind" and value.strip().lower() in BIND_OFF:
            return value
        split_bind(value)
        return value

    @model_validator(mode="after")
    def _key_required_for_dashscope(self) -> Settings:
        if self.emo_provider is ProviderKind.DASHSCOPE and not (
            (self.dashscope_api_key and self.dashscope_api_key.get_secret_value().strip(" ,"))
            or self.dashscope_accounts_file
        ):
            raise ValueError("DASHSCOPE_API_KEY is required when EMO_PROVIDER=dashscope")
        if self.dashscope_api_key and self.dashscope_accounts_file:
            raise ValueError("set DASHSCOPE_API_KEY or DASHSCOPE_ACCOUNTS_FILE, not both")
        if self.emo_media_host is MediaHostKind.S3:
            for name in ("emo_s3_endpoint", "emo_s3_bucket", "emo_s3_access_key_id"):
                if not getattr(self, name):
                    raise ValueError(f"{name.upper()} is required when EMO_MEDIA_HOST=s3")
            if not self.emo_s3_secret_access_key:
                raise ValueError("EMO_S3_SECRET_ACCESS_KEY is required when EMO_MEDIA_HOST=s3")
        if self.emo_media_host is MediaHostKind.HTTP and self.emo_public_base_url is None:
            raise ValueError("EMO_PUBLIC_BASE_URL is required when EMO_MEDIA_HOST=http")
        if self.discord_shard_ids:
            count = self.discord_shard_count
            if count is None:
                raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the shards in all)")
            if any(not 0 <= shard < count for shard in self.discord_shard_ids):
                raise ValueError(f"DISCORD_SHARD_IDS must be shard numbers from 0 to {count - 1}")
            if len(set(self.discord_shard_ids)) != len(self.discord_shard_ids):
                raise ValueError("DISCORD_SHARD_IDS names a shard twice")
        url = self.database_url
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("EMO_DATABASE_URL must be empty (SQLite) or postgresql://…")
        if self.emo_poll_max_seconds < self.emo_poll_min_seconds:
            raise ValueError("EMO_POLL_MAX_SECONDS must not be below EMO_POLL_MIN_SECONDS")
        return self

    @property
    def database_url(self) -> str | None:
        """The PostgreSQL URL, or None for SQLite in EMO_DATA_DIR."""
        url = self.emo_database_url.get_secret_value() if self.emo_database_url else ""
        return url or None

    @property
    def attachment_hosts(self) -> frozenset[str]:
        """Hosts a member's attachments may be downloaded from over https on port 443
        (EMO_ATTACHMENT_HOSTS: Discord's CDN)."""
        return frozenset(host.lower() for host in self.emo_attachment_hosts)

    @property
    def configured_discord_urls(self) -> tuple[str, ...]:
        """DISCORD_API_BASE_URL and DISCORD_CDN_BASE_URL where they point at a
        Discord-compatible server: it serves its own attachments, so its origins (scheme,
        host and port, exactly as configured) are trusted for them."""
        return tuple(
            str(url)
            for url, default in (
                (self.discord_api_base_url, DISCORD_API),
                (self.discord_cdn_base_url, DISCORD_CDN),
            )
            if str(url).rstrip("/") != default and url.host
        )

    @property
    def database_path(self) -> Path:
        return self.emo_data_dir / "emo-bot.sqlite3"

    @property
    def media_dir(self) -> Path:
        return self.emo_data_dir / "media"


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line meant for the operator."""


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first offending variable, without echoing its value."""
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if str(part)]
    variable = location[0].upper() if location else ""
    reason = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if not variable:
        # Cross-field checks name their variable inside the message.
        return f"Configuration error: {reason} (see .env.example)"
    if first.get("type") in ("missing", "string_too_short", "too_short"):
        return f"Configuration error: {variable} is not set (see .env.example)"
    return f"Configuration error: {variable} is invalid: {reason} (see .env.example)"


class _DiscordTokenRequired(BaseSettings):
    """Checked first when running the bot: a missing token is the most common mistake."""

    model_config = Settings.model_config
    discord_token: SecretStr = Field(min_length=1)


class DiscordLogin(BaseSettings):
    """The part of the settings a REST-only command (``python -m bot invite``) needs: no
    provider key, so an operator can invite the bot before having one."""

    model_config = Settings.model_config
    discord_token: SecretStr = Field(min_length=1)
    discord_api_base_url: AnyHttpUrl = AnyHttpUrl(DISCORD_API)


def load_discord_login() -> DiscordLogin:
    """DISCORD_TOKEN and DISCORD_API_BASE_URL alone; raise SettingsError on bad input."""
    try:
        return DiscordLogin()
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


def load_settings(*, require_discord: bool = True, **overrides: object) -> Settings:
    """Build the settings from the environment and ``.env``; raise SettingsError on bad input."""
    try:
        if require_discord:
            _DiscordTokenRequired()
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None
