"""An evaluation is provisional while its window reaches into days a source may still restate
(RESTATEMENT_DAYS: meta 28, google_ads 3, tiktok 7 by default); dates are relative to today."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from shared.alerts.evaluate import evaluate_kpis
from shared.settings import Settings
from tests.ingest_support import point, push_and_wait


async def kpi_with_target(client, headers, metric: str, start, end) -> str:
    kpi = await client.post(
        "/v1/kpis",
        json={
            "name": f"Total {metric}",
            "category": "input",
            "formula": metric,
            "unit": "count",
            "direction": "higher_is_better",
        },
        headers=headers,
    )
    assert kpi.status_code == 201, kpi.text
    target = await client.post(
        f"/v1/kpis/{kpi.json()['id']}/targets",
        json={"start_date": str(start), "end_date": str(end), "target_value": "100", "pacing": "none"},
        headers=headers,
    )
    assert target.status_code == 201, target.text
    return kpi.json()["id"]


async def latest_evaluation(client, headers, kpi_id: str, timeout_s: float = 20) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        items = (await client.get(f"/v1/kpis/{kpi_id}/evaluations", headers=headers)).json()["items"]
        if items or time.monotonic() > deadline:
            assert items, "the KPI was never evaluated"
            return items[-1]
        await asyncio.sleep(0.05)


async def test_a_window_inside_a_sources_restatement_days_is_provisional(client, keys):
    admin, ingest, viewer = keys.headers("admin"), keys.headers("ingest"), keys.headers("viewer")
    today = datetime.now(UTC).date()
    # Both windows end 5 days ago: inside TikTok's 7 days, outside Google Ads' 3.
    start, end = today - timedelta(days=20), today - timedelta(days=5)
    settled = await kpi_with_target(client, admin, "clicks", start, end)
    restating = await kpi_with_target(client, admin, "impressions", start, end)
    # A period that ended 40 days ago is settled even for Meta's 28.
    old = await kpi_with_target(client, admin, "leads", today - timedelta(days=50), today - timedelta(days=40))
    # This month so far, fed by Meta: provisional.
    current = await kpi_with_target(client, admin, "reach", today - timedelta(days=10), today)

    day = str(end - timedelta(days=1))
    await push_and_wait(client, ingest, [point("clicks", 150, day)], source="google_ads")
    await push_and_wait(client, ingest, [point("impressions", 150, day)], source="tiktok")
    await push_and_wait(client, ingest, [point("leads", 150, str(today - timedelta(days=45)))], source="meta")
    await push_and_wait(client, ingest, [point("reach", 150, str(today - timedelta(days=1)))], source="meta")

    got = {kpi: await latest_evaluation(client, viewer, kpi) for kpi in (settled, restating, old, current)}
    assert {kpi: (e["value"], e["provisional"]) for kpi, e in got.items()} == {
        settled: ("150", False),
        restating: ("150", True),
        old: ("150", False),
        current: ("150", True),
    }

    # A later snapshot from a settled source only: still provisional while TikTok data sits in the window.
    await push_and_wait(client, ingest, [point("impressions", 160, day)], source="google_ads")
    await asyncio.sleep(0.2)
    assert (await latest_evaluation(client, viewer, restating))["provisional"] is True


async def test_with_no_restatement_days_configured_nothing_is_provisional(client, keys, state, org, monkeypatch):
    """RESTATEMENT_DAYS={}: every source settles at once (an unlisted source gets `default`, itself 0)."""
    admin, ingest, viewer = keys.headers("admin"), keys.headers("ingest"), keys.headers("viewer")
    today = datetime.now(UTC).date()
    kpi = await kpi_with_target(client, admin, "reach", today - timedelta(days=10), today)
    await push_and_wait(client, ingest, [point("reach", 150, str(today - timedelta(days=1)))], source="meta")
    ingested = await latest_evaluation(client, viewer, kpi)  # the ingest's own evaluation, default settings
    assert (ingested["trigger"], ingested["provisional"]) == ("ingest", True)

    monkeypatch.setenv("RESTATEMENT_DAYS", "{}")
    days = Settings(_env_file=None).restatement_days
    ctx = {
        "db": state.db,
        "queue": state.queue,
        "settings": state.settings.model_copy(update={"restatement_days": days}),
    }
    result = await evaluate_kpis(ctx, org_id=str(org.id), kpi_ids=[kpi], trigger="schedule")
    assert result["evaluated"] == 1
    items = (await client.get(f"/v1/kpis/{kpi}/evaluations", headers=viewer)).json()["items"]
    settled = [(e["trigger"], e["value"]) for e in items if not e["provisional"]]
    assert settled == [("schedule", "150")]


@pytest.mark.parametrize("env", ['{"meta": -1}', '{"default": -3, "tiktok": 7}'])
def test_negative_restatement_days_are_a_settings_error(monkeypatch, env):
    monkeypatch.setenv("RESTATEMENT_DAYS", env)
    with pytest.raises(ValidationError, match="restatement_days"):
        Settings(_env_file=None)
