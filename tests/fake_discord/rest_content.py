"""What a message body may carry and how it lands on a message: the content checks, the uploaded
files and their attachment metadata, and the Edit Message semantics (shared by the bot-token
message routes and the interaction responses)."""

from __future__ import annotations

from .components import number_components
from .models import FLAG_LOADING, JSON, FakeFile, FakeMessage
from .rest_call import Call, DiscordError, UploadedPart
from .state import DiscordState

# Flags a message may be created or edited with (others are set by Discord itself).
SETTABLE_FLAGS = (1 << 2) | (1 << 12) | (1 << 13) | (1 << 15)
_COMPONENTS_V2 = 1 << 15
MAX_CONTENT = 2000


class MessageContent:
    """Checks message bodies and applies them (with their files) to the state."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state

    def files(self, call: Call, channel_id: int, body: JSON) -> list[FakeFile]:
        """New files of a create request, named and described by body['attachments']."""
        meta: dict[int, JSON] = {}
        for entry in body.get("attachments") or []:
            if isinstance(entry, dict) and "id" in entry:
                try:
                    meta[int(entry["id"])] = entry
                except (TypeError, ValueError):
                    continue
        files: list[FakeFile] = []
        for part in sorted(call.parts, key=lambda p: p.index):
            info = meta.get(part.index, {})
            files.append(self._store(part, channel_id, info))
        return files

    def _store(self, part: UploadedPart, channel_id: int, info: JSON) -> FakeFile:
        duration = info.get("duration_secs")
        waveform = info.get("waveform")
        description = info.get("description")
        return self.state.store_file(
            channel_id,
            str(info.get("filename") or part.filename),
            part.data,
            received_content_type=part.content_type,
            description=str(description) if description is not None else None,
            duration_secs=float(duration) if isinstance(duration, int | float) else None,
            waveform=str(waveform) if waveform is not None else None,
        )

    @staticmethod
    def check_content(call: Call, body: JSON, *, has_files: bool) -> str:
        """The content of a new message; refuses one too long or empty."""
        content = body.get("content")
        text = "" if content is None else str(content)
        flags = body.get("flags") or 0
        components_v2 = bool(int(flags) & _COMPONENTS_V2)
        if len(text) > MAX_CONTENT and not components_v2:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                violation=f"{call.method} {call.path}: content longer than "
                f"{MAX_CONTENT} characters",
                errors={
                    "content": {
                        "_errors": [
                            {
                                "code": "BASE_TYPE_MAX_LENGTH",
                                "message": f"Must be {MAX_CONTENT} or fewer in length.",
                            }
                        ]
                    }
                },
            )
        if not (
            text
            or has_files
            or body.get("embeds")
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(
                400,
                50006,
                "Cannot send an empty message",
                violation=f"{call.method} {call.path}: empty message",
            )
        return text

    def apply_edit(self, call: Call, msg: FakeMessage, body: JSON) -> None:
        """Apply an edit body (+ new files) to msg, as Create/Edit Message semantics say."""
        if "content" in body:
            content = body["content"]
            text = "" if content is None else str(content)
            if len(text) > MAX_CONTENT and not msg.flags & _COMPONENTS_V2:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    violation=f"{call.method} {call.path}: content longer than {MAX_CONTENT}",
                )
            msg.content = text
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = number_components(body["components"] or [])
        if body.get("flags") is not None:
            kept = msg.flags & ~SETTABLE_FLAGS
            msg.flags = kept | (int(body["flags"]) & SETTABLE_FLAGS)
        attachments = body.get("attachments")
        if attachments is not None:
            by_index = {p.index: p for p in call.parts}
            existing = {f.attachment_id: f for f in msg.files}
            files: list[FakeFile] = []
            for entry in attachments:
                ident = int(entry["id"]) if isinstance(entry, dict) and "id" in entry else -1
                if ident in existing:
                    files.append(existing[ident])
                elif ident in by_index:
                    files.append(self._store(by_index.pop(ident), msg.channel_id, entry))
                else:
                    self.state.violation(
                        f"{call.method} {call.path}: attachments[] id {ident} is neither kept "
                        "nor an uploaded file"
                    )
            files.extend(self._store(p, msg.channel_id, {}) for p in by_index.values())
            msg.files = files
        elif call.parts:
            msg.files = msg.files + [self._store(p, msg.channel_id, {}) for p in call.parts]
        # An edit fills in a deferred ("thinking") response.
        msg.flags &= ~FLAG_LOADING
        self.state.mark_edited(msg)
