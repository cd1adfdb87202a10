"""Errors raised by handlers and turned into provider-shaped answers by the middleware."""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A DashScope API error: JSON body {"code", "message", "request_id"}.

    `retry_after` (seconds) is sent as the `Retry-After` and `retry-after-ms` headers.
    """

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class OssError(Exception):
    """An OSS (storage) error: XML body, as Alibaba OSS answers."""

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


class ImageRejectedError(Exception):
    """The detector refused the image (no face, several faces, bad framing)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def oss_error_xml(code: str, message: str, request_id: str) -> str:
    """Render an OSS-style XML error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<Error>\n"
        f"  <Code>{escape(code)}</Code>\n"
        f"  <Message>{escape(message)}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        "  <HostId>simulator.oss-cn-beijing.aliyuncs.com</HostId>\n"
        "</Error>\n"
    )
