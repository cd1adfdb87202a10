"""Hostile media, built small at test time: files that cost a decoder far more than they weigh.

Each generator writes the container by hand (or patches a tiny real encoding), so the corpus
takes well under a second and a few MB to make, whatever the file claims to hold.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from functools import cache

import av
import numpy as np
from PIL import Image

from tests.support import media

# ---------------------------------------------------------------- Ogg/Opus: the packet bomb

_BIT_REVERSED = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def _ogg_crc(page: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, no initial or final XOR), computed
    with zlib's reflected CRC-32 over the bit-reversed bytes."""
    reflected = ~zlib.crc32(page.translate(_BIT_REVERSED), 0xFFFFFFFF) & 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def _ogg_page(
    packets: list[bytes], *, granule: int, sequence: int, first: bool = False, last: bool = False
) -> bytes:
    lacing = bytearray()
    for packet in packets:
        lacing += b"\xff" * (len(packet) // 255) + bytes([len(packet) % 255])
    flags = (2 if first else 0) | (4 if last else 0)
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, 0x5EED, sequence, 0, len(lacing))
    page = bytearray(header + lacing + b"".join(packets))
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return bytes(page)


OPUS_PACKET_SECONDS = 0.06  # TOC 0x18: SILK narrow-band, one 60 ms frame, no payload


def opus_packet_bomb(size: int = 2_000_000) -> bytes:
    """An OGG/Opus file of 1-byte packets, 60 ms each: 2 MB play for about 16 hours. The last
    page's granule position declares the true length."""
    head = struct.pack("<8sBBHIhB", b"OpusHead", 1, 1, 312, 48_000, 0, 0)
    tags = struct.pack("<8sI", b"OpusTags", 4) + b"test" + struct.pack("<I", 0)
    pages = [_ogg_page([head], granule=0, sequence=0, first=True)]
    pages.append(_ogg_page([tags], granule=0, sequence=1))
    per_page = 255
    page_bytes = 27 + 2 * per_page
    count = max(1, (size - sum(map(len, pages))) // page_bytes)
    samples = 0
    for index in range(count):
        samples += per_page * int(OPUS_PACKET_SECONDS * 48_000)
        pages.append(
            _ogg_page(
                [b"\x18"] * per_page,
                granule=samples,
                sequence=index + 2,
                last=index == count - 1,
            )
        )
    return b"".join(pages)


def opus_bomb_seconds(data: bytes) -> float:
    """What a packet bomb declares it plays, from its last page."""
    last = data.rindex(b"OggS")
    return float(struct.unpack_from("<q", data, last + 6)[0] - 312) / 48_000


# ---------------------------------------------------------------- images that decode huge


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def rgba_png(width: int = 7000, height: int = 7000) -> bytes:
    """A real, fully decodable RGBA PNG of one colour: about 200 KB for 7000×7000."""
    row = b"\x00" + bytes((200, 120, 80, 255)) * width
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """(type, offset of its body, end) of each ISO-BMFF box in ``data[start:end]``."""
    end = len(data) if end is None else end
    while start < end:
        size, kind = struct.unpack_from(">I4s", data, start)
        yield kind, start + 8, start + size
        start += size


def _find(data: bytes, path: list[bytes], start: int = 0, end: int | None = None) -> bytes:
    full_boxes = {b"meta": 4}
    for kind, body, box_end in _boxes(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return data[body:box_end]
            return _find(data, path[1:], body + full_boxes.get(kind, 0), box_end)
    raise KeyError(path[0])


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version << 24 | flags) + body)


@cache
def _tile(kind: str) -> tuple[bytes, bytes, bytes]:
    """(configuration box, pixi box, coded data) of a one-colour 512 px tile."""
    tile = Image.new("RGB", (512, 512), (120, 90, 60))
    if kind == "heic":
        data = media.encode(tile, "HEIF", quality=10, enc_params={"preset": "ultrafast"})
        config_kind = b"hvcC"
    else:
        data = media.encode(tile, "AVIF", quality=10, speed=10)
        config_kind = b"av1C"
    properties = _find(data, [b"meta", b"iprp", b"ipco"])
    config = pixi = b""
    for box_kind, body, box_end in _boxes(properties):
        if box_kind == config_kind:
            config = properties[body - 8 : box_end]
        if box_kind == b"pixi":
            pixi = properties[body - 8 : box_end]
    coded = _find(data, [b"mdat"])
    return config, pixi, coded


