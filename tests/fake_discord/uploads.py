"""Files a simulated user submits (slash-command attachments, modal file uploads, their own
messages): the accepted input shapes and storing them on the fake's CDN."""

from __future__ import annotations

from .models import FakeFile, FakeUpload
from .state import DiscordState

AttachmentInput = FakeUpload | tuple[bytes, str] | tuple[bytes, str, str | None]


def to_upload(value: AttachmentInput) -> FakeUpload:
    """A FakeUpload from (bytes, filename[, content_type]) or a FakeUpload."""
    if isinstance(value, FakeUpload):
        return value
    items: tuple[object, ...] = value
    data, filename = items[0], items[1]
    content_type = items[2] if len(items) > 2 else None
    if not isinstance(data, bytes | bytearray) or not isinstance(filename, str):
        raise TypeError("attachments values are (bytes, filename[, content_type]) or FakeUpload")
    return FakeUpload(
        bytes(data), filename, content_type if isinstance(content_type, str) else None
    )


def store_upload(state: DiscordState, channel_id: int, upload: FakeUpload) -> FakeFile:
    """Keep a user's file as Discord would have received it, downloadable from the CDN."""
    return state.store_file(
        channel_id,
        upload.filename,
        upload.data,
        received_content_type=upload.content_type,
        content_type=upload.content_type,
        duration_secs=upload.duration_secs,
        waveform=upload.waveform,
        flags=upload.flags,
    )
