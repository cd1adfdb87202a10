"""The engine's operator settings, as the engine reads them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.provider.accounts import LONE_ACCOUNT

RECONCILE_MARGIN_SECONDS = 10.0  # clock skew between us and the provider, with room to spare
SEND_WITHIN_SECONDS = RECONCILE_MARGIN_SECONDS / 2
"""How long after its SUBMITTING write a claim may still be sent. A settlement (in any
process) reads the task list for a cut submit only ``submit_timeout + margin`` after that
write, so a request started later than this could still be under way when it does: such a
claim goes back to the queue unsent (a process frozen between claim and send)."""


@dataclass(frozen=True)
class EngineLimits:
    provider_concurrency: int = 1
    lookahead: int = 1
    lookahead_window_seconds: float = 20.0
    poll_min_seconds: float = 2.0
    poll_max_seconds: float = 15.0
    query_budget_per_second: float = 10.0
    provider_retries: int = 4
    retry_base_delay: float = 2.0
    retry_max_delay: float = 300.0
    max_result_bytes: int = 200 * 1024 * 1024
    result_hosts: tuple[str, ...] = ("*.aliyuncs.com",)  # and the provider endpoint's origin
    delivery_attempts: int = 5
    render_seconds_per_audio_second: float = 8.5
    stuck_task_seconds: float = 3 * 3600.0
    probe_interval_seconds: float = 60.0
    max_active_per_member: int | None = 2
    max_queued_per_server: int | None = 20
    submit_timeout_seconds: float = 60.0
    fairness_window_seconds: float = 3600.0
    rescan_seconds: float = 5.0  # other processes may add rows: look again even when not woken
    lease_seconds: float = 15.0  # a process's hold on a job or a duty outlives its heartbeat
    account: str = LONE_ACCOUNT  # the provider account's name (its slots, its duty)
    account_label: str = LONE_ACCOUNT  # how alerts and logs name it
    confirm_timeout_seconds: float = 600.0  # a job awaiting confirmation is cancelled after

    @property
    def max_in_flight(self) -> int:
        """Tasks the provider may hold for us at once: the renders plus the look-ahead."""
        return self.provider_concurrency + self.lookahead

    @property
    def heartbeat_seconds(self) -> float:
        """How often leases are renewed and lapsed ones looked for: four times a lease."""
        return self.lease_seconds / 4


def account_meta(name: str, account: str) -> str:
    """The ``meta`` name of an account's own value: the lone account keeps the plain name."""
    return name if account == LONE_ACCOUNT else f"{name}:{account}"
