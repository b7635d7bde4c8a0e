"""A manager reads the whole department in one call: objectives with their SMART check and progress from
KPIs, the team tree with headcounts, and the alerts still open; the same statements for 2 objectives as 40."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from shared.alerts.models import Alert
from shared.db.base import uuid7
from shared.db.scoping import bind_org
from shared.department.models import Department, Member, Position, Team
from shared.kpis.models import ObjectiveKpi
from shared.strategy.models import BusinessGoal, Objective
from tests.conftest import auth
from tests.kpi_support import make_kpi, put_daily
from tests.test_department_structure import make_member, make_position, make_team
from tests.test_kpi_progress import link
from tests.test_reports import bulk_kpis
from tests.test_strategy_objectives import add_goal, add_objective, good_objective

TODAY = datetime.now(UTC).date()
PROBLEM = "application/problem+json"


async def report(client, headers, **params) -> dict:
    r = await client.get("/v1/reports/department", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_objective_progress_is_rolled_up_from_weighted_kpis_beside_the_smart_check_and_team_tree(
    client, keys, state, org
):
    h = keys.headers("editor")
    await client.put(
        "/v1/department", json={"name": "Marketing", "structure_type": "channel", "mission": "Grow"}, headers=h
    )
    growth = await make_team(client, org, "Growth")
    paid = await make_team(client, org, "Paid", growth)
    await make_member(client, org, "Ann", "ann@acme.example", await make_position(client, org, paid))
    await make_position(client, org, paid, "Open seat")

    goal = await add_goal(client, h)
    measured = await add_objective(client, h, good_objective(goal["id"]))
    vague = await add_objective(client, h, {"statement": "Be known for fast delivery"})  # no goal, no deadline
    leads = await make_kpi(state, org.id, name="Leads", formula="leads")
    revenue = await make_kpi(state, org.id, name="Revenue", formula="revenue", unit="currency")
    await link(state, org.id, measured["id"], leads, "3")
    await link(state, org.id, measured["id"], revenue, "1")
    # A 30-day period of which today is day 10: each KPI is expected at a third of its target by now.
    period = {
        "start_date": (TODAY - timedelta(days=9)).isoformat(),
        "end_date": (TODAY + timedelta(days=20)).isoformat(),
    }
    for kpi, target in ((leads, "300"), (revenue, "3000")):
        r = await client.post(
            f"/v1/kpis/{kpi}/targets", json={**period, "target_value": target, "pacing": "linear"}, headers=h
        )
        assert r.status_code == 201, r.text
    await put_daily(state, org.id, "leads", TODAY - timedelta(days=9), [8] * 10)  # 80 of 100 expected: 80%
    await put_daily(state, org.id, "revenue", TODAY - timedelta(days=9), [120] * 10)  # 1200 of 1000: 120%

    body = await report(client, keys.headers("viewer"))

    assert body["as_of"] == TODAY.isoformat()
    by_id = {o["id"]: o for o in body["objectives"]}
    assert list(by_id) == [measured["id"], vague["id"]], "oldest first"
    rolled = by_id[measured["id"]]
    rows = {row["kpi_id"]: row for row in rolled["kpis"]}
    assert (rows[str(leads)]["name"], rows[str(leads)]["expected_to_date"], rows[str(leads)]["attainment_pct"]) == (
        "Leads",
        "100",
        "80",
    )
    assert rows[str(revenue)]["attainment_pct"] == "120"
    # (3 × 80 + 1 × min(120, 100)) / 4 = 85
    assert rolled["progress_pct"] == "85"
    assert rolled["business_goal"] == {"id": goal["id"], "title": goal["title"]}
    assert by_id[vague["id"]]["business_goal"] is None
    assert (by_id[vague["id"]]["progress_pct"], by_id[vague["id"]]["kpis"]) == (None, [])

    single = (await client.get(f"/v1/objectives/{measured['id']}/progress", headers=h)).json()
    assert (single["progress_pct"], single["kpis"]) == (rolled["progress_pct"], rolled["kpis"])
    for objective in (measured, vague):
        own = (await client.get(f"/v1/objectives/{objective['id']}", headers=h)).json()
        assert by_id[objective["id"]]["smart"] == own["smart"]
    assert body["summary"]["objectives"] == 2
    assert body["summary"]["objectives_by_smart"] == {"pass": 1, "warn": 0, "fail": 1}
    assert body["summary"]["kpis"] == 2 and body["summary"]["kpis_by_status"]["no_target"] == 0

    overview = (await client.get("/v1/department/overview", headers=h)).json()
    assert body["teams"] == overview["teams"] and body["team_totals"] == overview["totals"]
    assert body["department"] == overview["department"]
    assert (body["department"]["structure_type"], body["department"]["mission"]) == ("channel", "Grow")
    [top] = body["teams"]
    assert top["headcount_with_subteams"] == {"filled": 1, "open": 1, "total": 2}


async def add_alert(state, org_id, kpi_id, target_id, *, hours_ago: float, **fields) -> str:
    opened = datetime.now(UTC) - timedelta(hours=hours_ago)
    async with state.db.sessionmaker() as session:
        bind_org(session, org_id)
        alert = Alert(
            kpi_id=kpi_id,
            target_id=target_id,
            period_label="2026-11",
            opened_at=opened,
            last_notified_at=datetime.now(UTC),  # so no evaluation re-sends it during the test
            **{"status": "open", "severity": "critical", "reason": "test", **fields},
        )
        session.add(alert)
        await session.commit()
        return str(alert.id)


async def test_open_and_acknowledged_alerts_appear_newest_first_and_resolved_or_foreign_ones_do_not(
    client, keys, state, org, other_org
):
    (cpa, cpa_target), (ctr, ctr_target), (roas, roas_target) = await bulk_kpis(state, org.id, 3, prefix="Ad")
    older = await add_alert(state, org.id, cpa, cpa_target, hours_ago=48, reason="CPA above 15")
    newer = await add_alert(
        state, org.id, ctr, ctr_target, hours_ago=1, status="acknowledged", severity="warning", last_value=Decimal("2")
    )
    await add_alert(state, org.id, roas, roas_target, hours_ago=2, status="resolved")
    [(foreign, foreign_target)] = await bulk_kpis(state, other_org.id, 1)
    await add_alert(state, other_org.id, foreign, foreign_target, hours_ago=0.5)
    foreign_objective = await add_objective(client, other_org.headers, {"statement": "Win the other market first"})

    body = await report(client, keys.headers("viewer"), as_of="2026-11-20")

    assert [a["id"] for a in body["open_alerts"]] == [newer, older]
    shown = body["open_alerts"][0]
    assert (shown["kpi"], shown["status"], shown["severity"], shown["period_label"], shown["last_value"]) == (
        {"id": str(ctr), "name": "Ad0001"},
        "acknowledged",
        "warning",
        "2026-11",
        "2",
    )
    assert body["open_alerts"][1]["reason"] == "CPA above 15"
    assert body["open_alerts_total"] == 2
    assert body["summary"]["open_alerts_by_severity"] == {"warning": 1, "critical": 1, "no_data": 0}
    assert body["objectives"] == [] and body["summary"]["objectives"] == 0

    theirs = await report(client, other_org.headers, as_of="2026-11-20")
    assert [o["id"] for o in theirs["objectives"]] == [foreign_objective["id"]]
    assert [a["kpi"]["id"] for a in theirs["open_alerts"]] == [str(foreign)]


async def test_a_new_organisation_reads_an_empty_report_and_only_readers_may(client, keys, org):
    body = await report(client, keys.headers("viewer"), as_of="2026-11-20")
    assert body["department"] is None and body["teams"] == [] and body["objectives"] == []
    assert body["open_alerts"] == [] and body["open_alerts_total"] == 0
    assert body["summary"]["kpis_by_status"] == {
        "on_track": 0,
        "at_risk": 0,
        "off_track": 0,
        "no_data": 0,
        "unconfirmed": 0,
        "no_target": 0,
    }
    for role in ("editor", "admin"):
        assert (await client.get("/v1/reports/department", headers=keys.headers(role))).status_code == 200
    assert (await client.get("/v1/reports/department", headers=keys.headers("ingest"))).status_code == 403
    assert (await client.get("/v1/reports/department")).status_code == 401
    assert (await client.get("/v1/reports/department", headers=auth("kpi_bad_key"))).status_code == 401
    bad = await client.get("/v1/reports/department?as_of=2026-13-01", headers=keys.headers("viewer"))
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    assert bad.json()["errors"][0]["location"] == "query.as_of"


async def build_department(state, handle, n: int) -> None:
    """n objectives measured by two KPIs each (with targets and data), n teams with positions, n open alerts
    and one resolved, written in bulk."""
    kpis = await bulk_kpis(state, handle.id, 2 * n)
    await put_daily(state, handle.id, "leads", date(2026, 11, 1), [5] * 20)
    goal_id, objective_ids = uuid7(), [uuid7() for _ in range(n)]
    team_ids = [uuid7() for _ in range(n)]
    position_ids = [uuid7() for _ in range(2 * n)]
    async with state.db.sessionmaker() as session:
        bind_org(session, handle.id)
        session.add(Department(name="Marketing", structure_type="functional"))
        session.add(BusinessGoal(id=goal_id, title="Grow online revenue 30% in 2027"))
        await session.flush()
        await session.execute(
            insert(Objective),
            [
                {"id": oid, "org_id": handle.id, "statement": f"Objective number {i} for the year", "status": "active"}
                | ({"business_goal_id": goal_id} if i % 2 else {})
                for i, oid in enumerate(objective_ids)
            ],
        )
        await session.execute(
            insert(ObjectiveKpi),
            [
                {"org_id": handle.id, "objective_id": oid, "kpi_id": kpis[2 * i + j][0], "weight": Decimal(j + 1)}
                for i, oid in enumerate(objective_ids)
                for j in range(2)
            ],
        )
        await session.execute(
            insert(Team),
            [
                {"id": tid, "org_id": handle.id, "name": f"T{i}", "parent_id": team_ids[(i - 1) // 2] if i else None}
                for i, tid in enumerate(team_ids)
            ],
        )
        await session.execute(
            insert(Position),
            [
                {"id": pid, "org_id": handle.id, "title": "Seat", "team_id": team_ids[i // 2], "responsibilities": []}
                for i, pid in enumerate(position_ids)
            ],
        )
        await session.execute(
            insert(Member),
            [
                {"org_id": handle.id, "name": f"M{i}", "email": f"m{i}@acme.example", "position_id": pid}
                for i, pid in enumerate(position_ids[::2])
            ],
        )
        now = datetime.now(UTC)
        await session.execute(
            insert(Alert),
            [
                {
                    "id": uuid7(),
                    "org_id": handle.id,
                    "kpi_id": kpi_id,
                    "target_id": target_id,
                    "status": "resolved" if i == n else "open",
                    "severity": ("warning", "critical", "no_data")[i % 3],
                    "reason": "test",
                    "period_label": "2026-11",
                    "opened_at": now - timedelta(minutes=i),
                    "last_notified_at": now,
                }
                for i, (kpi_id, target_id) in enumerate(kpis[: n + 1])
            ],
        )
        await session.commit()


async def test_the_report_costs_the_same_statements_for_2_and_40_objectives(
    client, state, org, other_org, count_queries
):
    await build_department(state, org, 2)
    await build_department(state, other_org, 40)

    async def count_for(handle):
        with count_queries as q:
            body = await report(client, handle.headers, as_of="2026-11-20")
        return q.count, body

    small, small_body = await count_for(org)
    large, large_body = await count_for(other_org)
    assert (len(small_body["objectives"]), len(large_body["objectives"])) == (2, 40)
    assert (small_body["team_totals"]["teams"], large_body["team_totals"]["teams"]) == (2, 40)
    assert (small_body["open_alerts_total"], large_body["open_alerts_total"]) == (2, 40)
    assert (small_body["summary"]["kpis"], large_body["summary"]["kpis"]) == (4, 80)
    # 20 days of 5 leads against a target of 100 + i, paced to day 20 of 30: a real number for every objective.
    assert all(o["progress_pct"] is not None for o in large_body["objectives"])
    assert small == large
