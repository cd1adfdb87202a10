"""Every member-facing text, by key and locale: the one place to translate the bot."""

from __future__ import annotations

import enum
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bot.locales import ja, zh_cn


class MessageKey(enum.StrEnum):
    """What the core can tell a member. The edge renders it in the member's language."""

    CHECKING = "checking"
    QUEUED = "queued"
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
    # Hostile or unusual media (bot/media/): refused within bounded time and memory.
    AUDIO_LONGER_THAN = "audio_longer_than"
    AUDIO_TOO_MANY_STREAMS = "audio_too_many_streams"
    AUDIO_SAMPLE_RATE = "audio_sample_rate"
    MEDIA_TOO_COSTLY = "media_too_costly"
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
    OWN_KEY_UNAVAILABLE = "own_key_unavailable"
    RENDER_FAILED = "render_failed"
    RESULT_EXPIRED = "result_expired"
    # The result's download (bot/jobs/delivery.py): where it came from, its size, the disk.
    RESULT_SOURCE_REFUSED = "result_source_refused"
    RESULT_OVER_CAP = "result_over_cap"
    RESULT_NOT_STORED = "result_not_stored"
    RESULT_UNREACHABLE = "result_unreachable"
    RESULT_NOT_VIDEO = "result_not_video"
    SUBMIT_UNCERTAIN = "submit_uncertain"
    DELIVERY_FAILED = "delivery_failed"
    MEMBER_BUSY = "member_busy"
    SERVER_QUEUE_FULL = "server_queue_full"
    RENDER_STUCK = "render_stuck"
    PROVIDER_PAUSED = "provider_paused"
    RESTARTING = "restarting"
    GUILD_ONLY = "guild_only"
    OWNER_ONLY = "owner_only"
    DM_NOT_ALLOWED = "dm_not_allowed"
    WORD_IMAGE = "word_image"
    WORD_AUDIO = "word_audio"
    PROVIDER_RESUMED = "provider_resumed"
    PROVIDER_NOT_PAUSED = "provider_not_paused"
    # /emo-operator accounts: one line per provider account
    ACCOUNTS_HEADER = "accounts_header"
    ACCOUNTS_LINE_ACTIVE = "accounts_line_active"
    ACCOUNTS_LINE_PAUSED = "accounts_line_paused"
    ACCOUNTS_MORE = "accounts_more"
    # operator alerts
    ALERT_PROVIDER_REFUSED = "alert_provider_refused"
    ALERT_ACCOUNT_REFUSED = "alert_account_refused"
    ALERT_OWN_KEY_REFUSED = "alert_own_key_refused"
    ALERT_RENDER_SLOW = "alert_render_slow"
    UNEXPECTED = "unexpected"
    DATABASE_AWAY = "database_away"
    JOB_DELAYED = "job_delayed"
    # the status card
    CARD_TITLE = "card_title"
    CARD_CHECKING = "card_checking"
    CARD_WAITING_PREPARER = "card_waiting_preparer"
    CARD_QUEUED = "card_queued"
    CARD_PAUSED = "card_paused"
    CARD_PAUSED_OWN_KEY = "card_paused_own_key"
    CARD_WAITING_AT_PROVIDER = "card_waiting_at_provider"
    CARD_RENDERING = "card_rendering"
    CARD_SUSPENDED = "card_suspended"
    CARD_DELIVERING = "card_delivering"
    CARD_DONE = "card_done"
    CARD_SENT_BY_DM = "card_sent_by_dm"
    CARD_CANCELED = "card_canceled"
    CARD_FAILED = "card_failed"
    CARD_ESTIMATE = "card_estimate"
    CARD_COST = "card_cost"
    CARD_RETRY_HINT = "card_retry_hint"
    CARD_RETRY_OF = "card_retry_of"
    CARD_STOP_REQUESTED = "card_stop_requested"
    BUTTON_CANCEL = "button_cancel"
    BUTTON_RETRY = "button_retry"
    BUTTON_USE_AVATAR = "button_use_avatar"
    # cancel and retry
    CANCELED = "canceled"
    CANCEL_REMOVED = "cancel_removed"
    CANCEL_AT_PROVIDER = "cancel_at_provider"
    CANCEL_RUNNING = "cancel_running"
    CANCEL_FINISHED = "cancel_finished"
    CANCEL_FORBIDDEN = "cancel_forbidden"
    JOB_NOT_FOUND = "job_not_found"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    RETRY_PENDING = "retry_pending"
    RETRY_NOT_FINISHED = "retry_not_finished"
    RETRY_INPUTS_GONE = "retry_inputs_gone"
    RETRY_STARTED = "retry_started"
    RETRY_FORBIDDEN = "retry_forbidden"
    # the crop on the card, confirm before spending, framing help
    STATE_AWAITING = "state_awaiting"
    CARD_AWAITING = "card_awaiting"
    CARD_DETAILS = "card_details"
    CARD_REFRAME_HINT = "card_reframe_hint"
    FRAMING_HEAD = "framing_head"
    FRAMING_HALF_BODY = "framing_half_body"
    STYLE_NORMAL = "style_normal"
    STYLE_CALM = "style_calm"
    STYLE_ACTIVE = "style_active"
    BUTTON_CONFIRM = "button_confirm"
    BUTTON_REFRAME = "button_reframe"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    CONFIRM_ALREADY = "confirm_already"
    CONFIRM_ENDED = "confirm_ended"
    CONFIRM_FORBIDDEN = "confirm_forbidden"
    CONFIRM_TIMED_OUT = "confirm_timed_out"
    REFRAME_STARTED = "reframe_started"
    # /emo queue, /emo jobs, /emo help
    QUEUE_SERVER = "queue_server"
    QUEUE_MINE = "queue_mine"
    QUEUE_NOT_MINE = "queue_not_mine"
    JOBS_HEADER = "jobs_header"
    JOBS_LINE = "jobs_line"
    JOBS_NONE = "jobs_none"
    HELP = "help"
    STATE_CHECKING = "state_checking"
    STATE_QUEUED = "state_queued"
    STATE_RENDERING = "state_rendering"
    STATE_DELIVERING = "state_delivering"
    STATE_DONE = "state_done"
    STATE_REFUSED = "state_refused"
    STATE_FAILED = "state_failed"
    STATE_CANCELED = "state_canceled"
    STATE_EXPIRED = "state_expired"
    # delivery by direct message, and its fallbacks
    RESULT_BY_DM = "result_by_dm"
    RESULT_DMS_CLOSED = "result_dms_closed"
    RESULT_CHANNEL_FORBIDDEN = "result_channel_forbidden"
    # the "Animate this voice message" context menu
    NOT_A_VOICE_MESSAGE = "not_a_voice_message"
    VOICE_NOT_YOURS = "voice_not_yours"
    PORTRAIT_MODAL_TITLE = "portrait_modal_title"
    PORTRAIT_LABEL = "portrait_label"
    PORTRAIT_HINT = "portrait_hint"
    USE_AVATAR_CONFIRM = "use_avatar_confirm"

    # Server administration (bot/guilds/, /emo-admin, /emo usage, /emo forget).
    MANAGE_SERVER_REQUIRED = "manage_server_required"
    OTHERS_DATA_FORBIDDEN = "others_data_forbidden"
    SETTING_OUT_OF_RANGE = "setting_out_of_range"
    SETTING_INVALID = "setting_invalid"
    SETTING_UNKNOWN = "setting_unknown"
    # Operator ceilings (bot/guilds/ceilings.py): a server may lower them, not raise them.
    SETTING_ABOVE_CEILING = "setting_above_ceiling"
    VALUE_CEILING = "value_ceiling"
    VALUE_CLAMPED = "value_clamped"
    SETTINGS_NOTHING_GIVEN = "settings_nothing_given"
    SETTINGS_VIEW = "settings_view"
    SETTINGS_SAVED = "settings_saved"
    SETTINGS_RESET = "settings_reset"
    SETTINGS_HISTORY_LINE = "settings_history_line"
    SETTINGS_HISTORY_DEFAULT = "settings_history_default"
    SETTINGS_HISTORY_EMPTY = "settings_history_empty"
    VALUE_NO_LIMIT = "value_no_limit"
    VALUE_COMMAND_CHANNEL = "value_command_channel"
    VALUE_LOG_ONLY = "value_log_only"
    VALUE_YES = "value_yes"
    VALUE_NO = "value_no"
    QUOTA_DAILY_SECONDS = "quota_daily_seconds"
    QUOTA_MONTHLY_BUDGET = "quota_monthly_budget"
    QUOTA_MONTHLY_BUDGET_AT_CEILING = "quota_monthly_budget_at_ceiling"
    QUOTA_DAILY_USED_UP = "quota_daily_used_up"
    QUOTA_BUDGET_USED_UP = "quota_budget_used_up"
    QUOTA_BUDGET_USED_UP_AT_CEILING = "quota_budget_used_up_at_ceiling"
    # The bot-wide monthly budget over every server on the shared accounts.
    TOTAL_BUDGET_USED_UP = "total_budget_used_up"
    TOTAL_BUDGET_TOO_LITTLE_LEFT = "total_budget_too_little_left"
    USAGE_MEMBER = "usage_member"
    USAGE_ALLOWANCE = "usage_allowance"
    USAGE_SERVER = "usage_server"
    USAGE_BUDGET = "usage_budget"
    USAGE_LINE = "usage_line"
    USAGE_NONE = "usage_none"
    USAGE_MORE = "usage_more"
    AUDIT_HEADER = "audit_header"
    AUDIT_LINE = "audit_line"
    AUDIT_REQUESTED_BY = "audit_requested_by"
    AUDIT_MEDIA_DELETED = "audit_media_deleted"
    AUDIT_ESTIMATE = "audit_estimate"
    AUDIT_NOT_BILLED = "audit_not_billed"
    AUDIT_EMPTY = "audit_empty"
    AUDIT_NEXT_PAGE = "audit_next_page"
    AUDIT_BAD_DATE = "audit_bad_date"
    AUDIT_BAD_RANGE = "audit_bad_range"
    AUDIT_BAD_STATE = "audit_bad_state"
    FORGET_DONE = "forget_done"
    FORGET_PENDING = "forget_pending"
    FORGET_NOTHING = "forget_nothing"
    # A server's own DashScope key (bot/guilds/provider_keys.py, /emo-admin provider-key).
    PROVIDER_KEY_NO_SECRET = "provider_key_no_secret"
    PROVIDER_KEY_EMPTY = "provider_key_empty"
    PROVIDER_KEY_MALFORMED = "provider_key_malformed"
    PROVIDER_KEY_LENGTH = "provider_key_length"
    PROVIDER_KEY_OPERATORS = "provider_key_operators"
    PROVIDER_KEY_OTHER_SERVER = "provider_key_other_server"
    PROVIDER_KEY_OPERATORS_ACCOUNT = "provider_key_operators_account"
    PROVIDER_KEY_OTHER_SERVERS_ACCOUNT = "provider_key_other_servers_account"
    PROVIDER_KEY_REFUSED = "provider_key_refused"
    PROVIDER_KEY_UNCHECKED = "provider_key_unchecked"
    PROVIDER_KEY_SAVED = "provider_key_saved"
    PROVIDER_KEY_CLEARED = "provider_key_cleared"
    PROVIDER_KEY_NOTHING_TO_CLEAR = "provider_key_nothing_to_clear"
    PROVIDER_KEY_STATUS_NONE = "provider_key_status_none"
    PROVIDER_KEY_STATUS_SET = "provider_key_status_set"
    PROVIDER_KEY_STATUS_UNREADABLE = "provider_key_status_unreadable"
    PROVIDER_KEY_STATUS_PAUSED = "provider_key_status_paused"
    PROVIDER_KEY_MODAL_TITLE = "provider_key_modal_title"
    PROVIDER_KEY_LABEL = "provider_key_label"
    PROVIDER_KEY_HINT = "provider_key_hint"


