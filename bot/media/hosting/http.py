"""The bot's own HTTP server: files under random names, links signed with HMAC-SHA256 that expire.

A link is ``{EMO_PUBLIC_BASE_URL}/media/<name>?exp=<unix>&sig=<hex>`` where ``sig`` is
HMAC-SHA256(secret, ``name + "\\n" + exp``). A file published for several models is stored
once (``copies.py``); ``delete`` removes it by any of its links, and the sweep removes the
files whose links have all expired.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.media.hosting import MediaHostError, Removal
from bot.media.hosting.copies import SharedCopies
from bot.settings import Settings, split_bind

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}\.(?:jpg|mp3|wav|mp4)")
CONTENT_TYPES = {"jpg": "image/jpeg", "mp3": "audio/mpeg", "wav": "audio/wav", "mp4": "video/mp4"}
_EXTENSIONS = {
    "image/jpeg": "jpg",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "video/mp4": "mp4",
}
KEY_FILE = "media-link.key"
HOSTED_DIR = "hosted"
_EXP_PATTERN = re.compile(r"[0-9]{1,12}")
_MIN_SECRET_BYTES = 16
_SWEEP_INTERVAL_SECONDS = 60.0
# O_NONBLOCK: opening a FIFO planted in the directory must not hang the reader.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def sign(secret: bytes, name: str, expires: int | str) -> str:
    """The hex HMAC-SHA256 of ``name + "\\n" + expires``."""
    return hmac.new(secret, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()


def load_or_create_link_secret(path: Path) -> bytes:
    """The key stored in ``path`` (hex); made once, mode 0600, if the file does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, _CREATE_FLAGS, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key.hex() + "\n")
    log.info("created the media link key %s", path)
    return key


def _read_key(path: Path) -> bytes:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        # Anyone who can read the key can forge links to every hosted file.
        log.warning("%s was readable by other users; setting its mode to 0600", path)
        path.chmod(0o600)
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError):
        key = b""
    if len(key) < _MIN_SECRET_BYTES:
        raise MediaHostError(f"{path} does not hold a valid key; delete it to make a new one")
    return key


