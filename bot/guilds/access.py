"""Who is asking: the permission rules of server administration, kept in the core."""

from __future__ import annotations

from dataclasses import dataclass

from bot.errors import UserFacingError
from bot.messages import MessageKey


@dataclass(frozen=True)
class Viewer:
    """A member of ``guild_id`` running a command; ``manages_server`` is Discord's Manage
    Server permission as the interaction reported it."""

    guild_id: int
    user_id: int
    manages_server: bool

    def require_manager(self) -> None:
        """Refuse unless the member may administer the server."""
        if not self.manages_server:
            raise UserFacingError(MessageKey.MANAGE_SERVER_REQUIRED)

    def require_self_or_manager(self, user_id: int) -> None:
        """A member may see their own records; another member's only with Manage Server."""
        if user_id != self.user_id and not self.manages_server:
            raise UserFacingError(MessageKey.OTHERS_DATA_FORBIDDEN)
