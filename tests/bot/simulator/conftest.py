"""Fixtures for the simulator tests: media made on the fly, a running simulator, an HTTP client."""

from __future__ import annotations

import io
import math
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from PIL import Image

from bot.simulator import Simulator, SimulatorKnobs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
KEY = "sk-test"
OTHER_KEY = "sk-other"
ASTRONAUT_FACE = (177, 66, 272, 161)


def transcode(source: Path, fmt: str, codec: str, rate: int) -> bytes:
    """Re-encode an audio file with PyAV (mono)."""
    buf = io.BytesIO()
    with av.open(str(source)) as src, av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        for frame in src.decode(audio=0):
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def tone_wav(seconds: float, rate: int = 8000, channels: int = 1) -> bytes:
    """A 16-bit PCM WAV of a quiet 440 Hz tone."""
    frames = int(seconds * rate)
    one = bytearray()
    for i in range(rate):
        value = int(3000 * math.sin(2 * math.pi * 440 * i / rate))
        one += value.to_bytes(2, "little", signed=True) * channels
    whole, rest = divmod(frames, rate)
    pcm = bytes(one) * whole + bytes(one[: rest * 2 * channels])
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return buf.getvalue()


def png(image: Image.Image) -> bytes:
    """Encode as PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def astronaut_png() -> bytes:
    return (FIXTURES / "astronaut.png").read_bytes()


@pytest.fixture(scope="session")
def voice_ogg() -> bytes:
    return (FIXTURES / "voice-note-en.ogg").read_bytes()


@pytest.fixture(scope="session")
def voice_wav() -> bytes:
    return transcode(FIXTURES / "voice-note-en.ogg", "wav", "pcm_s16le", 16000)


@pytest.fixture(scope="session")
def voice_mp3() -> bytes:
    return transcode(FIXTURES / "voice-note-en.ogg", "mp3", "libmp3lame", 44100)


@pytest.fixture(scope="session")
def voice_seconds(voice_wav: bytes) -> float:
    with wave.open(io.BytesIO(voice_wav)) as wav:
        return float(wav.getnframes() / wav.getframerate())


@pytest.fixture(scope="session")
def gradient_png() -> bytes:
    """600x600, no face anywhere."""
    image = Image.linear_gradient("L").resize((600, 600)).convert("RGB")
    return png(image)


@pytest.fixture(scope="session")
def two_faces_png() -> bytes:
    """The astronaut twice, side by side."""
    single = Image.open(FIXTURES / "astronaut.png").convert("RGB")
    canvas = Image.new("RGB", (1024, 512))
    canvas.paste(single, (0, 0))
    canvas.paste(single, (512, 0))
    return png(canvas)


@pytest.fixture(scope="session")
def small_png() -> bytes:
    """300x300: below the 400 px minimum."""
    return png(Image.open(FIXTURES / "astronaut.png").convert("RGB").resize((300, 300)))


@dataclass
class Reply:
    """An HTTP answer: status and parsed body (JSON, else text)."""

    status: int
    body: Any
    headers: dict[str, str]

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), self.body
        return self.body


class Client:
    """A minimal DashScope client for the tests (deliberately not the bot's)."""

    def __init__(self, http: aiohttp.ClientSession, sim: Simulator, key: str | None) -> None:
        self.http = http
        self.sim = sim
        self.key = key

    def headers(self, **extra: str) -> dict[str, str]:
        headers = dict(extra)
        if self.key is not None:
            headers["Authorization"] = f"Bearer {self.key}"
        return headers

    async def _reply(self, resp: aiohttp.ClientResponse) -> Reply:
        text = await resp.text()
        body: Any = text
        if resp.content_type == "application/json":
            body = await resp.json()
        return Reply(resp.status, body, dict(resp.headers))

    async def get(self, path: str, **params: str) -> Reply:
        async with self.http.get(
            self.sim.base_url + path, params=params, headers=self.headers()
        ) as resp:
            return await self._reply(resp)

    async def post(
        self, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> Reply:
        all_headers = self.headers(**(headers or {}))
        async with self.http.post(self.sim.base_url + path, json=body, headers=all_headers) as resp:
            return await self._reply(resp)

    async def policy(self, model: str) -> dict[str, Any]:
        reply = await self.get("/uploads", action="getPolicy", model=model)
        assert reply.status == 200, reply.body
        data: dict[str, Any] = reply.json["data"]
        return data

    def form(
        self,
        policy: dict[str, Any],
        filename: str,
        data: bytes,
        *,
        file_last: bool = True,
        **overrides: str,
    ) -> aiohttp.FormData:
        fields = {
            "OSSAccessKeyId": policy["oss_access_key_id"],
            "Signature": policy["signature"],
            "policy": policy["policy"],
            "key": f"{policy['upload_dir']}/{filename}",
            "x-oss-object-acl": policy["x_oss_object_acl"],
            "x-oss-forbid-overwrite": policy["x_oss_forbid_overwrite"],
            "success_action_status": "200",
        }
        fields.update(overrides)
        form = aiohttp.FormData()
        items = list(fields.items())
        if not file_last:
            form.add_field(*items[0])
            form.add_field("file", data, filename=filename)
            items = items[1:]
        for name, value in items:
            form.add_field(name, value)
        if file_last:
            form.add_field("file", data, filename=filename)
        return form

    async def post_form(self, url: str, form: aiohttp.FormData) -> Reply:
        async with self.http.post(url, data=form) as resp:
            return await self._reply(resp)

    async def upload(self, model: str, filename: str, data: bytes) -> str:
        policy = await self.policy(model)
        reply = await self.post_form(policy["upload_host"], self.form(policy, filename, data))
        assert reply.status == 200, reply.body
        return f"oss://{policy['upload_dir']}/{filename}"

    async def detect(
        self, image_url: str, ratio: str = "1:1", *, headers: dict[str, str] | None = None
    ) -> Reply:
        body = {
            "model": "emo-detect-v1",
            "input": {"image_url": image_url},
            "parameters": {"ratio": ratio},
        }
        return await self.post(
            "/services/aigc/image2video/face-detect",
            body,
            headers={"X-DashScope-OssResourceResolve": "enable", **(headers or {})},
        )

    async def submit(
        self,
        image_url: str,
        audio_url: str,
        face_bbox: list[int],
        ext_bbox: list[int],
        *,
        style: str = "normal",
        headers: dict[str, str] | None = None,
        model: str = "emo-v1",
    ) -> Reply:
        body = {
            "model": model,
            "input": {
                "image_url": image_url,
                "audio_url": audio_url,
                "face_bbox": face_bbox,
                "ext_bbox": ext_bbox,
            },
            "parameters": {"style_level": style},
        }
        default = {"X-DashScope-Async": "enable", "X-DashScope-OssResourceResolve": "enable"}
        return await self.post(
            "/services/aigc/image2video/video-synthesis",
            body,
            headers={**default, **(headers or {})},
        )

    async def task(self, task_id: str) -> Reply:
        return await self.get(f"/tasks/{task_id}")

    async def cancel(self, task_id: str) -> Reply:
        async with self.http.post(
            f"{self.sim.base_url}/tasks/{task_id}/cancel", headers=self.headers()
        ) as resp:
            return await self._reply(resp)


@pytest.fixture
def knobs() -> SimulatorKnobs:
    """Fast rendering; everything else as the provider documents it."""
    return SimulatorKnobs(render_seconds_per_audio_second=0.01, render_overhead_seconds=0.05)


@pytest.fixture
async def sim(knobs: SimulatorKnobs) -> AsyncIterator[Simulator]:
    simulator = Simulator(knobs=knobs, api_keys={KEY, OTHER_KEY})
    await simulator.start(host="127.0.0.1", port=0)
    try:
        yield simulator
    finally:
        await simulator.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(http: aiohttp.ClientSession, sim: Simulator) -> Client:
    return Client(http, sim, KEY)


@pytest.fixture
def other(http: aiohttp.ClientSession, sim: Simulator) -> Client:
    return Client(http, sim, OTHER_KEY)