class Mention(BaseModel):
    """A placeholder value: the member a message addresses (the edge writes it its way)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: int


class MomentStyle(enum.StrEnum):
    """How a moment is shown: how far from now it is, or the day it falls on."""

    RELATIVE = "relative"
    DATE = "date"


class Moment(BaseModel):
    """A placeholder value: a point in time (on Discord, a timestamp each member reads in
    their own time zone: one that ticks by itself, or a date)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: datetime
    style: MomentStyle = MomentStyle.RELATIVE


class MessageLink(BaseModel):
    """A placeholder value: one of the bot's messages, for a link to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    guild_id: int | None
    channel_id: int
    message_id: int


class Phrase(BaseModel):
    """A placeholder value that is itself a catalogue text, in the member's language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: MessageKey


Param = str | int | float | Mention | Moment | MessageLink | Phrase
PARAMS = TypeAdapter(dict[str, Param])
"""Stores and reads back a message's placeholder values (the job row keeps them as JSON)."""


class UserMessage(BaseModel):
    """A message for a member: a key and the values for its placeholders. Never markup: the
    edge that shows it writes mentions, moments and links (``Markup``)."""

    model_config = ConfigDict(frozen=True)

    key: MessageKey
    params: dict[str, Param] = Field(default_factory=dict)


