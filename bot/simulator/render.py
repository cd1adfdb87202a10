"""The simulated EMO output: a real H.264/AAC MP4 of the cropped portrait over the input audio."""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
from PIL import Image

from .faces import EXTRA_HINT
from .media import decode_image
from .tasks import BBox, Ratio

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

OUTPUT_SIZES: dict[Ratio, tuple[int, int]] = {"1:1": (512, 512), "3:4": (512, 704)}
# Rates the AAC encoder accepts; anything else is resampled to 48 kHz.
_AAC_RATES = frozenset(
    {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000}
)
# How much the mouth region darkens at full loudness: visible, yet cheap to compute.
_MOUTH_DARKENING = 0.45


@dataclass(frozen=True)
class RenderResult:
    """What was written."""

    path: Path
    width: int
    height: int
    fps: int
    frames: int
    duration: float
    sample_rate: int
    channels: int


def ratio_of(ext_bbox: BBox) -> Ratio | None:
    """The EMO ratio of a box, if it has one exactly."""
    width, height = ext_bbox[2] - ext_bbox[0], ext_bbox[3] - ext_bbox[1]
    if width <= 0 or height <= 0:
        return None
    if width == height:
        return "1:1"
    if width * 4 == height * 3:
        return "3:4"
    return None


def render_talking_head(
    image_data: bytes,
    audio_data: bytes,
    face_bbox: BBox,
    ext_bbox: BBox,
    out_path: Path,
    *,
    fps: int = 25,
    animate_mouth: bool = True,
) -> RenderResult:
    """Write the MP4: ext_bbox crop scaled to 512x512 / 512x704, audio copied, same duration.

    Blocking (decode + x264): run it in a thread. Longer than most functions on purpose:
    it is the simulator's whole render read top to bottom (crop, scale, animate, mux), and
    its steps share the open containers and the decoded frames.
    """
    try:
        import numpy as np
    except ImportError as exc:
        raise RuntimeError(f"The DashScope simulator needs numpy to render: {EXTRA_HINT}.") from exc
    ratio = ratio_of(ext_bbox)
    if ratio is None:
        raise ValueError(f"ext_bbox {ext_bbox} is neither 1:1 nor 3:4")
    out_w, out_h = OUTPUT_SIZES[ratio]
    portrait = (
        decode_image(image_data, "RGB")
        .crop(ext_bbox)
        .resize((out_w, out_h), Image.Resampling.LANCZOS)
    )
    base = np.array(portrait, dtype=np.uint8)

    samples, rate, layout = _decode_audio(audio_data)
    channels, total = samples.shape
    duration = total / rate
    frames = max(1, math.ceil(duration * fps))
    per_frame = rate / fps
    envelope = _envelope(samples, frames, per_frame)
    mouth = _mouth_region(face_bbox, ext_bbox, out_w, out_h)

    # Work in yuv420p: the encoder needs no per-frame colour conversion, and darkening the
    # mouth is a change to the luma plane only (rows [0, out_h) of the planar array).
    canvas = (
        av.VideoFrame.from_ndarray(base, format="rgb24").reformat(format="yuv420p").to_ndarray()
    )
    mx1, my1, mx2, my2 = mouth
    mouth_luma = canvas[my1:my2, mx1:mx2].astype(np.float32)
    mouth_mask = _ellipse_mask(my2 - my1, mx2 - mx1)

    with av.open(str(out_path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "26"})
        video.width, video.height, video.pix_fmt = out_w, out_h, "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout=layout)
        sent = 0
        for index in range(frames):
            if animate_mouth and mouth_luma.size:
                # Darken the mouth with loudness: a cheap stand-in for lip motion.
                gain = 1.0 - _MOUTH_DARKENING * float(envelope[index]) * mouth_mask
                canvas[my1:my2, mx1:mx2] = (mouth_luma * gain).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(canvas, format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            out.mux(video.encode(frame))
            # Interleave: push the audio that belongs up to the end of this video frame.
            until = min(total, round((index + 1) * per_frame))
            if until > sent:
                chunk = np.ascontiguousarray(samples[:, sent:until])
                aframe = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
                aframe.sample_rate = rate
                aframe.pts = sent
                aframe.time_base = Fraction(1, rate)
                out.mux(audio.encode(aframe))
                sent = until
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return RenderResult(
        path=out_path,
        width=out_w,
        height=out_h,
        fps=fps,
        frames=frames,
        duration=duration,
        sample_rate=rate,
        channels=channels,
    )


def _decode_audio(data: bytes) -> tuple[npt.NDArray[np.float32], int, str]:
    """Decode to planar float32 (channels x samples) at an AAC-friendly rate, mono or stereo."""
    import numpy as np

    chunks: list[npt.NDArray[np.float32]] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        source_rate = int(stream.codec_context.sample_rate or 48000)
        rate = source_rate if source_rate in _AAC_RATES else 48000
        layout = "stereo" if (stream.codec_context.channels or 1) >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().astype(np.float32, copy=False))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().astype(np.float32, copy=False))
    width = 2 if layout == "stereo" else 1
    if not chunks:
        return np.zeros((width, 0), dtype=np.float32), rate, layout
    return np.concatenate(chunks, axis=1), rate, layout


def _envelope(
    samples: npt.NDArray[np.float32], frames: int, per_frame: float
) -> npt.NDArray[np.float32]:
    """Loudness per video frame, 0..1 (RMS normalised by a high percentile)."""
    import numpy as np

    mono = samples.mean(axis=0) if samples.shape[0] > 1 else samples[0]
    levels = np.zeros(frames, dtype=np.float32)
    for index in range(frames):
        window = mono[round(index * per_frame) : round((index + 1) * per_frame)]
        if window.size:
            levels[index] = float(np.sqrt(np.mean(np.square(window))))
    peak = float(np.percentile(levels, 95)) if frames else 0.0
    if peak <= 1e-6:
        return np.zeros(frames, dtype=np.float32)
    scaled: npt.NDArray[np.float32] = np.clip(levels / peak, 0.0, 1.0).astype(np.float32)
    return scaled


def _ellipse_mask(height: int, width: int) -> npt.NDArray[np.float32]:
    """1 at the centre of a height x width box, fading to 0 at its inscribed ellipse."""
    import numpy as np

    if height <= 0 or width <= 0:
        return np.zeros((max(height, 0), max(width, 0)), dtype=np.float32)
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height * 2 - 1
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width * 2 - 1
    radius = ys[:, None] ** 2 + xs[None, :] ** 2
    return np.clip(1.0 - radius, 0.0, 1.0).astype(np.float32)


def _mouth_region(face: BBox, ext: BBox, out_w: int, out_h: int) -> BBox:
    """Where the mouth lands in the output frame: the middle of the face's lower part."""
    scale_x = out_w / (ext[2] - ext[0])
    scale_y = out_h / (ext[3] - ext[1])
    fx1 = (face[0] - ext[0]) * scale_x
    fy1 = (face[1] - ext[1]) * scale_y
    fw = (face[2] - face[0]) * scale_x
    fh = (face[3] - face[1]) * scale_y
    x1 = int(max(0, min(out_w, fx1 + 0.3 * fw)))
    x2 = int(max(0, min(out_w, fx1 + 0.7 * fw)))
    y1 = int(max(0, min(out_h, fy1 + 0.72 * fh)))
    y2 = int(max(0, min(out_h, fy1 + 0.95 * fh)))
    return (x1, y1, x2, y2)
