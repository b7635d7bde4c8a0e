"""Each organisation decides which Meta action types count as conversions, leads and revenue; its pushes are
read with its settings, other organisations keep theirs."""

from decimal import Decimal

import pytest

from shared.ingest.adapters import SOURCE_SETTINGS
from tests.ingest_support import wait_done

PROBLEM = "application/problem+json"
DEFAULTS = {
    "conversions": ["purchase", "offsite_conversion.fb_pixel_purchase", "omni_purchase"],
    "leads": ["lead", "onsite_conversion.lead_grouped", "offsite_conversion.fb_pixel_lead"],
    "revenue": ["purchase", "offsite_conversion.fb_pixel_purchase", "omni_purchase"],
}
META_REPORT = {
    "data": [
        {
            "campaign_id": "120210",
            "date_start": "2026-11-02",
            "date_stop": "2026-11-02",
            "spend": "40.00",
            "actions": [
                {"action_type": "purchase", "value": "3"},
                {"action_type": "complete_registration", "value": "7"},
                {"action_type": "lead", "value": "2"},
            ],
            "action_values": [{"action_type": "purchase", "value": "90.00"}],
        }
    ]
}


def url(source: str = "meta") -> str:
    return f"/v1/ingest/sources/{source}/config"


async def day_value(client, headers, metric: str) -> Decimal | None:
    """The metric's value on the report's day, through a KPI that reads only it."""
    kpi = {"name": f"{metric} only", "category": "output", "formula": metric, "unit": "count"}
    r = await client.post("/v1/kpis", json={**kpi, "direction": "higher_is_better"}, headers=headers)
    assert r.status_code == 201, r.text
    values = await client.get(f"/v1/kpis/{r.json()['id']}/values?from=2026-11-02&to=2026-11-02", headers=headers)
    value = values.json()["values"][0]["value"]
    return None if value is None else Decimal(value)


async def push_meta(client, headers) -> None:
    r = await client.post("/v1/ingest/meta", json=META_REPORT, headers=headers)
    assert r.status_code == 202, r.text
    assert (await wait_done(client, headers, r.json()["batch_id"]))["status"] == "done"


async def test_an_org_counts_its_own_meta_action_types_as_conversions(client, keys, other_org):
    admin = keys.headers("admin")
    before = (await client.get(url(), headers=keys.headers("viewer"))).json()
    assert before == {
        "source": "meta",
        "settings": DEFAULTS,
        "customised": [],
        "signature_required": False,
        "updated_at": None,
    }

    r = await client.put(url(), json={"conversions": ["complete_registration"]}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["settings"] == {**DEFAULTS, "conversions": ["complete_registration"]}
    assert r.json()["customised"] == ["conversions"] and r.json()["updated_at"]
    assert (await client.get(url(), headers=keys.headers("viewer"))).json() == r.json()

    await push_meta(client, keys.headers("ingest"))
    assert await day_value(client, admin, "conversions") == 7  # complete_registration, not the 3 purchases
    assert await day_value(client, admin, "leads") == 2  # leads still follow the defaults
    assert await day_value(client, admin, "revenue") == 90

    # The other organisation's reports are read with the defaults, and it sees none of these settings.
    assert (await client.get(url(), headers=other_org.headers)).json()["customised"] == []
    await push_meta(client, other_org.headers)
    assert await day_value(client, other_org.headers, "conversions") == 3


async def test_an_empty_list_turns_a_metric_off_and_an_empty_body_restores_the_defaults(client, keys):
    admin = keys.headers("admin")
    assert (await client.put(url(), json={"revenue": [], "leads": None}, headers=admin)).json()["customised"] == [
        "revenue"
    ]
    await push_meta(client, keys.headers("ingest"))
    assert await day_value(client, admin, "revenue") is None  # no revenue point at all, not a 0
    restored = await client.put(url(), json={}, headers=admin)
    assert (restored.json()["settings"], restored.json()["customised"]) == (DEFAULTS, [])


async def test_only_admins_change_the_settings_and_ingest_keys_do_not_read_them(client, keys):
    body = {"conversions": ["purchase"]}
    for role in ("editor", "viewer", "ingest"):
        r = await client.put(url(), json=body, headers=keys.headers(role))
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, role
    assert (await client.get(url(), headers=keys.headers("ingest"))).status_code == 403
    for role in ("admin", "editor", "viewer"):
        assert (await client.get(url(), headers=keys.headers(role))).status_code == 200, role
    assert (await client.get(url(), headers=keys.headers("viewer"))).json()["customised"] == []


async def test_sources_without_settings_and_unknown_sources(client, keys):
    admin = keys.headers("admin")
    for source in ("google_ads", "tiktok", "linkedin"):
        got = await client.get(url(source), headers=admin)
        assert (got.status_code, got.json()["settings"]) == (200, {}), source
        assert (await client.put(url(source), json={}, headers=admin)).status_code == 200
        refused = await client.put(url(source), json={"conversions": ["purchase"]}, headers=admin)
        assert refused.status_code == 422 and refused.json()["errors"][0]["location"] == "body.conversions"
    for method in ("GET", "PUT"):
        r = await client.request(method, url("snapchat"), json={}, headers=admin)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, method
        assert "No adapter for 'snapchat'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ({"conversions": "purchase"}, "body.conversions"),
        ({"conversions": ["has space"]}, "body.conversions.0"),
        ({"conversions": [""]}, "body.conversions.0"),
        ({"conversions": ["x" * 101]}, "body.conversions.0"),
        ({"conversions": [7]}, "body.conversions.0"),
        ({"leads": ["lead", "lead"]}, "body.leads"),
        ({"revenue": [f"t{i}" for i in range(21)]}, "body.revenue"),
        ({"purchases": ["purchase"]}, "body.purchases"),
        (["purchase"], "body"),
    ],
)
async def test_bad_settings_are_422_naming_the_field_and_change_nothing(client, keys, body, location):
    admin = keys.headers("admin")
    r = await client.put(url(), json=body, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert any(e["location"] == location for e in r.json()["errors"]), r.json()["errors"]
    assert (await client.get(url(), headers=admin)).json()["customised"] == []


def test_the_settings_the_api_takes_are_the_ones_the_adapters_read():
    from services.api.ingest.sources.schemas import SOURCE_SETTINGS_IN

    assert {s: set(m.model_fields) for s, m in SOURCE_SETTINGS_IN.items()} == {
        s: set(names) for s, names in SOURCE_SETTINGS.items()
    }