def _plain_moment(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _plain_date(at: datetime) -> str:
    return at.strftime("%Y-%m-%d UTC")


@dataclass(frozen=True)
class Markup:
    """How an edge writes the placeholder values the catalogue cannot: a member, a moment, a
    link to a message. The core never writes markup; Discord and the command line differ."""

    mention: Callable[[int], str]
    moment: Callable[[datetime], str]
    link: Callable[[MessageLink], str]
    date: Callable[[datetime], str] = _plain_date  # a Moment of style DATE


PLAIN = Markup(mention=lambda _: "", moment=_plain_moment, link=lambda _: "")
"""Plain text (the command line, logs): nobody to mention, no message to link."""


DEFAULT_LOCALE = "en"

CATALOGUE: dict[str, dict[MessageKey, str]] = {
    "en": {
        MessageKey.CHECKING: "Checking your photo and recording…",
        MessageKey.QUEUED: (
            "Your video is queued (job #{job}, {ahead} ahead of it). Follow it on its status "
            "card: {link}"
        ),
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
        MessageKey.AUDIO_LONGER_THAN: (
            "The recording is longer than {limit} s, the limit. Upload a shorter recording."
        ),
        MessageKey.AUDIO_TOO_MANY_STREAMS: (
            "The file holds more than {limit} tracks; I take a recording with one sound track. "
            "Upload the voice message or the audio file itself."
        ),
        MessageKey.AUDIO_SAMPLE_RATE: (
            "The recording's sample rate is {rate} Hz; I can use {minimum} to {maximum} Hz. "
            "Upload a voice message, or an ordinary MP3, WAV, M4A, OGG or FLAC file."
        ),
        MessageKey.MEDIA_TOO_COSTLY: (
            "Converting the {what} took too long or needed too much memory: the file may be "
            "damaged or unusually made. Save it again as an ordinary file (a JPEG photo, an "
            "MP3 or M4A recording) and upload that."
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
        MessageKey.OWN_KEY_UNAVAILABLE: (
            "This server's own DashScope key was refused (job #{job}). Nothing was charged. "
            "A server admin can see why with `/emo-admin provider-key status` (and in the "
            "server's alert channel, if one is set); try again once it is fixed."
        ),
        MessageKey.RENDER_FAILED: (
            "{mention} the video service could not make job #{job} ({reason}). Try again, or "
            "use another photo or recording."
        ),
        MessageKey.RESULT_SOURCE_REFUSED: (
            "{mention} the video service finished job #{job} but sent its video from an address "
            "the bot does not download from, so it was not fetched. Tell a server admin: the "
            "bot's log names the address."
        ),
        MessageKey.RESULT_OVER_CAP: (
            "{mention} the video of job #{job} is larger than {limit_mb} MB, the most the bot "
            "downloads, so it was not fetched. Try a shorter recording."
        ),
        MessageKey.RESULT_NOT_STORED: (
            "{mention} the video of job #{job} could not be saved on the bot's server (its disk "
            "may be full). Tell a server admin, then run the command again."
        ),
        MessageKey.RESULT_UNREACHABLE: (
            "{mention} the video of job #{job} could not be downloaded from the video service: "
            "it did not answer after several tries. Run the command again later."
        ),
        MessageKey.RESULT_NOT_VIDEO: (
            "{mention} the video service sent something for job #{job} that is not a playable "
            "video, so nothing was posted. Run the command again."
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
        MessageKey.OWNER_ONLY: "Only the bot's owner can do this.",
        MessageKey.DM_NOT_ALLOWED: (
            "This server does not send results by direct message. Run the command again "
            "without the dm option."
        ),
        MessageKey.WORD_IMAGE: "image",
        MessageKey.WORD_AUDIO: "audio",
        MessageKey.PROVIDER_RESUMED: "Submissions resumed.",
        MessageKey.PROVIDER_NOT_PAUSED: "Submissions were not paused.",
        MessageKey.ACCOUNTS_HEADER: (
            "Provider accounts: {count}. Spend is this UTC calendar month's, as billed."
        ),
        MessageKey.ACCOUNTS_LINE_ACTIVE: (
            "**{account}**: active, {busy}/{slots} slots busy, {waiting} waiting in the queue, "
            "${spent} spent this month"
        ),
        MessageKey.ACCOUNTS_LINE_PAUSED: (
            "**{account}**: paused since {since} ({code}), {busy}/{slots} slots busy, "
            "{waiting} waiting in the queue, ${spent} spent this month"
        ),
        MessageKey.ACCOUNTS_MORE: "…and {count} more accounts.",
        MessageKey.ALERT_PROVIDER_REFUSED: (
            "DashScope refused the bot's account ({code}: {message}). Submissions are paused "
            "for every server and jobs keep their place. Fix the account (key, region, "
            "balance, entitlement); the bot probes it and resumes."
        ),
        MessageKey.ALERT_ACCOUNT_REFUSED: (
            "DashScope refused the bot's account **{account}** ({code}: {message}). That "
            "account is paused; its queued jobs go to the other accounts. Fix it (key, "
            "balance, entitlement); the bot probes it and resumes it."
        ),
        MessageKey.ALERT_OWN_KEY_REFUSED: (
            "DashScope refused this server's own API key ({code}: {message}). This server's "
            "jobs are paused and keep their place; other servers are not affected. Fix the "
            "account (key, balance, entitlement) or set another key with `/emo-admin "
            "provider-key set`; the bot probes the key and resumes by itself."
        ),
        MessageKey.ALERT_RENDER_SLOW: (
            "Job {job} (task {task}) has been rendering for over {hours} h; the provider "
            "stops it at 3 h."
        ),
        MessageKey.UNEXPECTED: (
            "Something went wrong on our side (reference {reference}). Try again; if it keeps "
            "happening, tell a server admin."
        ),
        MessageKey.DATABASE_AWAY: (
            "The bot cannot reach its database for a moment. Try again in a minute; nothing "
            "was charged."
        ),
        MessageKey.JOB_DELAYED: (
            "Job #{job} is taken, but the bot's database is away for a moment. The job goes "
            "on by itself once it is back, and its card will show it."
        ),
        MessageKey.CARD_TITLE: "🎬 **Talking portrait for {mention}** · job #{job}",
        MessageKey.CARD_CHECKING: "⏳ Checking the photo and the recording…",
        MessageKey.CARD_WAITING_PREPARER: (
            "⏳ Waiting its turn to be checked: the bot checks a few members' files at a time. "
            "Nothing is charged meanwhile."
        ),
        MessageKey.CARD_QUEUED: "🕒 Queued: {ahead} ahead · ready about {eta}",
        MessageKey.CARD_PAUSED_OWN_KEY: (
            "⏸️ Waiting: this server's own DashScope key was refused; a server admin can see "
            "why with `/emo-admin provider-key status`. The job keeps its place."
        ),
        MessageKey.CARD_PAUSED: (
            "⏸️ Waiting: the video service needs the bot operator's attention. The job keeps "
            "its place."
        ),
        MessageKey.CARD_WAITING_AT_PROVIDER: "🕒 Waiting at the video service · ready about {eta}",
        MessageKey.CARD_RENDERING: "🎞️ Rendering since {since} · ready about {eta}",
        MessageKey.CARD_SUSPENDED: (
            "⏸️ Paused at the video service for now; it carries on by itself · ready about {eta}"
        ),
        MessageKey.CARD_DELIVERING: "📤 Posting the video…",
        MessageKey.CARD_DONE: "✅ Done: {link}",
        MessageKey.CARD_SENT_BY_DM: "sent by direct message",
        MessageKey.CARD_CANCELED: "🚫 Cancelled. Nothing was charged.",
        MessageKey.CARD_FAILED: "❌ No video this time.",
        MessageKey.CARD_ESTIMATE: "Estimated cost: ${usd}",
        MessageKey.CARD_COST: "Cost: ${usd} for {seconds} s of video",
        MessageKey.CARD_RETRY_HINT: "React 🔁 or press Retry to make it again.",
        MessageKey.CARD_RETRY_OF: "Retry of job #{original}",
        MessageKey.CARD_STOP_REQUESTED: (
            "A cancel was asked for, but the render had already started: it will be charged "
            "and posted."
        ),
        MessageKey.BUTTON_CANCEL: "Cancel",
        MessageKey.BUTTON_RETRY: "Retry",
        MessageKey.BUTTON_USE_AVATAR: "Use my avatar",
        MessageKey.CANCELED: "Job #{job} was cancelled before it started. Nothing was charged.",
        MessageKey.CANCEL_REMOVED: "Job #{job} is cancelled. Nothing was charged.",
        MessageKey.CANCEL_AT_PROVIDER: (
            "Job #{job} is cancelled; it was still waiting at the video service, so nothing "
            "was charged."
        ),
        MessageKey.CANCEL_RUNNING: (
            "Job #{job} is already rendering and can no longer be stopped. It will be charged, "
            "and posted here when it is ready."
        ),
        MessageKey.CANCEL_FINISHED: "Job #{job} has already finished; there is nothing to cancel.",
        MessageKey.CANCEL_FORBIDDEN: (
            "Only the member who started job #{job}, or someone with Manage Server, can cancel it."
        ),
        MessageKey.JOB_NOT_FOUND: "There is no job #{job} in this server. /emo jobs lists yours.",
        MessageKey.NOTHING_TO_CANCEL: "You have no video on the way: nothing to cancel.",
        MessageKey.RETRY_PENDING: (
            "A retry of job #{job} is already on its way. Wait for it before asking again."
        ),
        MessageKey.RETRY_NOT_FINISHED: (
            "Job #{job} is still on its way. Wait for it to finish before retrying."
        ),
        MessageKey.RETRY_INPUTS_GONE: (
            "The photo and recording of job #{job} are no longer kept (stored files are deleted "
            "after a while). Run /emo animate again with the files."
        ),
        MessageKey.RETRY_STARTED: "Job #{job} is being made again as job #{new}.",
        MessageKey.RETRY_FORBIDDEN: (
            "Only the member who started job #{job}, or someone with Manage Server, can retry it."
        ),
        MessageKey.STATE_AWAITING: "waiting for confirmation",
        MessageKey.CARD_AWAITING: (
            "👀 Check the picture below: it is exactly what will be animated. Press **Confirm** "
            "to make the video, or **Cancel**. Nothing is charged before you confirm; it is "
            "cancelled {deadline} if nobody does."
        ),
        MessageKey.CARD_DETAILS: "🖼️ {framing} · {style} motion · {seconds} s",
        MessageKey.CARD_REFRAME_HINT: (
            "Press **Head shot 1:1** to make it from the same photo and recording, framed "
            "around the head: no need to upload them again."
        ),
        MessageKey.FRAMING_HEAD: "head shot 1:1",
        MessageKey.FRAMING_HALF_BODY: "half body 3:4",
        MessageKey.STYLE_NORMAL: "normal",
        MessageKey.STYLE_CALM: "calm",
        MessageKey.STYLE_ACTIVE: "active",
        MessageKey.BUTTON_CONFIRM: "Confirm",
        MessageKey.BUTTON_REFRAME: "Head shot 1:1",
        MessageKey.AWAITING_CONFIRMATION: (
            "Your photo and recording are ready (job #{job}). Its status card shows the crop "
            "that will be animated and what it costs: press Confirm there to make the video. "
            "{link}"
        ),
        MessageKey.CONFIRMED: "Confirmed: job #{job} is queued, {ahead} ahead of it.",
        MessageKey.CONFIRM_ALREADY: "Job #{job} was already confirmed.",
        MessageKey.CONFIRM_ENDED: "Job #{job} has ended: there is nothing left to confirm.",
        MessageKey.CONFIRM_FORBIDDEN: (
            "Only the member who started job #{job}, or someone with Manage Server, can confirm it."
        ),
        MessageKey.CONFIRM_TIMED_OUT: (
            "Job #{job} was not confirmed in time, so it was cancelled. Nothing was charged. "
            "Run the command again to make it."
        ),
        MessageKey.REFRAME_STARTED: (
            "Making job #{job} again as a head shot (1:1), from the same photo and recording: "
            "job #{new}."
        ),
        MessageKey.QUEUE_SERVER: (
            "This server: {waiting} waiting, {rendering} rendering. Across all servers the "
            "video service is working through {total}."
        ),
        MessageKey.QUEUE_MINE: "Your job #{job}: {state}, {ahead} ahead, ready about {eta}",
        MessageKey.QUEUE_NOT_MINE: "You have no video on the way. Start one with /emo animate.",
        MessageKey.JOBS_HEADER: "Your latest jobs:",
        MessageKey.JOBS_LINE: "#{job} · {state} · {when} {link}",
        MessageKey.JOBS_NONE: "You have no jobs in this server yet. Start one with /emo animate.",
        MessageKey.HELP: (
            "**Talking portraits**\n"
            "• /emo animate: attach a photo of one person and a recording of up to {seconds} s "
            "(a voice message works). Options: style (how lively), framing (head or half "
            "body), trim (use the first {seconds} s of a longer recording), dm (get the video "
            "by direct message).\n"
            "• Right-click your own voice message → Apps → Animate this voice message.\n"
            "• Each job has a status card with a Cancel button. A job still waiting is removed "
            "for free; once rendering has started it can no longer be stopped and is charged.\n"
            "• React 🔁 on a result (or press Retry) to make it again with the same files.\n"
            "• /emo queue shows your place, /emo jobs your latest jobs, /emo cancel stops "
            "your latest job."
        ),
        MessageKey.STATE_CHECKING: "checking",
        MessageKey.STATE_QUEUED: "queued",
        MessageKey.STATE_RENDERING: "rendering",
        MessageKey.STATE_DELIVERING: "posting",
        MessageKey.STATE_DONE: "done",
        MessageKey.STATE_REFUSED: "refused",
        MessageKey.STATE_FAILED: "failed",
        MessageKey.STATE_CANCELED: "cancelled",
        MessageKey.STATE_EXPIRED: "expired",
        MessageKey.RESULT_BY_DM: (
            "Here is your talking portrait ({seconds} s, job #{job}) from {server}."
        ),
        MessageKey.RESULT_DMS_CLOSED: (
            "{mention} your direct messages are closed, so here is your talking portrait "
            "({seconds} s, job #{job})."
        ),
        MessageKey.RESULT_CHANNEL_FORBIDDEN: (
            "I may not post in <#{channel}>, so here is your talking portrait ({seconds} s, "
            "job #{job}). Ask a server admin to let the bot send messages and files there."
        ),
        MessageKey.NOT_A_VOICE_MESSAGE: (
            "That message is not a voice message. Use /emo animate with an audio file instead."
        ),
        MessageKey.VOICE_NOT_YOURS: "You can only animate your own voice messages.",
        MessageKey.PORTRAIT_MODAL_TITLE: "Animate this voice message",
        MessageKey.PORTRAIT_LABEL: "Portrait photo",
        MessageKey.PORTRAIT_HINT: (
            "A photo of one person, face clearly visible. Leave it empty to use your avatar."
        ),
        MessageKey.USE_AVATAR_CONFIRM: (
            "You gave no photo. Shall I use your profile picture as the portrait? It must show "
            "one face clearly."
        ),
        # Server administration.
        MessageKey.MANAGE_SERVER_REQUIRED: (
            "Only members with the Manage Server permission can do this."
        ),
        MessageKey.OTHERS_DATA_FORBIDDEN: (
            "You can see only your own use and videos. Members with the Manage Server "
            "permission can see everyone's."
        ),
        MessageKey.SETTING_OUT_OF_RANGE: (
            "`{setting}` must be from {minimum} to {maximum}, so {value} cannot be used. "
            "Nothing was changed."
        ),
        MessageKey.SETTING_INVALID: (
            "{value} is not a valid value for `{setting}`. Nothing was changed."
        ),
        MessageKey.SETTING_UNKNOWN: "There is no setting called `{setting}`.",
        MessageKey.SETTING_ABOVE_CEILING: (
            "`{setting}` can be at most {ceiling} in this server: that is the limit the bot's "
            "operator set, and a server may lower it but not raise it. {value} cannot be used. "
            "Nothing was changed."
        ),
        MessageKey.VALUE_CEILING: "{value} (the operator's limit: {ceiling})",
        MessageKey.VALUE_CLAMPED: (
            "{value} (the operator's limit: this server's own {stored} is above it)"
        ),
        MessageKey.SETTINGS_NOTHING_GIVEN: (
            "Give at least one setting to change, for example `/emo-admin set queue_cap:10`."
        ),
        MessageKey.SETTINGS_VIEW: (
            "**This server's settings** (✱ set by this server; the others are the bot's "
            "defaults)\n"
            "Output channel: {output_channel_id}\n"
            "Videos waiting in this server's queue, at most: {queue_cap}\n"
            "Videos on their way per member, at most: {active_per_member}\n"
            "Seconds of video per member per day (UTC): {seconds_per_day}\n"
            "Monthly budget (USD, UTC calendar month): {monthly_budget_usd}\n"
            "Default style: {default_style}\n"
            "Default framing: {default_framing}\n"
            "Results by direct message allowed: {dm_delivery}\n"
            "Operator alerts: {alert_channel_id}\n"
            "Members confirm each video before it is made: {confirm_before_spending}"
        ),
        MessageKey.SETTINGS_SAVED: "Saved: {names}.",
        MessageKey.SETTINGS_RESET: "Back to the bot's defaults: {names}.",
        MessageKey.SETTINGS_HISTORY_LINE: "<t:{at}:f> {member}: `{setting}` {old} → {new}",
        MessageKey.SETTINGS_HISTORY_DEFAULT: "(default)",
        MessageKey.SETTINGS_HISTORY_EMPTY: "No setting of this server was ever changed.",
        MessageKey.VALUE_NO_LIMIT: "no limit",
        MessageKey.VALUE_COMMAND_CHANNEL: "the channel where the command is used",
        MessageKey.VALUE_LOG_ONLY: "the bot's log only",
        MessageKey.VALUE_YES: "yes",
        MessageKey.VALUE_NO: "no",
        MessageKey.QUOTA_DAILY_SECONDS: (
            "This recording makes {needed} s of video, but you have {left} s left today: "
            "members of this server may make {limit} s of video a day, and you have made "
            "{used} s. Your allowance resets <t:{resets_at}:F> (<t:{resets_at}:R>)."
        ),
        MessageKey.QUOTA_DAILY_USED_UP: (
            "You have made {used} s of video today, all of this server's daily allowance of "
            "{limit} s per member. It resets <t:{resets_at}:F> (<t:{resets_at}:R>)."
        ),
        MessageKey.QUOTA_BUDGET_USED_UP: (
            "This server has used its monthly budget: ${spent} of ${budget}. The budget "
            "resets <t:{resets_at}:F> (<t:{resets_at}:R>); a server admin can raise it with "
            "`/emo-admin set`."
        ),
        MessageKey.QUOTA_BUDGET_USED_UP_AT_CEILING: (
            "This server has used its monthly budget: ${spent} of ${budget}, the most the "
            "bot's operator allows a server. The budget resets <t:{resets_at}:F> "
            "(<t:{resets_at}:R>)."
        ),
        MessageKey.TOTAL_BUDGET_USED_UP: (
            "The bot's monthly budget for all servers is used up, so no new videos can be made "
            "until {resets_on}. It is the bot operator's limit, and it starts afresh on the "
            "first day of every month (UTC). Nothing was charged."
        ),
        MessageKey.TOTAL_BUDGET_TOO_LITTLE_LEFT: (
            "This video would cost about ${estimate}, more than is left of the bot's monthly "
            "budget for all servers. A shorter recording may still fit; the budget starts "
            "afresh on {resets_on}. Nothing was charged."
        ),
        MessageKey.QUOTA_MONTHLY_BUDGET: (
            "This video would cost about ${estimate}, but this server has ${left} left of its "
            "monthly budget of ${budget} (${spent} used this month). The budget resets "
            "<t:{resets_at}:F> (<t:{resets_at}:R>); a server admin can raise it with "
            "`/emo-admin set`."
        ),
        MessageKey.QUOTA_MONTHLY_BUDGET_AT_CEILING: (
            "This video would cost about ${estimate}, but this server has ${left} left of its "
            "monthly budget of ${budget} (${spent} used this month), the most the bot's "
            "operator allows a server. A shorter recording may fit; the budget resets "
            "<t:{resets_at}:F> (<t:{resets_at}:R>)."
        ),
        MessageKey.USAGE_MEMBER: (
            "**Use by {member} in this server**\n"
            "Today (UTC): {today_seconds} s of video in {today_jobs} videos, ${today_cost}\n"
            "This month (UTC): {month_seconds} s of video in {month_jobs} videos, "
            "${month_cost}\n"
            "Daily allowance: {allowance}\n"
            "Costs of videos still on their way are estimates."
        ),
        MessageKey.USAGE_ALLOWANCE: ("{left} s of {limit} s left, resets <t:{resets_at}:R>"),
        MessageKey.USAGE_SERVER: (
            "**This server this month (UTC)**: {seconds} s of video in {jobs} videos, "
            "${cost}. Budget: {budget}.\n"
            "**By member, this month**\n{members}\n"
            "**By month**\n{months}\n"
            "Costs of videos still on their way are estimates."
        ),
        MessageKey.USAGE_BUDGET: ("${spent} of ${budget} used, resets <t:{resets_at}:R>"),
        MessageKey.USAGE_LINE: "{who}: {seconds} s in {jobs} videos, ${cost}",
        MessageKey.USAGE_NONE: "nothing yet",
        MessageKey.USAGE_MORE: "…and {count} more",
        MessageKey.AUDIT_HEADER: (
            "**Jobs of this server**: {total} found, page {page} of {pages}, newest first"
        ),
        MessageKey.AUDIT_LINE: (
            "#{job} <t:{created}:f> {member}{requested_by} in {channel}: {state}, "
            "{seconds} s, {cost}; image `{image}`, audio `{audio}`{deleted}"
        ),
        MessageKey.AUDIT_REQUESTED_BY: " (asked by {member})",
        MessageKey.AUDIT_MEDIA_DELETED: " (media deleted)",
        MessageKey.AUDIT_ESTIMATE: "about ${cost}",
        MessageKey.AUDIT_NOT_BILLED: "nothing billed",
        MessageKey.AUDIT_EMPTY: "No jobs match.",
        MessageKey.AUDIT_NEXT_PAGE: "Older jobs: `page:{next}`.",
        MessageKey.AUDIT_BAD_DATE: (
            "{value} is not a date: write it as YYYY-MM-DD, for example 2025-01-31."
        ),
        MessageKey.AUDIT_BAD_RANGE: "The first day {since} comes after the last day {until}.",
        MessageKey.AUDIT_BAD_STATE: "{value} is not a job state.",
        MessageKey.FORGET_DONE: (
            "Deleted {files} stored files ({megabytes} MB) of {jobs} of your finished videos, "
            "in every server, and removed the links to them from the job records. The "
            "records themselves (when, where, cost and file fingerprints) stay for the "
            "servers' audit. Copies given to the video service for rendering expire there "
            "by themselves."
        ),
        MessageKey.FORGET_PENDING: (
            "{count} of your videos are still on their way: they will be delivered as usual "
            "and their files deleted as soon as they finish. Cancel them first if you no "
            "longer want them."
        ),
        MessageKey.FORGET_NOTHING: "I keep no files of yours: there was nothing to delete.",
        # A server's own DashScope key.
        MessageKey.PROVIDER_KEY_NO_SECRET: (
            "This bot cannot keep a server's own DashScope key: its operator has not set "
            "EMO_SECRET_KEY, the secret that encrypts stored keys. Nothing was saved, and this "
            "server's videos keep running on the bot's accounts."
        ),
        MessageKey.PROVIDER_KEY_EMPTY: (
            "No key was given. Paste your DashScope API key in the form and send it again."
        ),
        MessageKey.PROVIDER_KEY_MALFORMED: (
            "That is not a DashScope API key: a key is one word of letters, digits and "
            "punctuation, with no spaces, line breaks or other characters. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_LENGTH: (
            "That is not a DashScope API key: a key is {minimum} to {maximum} characters long, and "
            "this one has {length}. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_OPERATORS: (
            "That key is already the bot's own: videos made with it are billed to the bot's "
            "operator. Give a key of your own Alibaba Cloud account. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_OTHER_SERVER: (
            "That key is already another server's own key with this bot, and a key can belong to "
            "one server only. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_OPERATORS_ACCOUNT: (
            "That key is of an Alibaba Cloud account the bot's operator already uses: videos made "
            "with it would be billed to the operator, and the account makes one video at a time "
            "for everyone. Give a key of your own account. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_OTHER_SERVERS_ACCOUNT: (
            "That key is of an Alibaba Cloud account another server already uses with this bot: "
            "an account makes one video at a time, so it can serve one server only. Give a key "
            "of another account. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_REFUSED: (
            "DashScope refused this key: {code} — {reason} Check the key in the DashScope console "
            "and try again. Nothing was saved."
        ),
        MessageKey.PROVIDER_KEY_UNCHECKED: (
            "I could not check the key with DashScope just now (it did not answer in time). "
            "Nothing was saved: try again in a few minutes."
        ),
        MessageKey.PROVIDER_KEY_SAVED: (
            "Saved: this server's videos now run on its own DashScope account {account}, billed to "
            "it. The key is stored encrypted and never shown again; `/emo-admin provider-key "
            "clear` stops using it."
        ),
        MessageKey.PROVIDER_KEY_CLEARED: (
            "This server's own key is no longer used: new videos run on the bot's accounts again. "
            "Videos already on their way finish on your account."
        ),
        MessageKey.PROVIDER_KEY_NOTHING_TO_CLEAR: (
            "This server has no key of its own: its videos already run on the bot's accounts."
        ),
        MessageKey.PROVIDER_KEY_STATUS_NONE: (
            "This server has no DashScope key of its own: its videos run on the bot's accounts. An "
            "admin can give one with `/emo-admin provider-key set`."
        ),
        MessageKey.PROVIDER_KEY_STATUS_SET: (
            "This server's videos run on its own DashScope account {account}, billed to it. The "
            "key was set by {member} on {when}."
        ),
        MessageKey.PROVIDER_KEY_STATUS_UNREADABLE: (
            "But the bot cannot read the stored key (its operator's EMO_SECRET_KEY is missing or "
            "has changed), so this server's videos run on the bot's accounts for now. Give the key "
            "again with `/emo-admin provider-key set`."
        ),
        MessageKey.PROVIDER_KEY_STATUS_PAUSED: (
            "Paused: DashScope refuses this account ({code}), so this server's videos wait. Fix "
            "the account in the DashScope console, or give another key with `/emo-admin "
            "provider-key set`."
        ),
        MessageKey.PROVIDER_KEY_MODAL_TITLE: "This server's DashScope key",
        MessageKey.PROVIDER_KEY_LABEL: "DashScope API key",
        MessageKey.PROVIDER_KEY_HINT: (
            "Checked with DashScope, then stored encrypted. It is never shown again."
        ),
    },
}

# The other languages, from bot/locales/ (keyed by MessageKey values there, to avoid a cycle).
# A key they lack falls back to English in render(); tests/bot/test_messages.py flags it.
for _language, _module in (("ja", ja), ("zh-CN", zh_cn)):
    CATALOGUE[_language] = {MessageKey(key): text for key, text in _module.MESSAGES.items()}


def locale_language(locale: str | None) -> str:
    """Map a Discord locale such as ``en-US`` or ``zh-CN`` to a catalogue language."""
    if not locale:
        return DEFAULT_LOCALE
    if locale in CATALOGUE:  # zh-CN: Simplified Chinese is not every "zh"
        return locale
    language = locale.split("-")[0].lower()
    return language if language in CATALOGUE else DEFAULT_LOCALE


def choose_locale(member_locale: str | None, server_locale: str | None) -> str:
    """The member's language if the bot speaks it, else the server's, else English."""
    for locale in (member_locale, server_locale):
        if locale and (locale_language(locale) != DEFAULT_LOCALE or locale.startswith("en")):
            return locale
    return "en-US"


def render(message: UserMessage, locale: str | None = None, markup: Markup = PLAIN) -> str:
    """The message's text in ``locale`` (falling back to English), placeholders filled, the
    typed ones written the way ``markup`` says."""
    table = CATALOGUE[locale_language(locale)]
    template = table.get(message.key, CATALOGUE[DEFAULT_LOCALE][message.key])
    return template.format_map(_values(message.params, table, markup))


def _values(
    params: Mapping[str, Param], table: Mapping[MessageKey, str], markup: Markup
) -> dict[str, str | int | float]:
    values: dict[str, str | int | float] = {}
    for name, value in params.items():
        if isinstance(value, Mention):
            values[name] = markup.mention(value.user_id)
        elif isinstance(value, Moment):
            shown = markup.date if value.style is MomentStyle.DATE else markup.moment
            values[name] = shown(value.at)
        elif isinstance(value, MessageLink):
            values[name] = markup.link(value)
        elif isinstance(value, Phrase):
            values[name] = table.get(value.key, CATALOGUE[DEFAULT_LOCALE][value.key])
        else:
            values[name] = value
    # Rows written before Phrase existed name the two words as plain text.
    what = values.get("what")
    legacy = _LEGACY_WORDS.get(what) if isinstance(what, str) else None
    if legacy is not None:
        values["what"] = table.get(legacy, CATALOGUE[DEFAULT_LOCALE][legacy])
    return values


_LEGACY_WORDS = {"image": MessageKey.WORD_IMAGE, "audio": MessageKey.WORD_AUDIO}


def placeholders(template: str) -> frozenset[str]:
    """The ``{names}`` a template expects."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)