@dataclass(frozen=True)
class HttpHostConfig:
    """Where files live, where the server listens, how links look. The secret stays out of repr."""

    directory: Path
    public_base_url: str
    bind_host: str
    bind_port: int
    ttl_seconds: int
    secret: bytes = field(repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpHostConfig:
        """Settings to config; reads (or creates) the key file, so call it off the event loop."""
        if settings.emo_public_base_url is None:
            raise MediaHostError("EMO_MEDIA_HOST=http needs EMO_PUBLIC_BASE_URL")
        if settings.emo_media_link_secret is not None:
            secret = settings.emo_media_link_secret.get_secret_value().encode()
            if len(secret) < _MIN_SECRET_BYTES:
                raise MediaHostError(
                    "EMO_MEDIA_LINK_SECRET is too short: use 16+ random characters"
                )
        else:
            secret = load_or_create_link_secret(settings.emo_data_dir / KEY_FILE)
        host, port = split_bind(settings.emo_media_server_bind)
        return cls(
            directory=settings.media_dir / HOSTED_DIR,
            public_base_url=str(settings.emo_public_base_url).rstrip("/"),
            bind_host=host,
            bind_port=port,
            ttl_seconds=settings.emo_media_url_ttl_seconds,
            secret=secret,
        )


class _AccessLogger(AbstractAccessLogger):
    """Logs the path only: the query holds the link's signature."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug(
            "%s %s %s -> %d (%.3fs)",
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )


class HttpMediaHost:
    """Stores files in ``config.directory`` and serves them over signed, expiring links."""

    def __init__(
        self,
        config: HttpHostConfig,
        *,
        clock: Callable[[], float] = time.time,
        sweep_interval_seconds: float = _SWEEP_INTERVAL_SECONDS,
    ) -> None:
        self._config = config
        self._clock = clock  # decides link expiry; file ages use the file system's own clock
        self._sweep_interval = sweep_interval_seconds
        self._runner: web.AppRunner | None = None
        self._last_sweep = -math.inf
        self._copies = SharedCopies()

    @classmethod
    async def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        sweep_interval_seconds: float = _SWEEP_INTERVAL_SECONDS,
    ) -> HttpMediaHost:
        """A host configured from settings (not started)."""
        config = await asyncio.to_thread(HttpHostConfig.from_settings, settings)
        return cls(config, clock=clock, sweep_interval_seconds=sweep_interval_seconds)

    def __repr__(self) -> str:
        return f"HttpMediaHost(directory={str(self._config.directory)!r}, port={self.port})"

    @property
    def config(self) -> HttpHostConfig:
        return self._config

    @property
    def port(self) -> int | None:
        """The port listened on, once started."""
        if self._runner is None or not self._runner.addresses:
            return None
        return int(self._runner.addresses[0][1])

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on the configured address; returns once the socket is bound."""
        if self._runner is not None:
            raise RuntimeError("media server already started")
        await asyncio.to_thread(
            self._config.directory.mkdir, mode=0o700, parents=True, exist_ok=True
        )
        app = web.Application()
        app.router.add_get("/media/{name}", self._serve)
        runner = web.AppRunner(
            app,
            access_log_class=_AccessLogger,
            access_log=logging.getLogger(f"{__name__}.access"),
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._config.bind_host, self._config.bind_port).start()
        except OSError as error:
            await runner.cleanup()
            bind = f"{self._config.bind_host}:{self._config.bind_port}"
            raise MediaHostError(f"cannot listen on {bind}: {error.strerror}") from None
        self._runner = runner
        log.info(
            "media server listening on %s:%s, links under %s/media/",
            self._config.bind_host,
            self.port,
            self._config.public_base_url,
        )

    async def close(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ----------------------------------------------------------------- links

    def link(self, name: str, expires: int) -> str:
        """The signed link to ``name`` valid until unix time ``expires``."""
        signature = sign(self._config.secret, name, expires)
        return f"{self._config.public_base_url}/media/{name}?exp={expires}&sig={signature}"

    async def publish(self, data: bytes, *, model: str, filename: str, content_type: str) -> str:
        """Store ``data`` under a fresh random name; return a link valid for the configured TTL.

        ``filename`` only decides the extension when ``content_type`` does not.
        """
        extension = _extension(filename, content_type)

        async def store() -> str:
            name = f"{secrets.token_urlsafe(24)}.{extension}"
            await asyncio.to_thread(self._store, name, data)
            log.debug("hosting %s (%d bytes) for %s", name, len(data), model)
            return self.link(name, int(self._clock()) + self._config.ttl_seconds)

        return await self._copies.publish(
            data, model=model, filename=filename, content_type=content_type, store=store
        )

    def name_of(self, url: str) -> str | None:
        """The stored file's name if ``url`` has the shape of this host's links, else None.
        The public base URL is not compared: links made before it changed still name a file
        here (the names are random, so they cannot name another's)."""
        if not url.startswith(("http://", "https://")):
            return None
        folder, _, name = url.split("?", 1)[0].rpartition("/")
        if not folder.endswith("/media") or not NAME_PATTERN.fullmatch(name):
            return None
        return name

    async def delete(self, url: str) -> Removal:
        """Delete the file behind one of this host's links (KEPT: not one of its links)."""
        name = self.name_of(url)
        if name is None:
            return Removal.KEPT
        try:
            await asyncio.to_thread(os.unlink, self._config.directory / name)
        except FileNotFoundError:
            return Removal.ABSENT
        except OSError as error:
            raise MediaHostError(f"cannot delete hosted file {name}: {error.strerror}") from None
        log.debug("deleted hosted file %s", name)
        return Removal.DELETED

    def _store(self, name: str, data: bytes) -> None:
        directory = self._config.directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = directory / f".tmp-{secrets.token_hex(8)}"
        fd = os.open(temporary, _CREATE_FLAGS, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            # Appear complete or not at all to a concurrent reader.
            os.replace(temporary, directory / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        now = time.time()
        if now - self._last_sweep >= self._sweep_interval:
            self._last_sweep = now
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Delete files whose links have all expired (a file's links live ttl from its mtime)."""
        cutoff = now - self._config.ttl_seconds
        with os.scandir(self._config.directory) as entries:
            for entry in entries:
                if not (NAME_PATTERN.fullmatch(entry.name) or entry.name.startswith(".tmp-")):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.unlink(entry.path)
                        log.debug("swept %s", entry.name)
                except FileNotFoundError:
                    continue

    # ----------------------------------------------------------------- serving

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not NAME_PATTERN.fullmatch(name):
            raise web.HTTPNotFound(text="not found")
        expires = request.query.get("exp", "")
        signature = request.query.get("sig", "")
        expected = sign(self._config.secret, name, expires)
        if not _EXP_PATTERN.fullmatch(expires) or not hmac.compare_digest(
            expected.encode(), signature.encode()
        ):
            raise web.HTTPForbidden(text="invalid link")
        if int(expires) < self._clock():
            raise web.HTTPForbidden(text="link expired")
        data = await asyncio.to_thread(self._read, name)
        if data is None:
            raise web.HTTPNotFound(text="not found")
        extension = name.rsplit(".", 1)[1]
        return web.Response(
            body=data,
            headers={
                "Content-Type": CONTENT_TYPES[extension],
                "Cache-Control": "private",
                "X-Content-Type-Options": "nosniff",
            },
        )

    def _read(self, name: str) -> bytes | None:
        """The file's bytes if it is a regular file with one link; never follows a symlink."""
        try:
            fd = os.open(self._config.directory / name, _READ_FLAGS)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())
            # A hard link could point at a file outside the directory.
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                return None
            return file.read()


def _extension(filename: str, content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type.split(";", 1)[0].strip().lower())
    if extension is None:
        suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        extension = "jpg" if suffix == "jpeg" else suffix
    if extension not in CONTENT_TYPES:
        raise MediaHostError(f"the http media host does not serve {content_type!r} files")
    return extension
