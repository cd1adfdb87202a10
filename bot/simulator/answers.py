"""How answers leave the simulator: request ids (body and `X-Request-ID`), retry hints, and
the middleware that turns raised errors into the provider's JSON or OSS's XML bodies."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from pydantic import ValidationError

from .errors import ApiError, OssError, oss_error_xml
from .state import SimState

log = logging.getLogger(__name__)

API = "/api/v1"
REQUEST_ID_HEADER = "X-Request-ID"


def new_request_id() -> str:
    """A fresh request id, as every provider answer carries."""
    return str(uuid.uuid4())


def retry_headers(seconds: float | None) -> dict[str, str]:
    """`Retry-After` (whole seconds, at least 1) and `retry-after-ms`; none for None."""
    if seconds is None:
        return {}
    return {
        "Retry-After": str(max(1, math.ceil(seconds))),
        "retry-after-ms": str(max(1, math.ceil(seconds * 1000))),
    }


def json_answer(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response; a body's `request_id` is repeated in the `X-Request-ID` header."""
    all_headers = dict(headers or {})
    request_id = body.get("request_id")
    if isinstance(request_id, str):
        all_headers[REQUEST_ID_HEADER] = request_id
    return web.json_response(dict(body), status=status, headers=all_headers)


def ok(body: Mapping[str, Any], *, request_id: str | None = None) -> web.Response:
    """A 200 answer: the body plus a request id (a fresh one unless given)."""
    return json_answer(200, {"request_id": request_id or new_request_id(), **body})


def first_error(exc: ValidationError) -> str:
    """The provider-style message for the first validation error."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"Invalid parameter {where}: {error['msg']}" if where else str(error["msg"])


def error_middleware(state: SimState) -> Middleware:
    """The middleware for this state's knobs (they say which key carries error messages)."""

    def error_body(code: str, message: str) -> dict[str, str]:
        return {
            "code": code,
            state.knobs.error_message_field: message,
            "request_id": new_request_id(),
        }

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            log.debug("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
            return json_answer(
                exc.status, error_body(exc.code, exc.message), retry_headers(exc.retry_after)
            )
        except OssError as exc:
            log.debug("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
            return web.Response(
                status=exc.status,
                text=oss_error_xml(exc.code, exc.message, new_request_id()),
                content_type="application/xml",
                headers=retry_headers(exc.retry_after),
            )
        except web.HTTPException as exc:
            if not request.path.startswith(f"{API}/"):
                raise
            code = "NotFound" if exc.status == 404 else "InvalidParameter"
            return json_answer(exc.status, error_body(code, exc.reason))
        except Exception:
            log.exception("simulator handler failed: %s %s", request.method, request.path)
            return json_answer(
                500,
                error_body(
                    "InternalError", "An internal error has occured, please try again later."
                ),
            )

    return middleware
