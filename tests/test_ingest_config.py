"""Each organisation decides which Meta action types count as conversions, leads and revenue, and the currency of
each source's money points that state none; its pushes are read with its settings, other organisations keep
theirs."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from shared.ingest.adapters import SOURCE_SETTINGS
from shared.ingest.models import IngestSourceConfig
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
            "account_currency": "USD",
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
        "default_currency": None,
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
    # Adapters that read fixed fields, and generic sources (what /v1/ingest/metrics batches name as `source`).
    for source in ("google_ads", "tiktok", "linkedin", "crm", "snapchat"):
        got = await client.get(url(source), headers=admin)
        assert (got.status_code, got.json()["settings"]) == (200, {}), source
        assert (await client.put(url(source), json={}, headers=admin)).status_code == 200
        refused = await client.put(url(source), json={"conversions": ["purchase"]}, headers=admin)
        assert refused.status_code == 422 and refused.json()["errors"][0]["location"] == "body.conversions"
    # A name no batch could carry as its source has no config.
    for source in ("Snapchat", "no-such-name", "x" * 33):
        for method in ("GET", "PUT"):
            r = await client.request(method, url(source), json={}, headers=admin)
            assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (method, source)
            assert f"No source {source!r}" in r.json()["detail"]
    # Signed pushes are an adapter's matter: a generic source has no signing secret to set.
    r = await client.put("/v1/ingest/sources/crm/signing-secret", json={}, headers=admin)
    assert r.status_code == 404 and "No adapter for 'crm'" in r.json()["detail"]


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
    from services.api.ingest.sources.schemas import SOURCE_SETTINGS_IN, SourceConfigIn

    common = set(SourceConfigIn.model_fields)
    assert common == {"default_currency"}
    assert {s: set(m.model_fields) - common for s, m in SOURCE_SETTINGS_IN.items()} == {
        s: set(names) for s, names in SOURCE_SETTINGS.items()
    }


# --- the default currency of a source's money points ------------------------------------------------------


async def stored(state, org, source: str) -> tuple[dict, str | None] | None:
    """The source's row as stored: its adapter settings and its default currency (its own column)."""
    async with state.db.engine.connect() as conn:
        row = (
            await conn.execute(
                select(IngestSourceConfig.settings, IngestSourceConfig.default_currency).where(
                    IngestSourceConfig.org_id == org.id, IngestSourceConfig.source == source
                )
            )
        ).first()
    return None if row is None else (row[0], row[1])


@pytest.mark.parametrize("source", ["tiktok", "linkedin", "crm", "api"])
async def test_an_admin_sets_reads_back_and_clears_a_source_s_default_currency(client, keys, org, state, source):
    admin, viewer = keys.headers("admin"), keys.headers("viewer")
    r = await client.put(url(source), json={"default_currency": " eur"}, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["default_currency"], r.json()["settings"], r.json()["customised"]) == ("EUR", {}, [])
    assert (await client.get(url(source), headers=viewer)).json()["default_currency"] == "EUR"
    assert await stored(state, org, source) == ({}, "EUR"), "in its own column, not among the adapter settings"

    cleared = await client.put(url(source), json={"default_currency": None}, headers=admin)
    assert (cleared.status_code, cleared.json()["default_currency"]) == (200, None)
    assert (await client.get(url(source), headers=viewer)).json()["default_currency"] is None
    assert await stored(state, org, source) == ({}, None)


async def test_meta_takes_its_action_types_and_a_default_currency_in_one_body_that_replaces_the_last(
    client, keys, org, other_org, state
):
    admin = keys.headers("admin")
    body = {"conversions": ["complete_registration"], "default_currency": "VND"}
    r = await client.put(url(), json=body, headers=admin)
    assert (r.json()["customised"], r.json()["default_currency"]) == (["conversions"], "VND")
    assert await stored(state, org, "meta") == ({"conversions": ["complete_registration"]}, "VND")
    # The body is the whole config: a PUT without the currency leaves none, as it restores left-out action types.
    r = await client.put(url(), json={"leads": ["lead"]}, headers=admin)
    assert (r.json()["customised"], r.json()["default_currency"]) == (["leads"], None)
    # Another organisation's sources are its own.
    await client.put(url("crm"), json={"default_currency": "USD"}, headers=admin)
    assert (await client.get(url("crm"), headers=other_org.headers)).json()["default_currency"] is None


@pytest.mark.parametrize("source", ["meta", "google_ads", "crm"])
@pytest.mark.parametrize("code", ["EURO", "", "eu", "XYZ", "DEM", "XAU", 978, ["EUR"]])
async def test_a_default_currency_that_is_not_a_code_in_use_is_a_422_naming_it(client, keys, org, state, source, code):
    admin = keys.headers("admin")
    await client.put(url(source), json={"default_currency": "GBP"}, headers=admin)
    r = await client.put(url(source), json={"default_currency": code}, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert [e["location"] for e in r.json()["errors"]] == ["body.default_currency"], r.json()["errors"]
    assert (await client.get(url(source), headers=admin)).json()["default_currency"] == "GBP", "nothing changed"


@pytest.mark.parametrize("source", ["tiktok", "crm"])
async def test_only_admins_set_a_default_currency(client, keys, source):
    for role in ("editor", "viewer", "ingest"):
        r = await client.put(url(source), json={"default_currency": "EUR"}, headers=keys.headers(role))
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, role
    assert (await client.get(url(source), headers=keys.headers("ingest"))).status_code == 403
    assert (await client.get(url(source), headers=keys.headers("admin"))).json()["default_currency"] is None
