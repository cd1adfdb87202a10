"""Errors that end a job with a message for the member."""

from __future__ import annotations

from bot.messages import MessageKey, Param, UserMessage


class UserFacingError(Exception):
    """The member's input cannot be used; ``message`` says why and what to do."""

    def __init__(self, key: MessageKey, **params: Param) -> None:
        super().__init__(key.value)
        self.message = UserMessage(key=key, params=params)


class QuietError(Exception):
    """An error whose cause was already logged where it happened (once, not per caller):
    loops that meet it retry without logging a traceback."""
