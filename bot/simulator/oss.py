"""OSS-style signing: upload policies (POST form) and pre-signed result URLs."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets

from pydantic import BaseModel, ValidationError

from .errors import OssError
from .state import iso_utc, parse_iso_utc

log = logging.getLogger(__name__)

BUCKET = "dashscope-instant"
OBJECT_ACL = "private"
FORBID_OVERWRITE = "true"


class PolicyDocument(BaseModel):
    """The decoded policy: OSS's expiration + conditions, plus what DashScope binds the file to."""

    expiration: str
    conditions: list[list[str | int] | dict[str, str]]
    upload_dir: str
    max_bytes: int
    model: str
    account: str


class Signer:
    """Signs with a per-simulator secret, so nothing signed survives a restart."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self.access_key_id = "LTAI5tSIM" + secrets.token_hex(6).upper()

    def sign(self, text: str) -> str:
        """Base64 HMAC-SHA1, as OSS signs policies and URLs."""
        digest = hmac.new(self._secret, text.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()

    def verify(self, text: str, signature: str) -> bool:
        """Constant-time signature check."""
        return hmac.compare_digest(self.sign(text), signature)

    def make_policy(
        self, *, upload_dir: str, max_bytes: int, model: str, account: str, expires_at: float
    ) -> tuple[str, str]:
        """Return (base64 policy, signature) for one upload directory."""
        doc = PolicyDocument(
            expiration=iso_utc(expires_at),
            conditions=[
                ["content-length-range", 0, max_bytes],
                ["starts-with", "$key", upload_dir],
                {"bucket": BUCKET},
                {"x-oss-object-acl": OBJECT_ACL},
                {"x-oss-forbid-overwrite": FORBID_OVERWRITE},
            ],
            upload_dir=upload_dir,
            max_bytes=max_bytes,
            model=model,
            account=account,
        )
        encoded = base64.b64encode(doc.model_dump_json().encode()).decode()
        return encoded, self.sign(encoded)

    def open_policy(self, encoded: str, signature: str, access_key_id: str) -> PolicyDocument:
        """Check the form's credentials and decode its policy, or raise OssError."""
        if access_key_id != self.access_key_id:
            raise OssError(
                403,
                "InvalidAccessKeyId",
                "The OSS Access Key Id you provided does not exist in our records.",
            )
        if not self.verify(encoded, signature):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        try:
            return PolicyDocument.model_validate(json.loads(base64.b64decode(encoded)))
        except (binascii.Error, ValueError, ValidationError) as exc:
            raise OssError(400, "InvalidPolicyDocument", "Invalid Policy: malformed.") from exc

    def result_string(self, path: str, expires: int) -> str:
        """The string OSS signs for a pre-signed GET."""
        return f"GET\n\n\n{expires}\n/{BUCKET}{path}"


def policy_expired(doc: PolicyDocument, now: float) -> bool:
    """Whether the policy's expiration has passed."""
    try:
        return now > parse_iso_utc(doc.expiration)
    except ValueError:
        return True
