"""Provider errors, sorted into the three kinds the bot reacts to differently."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    INPUT = "input"  # the member's input is wrong: tell them, never retry
    TRANSIENT = "transient"  # try again later, a bounded number of times
    OPERATOR = "operator"  # key, region, billing, entitlement: stop and alert the operator


class ProviderError(Exception):
    """An error answer from DashScope (or no answer at all). Never carries the API key."""

    kind: ErrorKind = ErrorKind.TRANSIENT

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        request_id: str = "",
        maybe_accepted: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        # True when the request may have reached the provider although no answer came back.
        self.maybe_accepted = maybe_accepted


class ProviderInputError(ProviderError):
    kind = ErrorKind.INPUT


class ProviderTransientError(ProviderError):
    kind = ErrorKind.TRANSIENT


class ProviderOperatorError(ProviderError):
    kind = ErrorKind.OPERATOR


# Codes whose kind does not follow from the HTTP status alone (spec section 5).
_FETCH_FAILURES = frozenset(
    {"InvalidParameter.DataInspection", "InvalidURL.ConnectionRefused", "InvalidURL.Timeout"}
)
_OPERATOR_CODES = frozenset(
    {
        "Arrearage",
        "InvalidApiKey",
        "AccessDenied",
        "AccessDenied.Unpurchased",
        "ModelNotFound",
        "Throttling.AllocationQuota",
    }
)


def classify(status: int, code: str) -> ErrorKind:
    """The kind of an error answer, from its HTTP status and ``code``."""
    if code in _OPERATOR_CODES or code.startswith("AccessDenied"):
        return ErrorKind.OPERATOR
    if code in _FETCH_FAILURES or status == 429 or code.startswith("Throttling"):
        return ErrorKind.TRANSIENT
    if status >= 500:
        return ErrorKind.TRANSIENT
    if status in (401, 403, 404):
        return ErrorKind.OPERATOR
    return ErrorKind.INPUT


def error_for(
    status: int, code: str, message: str, request_id: str = "", *, maybe_accepted: bool = False
) -> ProviderError:
    """Build the typed exception for an error answer."""
    kind = classify(status, code)
    cls = {
        ErrorKind.INPUT: ProviderInputError,
        ErrorKind.TRANSIENT: ProviderTransientError,
        ErrorKind.OPERATOR: ProviderOperatorError,
    }[kind]
    return cls(code, message, status=status, request_id=request_id, maybe_accepted=maybe_accepted)
