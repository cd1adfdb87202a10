"""The Grafana dashboard (deploy/grafana/emo-bot.json): importable in one step, and every
panel's query names a metric the bot's /metrics page really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.simulator import Simulator
from tests.conftest import API_KEY
from tests.support.engine import running_engine
from tests.support.postgres import free_port

pytestmark = pytest.mark.timeout(60)

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "emo-bot.json"
# The samples a family of each type writes, besides its own name.
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
_NOT_NAMES = re.compile(
    r'"(?:[^"\\]|\\.)*"'  # strings
    r"|\{[^}]*\}"  # label matchers
    r"|\[[^\]]*\]"  # ranges, with Grafana's $__rate_interval
    r"|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"  # label lists
    r"|\$\w+"  # Grafana variables
)
_IDENTIFIER = re.compile(r"(?<![\w.])([A-Za-z_:][\w:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions,
    keywords, label names or Grafana variables."""
    bare = _NOT_NAMES.sub(" ", expr)
    return {name for name in _IDENTIFIER.findall(bare) if name.lower() not in _KEYWORDS}


def panel_exprs(dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Every panel's title and its queries (rows' nested panels too)."""
    found: dict[str, list[str]] = {}
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))
        exprs = [target["expr"] for target in panel.get("targets", []) if "expr" in target]
        if exprs:
            found[panel["title"]] = exprs
    return found


def exported_names(page: str) -> set[str]:
    """Every name a query may use against this /metrics page."""
    names: set[str] = set()
    for family in text_string_to_metric_families(page):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def unknown_metrics(dashboard: dict[str, Any], exported: set[str]) -> dict[str, set[str]]:
    """Per panel, the names its queries use that the page does not export."""
    unknown = {
        title: set().union(*(metric_names(expr) for expr in exprs)) - exported
        for title, exprs in panel_exprs(dashboard).items()
    }
    return {title: names for title, names in unknown.items() if names}


def test_names_are_read_out_of_promql() -> None:
    expr = (
        "histogram_quantile(0.9, sum by (le, account) "
        '(rate(emo_x_bucket{account=~"a|b", code!="y"}[$__rate_interval])))'
        " / on (account) group_left max without (job) (emo_y) > bool 0.5 or vector(1e3)"
    )
    assert metric_names(expr) == {"emo_x_bucket", "emo_y"}
    assert metric_names("max(emo_queue_depth) offset 5m") == {"emo_queue_depth"}


def test_the_dashboard_imports_in_one_step() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    inputs = dashboard["__inputs"]
    assert [(i["name"], i["type"], i["pluginId"]) for i in inputs] == [
        ("DS_PROMETHEUS", "datasource", "prometheus")
    ]
    exprs = panel_exprs(dashboard)
    wanted = ("Queue depth", "Slots busy", "Render time", "Failures by code", "Spend")
    for title in wanted:
        assert [t for t in exprs if t.startswith(title)], f"no panel {title!r}: {list(exprs)}"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        # Every query goes to the datasource chosen at import.
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert all(t["datasource"]["uid"] == "${DS_PROMETHEUS}" for t in panel["targets"])
    assert any("histogram_quantile" in e for e in exprs["Render time (submitted to succeeded)"])


async def test_every_panel_names_a_metric_the_bot_exports(
    simulator: Simulator, tmp_path: Path
) -> None:
    port = free_port()
    async with (
        running_engine(simulator, tmp_path, API_KEY, emo_ops_bind=f"127.0.0.1:{port}"),
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        page = await response.text()
    exported = exported_names(page)
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert unknown_metrics(dashboard, exported) == {}
    used = set().union(*(metric_names(e) for es in panel_exprs(dashboard).values() for e in es))
    assert {"emo_account_slots_busy", "emo_render_duration_seconds_bucket"} <= used

    # The check fails when a panel names a metric the bot does not export (or misspells one).
    broken = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    broken["panels"][0]["targets"][0]["expr"] = "max(emo_queue_depht) + sum(emo_jobs_total)"
    assert unknown_metrics(broken, exported) == {
        "Queue depth": {"emo_queue_depht", "emo_jobs_total"}
    }
