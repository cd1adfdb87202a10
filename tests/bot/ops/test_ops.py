"""The internal ops server (/healthz, /readyz, /metrics) on a running core and the simulator."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.jobs.states import JobState
from bot.provider.errors import ProviderError
from bot.simulator import Simulator, SimulatorKnobs
from tests.support.engine import running_engine

KEY = "sk-ops-test"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    knobs = SimulatorKnobs(render_seconds_per_audio_second=0.05, render_overhead_seconds=0.2)
    simulator = Simulator(knobs=knobs, api_keys={KEY})
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: aiohttp.ClientSession, base: str) -> Samples:
    async with http.get(f"{base}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the series carrying ``labels``."""
    wanted = set(labels.items())
    return sum(value for (n, have), value in samples.items() if n == name and wanted <= have)


async def test_metrics_move_with_a_job_and_readiness_follows_the_provider_pause(
    simulator: Simulator, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with (
        running_engine(simulator, tmp_path, KEY, emo_ops_bind=f"127.0.0.1:{port}") as engine,
        aiohttp.ClientSession() as http,
    ):
        assert engine.core.ops.port == port
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert await response.text() == "ok"

        await engine.inputs()  # uploads and a face check: provider requests, before the baseline
        before = await scrape(http, base)
        assert total(before, "emo_provider_requests_total", endpoint="upload", status="200") == 3
        assert total(before, "emo_provider_requests_total", endpoint="detect", status="200") == 1

        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        assert (await engine.core.jobs.get(job.id)).state is JobState.DELIVERED
        after = await scrape(http, base)

        def moved(name: str, **labels: str) -> float:
            return total(after, name, **labels) - total(before, name, **labels)

        assert moved("emo_job_transitions_total", to_state="delivered") == 1
        assert moved("emo_job_transitions_total", to_state="succeeded") == 1
        assert moved("emo_provider_requests_total", endpoint="submit") == 1
        assert moved("emo_provider_requests_total", endpoint="task_query", status="200") > 0
        assert moved("emo_provider_request_seconds_count", endpoint="task_query") > 0
        assert moved("emo_rendered_seconds_total") > 0
        assert moved("emo_cost_usd_total") > 0
        assert total(after, "emo_jobs", state="delivered") == 1
        assert total(after, "emo_queue_depth") == 0
        assert total(after, "emo_provider_paused") == 0
        assert total(after, "emo_provider_errors_total") == 0
        # The lone account, by its label: its slots, its render, its spend this month.
        assert total(after, "emo_account_slots", account="default") == 2
        assert total(after, "emo_account_slots_busy", account="default") == 0
        assert total(after, "emo_account_paused", account="default") == 0
        assert moved("emo_render_duration_seconds_count", account="default") == 1
        assert moved("emo_render_duration_seconds_sum", account="default") > 0
        assert total(after, "emo_account_month_spend_usd", account="default") == pytest.approx(
            moved("emo_cost_usd_total")
        )
        assert total(after, "emo_job_failures_total") == 0

        async with http.get(f"{base}/readyz") as response:
            assert response.status == 200
            assert await response.json() == {"gateway": True, "database": True, "provider": "ok"}

        await engine.service.gate.pause("Arrearage", "the account is overdue")
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
            body = await response.json()
        assert body == {"gateway": True, "database": True, "provider": "paused"}
        paused = await scrape(http, base)
        assert total(paused, "emo_provider_paused") == 1
        assert total(paused, "emo_account_paused", account="default") == 1

        engine.core.ops.set_gateway_check(lambda: False)
        await engine.service.gate.resume("test")
        async with http.get(f"{base}/readyz") as response:
            assert response.status == 503
            assert (await response.json())["gateway"] is False


async def test_provider_errors_are_counted_by_code(simulator: Simulator, tmp_path: Path) -> None:
    async with running_engine(simulator, tmp_path, "sk-not-the-key", emo_ops_bind="off") as engine:
        assert engine.core.ops.port is None
        client = engine.core.client
        with pytest.raises(ProviderError, match="InvalidApiKey"):
            await client.get_task("no-such-task")
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(engine.core.metrics.render().decode())
            for sample in family.samples
        }
        assert total(samples, "emo_provider_errors_total", code="InvalidApiKey") == 1
        assert (
            total(samples, "emo_provider_requests_total", endpoint="task_query", status="401") == 1
        )


async def test_a_failed_render_is_counted_by_its_code_and_account(
    simulator: Simulator, tmp_path: Path
) -> None:
    async with running_engine(simulator, tmp_path, KEY, emo_ops_bind="off") as engine:
        simulator.fail_next_task(code="InvalidParameter.Content", message="refused")
        job = await engine.enqueue_prepared(guild_id=1, user_id=1)
        await engine.wait_until(engine.all_final, within=30)
        assert (await engine.core.jobs.get(job.id)).state is JobState.FAILED
        await engine.core.metrics.refresh(engine.core.jobs, engine.service.gate)
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(engine.core.metrics.render().decode())
            for sample in family.samples
        }
        failed = {"state": "failed", "code": "render_failed", "account": "default"}
        assert total(samples, "emo_job_failures_total", **failed) == 1
        assert total(samples, "emo_job_failures_total") == 1
        assert total(samples, "emo_render_duration_seconds_count") == 0  # never succeeded
        assert total(samples, "emo_account_month_spend_usd", account="default") == 0
