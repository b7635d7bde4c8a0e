"""An objective's progress rolls up from its KPIs' attainment, weighted, each capped at 100%."""

import uuid
from datetime import date
from decimal import Decimal

from shared.db.scoping import bind_org
from shared.kpis.models import ObjectiveKpi
from tests.kpi_support import make_kpi, put_daily


async def link(state, org_id, objective_id, kpi_id, weight="1"):
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        session.add(ObjectiveKpi(objective_id=uuid.UUID(str(objective_id)), kpi_id=kpi_id, weight=Decimal(weight)))
        await session.commit()


async def test_progress_is_the_weighted_capped_attainment_of_the_kpis(client, keys, state, org):
    h = keys.headers("editor")
    objective = (
        await client.post("/v1/objectives", json={"statement": "Grow qualified demand in Q1 2027"}, headers=h)
    ).json()
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    revenue = await make_kpi(state, org.id, name="Revenue", formula="revenue", unit="currency")
    unmeasured = await make_kpi(state, org.id, name="NPS", formula="nps_score", unit="score")
    await link(state, org.id, objective["id"], leads, "3")
    await link(state, org.id, objective["id"], revenue, "1")
    await link(state, org.id, objective["id"], unmeasured, "1")
    for kpi, target in ((leads, "900"), (revenue, "9000")):
        r = await client.post(f"/v1/kpis/{kpi}/targets", json={"period": "2027-Q1", "target_value": target}, headers=h)
        assert r.status_code == 201
    # As of 30 Jan (30 of 90 days): leads expected 300, we have 150 → 50%; revenue expected 3000, have 4500 → 150%.
    await put_daily(state, org.id, "leads", date(2027, 1, 1), [5] * 30)
    await put_daily(state, org.id, "revenue", date(2027, 1, 10), [450] * 10)
    body = (
        await client.get(f"/v1/objectives/{objective['id']}/progress?as_of=2027-01-30", headers=keys.headers("viewer"))
    ).json()
    rows = {row["kpi_id"]: row for row in body["kpis"]}
    assert (rows[str(leads)]["attainment_pct"], rows[str(leads)]["expected_to_date"]) == ("50", "300")
    assert rows[str(revenue)]["attainment_pct"] == "150"
    assert rows[str(unmeasured)]["target_id"] is None and rows[str(unmeasured)]["attainment_pct"] is None
    # (3 × 50 + 1 × min(150, 100)) / 4 = 62.5
    assert body["progress_pct"] == "62.5"


async def test_an_objective_without_measured_kpis_has_no_progress_yet(client, keys, org, other_org):
    h = keys.headers("editor")
    objective = (
        await client.post("/v1/objectives", json={"statement": "Be known for fast delivery"}, headers=h)
    ).json()
    body = (await client.get(f"/v1/objectives/{objective['id']}/progress", headers=h)).json()
    assert body["progress_pct"] is None and body["kpis"] == []
    assert (
        await client.get(f"/v1/objectives/{objective['id']}/progress", headers=other_org.headers)
    ).status_code == 404
    assert (
        await client.get(f"/v1/objectives/{objective['id']}/progress", headers=keys.headers("ingest"))
    ).status_code == 403
