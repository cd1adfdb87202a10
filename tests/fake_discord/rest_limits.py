"""Rate limits: the ordinary bucket headers, the 429 knobs (`fake.rate_limit`), the edit bucket."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from .models import JSON, RateLimitRule
from .rest_call import API_PREFIX
from .state import DiscordState

# Ordinary responses carry a generous, consistent bucket so discord.py never waits long.
_RL_LIMIT = 50
_RL_WINDOW = 1.0


@dataclass
class _Window:
    reset_at: float
    used: int = 0


def bucket(method: str, template: str) -> str:
    """The X-RateLimit-Bucket of a route."""
    return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]


class RateLimits:
    """The fake's rate-limit bookkeeping: windows per bucket + major parameter, edit times."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state
        self._windows: dict[str, _Window] = {}
        # Per message id: when the edits admitted by the strict edit bucket happened.
        self._edit_times: dict[str, list[float]] = {}

    def headers(self, method: str, template: str, params: dict[str, str]) -> dict[str, str]:
        """The headers of an ordinary (admitted) response; counts the request in its window."""
        route_bucket = bucket(method, template)
        major = params.get("channel_id") or params.get("guild_id") or params.get("webhook_id") or ""
        key = f"{route_bucket}:{major}:{params.get('webhook_token', '')}"
        now = time.time()
        window = self._windows.get(key)
        if window is None or now >= window.reset_at:
            window = _Window(reset_at=now + _RL_WINDOW)
            self._windows[key] = window
        window.used += 1
        return {
            "X-RateLimit-Limit": str(_RL_LIMIT),
            "X-RateLimit-Remaining": str(max(_RL_LIMIT - window.used, 0)),
            "X-RateLimit-Reset": f"{window.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{max(window.reset_at - now, 0.0):.3f}",
            "X-RateLimit-Bucket": route_bucket,
        }

    def take_rule(self, method: str, path: str) -> RateLimitRule | None:
        """The fake.rate_limit rule this request uses up, if any."""
        full = API_PREFIX + path
        for rule in self.state.rate_limits:
            if rule.remaining <= 0 or rule.method != method:
                continue
            if rule.pattern.search(path) or rule.pattern.search(full):
                rule.remaining -= 1
                return rule
        return None

    def take_edit_slot(self, message_id: str) -> float | None:
        """With fake.enforce_edit_bucket: None if this edit fits the message's bucket (and
        counts it), else the seconds until it would (a sliding window over admitted edits)."""
        edit_bucket = self.state.edit_bucket
        if edit_bucket is None:
            return None
        limit, per_seconds = edit_bucket
        now = time.monotonic()
        recent = [t for t in self._edit_times.get(message_id, []) if now - t < per_seconds]
        self._edit_times[message_id] = recent
        if len(recent) >= limit:
            return max(recent[0] + per_seconds - now, 0.001)
        recent.append(now)
        return None

    @staticmethod
    def refusal(
        method: str,
        template: str,
        retry_after: float,
        *,
        limit: int = 5,
        scope: str = "shared",
        is_global: bool = False,
    ) -> tuple[dict[str, str], JSON]:
        """Headers and body of a 429 for a route."""
        now = time.time()
        retry_after = round(retry_after, 3)
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{now + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": bucket(method, template),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body: JSON = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": is_global,
        }
        return headers, body
