"""Dates outside 1900-2199 are refused with a 422 problem wherever a user gives one (bodies, query
parameters, period labels), so period arithmetic can never leave the calendar and answer a 500."""

import pytest

from tests.kpi_support import make_kpi

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    "query",
    [
        "/v1/reports/scorecard?period=9999-12",
        "/v1/reports/scorecard?period=0001-Q1",
        "/v1/reports/scorecard?from=0001-01-01&to=0001-01-05",
        "/v1/reports/department?as_of=9999-12-31",
        "/v1/kpis/{kpi}/values?grain=week&from=0001-01-01&to=0001-01-20",
        "/v1/kpis/{kpi}/values?grain=month&from=9999-11-01&to=9999-12-31",
        "/v1/kpis/{kpi}/suggested-target?period=0001-01",
        "/v1/kpis/{kpi}/targets?active_on=1899-12-31",
        "/v1/alerts?opened_from=0001-01-01",
        "/v1/plans?active_on=2200-01-01",
    ],
)
async def test_reads_with_a_date_out_of_range_are_422(client, keys, state, org, query):
    kpi = await make_kpi(state, org.id)
    r = await client.get(query.format(kpi=kpi), headers=keys.headers("viewer"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/kpis/{kpi}/targets", {"period": "9999-12", "target_value": "1"}),
        ("/v1/kpis/{kpi}/targets", {"start_date": "0001-01-01", "end_date": "0001-01-31", "target_value": "1"}),
        ("/v1/plans", {"name": "Far", "start_date": "2026-01-01", "end_date": "9999-12-31"}),
        ("/v1/objectives", {"statement": "Grow revenue", "deadline": "9999-12-31"}),
    ],
)
async def test_writes_with_a_date_out_of_range_are_422_and_store_nothing(client, keys, state, org, path, body):
    kpi = await make_kpi(state, org.id)
    editor = keys.headers("editor")
    r = await client.post(path.format(kpi=kpi), json=body, headers=editor)
    assert r.status_code == 422 and "1900" in r.text, r.text
    listed = await client.get(path.format(kpi=kpi), headers=editor)
    assert listed.json()["items"] == []


async def test_the_dashboard_refuses_a_period_out_of_range_with_a_page(client, keys):
    from tests.test_dashboard import sign_in

    await sign_in(client, keys.viewer)
    r = await client.get("/dashboard?period=9999-Q4")
    assert r.status_code == 422 and "Unknown period" in r.text and "1900" in r.text
