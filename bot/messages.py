"""Every member-facing text, by key and locale: the one place to translate the bot."""

from __future__ import annotations

import enum
import string

from pydantic import BaseModel, ConfigDict, Field


class MessageKey(enum.StrEnum):
    """What the core can tell a member. The edge renders it in the member's language."""

    CHECKING = "checking"
    QUEUED = "queued"
    RENDERING = "rendering"
    RESULT = "result"
    RESULT_SHRUNK = "result_shrunk"
    RESULT_TOO_LARGE = "result_too_large"
    IMAGE_UNREADABLE = "image_unreadable"
    IMAGE_TOO_SMALL = "image_too_small"
    IMAGE_TOO_LARGE_PIXELS = "image_too_large_pixels"
    IMAGE_FORMAT = "image_format"
    IMAGE_ASPECT = "image_aspect"
    AUDIO_UNREADABLE = "audio_unreadable"
    AUDIO_TOO_LONG = "audio_too_long"
    AUDIO_TOO_SHORT = "audio_too_short"
    AUDIO_SILENT = "audio_silent"
    FILE_TOO_LARGE = "file_too_large"
    ATTACHMENT_UNAVAILABLE = "attachment_unavailable"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_FRAMING = "face_framing"
    NEEDS_HALF_BODY = "needs_half_body"
    IMAGE_REFUSED = "image_refused"
    CONTENT_REFUSED = "content_refused"
    PROVIDER_BUSY = "provider_busy"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    RENDER_FAILED = "render_failed"
    RESULT_EXPIRED = "result_expired"
    SUBMIT_UNCERTAIN = "submit_uncertain"
    DELIVERY_FAILED = "delivery_failed"
    MEMBER_BUSY = "member_busy"
    SERVER_QUEUE_FULL = "server_queue_full"
    RENDER_STUCK = "render_stuck"
    PROVIDER_PAUSED = "provider_paused"
    RESTARTING = "restarting"
    GUILD_ONLY = "guild_only"
    UNEXPECTED = "unexpected"


Param = str | int | float


class UserMessage(BaseModel):
    """A message for a member: a key and the values for its placeholders."""

    model_config = ConfigDict(frozen=True)

    key: MessageKey
    params: dict[str, Param] = Field(default_factory=dict)


DEFAULT_LOCALE = "en"

