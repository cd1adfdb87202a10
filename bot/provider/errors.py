"""Provider errors, sorted into the three kinds the bot reacts to differently."""

from __future__ import annotations

import enum


class ErrorKind(enum.StrEnum):
    INPUT = "input"  # the member's input is wrong: tell them, never retry
    TRANSIENT = "transient"  # try again later, a bounded number of times
    OPERATOR = "operator"  # key, region, billing, entitlement: stop and alert the operator


class ProviderError(Exception):
    """An error answer from DashScope (or no answer at all). Never carries the API key.

    ``request_id`` is the provider's reference for the answer (from the body, else its
    ``X-Request-ID`` header); ``retry_after`` the wait it asked for (``Retry-After`` /
    ``retry-after-ms``, bounded); ``should_retry`` its ``x-should-retry`` verdict, if any.
    """

    kind: ErrorKind = ErrorKind.TRANSIENT

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        request_id: str = "",
        maybe_accepted: bool = False,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.request_id = request_id
        # True when the request may have reached the provider although no answer came back.
        self.maybe_accepted = maybe_accepted
        self.retry_after = retry_after
        self.should_retry = should_retry

    @property
    def reference(self) -> str:
        """The code, with the provider's request id when there is one (for operators)."""
        return f"{self.code} (request {self.request_id})" if self.request_id else self.code


class ProviderInputError(ProviderError):
    kind = ErrorKind.INPUT


class ProviderTransientError(ProviderError):
    kind = ErrorKind.TRANSIENT


class ProviderOperatorError(ProviderError):
    kind = ErrorKind.OPERATOR


# The provider's error table (docs: dashscope-emo.md, section 5) and the SDK's codes.
# Account and configuration problems: only the operator can fix them.
_OPERATOR_CODES = frozenset(
    {
        "Arrearage",
        "InvalidApiKey",
        "AccessDenied",
        "AccessDenied.Unpurchased",
        "Model.NotExist",
        "Model.AccessDenied",
        "ModelNotFound",
        "Throttling.AllocationQuota",
    }
)
_OPERATOR_PREFIXES = ("AccessDenied.", "Model.", "Workspace.")
# The provider could not fetch a file: worth a few more tries.
_FETCH_FAILURES = frozenset(
    {"InvalidParameter.DataInspection", "InvalidURL.ConnectionRefused", "InvalidURL.Timeout"}
)
# The member's input: the documented families.
_INPUT_CODES = frozenset(
    {"InvalidParameter", "InvalidURL", "DataInspectionFailed", "UnsupportedOperation"}
)
_INPUT_PREFIXES = ("InvalidParameter.", "InvalidURL.", "InvalidFile.", "BadRequest.")
_TRANSIENT_CODES = frozenset(
    {"ServiceUnavailable", "GatewayTimeout", "RequestTimeOut", "NetworkError", "UploadFailed"}
)


def classify(status: int, code: str) -> ErrorKind:
    """The kind of an error answer, from its HTTP status and ``code``.

    A code the tables do not know is the operator's problem when it is a 4xx: it is not the
    member's fault, and retrying it blindly would only repeat it.
    """
    if code in _OPERATOR_CODES or code.startswith(_OPERATOR_PREFIXES):
        return ErrorKind.OPERATOR
    if code in _FETCH_FAILURES or code in _TRANSIENT_CODES:
        return ErrorKind.TRANSIENT
    if status == 429 or code.startswith("Throttling") or status >= 500:
        return ErrorKind.TRANSIENT
    if code in _INPUT_CODES or code.startswith(_INPUT_PREFIXES):
        return ErrorKind.INPUT
    if status == 408:
        return ErrorKind.TRANSIENT
    return ErrorKind.OPERATOR


def error_for(
    status: int,
    code: str,
    message: str,
    request_id: str = "",
    *,
    maybe_accepted: bool = False,
    retry_after: float | None = None,
    should_retry: bool | None = None,
) -> ProviderError:
    """Build the typed exception for an error answer."""
    kind = classify(status, code)
    if should_retry and kind is ErrorKind.INPUT:
        kind = ErrorKind.TRANSIENT  # the provider says trying again can help
    cls = {
        ErrorKind.INPUT: ProviderInputError,
        ErrorKind.TRANSIENT: ProviderTransientError,
        ErrorKind.OPERATOR: ProviderOperatorError,
    }[kind]
    return cls(
        code,
        message,
        status=status,
        request_id=request_id,
        maybe_accepted=maybe_accepted,
        retry_after=retry_after,
        should_retry=should_retry,
    )


# A task that FAILED for one of these failed on the provider's side (not the input's): it
# was not billed, and running it again may well work.
_PROVIDER_SIDE_CODES = frozenset(
    {
        "SystemError",
        "ModelServiceFailed",
        "ModelServingError",
        "ModelUnavailable",
        "ServiceUnavailable",
        "GatewayTimeout",
        "RequestTimeOut",
    }
)


def failed_on_provider_side(code: str | None) -> bool:
    """Whether a FAILED task's code blames the provider (``InternalError*``, its timeouts)."""
    if not code:
        return False
    return code.startswith("InternalError") or code in _PROVIDER_SIDE_CODES