def tiled_image(kind: str = "heic", side: int = 6900) -> bytes:
    """A HEIC or AVIF whose primary image is a ``side``×``side`` grid of one 512 px tile,
    stored once: about 12 KB that decode to ``side``² pixels, as phones write big photos."""
    config, pixi, coded = _tile(kind)
    item_type = b"hvc1" if kind == "heic" else b"av01"
    columns = -(-side // 512)
    tiles = list(range(2, 2 + columns * columns))
    grid_data = struct.pack(">BBBBHH", 0, 0, columns - 1, columns - 1, side, side)

    infos = [_full_box(b"infe", 2, 0, struct.pack(">HH4s", 1, 0, b"grid") + b"\x00")]
    infos += [
        _full_box(b"infe", 2, 1, struct.pack(">HH", t, 0) + item_type + b"\x00") for t in tiles
    ]
    iinf = _full_box(b"iinf", 0, 0, struct.pack(">H", len(infos)) + b"".join(infos))
    references = struct.pack(">HH", 1, len(tiles)) + struct.pack(f">{len(tiles)}H", *tiles)
    iref = _full_box(b"iref", 0, 0, _box(b"dimg", references))
    ispe_grid = _full_box(b"ispe", 0, 0, struct.pack(">II", side, side))
    ispe_tile = _full_box(b"ispe", 0, 0, struct.pack(">II", 512, 512))
    ipco = _box(b"ipco", config + ispe_tile + ispe_grid + pixi)
    # Properties by index: 1 config (essential), 2 tile size, 3 grid size, 4 pixi.
    tile_assoc = [struct.pack(">HBBBB", t, 3, 0x81, 2, 4) for t in tiles]
    ipma = _full_box(
        b"ipma",
        0,
        0,
        struct.pack(">I", 1 + len(tiles)) + struct.pack(">HBBB", 1, 2, 3, 4) + b"".join(tile_assoc),
    )
    iprp = _box(b"iprp", ipco + ipma)
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"pict") + b"\x00")
    pitm = _full_box(b"pitm", 0, 0, struct.pack(">H", 1))
    brand = b"heic" if kind == "heic" else b"avif"
    ftyp = _box(b"ftyp", brand + struct.pack(">I", 0) + b"mif1" + brand)

    def assemble(mdat_offset: int) -> bytes:
        entries = [struct.pack(">HHHII", 1, 0, 1, mdat_offset, len(grid_data))]
        entries += [
            struct.pack(">HHHII", t, 0, 1, mdat_offset + len(grid_data), len(coded)) for t in tiles
        ]
        iloc = _full_box(
            b"iloc", 0, 0, struct.pack(">BBH", 0x44, 0x00, len(entries)) + b"".join(entries)
        )
        meta = _full_box(b"meta", 0, 0, hdlr + pitm + iloc + iinf + iref + iprp)
        return ftyp + meta

    head = assemble(0)
    head = assemble(len(head) + 8)
    return head + _box(b"mdat", grid_data + coded)


def corrupt_avif() -> bytes:
    """A real AVIF portrait whose AV1 data is damaged: libavif fails in the middle of the
    decode (Pillow raises RuntimeError)."""
    data = bytearray(media.encode(media.astronaut(), "AVIF"))
    start = data.index(b"mdat") + 4  # the AV1 data: its first OBUs (the sequence header)
    data[start : start + 48] = bytes(48)
    return bytes(data)


def hostile_exif_jpeg(width: int = 640, height: int = 640) -> bytes:
    """A JPEG with EXIF that is wrong in every way a parser can trip on: an orientation of the
    wrong type and range, a sub-IFD pointing at itself, offsets past the end, and a large
    maker note."""
    little = b"II*\x00" + struct.pack("<I", 8)
    entries = [
        (0x0112, 3, 1, struct.pack("<HH", 9, 0)),  # orientation 9: no such rotation
        (0x8769, 4, 1, struct.pack("<I", 8)),  # Exif IFD pointing back at IFD0: a loop
        (0x010F, 2, 0x7FFF_FFFF, struct.pack("<I", 0x7FFF_0000)),  # make: far past the end
        (0x927C, 7, 60_000, struct.pack("<I", 80)),  # maker note: 60 KB of junk
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + value
    ifd += struct.pack("<I", 8)  # next IFD: IFD0 again
    blob = little + ifd
    junk = np.random.default_rng(7).integers(0, 256, 60_000, np.uint8).tobytes()
    blob += bytes(80 - len(blob)) + junk
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buffer = io.BytesIO()
    gradient.save(buffer, format="JPEG", exif=b"Exif\x00\x00" + blob)
    return buffer.getvalue()


def rotated_portrait_with_hostile_exif() -> bytes:
    """The sample portrait stored sideways, with orientation 6 and the hostile EXIF's
    self-referencing IFD: the rotation must still be applied."""
    little = b"II*\x00" + struct.pack("<I", 8)
    entries = [
        (0x0112, 3, 1, struct.pack("<HH", 6, 0)),
        (0x8769, 4, 1, struct.pack("<I", 8)),
        (0x8825, 4, 1, struct.pack("<I", 0xFFFF_FF00)),  # GPS IFD far past the end
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHI", tag, kind, count) + value
    ifd += struct.pack("<I", 0)
    sideways = media.astronaut().transpose(Image.Transpose.ROTATE_90)
    return media.encode(sideways, "JPEG", exif=b"Exif\x00\x00" + little + ifd, quality=92)


# ---------------------------------------------------------------- audio containers


def many_streams_mp4(streams: int = 1000) -> bytes:
    """An MP4 whose one second of AAC speech is copied into ``streams`` audio tracks."""
    clip = io.BytesIO(media.encode_audio(media.speech_pcm(0.2), container="mp4", codec="aac"))
    buffer = io.BytesIO()
    with av.open(clip) as source, av.open(buffer, mode="w", format="mp4") as output:
        template = source.streams.audio[0]
        tracks = [output.add_stream_from_template(template) for _ in range(streams)]
        for packet in source.demux(template):
            if not packet.size:
                continue
            for track in tracks:
                copy = av.Packet(bytes(packet))
                copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
                copy.stream = track
                output.mux(copy)
    return buffer.getvalue()


def wav_at(rate: int, seconds: float = 2.0) -> bytes:
    """A well-formed 16-bit mono WAV whose header declares ``rate`` samples per second."""
    samples = media.speech_pcm(seconds)
    data = samples.astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body