CATALOGUE: dict[str, dict[MessageKey, str]] = {
    "en": {
        MessageKey.CHECKING: "Checking your photo and recording…",
        MessageKey.QUEUED: (
            "Your video is queued (job #{job}, {ahead} ahead of it). "
            "I will post it in this channel when it is ready."
        ),
        MessageKey.RENDERING: "Rendering your video (job #{job})…",
        MessageKey.RESULT: "{mention} here is your talking portrait ({seconds} s, job #{job}).",
        MessageKey.RESULT_SHRUNK: (
            "{mention} here is your talking portrait ({seconds} s, job #{job}), re-encoded to "
            "fit this channel's upload limit of {limit_mb} MB."
        ),
        MessageKey.RESULT_TOO_LARGE: (
            "{mention} your video (job #{job}) is {size_mb} MB, over this channel's upload "
            "limit of {limit_mb} MB, too large to shrink well. Download it here within 24 "
            "hours: {url}"
        ),
        MessageKey.IMAGE_UNREADABLE: (
            "I could not read the image: the file is damaged or not an image. Upload a photo "
            "as JPEG, PNG, WebP, HEIC or AVIF."
        ),
        MessageKey.IMAGE_FORMAT: (
            "The image is in {format} format, which I cannot use. Upload a photo as JPEG, PNG, "
            "WebP, HEIC, AVIF, GIF or BMP."
        ),
        MessageKey.IMAGE_TOO_SMALL: (
            "The image is {width}×{height} px; its shorter side must be at least {minimum} px. "
            "Upload a larger photo."
        ),
        MessageKey.IMAGE_TOO_LARGE_PIXELS: (
            "The image has {megapixels} megapixels; the limit is {limit} megapixels. "
            "Upload a smaller photo."
        ),
        MessageKey.IMAGE_ASPECT: (
            "The image is {width}×{height} px: too long and narrow to keep its shorter side at "
            "{minimum} px. Crop it closer to the person."
        ),
        MessageKey.AUDIO_UNREADABLE: (
            "I could not read the recording: the file is damaged, has no sound track, or uses "
            "an unknown codec. Upload a voice message or an MP3, WAV, M4A, OGG or FLAC file."
        ),
        MessageKey.AUDIO_TOO_LONG: (
            "The recording is {seconds} s long; the limit is {limit} s. Upload a shorter recording."
        ),
        MessageKey.AUDIO_TOO_SHORT: (
            "The recording is too short ({seconds} s). Upload at least {minimum} s of speech."
        ),
        MessageKey.AUDIO_SILENT: (
            "The recording seems to be silent. Record again closer to the microphone, and "
            "check that the right file is attached."
        ),
        MessageKey.FILE_TOO_LARGE: (
            "The {what} is larger than {limit_mb} MB. Upload a smaller file."
        ),
        MessageKey.ATTACHMENT_UNAVAILABLE: (
            "I could not download the {what} from Discord. Run the command again with the file "
            "attached."
        ),
        MessageKey.NO_FACE: (
            "I could not find a person in the photo. Use a clear, front-facing photo of one person."
        ),
        MessageKey.SEVERAL_FACES: (
            "The photo shows more than one person. Use a photo of exactly one person."
        ),
        MessageKey.FACE_FRAMING: (
            "The person is too large or too small in the frame, or the face is turned away or "
            "hidden. Use a front-facing photo with the head and shoulders fully visible."
        ),
        MessageKey.NEEDS_HALF_BODY: (
            "Half-body framing needs the person visible down to the hips. Use another photo or "
            "choose the head framing."
        ),
        MessageKey.IMAGE_REFUSED: (
            "The video service refused the photo ({reason}). Try another photo of one person, "
            "front-facing and well lit."
        ),
        MessageKey.CONTENT_REFUSED: (
            "The video service's content filter refused these files. Try a different photo or "
            "recording."
        ),
        MessageKey.PROVIDER_BUSY: (
            "The video service is having trouble right now (job #{job}). Nothing was charged. "
            "Try again in a few minutes."
        ),
        MessageKey.PROVIDER_UNAVAILABLE: (
            "The bot's video service account needs attention from the bot's operator "
            "(job #{job}). Nothing was charged. Tell a server admin and try again later."
        ),
        MessageKey.RENDER_FAILED: (
            "{mention} the video service could not make job #{job} ({reason}). Try again, or "
            "use another photo or recording."
        ),
        MessageKey.RESULT_EXPIRED: (
            "{mention} the result of job #{job} expired at the video service before it could be "
            "posted. Run the command again."
        ),
        MessageKey.SUBMIT_UNCERTAIN: (
            "{mention} the bot restarted while sending job #{job} to the video service, so it "
            "was not sent again to avoid paying twice. If no video arrives, run the command "
            "again."
        ),
        MessageKey.DELIVERY_FAILED: (
            "{mention} job #{job} finished but could not be posted here. Check that the bot may "
            "send messages and attach files in this channel."
        ),
        MessageKey.MEMBER_BUSY: (
            "You already have {count} videos on the way (the limit is {limit}). Wait for one to "
            "arrive, then try again."
        ),
        MessageKey.SERVER_QUEUE_FULL: (
            "This server's queue is full: {count} videos are waiting (the limit is {limit}). "
            "Try again when some have arrived."
        ),
        MessageKey.RENDER_STUCK: (
            "{mention} job #{job} waited over {hours} h at the video service and was cancelled; "
            "nothing was charged. Run the command again."
        ),
        MessageKey.PROVIDER_PAUSED: (
            "The bot's video service account needs attention from the bot's operator, so new "
            "videos wait in the queue. Yours (job #{job}) keeps its place and starts once the "
            "operator has fixed it."
        ),
        MessageKey.RESTARTING: (
            "The bot is restarting right now. Try again in a minute; anything already queued "
            "keeps its place."
        ),
        MessageKey.GUILD_ONLY: "Use this command in a server channel.",
        MessageKey.UNEXPECTED: (
            "Something went wrong on our side (reference {reference}). Try again; if it keeps "
            "happening, tell a server admin."
        ),
    },
}


def locale_language(locale: str | None) -> str:
    """Map a Discord locale such as ``en-US`` or ``zh-CN`` to a catalogue language."""
    if not locale:
        return DEFAULT_LOCALE
    language = locale.split("-")[0].lower()
    return language if language in CATALOGUE else DEFAULT_LOCALE


def render(message: UserMessage, locale: str | None = None) -> str:
    """The message's text in ``locale`` (falling back to English), placeholders filled."""
    table = CATALOGUE[locale_language(locale)]
    template = table.get(message.key, CATALOGUE[DEFAULT_LOCALE][message.key])
    return template.format_map(message.params)


def placeholders(template: str) -> frozenset[str]:
    """The ``{names}`` a template expects."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)
